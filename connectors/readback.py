"""Reading the archive back from Kafka: the catalog (latest state of every record), the
archival-ready stream and the dead-letter topic, for `recordflow records …` and the demo.

Reads each partition from the beginning, with no consumer group, so reading never moves anybody's
committed offsets, and read_committed: a message whose transaction was aborted (a fenced worker's
publish, a staff decision that lost its race) is never seen, nor one whose transaction is still
open. `read_topic` reads to the end as it stands (the last stable offset: an open transaction ends
the read there); a `TopicReader` that waits for transactions reads to the high watermark of the
moment, waiting for the transactions open before it to end (what a staff decision re-reads once it
holds its transactional id: nothing committed before may be missed).

A reader never hangs on a broker that went away: a read that hears nothing from Kafka for
`Settings.read_deadline_s` (no message, no end of a partition, no answer to a metadata request,
which it sends when the fetches go quiet; a fetch the broker throttles counts as an answer until
the throttle ends) fails with KafkaUnreachable, whose message is the one line the CLI prints.
librdkafka's own log lines go to Python logging at debug level.

Compacted topics are read for the latest message of each key. A key's states normally share a
partition; should producers with different partitioners have put them in different partitions
(librdkafka's default is not the Java client's murmur2), the newer by Kafka timestamp wins, and a
new state is written where the latest one is (connectors/review.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    ThrottleEvent,
    TopicPartition,
)
from rich.console import Console
from rich.progress import Progress

from avro_schemas.codec import Codec
from recordflow.settings import Settings
from recordflow.timeouts import POLL_TIMEOUT_S, PROBE_INTERVAL_S, TRANSACTION_WAIT_S

log = logging.getLogger(__name__)

# Errors a consumer may report while the broker is away: the read waits them out until the
# deadline, as it does silence.
UNREACHABLE = {
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError._RESOLVE, KafkaError.NETWORK_EXCEPTION, KafkaError.REQUEST_TIMED_OUT,
    KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
}  # fmt: skip


class ReadError(Exception):
    """A topic could not be read to its end; the message says why, in one line."""


class TopicMissing(ReadError):
    """The topic is not on the cluster."""


class KafkaUnreachable(ReadError):
    """No answer from Kafka for the read deadline."""

    def __init__(self, bootstrap: str, seconds: float, topic: str) -> None:
        super().__init__(
            f"Kafka at {bootstrap} unreachable for {seconds:g} s while reading {topic}"
        )
        self.bootstrap = bootstrap
        self.seconds = seconds
        self.topic = topic


class _DebugAdapter(logging.LoggerAdapter[logging.Logger]):
    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        self.logger.debug(msg, *args)


def quiet_logger() -> logging.LoggerAdapter[logging.Logger]:
    """librdkafka's own log lines, at debug level: failures reach the caller as exceptions, and
    the CLI promises one line per error (librdkafka would print one per reconnection attempt)."""
    return _DebugAdapter(log, {})


class Throttled:
    """What the broker said about waiting. A fetch it throttles (a client quota) is an answer: it
    asks the client to wait that long, and mutes the connection meanwhile (a metadata probe on it
    would go unanswered too). A transport failure voids that: the broker that asked is gone."""

    def __init__(self) -> None:
        self.until = 0.0  # monotonic time the last throttle asked to wait until

    def on_throttle(self, event: ThrottleEvent) -> None:
        self.until = max(self.until, time.monotonic() + event.throttle_time)

    def on_error(self, error: KafkaError) -> None:
        if error.code() in UNREACHABLE:
            self.until = 0.0


def reader_consumer(
    settings: Settings, *, committed: bool = True, throttled: Throttled | None = None,
    group: str | None = None, offset_reset: str | None = None,
) -> Consumer:  # fmt: skip
    """A consumer outside any group (assign, never commit) that reports the end of each
    partition. `committed`: read_committed; otherwise read_uncommitted, whose watermark is the
    high watermark (a read_committed consumer's is the last stable offset). `throttled` learns
    of the broker's throttling and of transport failures (served by poll). `group`: the group
    id librdkafka asks for (default a fresh `readers.` one; an agency, which may use only groups
    under its own receipts prefix, names one there). `offset_reset`: where to go when an
    assigned offset is not in the log (librdkafka's `auto.offset.reset`; default its own)."""
    config: dict[str, Any] = {
        **settings.kafka_config(),
        "group.id": group or settings.reader_group("readback"),
        "enable.auto.commit": False,
        # The end of a partition is reported: a partition whose last offset is a transaction
        # marker never delivers a message at high watermark - 1.
        "enable.partition.eof": True,
        "isolation.level": "read_committed" if committed else "read_uncommitted",
        "logger": quiet_logger(),
    }
    if offset_reset is not None:
        config["auto.offset.reset"] = offset_reset
    if throttled is not None:
        config |= {"throttle_cb": throttled.on_throttle, "error_cb": throttled.on_error}
    return Consumer(config)


def _unreachable_error(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in UNREACHABLE


class Watch:
    """The deadline of one read: `heard()` whenever Kafka answers; `quiet()` on each empty poll,
    which probes the broker now and then and raises KafkaUnreachable once nothing was heard for
    the deadline, or ReadError when the broker answers but the read is stuck behind an open
    transaction longer than `stuck_after_s`. While the broker throttles the consumer
    (`throttled`), it has answered: the deadline counts from the end of the throttle."""

    def __init__(self, consumer: Consumer, settings: Settings, topic: str,
                 stuck_after_s: float | None = None,
                 throttled: Throttled | None = None) -> None:  # fmt: skip
        self.consumer = consumer
        self.throttled = throttled
        self.bootstrap = settings.kafka_bootstrap
        self.deadline_s = settings.read_deadline_s
        self.topic = topic
        self.stuck_after_s = stuck_after_s
        self.probe_every_s = min(PROBE_INTERVAL_S, self.deadline_s / 3)
        now = time.monotonic()
        self.heard_at = self.progress_at = self.probed_at = now

    def heard(self) -> None:
        """A message or the end of a partition: the read moves."""
        self.heard_at = self.progress_at = time.monotonic()

    def unreachable(self) -> KafkaUnreachable:
        return KafkaUnreachable(self.bootstrap, self.deadline_s, self.topic)

    def quiet(self) -> None:
        now = time.monotonic()
        throttled_until = self.throttled.until if self.throttled is not None else 0.0
        self.heard_at = max(self.heard_at, min(throttled_until, now))
        if now - self.heard_at >= self.deadline_s:
            raise self.unreachable()
        if self.stuck_after_s is not None and now - self.progress_at >= self.stuck_after_s:
            raise ReadError(
                f"{self.topic} was not read to its end within {self.stuck_after_s:.0f} s: Kafka "
                "answers, but a transaction before the end stays open; try again"
            )
        if now < throttled_until or now - max(self.heard_at, self.probed_at) < self.probe_every_s:
            return  # (a throttled connection is muted: a probe would wait in vain)
        self.probed_at = now
        remaining = self.deadline_s - (now - self.heard_at)
        try:
            self.consumer.list_topics(self.topic, timeout=max(remaining, POLL_TIMEOUT_S))
        except KafkaException as exc:
            log.debug("no answer from %s: %s", self.bootstrap, exc)
            return
        self.heard_at = time.monotonic()  # Kafka is there: the fetches are just slow


def _read_failure(exc: KafkaException, settings: Settings, topic: str) -> ReadError:
    if _unreachable_error(exc):
        return KafkaUnreachable(settings.kafka_bootstrap, settings.read_deadline_s, topic)
    return ReadError(f"cannot read {topic}: {exc}")


def partitions(consumer: Consumer, settings: Settings, topic: str) -> list[int]:
    """The topic's partitions; TopicMissing when it is not on the cluster, KafkaUnreachable when
    Kafka does not answer within the read deadline."""
    try:
        metadata = consumer.list_topics(topic, timeout=settings.read_deadline_s)
    except KafkaException as exc:
        raise _read_failure(exc, settings, topic) from exc
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        if info is not None and info.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise ReadError(f"cannot read {topic}: {info.error.str()}")
        raise TopicMissing(f"topic {topic} does not exist; run `recordflow topics apply`")
    return sorted(info.partitions)


def watermarks(
    consumer: Consumer, settings: Settings, topic: str, partition: int
) -> tuple[int, int]:
    """A partition's low and high watermark (the last stable offset, for a read_committed
    consumer), asked of the broker; KafkaUnreachable as `partitions`. A partition without a
    leader for a moment (a topic just created, a broker restarting, the broker busy creating and
    deleting others) is asked again until the read deadline: the broker answers, only not yet."""
    deadline = time.monotonic() + settings.read_deadline_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=settings.read_deadline_s, cached=False
            )
            return low, high
        except KafkaException as exc:
            if not _leader_moving(exc) or time.monotonic() >= deadline:
                raise _read_failure(exc, settings, topic) from exc
        time.sleep(LEADER_RETRY_S)


LEADER_RETRY_S = 0.2


def _leader_moving(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in (
        KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    )  # fmt: skip


def _is_eof(message: Message) -> bool:
    error = message.error()
    return error is not None and error.code() == KafkaError._PARTITION_EOF


class TopicReader:
    """Reads a topic from the beginning (or, per partition, from the offsets in `start`: what an
    earlier reader read up to), read_committed, and keeps its place: each `read()` (or
    `until_end()`) brings what arrived since the last one, up to the end as it stands when called.

    Without `wait_for_transactions` that end is the last stable offset (an open transaction ends
    the read where it began). With it, the end is the high watermark: the read waits for the
    transactions open before it to end (committed or aborted), at most `transaction_wait_s` while
    Kafka answers. Transaction markers take offsets and are never delivered, so the end is found
    by partition EOF, not by comparing offsets with watermarks."""

    def __init__(self, settings: Settings, topic: str, *, wait_for_transactions: bool = False,
                 transaction_wait_s: float = TRANSACTION_WAIT_S,
                 group: str | None = None, start: Mapping[int, int] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.topic = topic
        self.wait_for_transactions = wait_for_transactions
        self.transaction_wait_s = transaction_wait_s
        self.throttled = Throttled()
        # A stored start offset no longer in the log (records deleted below it) reads from the
        # earliest one left, never from the end: nothing after it is skipped.
        self.consumer = reader_consumer(settings, throttled=self.throttled, group=group,
                                        offset_reset="earliest" if start else None)  # fmt: skip
        self._watermarks = (
            reader_consumer(settings, committed=False, group=group)
            if wait_for_transactions
            else None
        )
        try:
            self.partitions = partitions(self.consumer, settings, topic)
        except BaseException:
            self.close()
            raise
        start = start or {}
        # partition → the offset read up to (EOF offset)
        self.consumed: dict[int, int] = {p: start[p] for p in self.partitions if p in start}
        self.consumer.assign([TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING))
                              for p in self.partitions])  # fmt: skip

    def _ends(self) -> dict[int, int]:
        """Each partition with something to read now → the offset to read up to."""
        ends = {}
        for partition in self.partitions:
            low, high = watermarks(self._watermarks or self.consumer, self.settings, self.topic,
                                   partition)  # fmt: skip
            if high > max(low, self.consumed.get(partition, 0)):
                ends[partition] = high
        return ends

    def read(self) -> Iterator[Message]:
        """The messages that arrived since the last call, up to the end as it stands now."""
        pending = self._ends()
        watch = Watch(self.consumer, self.settings, self.topic,
                      self.transaction_wait_s if self.wait_for_transactions else None,
                      self.throttled)  # fmt: skip
        while pending:
            message = self.consumer.poll(POLL_TIMEOUT_S)
            if message is None:
                watch.quiet()
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            if _is_eof(message):
                watch.heard()
                self.consumed[partition] = offset
                # read_committed reports the end at the last stable offset: without waiting for
                # transactions that is where the read ends (a high watermark >= the one taken).
                if not self.wait_for_transactions or offset >= pending.get(partition, 0):
                    pending.pop(partition, None)
                continue
            error = message.error()
            if error is not None:
                if error.code() in UNREACHABLE:
                    watch.quiet()
                    continue
                raise ReadError(f"cannot read {self.topic}: {error.str()}")
            watch.heard()
            self.consumed[partition] = offset + 1
            if partition in pending and offset + 1 >= pending[partition]:
                del pending[partition]
            yield message

    def until_end(self) -> list[Message]:
        return list(self.read())

    def close(self) -> None:
        self.consumer.close()
        if self._watermarks is not None:
            self._watermarks.close()


def read_topic(settings: Settings, topic: str) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Every committed message now in `topic`, as (key, value), up to its last stable offset.
    TopicMissing, KafkaUnreachable (after `Settings.read_deadline_s` without an answer from
    Kafka) or ReadError when it cannot be read."""
    reader = TopicReader(settings, topic)
    try:
        for message in reader.read():
            yield message.key(), message.value()
    finally:
        reader.close()


def supersedes(message: Message, current: Message | None) -> bool:
    """Whether `message` is a later state of its key than `current`: later in the same partition
    (read in offset order), or newer by Kafka timestamp in another one (a key that producers with
    different partitioners wrote to different partitions)."""
    if current is None or message.partition() == current.partition():
        return True
    return message.timestamp()[1] >= current.timestamp()[1]


def latest_messages(messages: Iterable[Message]) -> dict[bytes, Message]:
    """The latest message of each key (a tombstone too) among `messages`."""
    latest: dict[bytes, Message] = {}
    for message in messages:
        key = message.key()
        if key is not None and supersedes(message, latest.get(key)):
            latest[key] = message
    return latest


def read_latest(settings: Settings, topic: str) -> dict[bytes, Message]:
    """The latest committed message of each key now in a compacted topic (`read_topic`'s end)."""
    reader = TopicReader(settings, topic)
    try:
        return latest_messages(reader.read())
    finally:
        reader.close()


def latest_message(settings: Settings, topic: str, key: bytes) -> Message | None:
    """The latest committed message with `key` in `topic` (a tombstone too; None when there is
    none), read to the high watermark of the moment: it waits for transactions open before it to
    end, so nothing committed before the call is missed. Its partition is where a new state of
    the key belongs."""
    reader = TopicReader(settings, topic, wait_for_transactions=True)
    try:
        return latest_messages(m for m in reader.read() if m.key() == key).get(key)
    finally:
        reader.close()


def latest_value(settings: Settings, topic: str, key: bytes) -> bytes | None:
    """The value of `latest_message` (None also for a tombstone)."""
    message = latest_message(settings, topic, key)
    return None if message is None else message.value()


def catalog(
    settings: Settings, codec: Codec, record_type: str = "archival_record"
) -> dict[str, dict[str, Any]]:
    """The latest ArchivalRecord per reference code, from the compacted catalog topic."""
    return {
        key.decode(): codec.decode(message.value(), record_type)
        for key, message in read_latest(settings, settings.catalog_topic).items()
        if message.value() is not None  # a tombstone: deleted
    }


def dead_letters(settings: Settings, codec: Codec) -> list[dict[str, Any]]:
    return [
        codec.decode(value, "dead_letter")
        for _, value in read_topic(settings, settings.deadletter_topic)
        if value is not None
    ]


@dataclass(frozen=True)
class Outcome:
    """What became of one submitted event: archived with a reference code, or rejected."""

    status: str  # archived | review (waiting for archive staff) | rejected
    reference_code: str | None = None
    retention_period: str | None = None
    reason: str | None = None
    detail: str | None = None


def watch_outcomes(settings: Settings, codec: Codec, event_ids: set[str], *, timeout_s: float,
                   console: Console | None = None,
                   until: Callable[[Outcome], bool] = lambda _: True) -> dict[str, Outcome]:  # fmt: skip
    """Follow records.archival-ready.v1, records.retention-review.v1 and records.deadletter.v1
    from the beginning until every event in `event_ids` has an outcome (one that `until` accepts:
    the topics are read in no set order, so the first outcome read need not be the last) or the
    timeout passes. An archived outcome is final; otherwise the latest wins (a resubmission may
    have fixed the input, a changed schedule may have sent a once-rejected document to review)."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": settings.reader_group("watch"),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",  # an aborted publish is no outcome
    })  # fmt: skip
    topics = [settings.archival_ready_topic, settings.review_topic, settings.deadletter_topic]
    consumer.subscribe(topics)
    latest: dict[str, tuple[Outcome, int]] = {}  # event id → outcome and its Kafka timestamp
    deadline = time.monotonic() + timeout_s
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("等待处理结果 Waiting for outcomes", total=len(event_ids))

            def settled() -> bool:
                return all(e in latest and until(latest[e][0]) for e in event_ids)

            while time.monotonic() < deadline and not settled():
                message = consumer.poll(POLL_TIMEOUT_S)
                if message is None:
                    continue
                if message.error():
                    raise KafkaException(message.error())
                at = message.timestamp()[1]
                if message.topic() == settings.archival_ready_topic:
                    record = codec.decode(message.value(), "archival_record")
                    found = record["event_id"], Outcome("archived", record["reference_code"],
                                                        record["retention_period"])  # fmt: skip
                elif message.topic() == settings.review_topic:
                    item = codec.decode(message.value(), "retention_review")
                    if item["kind"] == "APPRAISAL":  # an archived record due for appraisal:
                        continue  # its outcome is the record, on the archival-ready topic
                    found = (
                        item["event_id"],
                        Outcome("review", reason="retention-undecided", detail=item["reason"]),
                    )
                else:
                    letter = codec.decode(message.value(), "dead_letter")
                    found = (
                        letter["event_id"],
                        Outcome("rejected", reason=letter["reason"], detail=letter["message"]),
                    )
                event_id, outcome = found
                if event_id and _supersedes(outcome, at, latest.get(event_id)):
                    latest[event_id] = (outcome, at)
                progress.update(task, completed=len(event_ids & latest.keys()))
    finally:
        consumer.close()
    return {event_id: outcome for event_id, (outcome, _) in latest.items() if event_id in event_ids}


def _supersedes(outcome: Outcome, at: int, current: tuple[Outcome, int] | None) -> bool:
    """Archived is final; otherwise the later outcome wins (the topics are read in no set order)."""
    if current is None:
        return True
    if current[0].status == "archived":
        return False
    return outcome.status == "archived" or at >= current[1]
