"""The read deadline (connectors/readback.py's Watch): silence from Kafka for the deadline ends
a read with KafkaUnreachable; an answer to a metadata probe, or a throttle the broker asked for,
is not silence; a read stuck behind an open transaction while Kafka answers ends with its own
message. The consumer is a stand-in; tests/integration/test_readers_deadline.py stops real
brokers."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException

from connectors import readback
from connectors.readback import KafkaUnreachable, ReadError, Throttled, Watch, watermarks
from recordflow.settings import Settings

DEADLINE_S = 0.3


class ProbedConsumer:
    """Answers metadata requests, or not."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.probes = 0

    def list_topics(self, topic: str, timeout: float) -> Any:
        self.probes += 1
        if not self.answers:
            time.sleep(min(timeout, 0.05))
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None)})


def watch(consumer: ProbedConsumer, **kwargs: Any) -> Watch:
    settings = Settings(kafka_bootstrap="127.0.0.1:9", read_deadline_s=DEADLINE_S)
    return Watch(cast(Consumer, consumer), settings, "records.catalog.v1", **kwargs)


def quiet_for(watched: Watch, seconds: float) -> None:
    """Empty polls for `seconds`, as a reader makes them."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        watched.quiet()
        time.sleep(0.01)


def test_silence_for_the_deadline_is_unreachable() -> None:
    consumer = ProbedConsumer(answers=False)
    watched = watch(consumer)
    began = time.monotonic()
    with pytest.raises(KafkaUnreachable) as unreachable:
        quiet_for(watched, 5)
    assert DEADLINE_S <= time.monotonic() - began < DEADLINE_S + 0.5
    assert str(unreachable.value) == (
        "Kafka at 127.0.0.1:9 unreachable for 0.3 s while reading records.catalog.v1"
    )
    assert consumer.probes >= 1  # it asked before it gave up


def test_a_broker_that_answers_metadata_is_not_unreachable() -> None:
    consumer = ProbedConsumer(answers=True)
    quiet_for(watch(consumer), 4 * DEADLINE_S)
    assert consumer.probes >= 3


def test_messages_are_answers_too() -> None:
    watched = watch(ProbedConsumer(answers=False))
    for _ in range(8):
        quiet_for(watched, DEADLINE_S / 2)
        watched.heard()


def test_a_throttle_is_an_answer_until_it_ends_unless_the_broker_goes() -> None:
    throttled = Throttled()
    consumer = ProbedConsumer(answers=False)
    watched = watch(consumer, throttled=throttled)
    throttled.on_throttle(cast(Any, SimpleNamespace(throttle_time=3 * DEADLINE_S)))
    quiet_for(watched, 2 * DEADLINE_S)  # the broker asked to wait: no probe, no failure
    assert consumer.probes == 0
    throttled.on_error(KafkaError(KafkaError._TRANSPORT))  # … and then it went away
    assert throttled.until == 0.0
    with pytest.raises(KafkaUnreachable):
        quiet_for(watched, 2 * DEADLINE_S)


def test_a_read_stuck_behind_an_open_transaction_says_so() -> None:
    watched = watch(ProbedConsumer(answers=True), stuck_after_s=2 * DEADLINE_S)
    with pytest.raises(ReadError, match="a transaction before the end stays open") as stuck:
        quiet_for(watched, 5)
    assert not isinstance(stuck.value, KafkaUnreachable)


class _Watermarks:
    """get_watermark_offsets failing with `errors` in turn, then answering (0, 7)."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.asked = 0

    def get_watermark_offsets(self, *_: Any, **__: Any) -> tuple[int, int]:
        self.asked += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 7


def test_a_partition_without_a_leader_for_a_moment_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(readback, "LEADER_RETRY_S", 0.0)
    moving = _Watermarks(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
    assert watermarks(cast(Consumer, moving), Settings(), "t.records.catalog.v1", 0) == (0, 7)
    assert moving.asked == 3
    away = _Watermarks(KafkaError._TRANSPORT)
    with pytest.raises(KafkaUnreachable):
        watermarks(cast(Consumer, away), Settings(), "t.records.catalog.v1", 0)
    assert away.asked == 1  # a broker away is the read deadline's business, not this loop's
