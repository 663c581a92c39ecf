"""Archival receipts (归档回执) on the real stack: an agency's system learns every outcome of its
submissions from its own receipts topic, through the SDK, within seconds: a document archived
(with the 档号 the catalog has), one rejected (with the dead letter's reason code), one held for
review and then decided by archive staff (and archived). The gateway's index sees the same."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from avro_schemas.records import ArchivalReceipt
from connectors.readback import catalog
from connectors.receipts import ReceiptIndex
from connectors.review import decide
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata

TIMEOUT_S = 90.0
Seen = dict[tuple[str | None, str], ArchivalReceipt]


def collect(submitter: Submitter, agency: str, wanted: set[tuple[str, str]], seen: Seen) -> Seen:
    """Follow the agency's receipts (in the group `receipts.<agency>.test`) until every
    (event id, outcome) wanted has arrived, or the timeout passes."""
    deadline = time.monotonic() + TIMEOUT_S

    def done() -> bool:
        return wanted <= seen.keys() or time.monotonic() > deadline

    for receipt in submitter.receipts(agency, name="test", stop=done):
        seen[(receipt["event_id"], receipt["outcome"])] = receipt
    return seen


def memo(tmp_path: Path, name: str) -> FileToSubmit:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4 " + name.encode() + os.urandom(300))
    return FileToSubmit(path)


def test_every_outcome_reaches_the_agency_as_a_receipt(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    settings = pipeline_settings
    codec = Codec.from_url(settings.schema_registry_url)
    submitter = Submitter(settings)
    try:
        archived = submitter.submit("bgt", [memo(tmp_path, "通知.pdf")],
                                    notice_metadata("BGT-RC-1"))  # fmt: skip
        # The SDK would refuse it; sent anyway, intake must (a classified record).
        classified = notice_metadata("BGT-RC-2", security_classification="秘密")
        rejected = submitter.submit("bgt", [memo(tmp_path, "密件.pdf")], classified,
                                    validate=False)  # fmt: skip
        held = submitter.submit("bdc", [memo(tmp_path, "备忘录.pdf")], {
            "document_id": "BDC-RC-3", "title": "窗口服务工作备忘录",
            "responsible_party": "市不动产登记中心", "document_date": "2026-09-09",
            "document_type": "备忘录", "unit_code": "BGS",
        })  # fmt: skip

        bgt = collect(submitter, "bgt", {(archived.event_id, "ARCHIVED"),
                                         (rejected.event_id, "REJECTED")}, {})  # fmt: skip
        records = {r["event_id"]: r for r in catalog(settings, codec).values()}
        done = bgt[(archived.event_id, "ARCHIVED")]
        assert done["document_id"] == "BGT-RC-1" and done["agency_code"] == "bgt"
        assert done["archival_code"] == records[archived.event_id]["reference_code"]
        assert done["archival_code"] == "Z101-WS·2026-D10-BGS-0001"
        assert (done["retention_period"], done["retain_until"]) == ("D10", "2037-01-01")
        assert done["retention_rule"] and done["retention_rule"].endswith("/D10-routine")
        assert done["archived_at"] == records[archived.event_id]["archived_at"]
        assert done["receipt_id"] == f"{archived.event_id}:ARCHIVED"
        refused = bgt[(rejected.event_id, "REJECTED")]
        assert (refused["reason_code"], refused["document_id"]) == (
            "classified-not-accepted", "BGT-RC-2",
        )  # fmt: skip
        assert refused["stage"] and refused["reason_text"] and refused["archival_code"] is None

        bdc = collect(submitter, "bdc", {(held.event_id, "HELD_FOR_REVIEW")}, {})
        waiting = bdc[(held.event_id, "HELD_FOR_REVIEW")]
        assert (
            waiting["reason_code"] == "retention-undecided" and waiting["document_id"] == "BDC-RC-3"
        )
        assert submitter.status(held.event_id, "bdc") == waiting

        decide(settings, codec, held.event_id, "D10", "王档案", "窗口日常事务")
        bdc = collect(submitter, "bdc", {(held.event_id, "DECIDED"),
                                         (held.event_id, "ARCHIVED")}, bdc)  # fmt: skip
        decided = bdc[(held.event_id, "DECIDED")]
        assert (decided["decision"], decided["decided_by"]) == ("D10", "王档案")
        code = bdc[(held.event_id, "ARCHIVED")]["archival_code"]
        assert code == "Z215-WS·2026-D10-BGS-0001" and code in catalog(settings, codec)

        # status: the latest receipt of each event.
        assert submitter.status(archived.event_id, "bgt") == done
        assert submitter.status(rejected.event_id, "bgt") == refused
        latest = submitter.status(held.event_id, "bdc")
        assert latest is not None and latest["outcome"] == "ARCHIVED"
        assert submitter.status("no-such-event", "bgt") is None

        # The group committed what it read: following again brings nothing already seen.
        again = list(submitter.receipts("bgt", name="test", idle_timeout_s=5.0))
        assert again == []
        first_time = list(submitter.receipts("bgt", name="other", idle_timeout_s=5.0))
        assert {(r["event_id"], r["outcome"]) for r in first_time} == set(bgt)
    finally:
        submitter.close()

    # The gateway's index: one agency first, another added while it runs.
    index = ReceiptIndex(settings, codec, ["bgt"])
    try:
        assert index.wait_caught_up(TIMEOUT_S)
        assert index.latest(archived.event_id) == done
        assert index.latest(held.event_id) is None
        index.add_agency("bdc")
        assert index.wait_caught_up(TIMEOUT_S)
        found: Any = index.latest(held.event_id)
        assert found is not None and found["outcome"] == "ARCHIVED"
    finally:
        index.close()
