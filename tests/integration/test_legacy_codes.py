"""Legacy and digitized records keep their 档号 (issue 15), on the real stack: a record that comes
with its code is archived under exactly that code, a second record claiming it is a dead letter
(reference-code-taken), and a new record of the same series is numbered around it."""

from __future__ import annotations

import os
from pathlib import Path

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata

TIMEOUT_S = 120.0
PAPER = {"medium": "digitized", "original_medium": "纸质"}


def submit(
    settings: Settings, tmp_path: Path, documents: dict[str, dict[str, object]]
) -> dict[str, str]:
    submitter = Submitter(settings)
    ids = {}
    for document_id, metadata in documents.items():
        path = tmp_path / f"{document_id}.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(1024))
        ids[document_id] = submitter.submit("bgt", [FileToSubmit(path)], metadata).event_id
    submitter.close()
    return ids


def test_a_legacy_record_keeps_its_code_and_new_records_number_around_it(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    legacy = notice_metadata("BGT-1998-0002", document_date="1998-05-06", year=1998,
                             reference_code="Z101-WS·1998-Y-BGS-0002", carrier=PAPER)  # fmt: skip
    ids = submit(pipeline_settings, tmp_path, {"BGT-1998-0002": legacy})
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(pipeline_settings, codec, set(ids.values()), timeout_s=TIMEOUT_S)
    assert outcomes[ids["BGT-1998-0002"]].reference_code == "Z101-WS·1998-Y-BGS-0002"

    claimant = notice_metadata("BGT-1998-0099", document_date="1998-07-01", year=1998,
                               title="关于1998年防汛工作的通知",
                               reference_code="Z101-WS·1998-Y-BGS-0002", carrier=PAPER)  # fmt: skip
    # Two new records of the series, with the period the legacy code gives (Y: a 纪要).
    new = {
        f"BGT-1998-N{n}": notice_metadata(
            f"BGT-1998-N{n}",
            document_date=f"1998-03-0{n}",
            year=1998,
            document_type="会议纪要",
            title=f"市政府1998年第{n}次常务会议纪要",
        )
        for n in (1, 2)
    }
    later = submit(pipeline_settings, tmp_path, {"BGT-1998-0099": claimant, **new})
    outcomes = watch_outcomes(pipeline_settings, codec, set(later.values()), timeout_s=TIMEOUT_S)
    taken = outcomes[later["BGT-1998-0099"]]
    assert (taken.status, taken.reason) == ("rejected", "reference-code-taken")
    assert sorted(str(outcomes[later[d]].reference_code) for d in new) == [
        "Z101-WS·1998-Y-BGS-0001", "Z101-WS·1998-Y-BGS-0003",
    ]  # fmt: skip
    record = catalog(pipeline_settings, codec)["Z101-WS·1998-Y-BGS-0002"]
    assert (record["retention_rule_id"], record["document_id"]) == (
        "legacy-reference-code", "BGT-1998-0002",
    )  # fmt: skip
    assert record["carrier"] == {**PAPER, "counterpart_code": None, "awaiting_counterpart": False}
