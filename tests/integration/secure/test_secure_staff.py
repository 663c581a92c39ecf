"""Archive staff on the secure profile, signed in as the archivist principal (not the admin):
they read the records, the review queues and the dead letters, decide a retention item, appraise
a record due for appraisal (lengthening its object lock on the real S3 server) and replay a
dead letter; they cannot publish records themselves."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from minio.error import S3Error

from avro_schemas.codec import Codec
from connectors.sdk import FileToSubmit
from connectors.storage import Storage
from recordflow.localstack.secure import ARCHIVIST, as_principal
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli, signed_in
from tests.integration.review_fixtures import due_record, queue_appraisal
from tests.integration.secure.conftest import submit_beside_junk

OUTCOME_TIMEOUT_S = 90.0


def staff_json(settings: Settings, *args: str) -> Any:
    """`recordflow ARGS… --json` as the archivist."""
    result = run_cli(settings, *args, "--json", env=signed_in(as_principal(settings, ARCHIVIST)))
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def test_archive_staff_work_their_queues_as_the_archivist(
    secure_pipeline: Settings, secure_worker: WorkerProcess, tmp_path: Path
) -> None:
    # A reply of unknown standing (no issuer relation): no rule decides it, it waits for staff;
    # and bytes that are no event at all: a dead letter.
    document = tmp_path / "reply.pdf"
    document.write_bytes(b"%PDF-1.7 " + os.urandom(1024))
    undecided = notice_metadata("BGT-STAFF-1", title="关于同意调整办公用房维修经费的批复",
                                document_type="批复", responsible_party="市人民政府")  # fmt: skip
    event_id, outcome = submit_beside_junk(secure_pipeline, [FileToSubmit(document)], undecided,
                                           OUTCOME_TIMEOUT_S)  # fmt: skip
    assert outcome.status == "review", outcome

    # The retention queue, read and decided as the archivist: the worker archives the record.
    assert [i["event_id"] for i in staff_json(secure_pipeline, "review", "list")] == [event_id]
    decision = run_cli(secure_pipeline, "review", "decide", event_id, "--period", "D30",
                       "--by", "王档案", env=signed_in(as_principal(secure_pipeline, ARCHIVIST)))  # fmt: skip
    assert decision.returncode == 0, decision.stderr
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    records: list[dict[str, Any]] = []
    while not records and time.monotonic() < deadline:
        records = staff_json(secure_pipeline, "records", "list")
        time.sleep(0.5)
    assert [(r["document_id"], r["retention_period"]) for r in records] == [("BGT-STAFF-1", "D30")]

    # The dead letter, listed and replayed (the junk comes back as a dead letter again).
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    letters: list[dict[str, Any]] = []
    while not letters and time.monotonic() < deadline:
        letters = staff_json(secure_pipeline, "deadletters", "list")
        time.sleep(0.5)
    [replayed] = staff_json(
        secure_pipeline, "deadletters", "replay", letters[0]["id"], "--by", "王档案"
    )
    assert replayed["status"] == "replayed", replayed

    # An appraisal that extends a record to D30: the archivist lengthens its lock on S3.
    storage = Storage(secure_pipeline)  # the admin writes the record as the register stage does
    record = due_record(
        secure_pipeline, storage, 2010, "D10", dt.date.today() + dt.timedelta(days=2)
    )
    codec = Codec.from_url(secure_pipeline.schema_registry_url)
    item = queue_appraisal(secure_pipeline, codec, record)
    appraised = run_cli(secure_pipeline, "review", "appraise", item["event_id"], "--outcome",
                        "extend", "--period", "D30", "--by", "王档案",
                        env=signed_in(as_principal(secure_pipeline, ARCHIVIST)))  # fmt: skip
    assert appraised.returncode == 0, appraised.stderr
    payload = record["components"][0]["payload"]
    retention = storage.client.get_object_retention(
        payload["bucket"], payload["key"], payload["version_id"]
    )
    assert retention is not None and retention.retain_until_date is not None
    assert retention.retain_until_date.date() == dt.date(2041, 1, 1)


def test_the_archivist_cannot_publish_records(secure_pipeline: Settings) -> None:
    staff = as_principal(secure_pipeline, ARCHIVIST)
    producer = Producer(staff.kafka_config())
    errors: list[str] = []
    producer.produce(
        secure_pipeline.archival_ready_topic,
        b"forged",
        on_delivery=lambda error, _: errors.append(error.name() if error else "delivered"),
    )
    producer.flush(30)
    assert errors == ["TOPIC_AUTHORIZATION_FAILED"]
    with pytest.raises(S3Error, match="AccessDenied"):
        Storage(staff).client.put_object(
            secure_pipeline.archive_bucket, "forged", io.BytesIO(b"forged"), 6
        )
