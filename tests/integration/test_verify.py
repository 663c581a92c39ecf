"""The long-term check (`recordflow verify`, DA/T 70 stage CQ) on the real stack: records the
pipeline archived verify clean; a catalog record that no longer agrees with what the archive holds
is reported with its problem codes, exits 1 and raises an alert on records.preservation-alert.v1;
every run, clean or not, leaves its summary on records.verify-runs.v1.

Object lock forbids changing or deleting an archived version, so the fault is made on the other
side: a tampered copy of a catalog record (same key, one digest changed) is published to the
catalog topic, as a corrupted or forged catalog would be."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD, PRESERVATION_ALERT, VERIFY_RUN
from connectors.readback import catalog, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.verify import COMPLETED, parse_since
from recordflow.demo.samples import render_pdf
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli

TIMEOUT_S = 90.0
FLUSH_TIMEOUT_S = 30.0


def _metadata(document_id: str, title: str, number: str, responsible: str, date: str,
              document_type: str) -> dict[str, Any]:  # fmt: skip
    return {"document_id": document_id, "title": title, "document_number": number,
            "responsible_party": responsible, "document_date": date, "document_type": document_type,
            "unit_code": "BGS"}  # fmt: skip


def _verify(settings: Settings, *args: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`recordflow verify --json ARGS…`: exit status, results by reference code, stderr."""
    done = run_cli(settings, "verify", "--json", *args)
    results = {item["reference_code"]: item for item in json.loads(done.stdout or "null") or []}
    return done.returncode, results, done.stderr


def test_verify_archived_records_then_a_tampered_catalog_record(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    notice = tmp_path / "通知.pdf"
    notice.write_bytes(render_pdf("关于做好防汛工作的通知", "市府办发〔2026〕30号", "市人民政府办公厅",
                                  "2026-06-01", "正文"))  # fmt: skip
    decision = tmp_path / "决定.pdf"
    decision.write_bytes(render_pdf("关于调整住房保障标准的决定", "市建发〔2026〕8号", "市住房和城乡建设局",
                                    "2026-06-02", "正文"))  # fmt: skip
    submitter = Submitter(pipeline_settings)
    receipts = {
        "bgt": submitter.submit("bgt", [FileToSubmit(notice)], _metadata(
            "BGT-V-1", "关于做好防汛工作的通知", "市府办发〔2026〕30号", "市人民政府办公厅", "2026-06-01", "通知")),
        "zjj": submitter.submit("zjj", [FileToSubmit(decision)], _metadata(
            "ZJJ-V-1", "关于调整住房保障标准的决定", "市建发〔2026〕8号", "市住房和城乡建设局", "2026-06-02", "决定")),
    }  # fmt: skip
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {r.event_id for r in receipts.values()}, timeout_s=TIMEOUT_S
    )
    codes = {}
    for agency, receipt in receipts.items():
        outcome = outcomes[receipt.event_id]
        assert outcome.status == "archived", outcome
        codes[agency] = outcome.reference_code
    # One fixed-term record (retention), one permanent (legal hold): both kinds of lock.
    assert codes["bgt"] and "-D10-" in codes["bgt"]
    assert codes["zjj"] and "-Y-" in codes["zjj"]

    status, results, stderr = _verify(pipeline_settings)
    assert status == 0, stderr
    assert set(results) == set(codes.values())
    for result in results.values():
        assert (result["status"], result["problems"]) == ("ok", [])
        assert result["objects_checked"] == 2  # the content object and the package
        assert result["bytes_read"] > 0
    assert results[codes["bgt"]]["agency_code"] == "bgt"
    assert list(read_topic(pipeline_settings, pipeline_settings.preservation_alert_topic)) == []

    status, only_bgt, stderr = _verify(pipeline_settings, "--agency", "bgt")
    assert (status, set(only_bgt)) == (0, {codes["bgt"]}), stderr
    status, none_since, _ = _verify(pipeline_settings, "--since", "2999-01-01")
    assert (status, none_since) == (0, {})
    assert run_cli(pipeline_settings, "verify", "--since", "yesterday").returncode == 2

    # The catalog now says something else about the permanent record's file than the archive holds.
    record = catalog(pipeline_settings, codec)[codes["zjj"]]
    tampered = copy.deepcopy(record)
    digest = tampered["components"][0]["checksums"][0]
    assert digest["algorithm"] == "SHA256"
    digest["value"] = ("0" if digest["value"][0] != "0" else "1") + digest["value"][1:]
    producer = Producer(pipeline_settings.producer_config())
    subject = Subject.for_topic(pipeline_settings.catalog_topic, ARCHIVAL_RECORD)
    producer.produce(pipeline_settings.catalog_topic, key=codes["zjj"].encode(),
                     value=codec.encode(subject, tampered))  # fmt: skip
    assert producer.flush(FLUSH_TIMEOUT_S) == 0

    status, results, stderr = _verify(pipeline_settings)
    assert status == 1
    assert "1 of 2 record(s) no longer match" in stderr
    assert results[codes["bgt"]]["status"] == "ok"
    bad = results[codes["zjj"]]
    assert bad["status"] == "problems"
    problems = {(p["code"], p["sequence"]) for p in bad["problems"]}
    # The stored bytes no longer give the recorded SHA-256, and the package's manifest (written
    # from the true digest) no longer agrees with the record either; SM3, size and lock still do.
    assert problems == {("checksum-mismatch", 1), ("package-mismatch", 1)}
    checksum = next(p for p in bad["problems"] if p["code"] == "checksum-mismatch")
    assert digest["value"] in checksum["detail"] and "SHA256" in checksum["detail"]

    alerts = [(key, codec.decode(value, PRESERVATION_ALERT)) for key, value in
              read_topic(pipeline_settings, pipeline_settings.preservation_alert_topic)]  # fmt: skip
    assert [key for key, _ in alerts] == [codes["zjj"].encode()]
    sent = alerts[0][1]
    assert (sent["reference_code"], sent["agency_code"], sent["stage"]) == (
        codes["zjj"],
        "zjj",
        "CQ",
    )
    assert {(p["code"], p["sequence"]) for p in sent["problems"]} == problems

    # Filtered to the agency whose records still match, the check passes and alerts nothing new.
    status, only_bgt, stderr = _verify(pipeline_settings, "--agency", "bgt")
    assert (status, set(only_bgt)) == (0, {codes["bgt"]}), stderr
    assert len(list(read_topic(pipeline_settings, pipeline_settings.preservation_alert_topic))) == 1

    # Every run is on record, in the order they ended, the clean ones too (a usage error runs none).
    runs = [codec.decode(value, VERIFY_RUN)
            for _, value in read_topic(pipeline_settings, pipeline_settings.verify_runs_topic)]  # fmt: skip
    assert [(run["agency"], run["records_checked"], run["records_failed"]) for run in runs] == [
        (None, 2, 0), ("bgt", 1, 0), (None, 0, 0), (None, 2, 1), ("bgt", 1, 0)
    ]  # fmt: skip
    assert runs[2]["since"] == parse_since("2999-01-01")
    for run in runs:
        assert (run["status"], run["problem"]) == (COMPLETED, None)
        assert run["objects_checked"] == 2 * run["records_checked"]  # a file and its package
        assert run["started_at"] <= run["finished_at"] and run["host"] and run["user"]
    assert len({run["run_id"] for run in runs}) == 5
