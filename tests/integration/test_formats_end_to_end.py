"""Issue 3's end-to-end check on the real stack: a document in every accepted long-term format is
archived with its format identified, and every bad kind named there ends where it should —
rejected with its reason, archived but flagged for review, or held for a retention decision."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Receipt, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.format_samples import (
    ACCEPTED_SAMPLES,
    encrypted_pdf_bytes,
    image_bytes,
    pdf_bytes,
    pe_executable_bytes,
)

TIMEOUT_S = 120.0


def metadata(document_id: str, **overrides: Any) -> dict[str, Any]:
    return {"document_id": document_id, "title": f"关于报送{document_id}材料的通知",
            "document_number": f"市建发〔2026〕{document_id[-2:]}号",
            "responsible_party": "市住房和城乡建设局", "document_date": "2026-07-01",
            "document_type": "通知", "unit_code": "BGS", **overrides}  # fmt: skip


def submit_raw(submitter: Submitter, path: Path, meta: dict[str, Any],
               tamper: Callable[[Path], None] | None = None) -> Receipt:  # fmt: skip
    """Submit as a faulty agency system would: no client-side validation, maybe altered bytes."""
    agency = submitter.agency("zjj")
    upload_id = uuid.uuid4().hex
    components = submitter.stage(agency, upload_id, [FileToSubmit(path)])
    if tamper is not None:
        tamper(path)
        with path.open("rb") as stream:
            submitter.storage.stage(
                components[0]["payload"]["key"], stream, path.stat().st_size, "application/pdf"
            )
    return submitter.publish(agency, meta, components, upload_id, validate=False)


def flip_last_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-8:] = b"XXXXXXXX"
    path.write_bytes(data)


def test_every_accepted_format_and_every_bad_kind(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    submitter = Submitter(pipeline_settings)
    accepted: dict[str, tuple[str | None, Receipt]] = {}
    for index, (file_name, make, puid, _) in enumerate(ACCEPTED_SAMPLES):
        path = tmp_path / f"{index:02d}-{file_name}"
        path.write_bytes(make())
        accepted[file_name + str(index)] = (puid, submitter.submit("zjj", [FileToSubmit(path)],
                                                                    metadata(f"ZJJ-F-{index:02d}")))  # fmt: skip

    def file(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    bad: dict[str, tuple[str, str | None, Receipt]] = {
        "tampered": ("rejected", "checksum-mismatch",
                     submit_raw(submitter, file("t.pdf", pdf_bytes()), metadata("ZJJ-B-1"), flip_last_bytes)),
        "no title": ("rejected", "missing-title",
                     submit_raw(submitter, file("n.pdf", pdf_bytes()), metadata("ZJJ-B-2", title=""))),
        "unknown unit": ("rejected", "unknown-unit",
                         submit_raw(submitter, file("u.pdf", pdf_bytes()), metadata("ZJJ-B-3", unit_code="XYZ"))),
        "future date": ("rejected", "future-date",
                        submit_raw(submitter, file("f.pdf", pdf_bytes()), metadata("ZJJ-B-4", document_date=tomorrow))),
        "jpeg named pdf": ("rejected", "four-property-check-failed",
                           submit_raw(submitter, file("j.pdf", image_bytes("JPEG")), metadata("ZJJ-B-5"))),
        "encrypted pdf": ("archived", None,
                          submit_raw(submitter, file("e.pdf", encrypted_pdf_bytes("pw")), metadata("ZJJ-B-6"))),
        "executable": ("archived", None,
                       submit_raw(submitter, file("x.exe", pe_executable_bytes()), metadata("ZJJ-B-7"))),
        "no rule decides": ("review", "retention-undecided",
                            submit_raw(submitter, file("m.pdf", pdf_bytes()),
                                       metadata("ZJJ-B-8", document_type="备忘录", title="工作备忘录"))),
    }  # fmt: skip
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    ids = {receipt.event_id for _, receipt in accepted.values()} | {
        r.event_id for _, _, r in bad.values()
    }
    outcomes = watch_outcomes(pipeline_settings, codec, ids, timeout_s=TIMEOUT_S)
    records = {record["event_id"]: record for record in catalog(pipeline_settings, codec).values()}

    for name, (puid, receipt) in accepted.items():
        assert outcomes[receipt.event_id].status == "archived", (
            name,
            outcomes.get(receipt.event_id),
        )
        (identified,) = records[receipt.event_id]["formats"]
        assert (
            identified["accepted"] and identified["puid"] == puid and not identified["problems"]
        ), (name, identified)
        assert records[receipt.event_id]["flags"] == [], name

    for name, (status, reason, receipt) in bad.items():
        outcome = outcomes[receipt.event_id]
        assert outcome.status == status, (name, outcome)
        if reason:
            assert outcome.reason == reason, (name, outcome)
    for name in ("encrypted pdf", "executable"):
        record = records[bad[name][2].event_id]
        assert record["flags"] == ["usability-review"], name
    assert "encrypted" in records[bad["encrypted pdf"][2].event_id]["formats"][0]["problems"]
    # Rejected input used no item number: the archived series run 1..n without a gap.
    numbers = sorted(
        record["item_number"] for record in records.values() if record["unit_code"] == "BGS"
    )
    assert numbers == list(range(1, len(numbers) + 1))
