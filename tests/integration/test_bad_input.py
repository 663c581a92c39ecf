"""The bad-input corpus (tests/corpus/) against a running worker on the real stack: every message
gets the outcome written beside it (a dead letter with its reason and the original bytes, or a
record flagged on a named DA/T 70 item), nothing is lost or archived twice, and the worker is still
alive and still archives a sound document sent after the corpus."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka import Message as KafkaMessage
from rich.console import Console
from rich.table import Table

from avro_schemas.codec import Codec, CodecError
from connectors.readback import read_topic
from connectors.storage import Storage
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.corpus.cases import Kit, Message, build_corpus, good_document

OUTCOME_TIMEOUT_S = 240.0
SETTLE_S = 5.0  # after the last outcome: time for anything unexpected (a second record) to show


@dataclass
class Sent:
    case: str
    what: str
    message: Message
    topic: str = ""
    partition: int = -1
    offset: int = -1


@dataclass
class Seen:
    letters: dict[tuple[str, int, int], dict[str, Any]]  # by original topic, partition, offset
    records: list[dict[str, Any]]  # archival-ready, in order
    reviews: list[dict[str, Any]]


def produce(settings: Settings, sent: list[Sent]) -> None:
    """Put each message on its topic in order, recording where it landed."""
    # As a Java client sends by default: up to the broker's 1 MiB, not librdkafka's 1,000,000.
    producer = Producer({**settings.producer_config(), "message.max.bytes": 1_048_576})
    errors: list[str] = []

    def delivered(item: Sent) -> Any:
        def report(error: KafkaError | None, message: KafkaMessage) -> None:
            if error is not None:
                errors.append(f"{item.case}: {error.str()}")
            else:
                item.topic = message.topic() or ""
                item.partition = message.partition() or 0
                item.offset = message.offset() or 0

        return report

    for item in sent:
        producer.produce(item.message.topic, key=item.message.key, value=item.message.value,
                         on_delivery=delivered(item))  # fmt: skip
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors, errors


def observe(settings: Settings, codec: Codec) -> Seen:
    letters = {}
    for _, value in read_topic(settings, settings.deadletter_topic):
        letter = codec.decode(value, "dead_letter")
        where = (letter["original_topic"], letter["original_partition"], letter["original_offset"])
        letters[where] = letter
    records = []
    for _, value in read_topic(settings, settings.archival_ready_topic):
        try:
            records.append(codec.decode(value, "archival_record"))
        except CodecError as exc:  # a record downstream consumers could not read either
            records.append({"document_id": None, "undecodable": str(exc)})
    reviews = [
        codec.decode(value, "retention_review")
        for _, value in read_topic(settings, settings.review_topic)
    ]
    return Seen(letters, records, reviews)


def outcome_of(item: Sent, seen: Seen) -> str | None:
    """What became of one message, in the words of `Expected.__str__`; None while unknown."""
    expected = item.message.expected
    letter = seen.letters.get((item.topic, item.partition, item.offset))
    if letter is not None:
        named = expected.item if expected.item and expected.item in letter["message"] else None
        return " ".join(part for part in ("rejected", letter["reason"], named) if part)
    mine = [r for r in seen.records if r["document_id"] == item.message.document_id]
    if mine and expected.status == "rejected":
        return "archived"  # accepted silently
    if mine:
        record = mine[0]
        if expected.status == "history":
            # The step's action is in the record's business history, or it was lost.
            actions = {step["action"] for step in record["history"]}
            return "history" if item.message.action in actions else "archived without the step"
        if expected.status == "duplicate":
            return "duplicate" if len(mine) == 1 else f"archived {len(mine)} times"
        failing = [i["code"] for i in record["check"]["items"] if i["result"] == "fail"]
        shown = [*record["flags"], *(c for c in failing if c == expected.item)]
        return " ".join(["archived", *shown])
    return None


def test_the_bad_input_corpus(
    pipeline_settings: Settings, worker: WorkerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    kit = Kit(pipeline_settings, codec, Storage(pipeline_settings))
    sent = []
    for name, what, messages in build_corpus(kit):
        for message in messages:
            sent.append(Sent(name, what, message))
    produce(pipeline_settings, sent)
    sentinel = Sent("sentinel", "a sound document sent after the corpus", good_document(kit))
    produce(pipeline_settings, [sentinel])

    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    while True:
        seen = observe(pipeline_settings, codec)
        pending = [i for i in [*sent, sentinel] if outcome_of(i, seen) is None]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(2)
    time.sleep(SETTLE_S)
    seen = observe(pipeline_settings, codec)

    table = Table(title="坏输入语料 Bad-input corpus", show_lines=False)
    for column in ("case", "what", "expected", "outcome"):
        table.add_column(column)
    # Within a case the outcomes are compared as a multiset: the two documents of event-id-reused
    # are keyed apart, so either may reach the register stage first and keep the id.
    got_by_case: dict[str, Counter[str]] = {}
    want_by_case: dict[str, Counter[str]] = {}
    for item in [*sent, sentinel]:
        got = outcome_of(item, seen) or "LOST (no outcome)"
        want = str(item.message.expected)
        got_by_case.setdefault(item.case, Counter())[got] += 1
        want_by_case.setdefault(item.case, Counter())[want] += 1
        table.add_row(item.case, item.what, want, got, style=None if got == want else "yellow")
    wrong = [
        f"{case}: expected {sorted(want_by_case[case].elements())}, got {sorted(got.elements())}"
        for case, got in got_by_case.items()
        if got != want_by_case[case]
    ]
    with capsys.disabled():
        Console(width=160).print(table)

    assert not wrong, "\n".join(wrong)
    # Every dead letter is one of ours and holds the exact bytes that were sent.
    by_place = {(i.topic, i.partition, i.offset): i for i in sent}
    assert set(seen.letters) <= set(by_place), "dead letters for messages nobody sent"
    for place, letter in seen.letters.items():
        assert letter["original_value"] == by_place[place].message.value, by_place[place].case
        assert letter["original_key"] == by_place[place].message.key, by_place[place].case
    # Nothing archived twice, nothing sent to review, and the worker is alive.
    assert not [r for r in seen.records if "undecodable" in r], "unreadable archival records"
    archived = Counter(r["document_id"] for r in seen.records)
    assert all(count == 1 for count in archived.values()), archived
    assert seen.reviews == []
    assert worker.process is not None and worker.process.poll() is None, "the worker died"
