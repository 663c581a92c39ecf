"""Exactly one message per record on records.archival-ready.v1 and records.catalog.v1 for
read_committed consumers, also when a worker dies between publishing a record and marking its
event published (streams/publish.py)."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from avro_schemas.codec import Codec
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from streams.register import FAULT_EXIT_STATUS
from tests.examples import notice_metadata

TIMEOUT_S = 90.0


def committed_messages(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every message a read_committed consumer sees in `topic`, as (key, value)."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": f"test-committed-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })  # fmt: skip
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending, messages = set(partitions), []
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                pending.discard(message.partition())
                continue
            messages.append((message.key(), message.value()))
        assert not pending, f"{topic}: partitions {pending} not read to their end"
        return messages
    finally:
        consumer.close()


def submit(agency: Settings, tmp_path: Path, document_id: str) -> str:
    path = tmp_path / f"{document_id}.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(2048))
    submitter = Submitter(agency)
    try:
        return submitter.submit("bgt", [FileToSubmit(path)], notice_metadata(document_id)).event_id
    finally:
        submitter.close()


def test_a_worker_dying_between_publish_and_mark_publishes_each_record_once(
    pipeline_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dying_between_publish_and_mark(pipeline_settings, pipeline_settings, pipeline_settings,
                                   tmp_path, monkeypatch)  # fmt: skip


def dying_between_publish_and_mark(
    admin: Settings,
    worker: Settings,
    agency: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scenario, with the workers signed in as `worker`, bgt submitting as `agency` and the
    test reading as `admin` (all three the same on the plain stack)."""
    pipeline_settings = admin
    # The first worker exits right after its first publish, before it marks the event published
    # in the item-numbers table: the event is redelivered to the next worker with its number.
    monkeypatch.setenv("RECORDFLOW_FAULT_EXIT_AFTER_PUBLISH", "true")
    faulty_settings = worker.model_copy(update={"fault_exit_after_publish": True})
    faulty = WorkerProcess(faulty_settings, name=f"faulty-{pipeline_settings.topic_prefix[:-1]}")
    faulty.start()
    faulty.wait_ready()
    monkeypatch.delenv("RECORDFLOW_FAULT_EXIT_AFTER_PUBLISH")
    first = submit(agency, tmp_path, "BGT-X-1")
    assert faulty.process is not None
    assert faulty.process.wait(TIMEOUT_S) == FAULT_EXIT_STATUS
    assert len(committed_messages(pipeline_settings, pipeline_settings.catalog_topic)) == 1

    replacement = WorkerProcess(worker, name=f"next-{pipeline_settings.topic_prefix[:-1]}")
    replacement.start()
    try:
        replacement.wait_ready()
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:  # the redelivery found its record in the catalog
            found = replacement.metric(
                "recordflow_events_total", agency="bgt", stage="register", outcome="duplicate"
            )
            if found >= 1:
                break
            time.sleep(0.5)
        # At least once: intake's copy of the event may come again too (the first worker died
        # before committing either offset), and finds its record published.
        assert found >= 1
        second = submit(agency, tmp_path, "BGT-X-2")
        codec = Codec.from_url(pipeline_settings.schema_registry_url)
        outcomes = watch_outcomes(pipeline_settings, codec, {first, second}, timeout_s=TIMEOUT_S)
    finally:
        replacement.stop()

    assert outcomes[first].reference_code == "Z101-WS·2026-D10-BGS-0001"
    assert outcomes[second].reference_code == "Z101-WS·2026-D10-BGS-0002"  # no gap, no reuse
    for topic in (pipeline_settings.archival_ready_topic, pipeline_settings.catalog_topic):
        per_code = Counter(key for key, _ in committed_messages(pipeline_settings, topic))
        assert per_code == {
            b"Z101-WS\xc2\xb72026-D10-BGS-0001": 1,
            b"Z101-WS\xc2\xb72026-D10-BGS-0002": 1,
        }, topic
