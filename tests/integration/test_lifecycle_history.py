"""Lifecycle events sent before filing (created, approved, issued) end up in the archived record
as its business history (业务实体), and in the package's record.xml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings

TIMEOUT_S = 90.0


def test_steps_before_filing_become_the_records_history(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    document = tmp_path / "请示.pdf"
    document.write_bytes(b"%PDF-1.4 request " + os.urandom(300))
    meta: dict[str, Any] = {"document_id": "ZJJ-L-1", "title": "关于申请城市更新专项资金的请示",
                            "document_number": "市建请〔2026〕88号", "responsible_party": "市住房和城乡建设局",
                            "document_date": "2026-04-02", "document_type": "请示", "unit_code": "GHK",
                            "source_system": "OA", "actor": "李科长"}  # fmt: skip
    submitter = Submitter(pipeline_settings)
    for action in ("CREATED", "APPROVED", "ISSUED"):  # each stamped with the time it is sent
        submitter.submit("zjj", [FileToSubmit(document)], {**meta, "action": action})
    filed = submitter.submit("zjj", [FileToSubmit(document)], {**meta, "action": "FILED"})
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {filed.event_id}, timeout_s=TIMEOUT_S)[
        filed.event_id
    ]
    assert outcome.status == "archived"
    (record,) = catalog(pipeline_settings, codec).values()
    assert [step["action"] for step in record["history"]] == ["created", "approved", "issued"]
    assert {step["actor"] for step in record["history"]} == {"李科长"}
    assert all(step["organisation"] == "市住房和城乡建设局" for step in record["history"])
