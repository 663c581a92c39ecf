"""The walking skeleton on the real stack: a submitted document becomes an archival-ready record;
bad input becomes a dead letter with its original bytes and a reason; nothing is duplicated."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from minio.error import S3Error

from avro_schemas.codec import Codec
from connectors.readback import catalog, dead_letters, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.demo.run import submit_sample
from recordflow.demo.samples import SAMPLES
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

OUTCOME_TIMEOUT_S = 90.0


def test_submitted_document_is_archived_with_its_checksum(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    main = tmp_path / "防汛通知.pdf"
    main.write_bytes(b"%PDF-1.7 flood-season notice " + os.urandom(2048))
    attachment = tmp_path / "值班表.csv"
    attachment.write_text("日期,值班人\n2026-06-01,张三\n", encoding="utf-8")

    submitter = Submitter(pipeline_settings)
    receipt = submitter.submit(
        "bgt", [FileToSubmit(main), FileToSubmit(attachment)], notice_metadata("BGT-T-1")
    )
    submitter.close()
    submitted = {f["file_name"]: f["sha256"] for f in receipt.as_json()["files"]}

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S
    )
    outcome = outcomes[receipt.event_id]
    assert outcome.status == "archived", outcome
    assert outcome.reference_code == "Z101-WS·2026-D10-BGS-0001"

    shown = run_cli(pipeline_settings, "records", "show", outcome.reference_code, "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    stored = {
        c["file_name"]: next(x["value"] for x in c["checksums"] if x["algorithm"] == "SHA256")
        for c in record["components"]
    }
    assert stored == submitted
    assert record["retention_rule_id"].endswith("/D10-routine")
    assert record["retain_until"] == "2037-01-01"

    # The stored bytes are the submitted bytes, and the object lock holds.
    storage = Storage(pipeline_settings)
    main_component = next(c for c in record["components"] if c["is_main"])
    payload = main_component["payload"]
    assert payload["bucket"] == pipeline_settings.archive_bucket
    assert outcome.reference_code in payload["key"]
    response = storage.client.get_object(
        payload["bucket"], payload["key"], version_id=payload["version_id"]
    )
    assert response.read() == main.read_bytes()
    response.close()
    with pytest.raises(S3Error) as refused:
        storage.client.remove_object(
            payload["bucket"], payload["key"], version_id=payload["version_id"]
        )
    assert refused.value.code == "AccessDenied"


def test_bad_samples_become_dead_letters_with_original_bytes(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    bad = [sample for sample in SAMPLES if sample.bad]
    submitter = Submitter(pipeline_settings)
    receipts = [submit_sample(submitter, sample, tmp_path) for sample in bad]
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {r.event_id for r in receipts}, timeout_s=OUTCOME_TIMEOUT_S
    )
    for sample, receipt in zip(bad, receipts, strict=True):
        outcome = outcomes[receipt.event_id]
        assert (outcome.status, outcome.reason) == (sample.expected_status, sample.expected_reason)
    rejected = [r for s, r in zip(bad, receipts, strict=True) if s.expected_status == "rejected"]

    # Every dead letter carries the exact bytes that arrived on the ingest topic.
    letters = {letter["event_id"]: letter for letter in dead_letters(pipeline_settings, codec)}
    originals = {}
    for agency in {sample.agency for sample in bad if sample.expected_status == "rejected"}:
        for key, value in read_topic(pipeline_settings, pipeline_settings.ingest_topic(agency)):
            originals[(pipeline_settings.ingest_topic(agency), key)] = value
    assert set(letters) == {receipt.event_id for receipt in rejected}
    for receipt in rejected:
        letter = letters[receipt.event_id]
        assert (
            letter["original_value"]
            == originals[(letter["original_topic"], letter["original_key"])]
        )
        assert letter["original_key"] == receipt.document_id.encode()
        # … and its headers, also when the register stage rejected it (tampered: checksum)
        headers = {header["key"]: header["value"] for header in letter["original_headers"]}
        assert headers.get("ce_id") == receipt.event_id.encode(), letter["reason"]
    assert catalog(pipeline_settings, codec) == {}


def test_not_avro_bytes_are_dead_lettered_and_the_worker_keeps_going(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    from confluent_kafka import Producer

    producer = Producer(pipeline_settings.producer_config())
    topic = pipeline_settings.ingest_topic("zjj")
    producer.produce(topic, key=b"garbage-1", value=b"this is not avro")
    producer.produce(topic, key=b"garbage-2", value=b"\x00\x00\x00\x7f\xff")  # unknown schema id
    producer.flush(10)
    main = tmp_path / "ok.pdf"
    main.write_bytes(b"%PDF-1.4 " + os.urandom(512))
    submitter = Submitter(pipeline_settings)
    receipt = submitter.submit(
        "zjj", [FileToSubmit(main)],
        notice_metadata("ZJJ-T-9", unit_code="GHK", responsible_party="市住房和城乡建设局"),
    )  # fmt: skip
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(
        pipeline_settings, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S
    )
    assert outcome[receipt.event_id].status == "archived"
    deadline = time.monotonic() + 30
    reasons: dict[bytes, str] = {}
    while time.monotonic() < deadline and len(reasons) < 2:
        reasons = {
            letter["original_key"]: letter["reason"]
            for letter in dead_letters(pipeline_settings, codec)
        }
    assert reasons == {b"garbage-1": "not-avro", b"garbage-2": "unknown-schema"}


def test_worker_killed_mid_run_loses_and_duplicates_nothing(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """SIGKILL the worker while a batch is flowing, start a new one: every submission ends up
    archived exactly once, and item numbers stay gap-free per series."""
    submitter = Submitter(pipeline_settings)
    receipts = []
    count = 40
    for index in range(count):
        path = tmp_path / f"doc-{index}.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(4096))
        unit = "BGS" if index % 2 else "MSK"
        receipts.append(submitter.submit("bgt", [FileToSubmit(path)], notice_metadata(f"BGT-K-{index}", unit_code=unit),
                                         wait=False))  # fmt: skip
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once some, not all, are archived
        archived = sum(
            1 for _ in read_topic(pipeline_settings, pipeline_settings.archival_ready_topic)
        )
        if archived >= 5:
            break
        time.sleep(0.2)
    worker.kill()
    replacement = WorkerProcess(pipeline_settings, name=f"{worker.name}-restarted")
    replacement.start()
    try:
        replacement.wait_ready()
        ids = {r.event_id for r in receipts}
        outcomes = watch_outcomes(pipeline_settings, codec, ids, timeout_s=OUTCOME_TIMEOUT_S)
    finally:
        replacement.stop()
    assert {event_id: o.status for event_id, o in outcomes.items()} == dict.fromkeys(
        ids, "archived"
    )

    published = [
        codec.decode(value, "archival_record")
        for _, value in read_topic(pipeline_settings, pipeline_settings.archival_ready_topic)
    ]
    codes_by_event: dict[str, set[str]] = {}
    events_by_code: dict[str, set[str]] = {}
    for record in published:
        codes_by_event.setdefault(record["event_id"], set()).add(record["reference_code"])
        events_by_code.setdefault(record["reference_code"], set()).add(record["event_id"])
    assert set(codes_by_event) == ids  # nothing lost
    assert all(len(codes) == 1 for codes in codes_by_event.values())  # no event archived twice
    assert all(len(events) == 1 for events in events_by_code.values())  # no code given twice
    for series in ("Z101-WS·2026-D10-BGS", "Z101-WS·2026-D10-MSK"):
        numbers = sorted(int(code[-4:]) for code in events_by_code if code.startswith(series))
        assert numbers == list(range(1, count // 2 + 1)), series


def test_worker_metrics_reach_prometheus(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "m.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(256))
    submitter = Submitter(pipeline_settings)
    court_letter = notice_metadata("FY-T-1", document_type="函", unit_code="LAT",
                                   responsible_party="市中级人民法院")  # fmt: skip
    receipt = submitter.submit("fy", [FileToSubmit(path)], court_letter)
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    assert watch_outcomes(pipeline_settings, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S)

    text = worker.metrics()
    assert 'recordflow_events_total{agency="fy",outcome="accepted",stage="register"} 1.0' in text
    assert 'recordflow_records_archived_total{agency="fy",retention="D10"} 1.0' in text

    query = (
        f'recordflow_records_archived_total{{agency="fy",retention="D10",'
        f'app="{pipeline_settings.consumer_group}"}}'
    )
    url = f"http://127.0.0.1:{pipeline_settings.prometheus_port}/api/v1/query"
    deadline = time.monotonic() + 40
    # The series is there at 0 from the worker's start (PipelineMetrics.expect): wait for the 1.
    values: list[str] = []
    while time.monotonic() < deadline and values != ["1"]:
        result = httpx.get(url, params={"query": query}, timeout=5).json()["data"]["result"]
        values = [sample["value"][1] for sample in result]
        time.sleep(1)
    assert values == ["1"]


def test_worker_runs_with_its_go_and_malloc_settings(worker: WorkerProcess) -> None:
    # Go's runtime and glibc read these only from the environment the process started with, so
    # the worker command sets them by re-executing itself.
    assert worker.process is not None
    environ = Path(f"/proc/{worker.process.pid}/environ").read_bytes().split(b"\0")
    assert b"GOGC=50" in environ
    assert b"MALLOC_MMAP_THRESHOLD_=131072" in environ


def test_cli_rejects_bad_arguments_with_one_line(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    bad_code = run_cli(pipeline_settings, "records", "show", "not-a-code")
    assert bad_code.returncode == 2
    assert bad_code.stderr.strip().count("\n") == 0 and "reference code" in bad_code.stderr

    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps(notice_metadata("X-1")), encoding="utf-8")
    document = tmp_path / "d.pdf"
    document.write_bytes(b"%PDF-1.4")
    unknown = run_cli(
        pipeline_settings, "submit", "--agency", "nope", "--metadata", str(metadata), str(document)
    )
    assert unknown.returncode == 1
    assert "unknown agency 'nope'" in unknown.stderr

    missing = run_cli(
        pipeline_settings, "submit", "--agency", "bgt", "--metadata", str(metadata), "/no/such.pdf"
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_submit_cli_prints_a_receipt(pipeline_settings: Settings, tmp_path: Path) -> None:
    metadata = tmp_path / "m.json"
    metadata.write_text(json.dumps(notice_metadata("BGT-CLI-1")), encoding="utf-8")
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.4 cli")
    result = run_cli(
        pipeline_settings,
        "submit",
        "--agency",
        "bgt",
        "--metadata",
        str(metadata),
        str(document),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["topic"] == pipeline_settings.ingest_topic("bgt")
    assert receipt["offset"] == 0
    import hashlib

    assert receipt["files"][0]["sha256"] == hashlib.sha256(b"%PDF-1.4 cli").hexdigest()
    assert receipt["files"][0]["staged_key"].startswith(f"bgt/{receipt['upload_id']}/")
