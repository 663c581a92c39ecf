"""`recordflow import digitized` on the real stack (issue 15): a digitization batch with one of
each fault is linked and checked, its three sound items are archived under the 档号 their
catalogue gives them, as digitized copies of paper, and the 挂接 report says what became of every
row and image; a rerun adds nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests import digitization
from tests.integration.cli import run_cli


def run_import(settings: Settings, batch: digitization.Batch, report: Path) -> dict[str, Any]:
    result = run_cli(settings, "import", "digitized", "--agency", "zjj", "--catalogue",
                     str(batch.xlsx), "--images", str(batch.images), "--report", str(report),
                     "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_a_digitization_batch_is_linked_checked_archived_and_reported(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    batch = digitization.build(tmp_path / "batch")
    first = run_import(pipeline_settings, batch, tmp_path / "report-1")
    assert {item["key"]: item["status"] for item in first["items"]} == dict.fromkeys(
        batch.linked, "archived"
    )
    assert [item["reference_code"] for item in first["items"]] == batch.linked  # never renumbered
    report = json.loads((tmp_path / "report-1" / "report.json").read_text(encoding="utf-8"))
    assert [{k: p[k] for k in ("reason", "reference_code", "row")} for p in report["problems"]] == [
        {k: p[k] for k in ("reason", "reference_code", "row")} for p in batch.problems
    ]
    assert {code: o["outcome"] for code, o in report["outcomes"].items()} == dict.fromkeys(
        batch.linked, "archived"
    )
    assert (tmp_path / "report-1" / "report.html").read_text(encoding="utf-8").count("archived")
    assert (tmp_path / "report-1" / "report.csv").exists()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    archived = catalog(pipeline_settings, codec)
    assert sorted(archived) == batch.linked
    record = archived[digitization.code(1)]
    assert record["carrier"] == {"medium": "digitized", "original_medium": "纸质",
                                 "counterpart_code": None, "awaiting_counterpart": False}  # fmt: skip
    assert (record["retention_period"], record["retention_rule_id"]) == (
        "Y",
        "legacy-reference-code",
    )
    assert [d["digitization"]["resolution_dpi"] for d in record["file_details"]] == [300] * 3
    assert record["description"]["document_type"] == "通知"  # from the title: …的通知

    again = run_import(pipeline_settings, batch, tmp_path / "report-2")
    assert {item["status"] for item in again["items"]} == {"already-archived"}
    assert sorted(catalog(pipeline_settings, codec)) == batch.linked  # nothing added
