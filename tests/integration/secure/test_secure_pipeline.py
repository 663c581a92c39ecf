"""The pipeline end to end on the secure profile: an agency submits with its own credentials, a
worker signed in as the pipeline archives the document; the agency a record belongs to is the
principal that wrote it; no secret leaks into logs, metrics, dead letters or JSON output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from avro_schemas.codec import Codec
from connectors.readback import dead_letters, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.staging_sweep import marker_key
from connectors.storage import Storage
from recordflow.errors import SubmitError
from recordflow.localstack.secure import PIPELINE, agency_principal, as_principal, secrets_path
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli, signed_in
from tests.integration.secure.conftest import submit_beside_junk
from tests.integration.test_exactly_once import dying_between_publish_and_mark

OUTCOME_TIMEOUT_S = 90.0


def _document(tmp_path: Path, name: str) -> FileToSubmit:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7 secure profile " + os.urandom(1024))
    return FileToSubmit(path)


def test_document_submitted_by_an_agency_is_archived_by_the_pipeline_principal(
    secure_pipeline: Settings, secure_worker: WorkerProcess, tmp_path: Path
) -> None:
    bgt = as_principal(secure_pipeline, agency_principal("bgt"))
    submitter = Submitter(bgt)
    receipt = submitter.submit("bgt", [_document(tmp_path, "通知.pdf")], notice_metadata("BGT-S-1"))
    submitter.close()

    codec = Codec.from_url(secure_pipeline.schema_registry_url)
    outcome = watch_outcomes(
        secure_pipeline, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S
    )[receipt.event_id]
    assert outcome.status == "archived", outcome
    assert outcome.reference_code is not None
    assert outcome.reference_code.startswith("Z101-")
    # The worker, as the pipeline, marked the staged file archived (connectors/staging_sweep.py).
    marker = Storage(secure_pipeline).client.get_object(
        secure_pipeline.staging_bucket, marker_key("bgt", receipt.event_id)
    )
    assert json.loads(marker.read())["reference_code"] == outcome.reference_code
    marker.close()


def test_an_agency_writes_only_its_own_topic_and_only_as_itself(
    secure_pipeline: Settings, secure_worker: WorkerProcess, tmp_path: Path
) -> None:
    """Two guards, one per layer: Kafka refuses bgt's principal on zjj's topic; an event that
    bgt writes to its own topic but that names zjj is dead-lettered by intake."""
    submitter = Submitter(as_principal(secure_pipeline, agency_principal("bgt")))
    bgt, zjj = submitter.agency("bgt"), submitter.agency("zjj")
    components = submitter.stage(bgt, "mismatch", [_document(tmp_path, "a.pdf")])
    built: list[dict[str, Any]] = []
    produce = submitter.produce_event
    submitter.produce_event = lambda owner, event: built.append(event)  # type: ignore[method-assign,assignment,return-value]
    submitter.publish(zjj, notice_metadata("BGT-S-2"), components, "mismatch", validate=False)
    submitter.produce_event = produce  # type: ignore[method-assign]
    [event] = built
    assert event["agency"]["code"] == "zjj"

    # 1. The broker: bgt's principal may not write zjj's ingest topic.
    refused = submitter.produce_event("zjj", event)
    submitter.producer.flush(10)
    with pytest.raises(SubmitError, match=r"(?i)authorization"):
        refused.wait(0)

    # 2. The pipeline: bgt's own topic, but the event claims to be zjj's.
    mislabelled = submitter.produce_event("bgt", event)
    submitter.flush()
    mislabelled.wait()
    submitter.close()

    codec = Codec.from_url(secure_pipeline.schema_registry_url)
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    letters: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not letters:
        letters = [
            letter
            for letter in dead_letters(secure_pipeline, codec)
            if letter["original_key"] == b"BGT-S-2"
        ]
        time.sleep(0.5)
    [letter] = letters
    assert letter["reason"] == "agency-mismatch"
    assert letter["original_topic"] == secure_pipeline.ingest_topic("bgt")
    # Nothing reached zjj's topic.
    assert list(read_topic(secure_pipeline, secure_pipeline.ingest_topic("zjj"))) == []


def test_no_secret_reaches_logs_metrics_dead_letters_or_json_output(
    secure_pipeline: Settings,
    secure_worker: WorkerProcess,
    stack_secrets: list[str],
    tmp_path: Path,
) -> None:
    _, outcome = submit_beside_junk(secure_pipeline, [_document(tmp_path, "b.pdf")],
                                    notice_metadata("BGT-S-3"), OUTCOME_TIMEOUT_S)  # fmt: skip
    assert outcome.status == "archived", outcome
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    letters: list[bytes] = []
    while time.monotonic() < deadline and not letters:
        letters = [v for _, v in read_topic(secure_pipeline, secure_pipeline.deadletter_topic) if v]
        time.sleep(0.5)
    assert letters

    # The CLI as the admin, credentials from the environment as in production.
    admin_env = signed_in(secure_pipeline)
    outputs = {
        "stack status --secure --json": run_cli(
            secure_pipeline, "stack", "status", "--secure", "--json"
        ),
        "topics apply --dry-run --json": run_cli(
            secure_pipeline, "topics", "apply", "--dry-run", "--json", env=admin_env
        ),
        "records list --json": run_cli(secure_pipeline, "records", "list", "--json", env=admin_env),
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stderr)
    texts = {name: result.stdout + result.stderr for name, result in outputs.items()}
    assert str(outcome.reference_code) in texts["records list --json"]  # the CLI did sign in
    texts["worker metrics"] = secure_worker.metrics()
    texts["dead letters"] = b"".join(letters).decode("latin-1")
    texts["settings repr"] = repr(secure_pipeline) + repr(as_principal(secure_pipeline, PIPELINE))
    logs = secure_pipeline.home / "logs"
    for log in [*logs.glob("*.log"), secure_worker.log_path]:
        texts[str(log)] = log.read_text(errors="replace")
    assert secure_worker.log_path.stat().st_size > 0

    leaks = [name for name, text in texts.items() if any(s in text for s in stack_secrets)]
    assert leaks == []
    assert oct(secrets_path(secure_pipeline).stat().st_mode & 0o777) == "0o600"


def test_a_redelivered_record_is_found_published_by_the_pipeline_principal(
    secure_pipeline: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The register stage's look in the catalog (a reader's group, read_committed) is allowed to
    the pipeline principal: a worker killed between publish and mark still publishes once."""
    dying_between_publish_and_mark(
        secure_pipeline,
        as_principal(secure_pipeline, PIPELINE),
        as_principal(secure_pipeline, agency_principal("bgt")),
        tmp_path,
        monkeypatch,
    )
