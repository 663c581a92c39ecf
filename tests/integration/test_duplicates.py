"""DA/T 70's "no duplicates of 文号 + 题名": a second, different document with the number and title
of one already archived in the fonds and year is rejected before it takes a number; sending the
same document again is not a duplicate but the same record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.settings import Settings
from recordflow.workers import WorkerProcess

TIMEOUT_S = 90.0


def _metadata(document_id: str, unit: str, document_type: str) -> dict[str, Any]:
    return {"document_id": document_id, "title": "关于城市更新项目实施方案的批复",
            "document_number": "市建复〔2026〕15号", "responsible_party": "市住房和城乡建设局",
            "document_date": "2026-08-01", "document_type": document_type, "unit_code": unit}  # fmt: skip


def test_same_number_and_title_is_a_duplicate_across_series(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(b"%PDF-1.4 first " + os.urandom(200))
    second.write_bytes(b"%PDF-1.4 second " + os.urandom(200))
    submitter = Submitter(pipeline_settings)
    original = submitter.submit("zjj", [FileToSubmit(first)], _metadata("ZJJ-D-1", "GHK", "批复"))
    again = submitter.submit("zjj", [FileToSubmit(first)], _metadata("ZJJ-D-1", "GHK", "批复"))
    # another system files different bytes under another unit and type (so another series)
    copy = submitter.submit("zjj", [FileToSubmit(second)], _metadata("ZJJ-D-2", "BGS", "通知"))
    submitter.close()
    assert again.event_id == original.event_id

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {original.event_id, copy.event_id}, timeout_s=TIMEOUT_S
    )
    assert outcomes[original.event_id].status == "archived"
    duplicate = outcomes[copy.event_id]
    assert (duplicate.status, duplicate.reason) == ("rejected", "duplicate-record")
    code = outcomes[original.event_id].reference_code
    assert code and duplicate.detail and code in duplicate.detail
    assert [r["document_id"] for r in catalog(pipeline_settings, codec).values()] == ["ZJJ-D-1"]
