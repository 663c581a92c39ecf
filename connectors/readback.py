"""Reading the archive back from Kafka: the catalog (latest state of every record), the
archival-ready stream and the dead-letter topic, for `recordflow records …` and the demo.

Reads each partition from the beginning up to its high watermark at the time of the call, with
no consumer group, so reading never moves anybody's committed offsets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from rich.console import Console
from rich.progress import Progress

from avro_schemas.codec import Codec
from recordflow.settings import Settings

POLL_TIMEOUT_S = 1.0
METADATA_TIMEOUT_S = 10.0


def read_topic(settings: Settings, topic: str) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Every message now in `topic`, as (key, value)."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": f"recordflow-readback-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        # End of partition is reported too: a partition whose last offset is a transaction
        # marker (a replayed dead letter) never delivers a message at high watermark - 1.
        "enable.partition.eof": True,
    })  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            raise KafkaException(f"topic {topic} does not exist; run `recordflow topics apply`")
        ends: dict[int, int] = {}
        assignment = []
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_S
            )
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
        if not assignment:
            return
        consumer.assign(assignment)
        while ends:
            message = consumer.poll(POLL_TIMEOUT_S)
            if message is None:
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(partition, None)  # caught up with a high watermark >= ends' own
                    continue
                raise KafkaException(error)
            yield message.key(), message.value()
            if partition in ends and offset + 1 >= ends[partition]:
                del ends[partition]
    finally:
        consumer.close()


def catalog(
    settings: Settings, codec: Codec, record_type: str = "archival_record"
) -> dict[str, dict[str, Any]]:
    """The latest ArchivalRecord per reference code, from the compacted catalog topic."""
    records: dict[str, dict[str, Any]] = {}
    for key, value in read_topic(settings, settings.catalog_topic):
        if key is None:
            continue
        if value is None:
            records.pop(key.decode(), None)  # a tombstone
        else:
            records[key.decode()] = codec.decode(value, record_type)
    return records


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
                   console: Console | None = None) -> dict[str, Outcome]:  # fmt: skip
    """Follow records.archival-ready.v1, records.retention-review.v1 and records.deadletter.v1
    from the beginning until every event in `event_ids` has an outcome or the timeout passes. An
    archived outcome is final; otherwise the latest wins (a resubmission may have fixed the input,
    a changed schedule may have sent a once-rejected document to review)."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": f"recordflow-watch-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })  # fmt: skip
    topics = [settings.archival_ready_topic, settings.review_topic, settings.deadletter_topic]
    consumer.subscribe(topics)
    latest: dict[str, tuple[Outcome, int]] = {}  # event id → outcome and its Kafka timestamp
    deadline = time.monotonic() + timeout_s
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("等待处理结果 Waiting for outcomes", total=len(event_ids))
            while time.monotonic() < deadline and not event_ids <= latest.keys():
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
