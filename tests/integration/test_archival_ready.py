"""Archival-ready by the standards, on the real stack: formats identified (PRONOM), the DA/T 70
check at receipt (reject, flag or pass), provenance, and a BagIt package that exports and
verifies with the bagit library alone."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import bagit
from pypdf import PdfReader, PdfWriter

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.demo.run import submit_sample
from recordflow.demo.samples import FORGED, SAMPLES, render_pdf, render_scan
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli

TIMEOUT_S = 90.0
# The rest of DA/T 46 for BGT-A-1: it must come back in the catalog record and its record.xml.
DA_T_46: dict[str, Any] = {
    "history": [{"action": "approved", "time": "2026-05-30T16:00:00+08:00",
                 "basis": "市政府常务会议决定", "status": "已签发"}],
    "relations": [{"related_id": "BGT-2026-0003", "relation_type": "references"}],
    "file_details": [{"sequence": 1, "creating_application": "WPS Office 12"}],
}  # fmt: skip


def _metadata(document_id: str, title: str) -> dict[str, Any]:
    return {"document_id": document_id, "title": title, "responsible_party": "市人民政府办公厅",
            "document_number": f"市府办发〔2026〕{document_id}号",  # a 通知 has its 文号 (metadata_rules.yaml)
            "document_date": "2026-06-01", "document_type": "通知", "unit_code": "BGS",
            "source_system": "OA"}  # fmt: skip


def _outcomes(
    settings: Settings, submitter: Submitter, files: dict[str, list[FileToSubmit]]
) -> dict[str, Any]:
    receipts = {
        doc: submitter.submit(
            "bgt",
            fs,
            {**_metadata(doc, f"关于{doc}的通知"), **(DA_T_46 if doc == "BGT-A-1" else {})},
        )
        for doc, fs in files.items()
    }
    submitter.close()
    codec = Codec.from_url(settings.schema_registry_url)
    outcomes = watch_outcomes(
        settings, codec, {r.event_id for r in receipts.values()}, timeout_s=TIMEOUT_S
    )
    return {doc: outcomes[receipt.event_id] for doc, receipt in receipts.items()}


def test_formats_check_provenance_and_package(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    good = tmp_path / "通知.pdf"
    good.write_bytes(
        render_pdf(
            "关于做好防汛工作的通知",
            "市府办发〔2026〕30号",
            "市人民政府办公厅",
            "2026-06-01",
            "正文",
        )
    )
    photo = tmp_path / "附件.jpg"
    photo.write_bytes(render_scan("attachment", 3))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(good.read_bytes())))
    writer.encrypt("secret")
    encrypted = tmp_path / "加密.pdf"
    with encrypted.open("wb") as handle:
        writer.write(handle)
    disguised = tmp_path / "伪装.pdf"
    disguised.write_bytes(render_scan("not a pdf", 5))

    outcomes = _outcomes(pipeline_settings, Submitter(pipeline_settings), {
        "BGT-A-1": [FileToSubmit(good), FileToSubmit(photo)],
        "BGT-A-2": [FileToSubmit(encrypted)],
        "BGT-A-3": [FileToSubmit(disguised, mime_type="application/pdf")],
    })  # fmt: skip
    assert outcomes["BGT-A-1"].status == "archived"
    assert outcomes["BGT-A-2"].status == "archived"
    rejected = outcomes["BGT-A-3"]
    assert (rejected.status, rejected.reason) == ("rejected", "four-property-check-failed")
    assert rejected.detail and "YJ-1-4" in rejected.detail

    records = {
        r["document_id"]: r
        for r in catalog(
            pipeline_settings, Codec.from_url(pipeline_settings.schema_registry_url)
        ).values()
    }
    record = records["BGT-A-1"]
    assert [(f["sequence"], f["mime_type"], f["accepted"]) for f in record["formats"]] == [
        (1, "application/pdf", True), (2, "image/jpeg", True)]  # fmt: skip
    assert (
        record["formats"][0]["puid"].startswith("fmt/")
        and record["formats"][0]["technical"]["page_count"] == "1"
    )
    assert record["check"]["verdict"] == "pass" and record["flags"] == []
    results = {item["code"]: item["result"] for item in record["check"]["items"]}
    assert results["YJ-1-1"] == "pass" and results["YJ-1-5"] == "pass"
    assert results["YJ-4-1"] == "not-checked"  # no clamd configured: never "pass"
    assert [event["type"] for event in record["provenance"]][:3] == [
        "ingestion",
        "validation",
        "appraisal",
    ]
    assert [(h["action"], h["basis"], h["time"].isoformat()) for h in record["history"]] == [
        ("approved", "市政府常务会议决定", "2026-05-30T08:00:00+00:00")]  # fmt: skip
    assert [(r["related_id"], r["relation_type"]) for r in record["relations"]] == [
        ("BGT-2026-0003", "references")]  # fmt: skip
    assert record["file_details"][0]["creating_application"] == "WPS Office 12"
    assert record["supplementary"] is None and record["agents"] == []
    assert records["BGT-A-2"]["history"] == [] and records["BGT-A-2"]["relations"] == []
    assert record["package"]["key"].startswith(f"Z101/2026/{record['reference_code']}/package-")

    flagged = records["BGT-A-2"]
    assert flagged["flags"] == ["usability-review"]
    assert {i["code"]: i["result"] for i in flagged["check"]["items"]}["YJ-3-3"] == "fail"

    exported = run_cli(pipeline_settings, "records", "export", record["reference_code"], str(tmp_path / "export"),
                       "--json")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    bag_dir = Path(json.loads(exported.stdout)["bag"])
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # the bagit library alone
    assert (bag_dir / "data" / "01-通知.pdf").read_bytes() == good.read_bytes()
    record_xml = (bag_dir / "metadata" / "record.xml").read_text("utf-8")
    assert "<题名>关于BGT-A-1的通知</题名>" in record_xml
    assert "<业务实体>" in record_xml and "<行为依据>市政府常务会议决定</行为依据>" in record_xml
    assert "<实体关系>" in record_xml and "<关联标识>BGT-2026-0003</关联标识>" in record_xml
    assert "<文档创建程序>WPS Office 12</文档创建程序>" in record_xml
    assert "fixity check" in (bag_dir / "metadata" / "premis.xml").read_text("utf-8")


def test_signatures_verify_at_receipt_and_a_forged_one_keeps_the_record_out(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    signed = next(sample for sample in SAMPLES if sample.signed)
    forged = next(sample for sample in SAMPLES if sample.bad == FORGED)
    submitter = Submitter(pipeline_settings)
    receipts = [submit_sample(submitter, sample, tmp_path) for sample in (signed, forged)]
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {r.event_id for r in receipts}, timeout_s=TIMEOUT_S
    )
    rejected = outcomes[receipts[1].event_id]
    assert (rejected.status, rejected.reason) == ("rejected", "four-property-check-failed")
    assert rejected.detail and "YJ-1-1" in rejected.detail and "签名验证失败" in rejected.detail

    assert outcomes[receipts[0].event_id].status == "archived"
    (record,) = catalog(pipeline_settings, codec).values()
    fixity = next(item for item in record["check"]["items"] if item["code"] == "YJ-1-1")
    assert fixity["result"] == "pass"
    assert (
        "signature ZJJ-2026-0007-SIG-1 pass: SM2 with SM3 signature by 市住房和城乡建设局"
        in (fixity["reason"])
    )
    (validation,) = [e for e in record["provenance"] if e["type"] == "digital signature validation"]
    assert validation["outcome"] == "success"
    assert record["file_details"][0]["signatures"][0]["algorithm"] == "SM2-with-SM3"

    exported = run_cli(pipeline_settings, "records", "export", record["reference_code"],
                       str(tmp_path / "export"), "--json")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    report = json.loads(
        (Path(json.loads(exported.stdout)["bag"]) / "metadata" / "check-report.json").read_text()
    )
    (item,) = [item for item in report["items"] if item["code"] == "YJ-1-1"]
    assert [(sub["subject"], sub["result"]) for sub in item["sub_results"]] == [
        ("ZJJ-2026-0007.pdf signature ZJJ-2026-0007-SIG-1", "pass")
    ]
