"""`recordflow import photos` on the real stack (issue 15): a photo batch — a scanned negative, a
scanned print, a camera's photo whose row has no 拍摄时间, a row without its 摄影者, a photo
without a row — is checked by a dry run that sends nothing, then imported: the three sound photos
are archived as ZP records under the 档号 their catalogue gives, each with what its file says of
itself read at receipt, the 挂接 report lists the other two with their reasons, and a rerun adds
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests import photos
from tests.integration.cli import run_cli

ARCHIVED = [photos.NEGATIVE, photos.PRINT, photos.CAMERA]


def run_import(settings: Settings, batch: photos.Batch, report: Path, *more: str) -> dict[str, Any]:
    result = run_cli(settings, "import", "photos", "--agency", photos.AGENCY, "--catalogue",
                     str(batch.xlsx), "--photos", str(batch.photos), "--report", str(report),
                     "--json", *more)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_a_photo_batch_is_linked_checked_archived_and_reported(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    batch = photos.build(tmp_path / "batch")
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    dry = run_import(pipeline_settings, batch, tmp_path / "report-0", "--dry-run")
    assert (dry["dry_run"], dry["linked"], dry["items"]) == (True, 3, [])
    assert catalog(pipeline_settings, codec) == {}  # nothing sent

    first = run_import(pipeline_settings, batch, tmp_path / "report-1")
    assert {item["key"]: item["status"] for item in first["items"]} == dict.fromkeys(
        ARCHIVED, "archived"
    )
    assert [item["reference_code"] for item in first["items"]] == ARCHIVED  # never renumbered
    report = json.loads((tmp_path / "report-1" / "report.json").read_text(encoding="utf-8"))
    assert report["problems"] == batch.problems  # missing-photographer (row 6), the orphan
    assert report["counts"]["missing-photographer"] == report["counts"]["image-orphan"] == 1
    page = (tmp_path / "report-1" / "report.html").read_text(encoding="utf-8")
    assert "<code>missing-photographer</code>" in page and page.count("已归档") == 3

    archived = catalog(pipeline_settings, codec)
    assert sorted(archived) == sorted(ARCHIVED)
    camera = archived[photos.CAMERA]
    assert (camera["category"], camera["description"]["document_type"]) == ("ZP", "照片")
    assert camera["media"]["captured_at"] == "2026-05-06T20:15:03"  # the catalogue had none: EXIF's
    assert camera["carrier"]["medium"] == "electronic" and camera["file_details"] == []
    (read,) = camera["media_files"]  # what the register stage read from the photo itself
    assert (read["captured_at"], read["device"]) == ("2026-05-06T20:15:03+08:00", "Canon EOS R5")
    negative = archived[photos.NEGATIVE]
    assert (negative["carrier"]["medium"], negative["carrier"]["original_medium"]) == (
        "digitized", "底片",
    )  # fmt: skip
    assert negative["media"]["persons"] == ["王市长", "李副市长"]
    assert [d["digitization"]["resolution_dpi"] for d in negative["file_details"]] == [300]
    assert negative["media_files"][0]["device"] == "Epson Perfection V850"
    assert (negative["retention_period"], negative["retention_rule_id"]) == (
        "Y", "legacy-reference-code",
    )  # fmt: skip

    again = run_import(pipeline_settings, batch, tmp_path / "report-2")
    assert {item["status"] for item in again["items"]} == {"already-archived"}
    assert sorted(catalog(pipeline_settings, codec)) == sorted(ARCHIVED)  # nothing added
