"""`Submitter.warm_up()` on the real stack: it looks up what a first submission would wait for, so
a submission after it needs no schema registry round trip; with the broker unreachable it raises
instead of returning. "Unreachable" is a closed port on 127.0.0.1; the shared servers keep running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry import SchemaRegistryClient

from connectors.sdk import FileToSubmit, Submitter
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.test_outbox import closed_port


def submit_with_registry_gone(submitter: Submitter, tmp_path: Path) -> None:
    submitter.codec.registry = SchemaRegistryClient({"url": f"http://127.0.0.1:{closed_port()}"})
    path = tmp_path / "notice.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(256))
    try:
        submitter.submit("bgt", [FileToSubmit(path)], notice_metadata("BGT-WARM-1"))
    finally:
        submitter.close()


def test_after_warm_up_a_submission_needs_no_registry(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    submitter = Submitter(pipeline_settings)
    submitter.warm_up()
    submit_with_registry_gone(submitter, tmp_path)  # delivered, with the schema id looked up


def test_without_warm_up_the_first_submission_asks_the_registry(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match=r"(?i)connect"):
        submit_with_registry_gone(Submitter(pipeline_settings), tmp_path)


def test_warm_up_with_the_broker_unreachable_raises(pipeline_settings: Settings) -> None:
    down = pipeline_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{closed_port()}"})
    submitter = Submitter(down)
    with pytest.raises(KafkaException):
        submitter.warm_up(timeout_s=2)
