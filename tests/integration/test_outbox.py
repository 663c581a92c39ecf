"""The producer survives an outage (issue 4), on the real stack: while Kafka or S3 is unreachable,
a submission is held in the outbox; a new process (`recordflow outbox flush`, as after a restart
of the producing machine) delivers it once; the worker archives exactly one record of it; a second
flush sends nothing.

"Down" is simulated the way a producer experiences it, by pointing a copy of the settings at a
closed port on 127.0.0.1; the shared stack's servers are never stopped."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from avro_schemas.codec import Codec
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.outbox import DATABASE, Outbox, SubmissionHeld
from connectors.readback import read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.cli.common import EXIT_HELD
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

OUTCOME_TIMEOUT_S = 90.0
DOWN_DEADLINE_S = 3.0


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def outbox_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own outbox, for this process and every `run_cli` child."""
    path = tmp_path / "outbox"
    monkeypatch.setenv("RECORDFLOW_OUTBOX_DIR", str(path))
    return path


def ingest_events(settings: Settings, codec: Codec, agency: str) -> list[dict[str, Any]]:
    return [
        codec.decode(value, DOCUMENT_LIFECYCLE_EVENT)
        for _, value in read_topic(settings, settings.ingest_topic(agency))
    ]


def archived_event_ids(settings: Settings, codec: Codec) -> list[str]:
    return [
        codec.decode(value, "archival_record")["event_id"]
        for _, value in read_topic(settings, settings.archival_ready_topic)
    ]


def flush(settings: Settings) -> dict[str, Any]:
    """`recordflow outbox flush --json` in a new process."""
    result = run_cli(settings, "outbox", "flush", "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return dict(json.loads(result.stdout))


def assert_no_secret(settings: Settings, outbox_dir: Path, *outputs: str) -> None:
    secret = settings.s3_secret_key.get_secret_value()
    for output in outputs:
        assert secret not in output
    for path in outbox_dir.glob(f"{DATABASE}*"):
        assert secret.encode() not in path.read_bytes()


def test_kafka_down_holds_the_submission_and_a_new_process_delivers_it_once(
    pipeline_settings: Settings, worker: WorkerProcess, outbox_dir: Path, tmp_path: Path
) -> None:
    document = tmp_path / "防汛通知.pdf"
    document.write_bytes(b"%PDF-1.7 flood-season notice " + os.urandom(2048))
    down = pipeline_settings.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{closed_port()}", "outbox_dir": outbox_dir}
    )
    with Outbox(outbox_dir) as outbox:
        submitter = Submitter(down, outbox=outbox)
        with pytest.raises(SubmissionHeld) as held:
            submitter.submit("bgt", [FileToSubmit(document)], notice_metadata("BGT-OB-K1"),
                             deadline_s=DOWN_DEADLINE_S)  # fmt: skip
        submitter.close()
    entry = held.value.entry
    assert entry.state == "staged"  # S3 was up: the file went; the event did not
    assert "no confirmation within the deadline" in held.value.reason
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    assert ingest_events(pipeline_settings, codec, "bgt") == []

    listed = run_cli(pipeline_settings, "outbox", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(e["event_id"], e["state"]) for e in json.loads(listed.stdout)] == [
        (entry.event_id, "staged")
    ]

    # The producing process is gone; a new one, with the real settings, delivers.
    report = flush(pipeline_settings)
    assert (report["delivered"], report["held"], report["failed"]) == (1, 0, 0)
    assert report["submissions"][0]["event_id"] == entry.event_id

    outcome = watch_outcomes(pipeline_settings, codec, {entry.event_id},
                             timeout_s=OUTCOME_TIMEOUT_S)[entry.event_id]  # fmt: skip
    assert outcome.status == "archived", outcome
    events = ingest_events(pipeline_settings, codec, "bgt")
    assert [e["event_id"] for e in events] == [entry.event_id]  # sent once
    assert events[0]["upload_id"] == entry.upload_id
    assert events[0]["event_time"] == entry.event_time.replace(
        microsecond=entry.event_time.microsecond // 1000 * 1000
    )  # the time of acceptance, not of delivery
    staged = Storage(pipeline_settings).client.list_objects(
        pipeline_settings.staging_bucket, prefix="bgt/", recursive=True
    )
    assert {obj.object_name.split("/")[1] for obj in staged} == {entry.upload_id}

    again = flush(pipeline_settings)
    assert (again["delivered"], again["submissions"]) == (0, [])
    assert [e["event_id"] for e in ingest_events(pipeline_settings, codec, "bgt")] == [
        entry.event_id
    ]
    assert archived_event_ids(pipeline_settings, codec) == [entry.event_id]
    assert_no_secret(pipeline_settings, outbox_dir, json.dumps(report), listed.stdout)


def test_s3_down_cli_submit_holds_with_one_line_and_a_later_flush_delivers_the_copy(
    pipeline_settings: Settings,
    worker: WorkerProcess,
    outbox_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`recordflow submit` while S3 is unreachable: exit status 75 and one line saying where the
    submission is; the agency system then deletes its file; a flush later delivers the outbox's
    copy, and the archive holds exactly those bytes, once."""
    document = tmp_path / "通知.pdf"
    content = b"%PDF-1.7 notice " + os.urandom(4096)
    document.write_bytes(content)
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps(notice_metadata("BGT-OB-S1")), encoding="utf-8")

    with monkeypatch.context() as down:
        down.setenv("RECORDFLOW_S3_ENDPOINT", f"127.0.0.1:{closed_port()}")
        held = run_cli(pipeline_settings, "submit", "--agency", "bgt", "--metadata",
                       str(metadata), str(document), "--deadline", str(DOWN_DEADLINE_S))  # fmt: skip
    assert held.returncode == EXIT_HELD, held.stderr
    assert held.stderr.strip().count("\n") == 0, held.stderr
    assert "held in the outbox" in held.stderr and "recordflow outbox flush" in held.stderr
    assert "Connection refused" in held.stderr and "Traceback" not in held.stderr
    document.unlink()

    with Outbox(outbox_dir) as outbox:
        (entry,) = outbox.pending()
    assert entry.state == "accepted" and entry.attempts >= 1

    report = flush(pipeline_settings)
    assert (report["delivered"], report["held"]) == (1, 0)
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {entry.event_id},
                             timeout_s=OUTCOME_TIMEOUT_S)[entry.event_id]  # fmt: skip
    assert outcome.status == "archived", outcome
    shown = run_cli(pipeline_settings, "records", "show", str(outcome.reference_code), "--json")
    assert shown.returncode == 0, shown.stderr
    (stored,) = json.loads(shown.stdout)["components"]
    sha256 = next(c["value"] for c in stored["checksums"] if c["algorithm"] == "SHA256")
    assert sha256 == hashlib.sha256(content).hexdigest()

    assert flush(pipeline_settings)["submissions"] == []
    assert archived_event_ids(pipeline_settings, codec) == [entry.event_id]
    assert [e["event_id"] for e in ingest_events(pipeline_settings, codec, "bgt")] == [
        entry.event_id
    ]
    assert_no_secret(pipeline_settings, outbox_dir, held.stdout, held.stderr)


def test_a_refused_submission_is_reported_and_not_held(
    pipeline_settings: Settings, outbox_dir: Path, tmp_path: Path
) -> None:
    document = tmp_path / "d.pdf"
    document.write_bytes(b"%PDF-1.7 " + os.urandom(64))
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps(notice_metadata("BGT-OB-R1", security_classification="机密")),
                        encoding="utf-8")  # fmt: skip
    refused = run_cli(pipeline_settings, "submit", "--agency", "bgt", "--metadata",
                      str(metadata), str(document))  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0 and "classified-not-accepted" in refused.stderr
    listed = run_cli(pipeline_settings, "outbox", "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    nothing = run_cli(pipeline_settings, "outbox", "flush")
    assert nothing.returncode == 0 and "Nothing pending" in nothing.stdout


def test_a_spool_copy_changed_before_staging_fails_the_submission_and_stages_nothing_under_it(
    pipeline_settings: Settings, outbox_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox's copy is staged without hashing it again: S3's ETag (the MD5 of what it
    received) must equal the MD5 taken at acceptance. A copy changed in between, even to bytes of
    the same size, fails the submission for good and names the copy; nothing is produced."""
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.7 notice " + os.urandom(4096))
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps(notice_metadata("BGT-OB-D1")), encoding="utf-8")
    with monkeypatch.context() as down:
        down.setenv("RECORDFLOW_S3_ENDPOINT", f"127.0.0.1:{closed_port()}")
        held = run_cli(pipeline_settings, "submit", "--agency", "bgt", "--metadata",
                       str(metadata), str(document), "--deadline", str(DOWN_DEADLINE_S))  # fmt: skip
    assert held.returncode == EXIT_HELD, held.stderr

    with Outbox(outbox_dir) as outbox:
        (entry,) = outbox.pending()
        (file,) = entry.files
        copy = outbox.spooled_path(entry, file)
    copy.write_bytes(b"%PDF-1.7 forged " + os.urandom(copy.stat().st_size - 16))

    refused = run_cli(pipeline_settings, "outbox", "flush", "--json")
    assert refused.returncode == 1, refused.stderr
    report = json.loads(refused.stdout)
    assert (report["delivered"], report["failed"]) == (0, 1), report
    with Outbox(outbox_dir) as outbox:
        failed = outbox.get(entry.upload_id)
    assert failed is not None and failed.state == "failed"
    assert "is no longer the file accepted" in (failed.last_error or "")
    assert str(copy) in (failed.last_error or "")
    assert ingest_events(pipeline_settings, Codec.from_url(pipeline_settings.schema_registry_url),
                         "bgt") == []  # fmt: skip
