"""Records whose retention period had already ended when they were received (a late transfer, the
digitized backlog) are archived under a minimum hold and queued for appraisal (到期鉴定), and the
records after them on the same partitions are archived as usual (issue 12)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from avro_schemas.codec import Codec
from connectors.readback import catalog, read_topic, watch_outcomes
from connectors.receipts import latest_receipt
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata

TIMEOUT_S = 120.0


def late(document_id: str, year: int, **overrides: object) -> dict[str, object]:
    return notice_metadata(
        document_id, document_date=f"{year}-05-06", year=year,
        document_number=f"市府办发〔{year}〕{document_id}号", **overrides,
    )  # fmt: skip


def test_records_whose_period_has_ended_are_held_and_queued_while_the_rest_flow(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    submissions = {
        # One fonds-year (Z101·2010) is one register partition: the first three share it.
        "BGT-L-2010-1": late("BGT-L-2010-1", 2010),  # D10 通知: ended 2021-01-01
        "BGT-L-2010-2": late("BGT-L-2010-2", 2010),
        "BGT-L-2010-3": late("BGT-L-2010-3", 2010, title="关于2010年防汛值班安排的通知"),
        # D30: ended 2016-01-01
        "BGT-L-1985": late(
            "BGT-L-1985", 1985, document_type="请示", title="关于申请办公用房维修经费的请示"
        ),
        "BGT-L-2026": notice_metadata("BGT-L-2026"),  # D10 of this year: not due
    }
    submitter = Submitter(pipeline_settings)
    receipts = {}
    for document_id, metadata in submissions.items():
        path = tmp_path / f"{document_id}.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(2048))
        receipts[document_id] = submitter.submit("bgt", [FileToSubmit(path)], metadata)
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    ids = {receipt.event_id for receipt in receipts.values()}
    outcomes = watch_outcomes(pipeline_settings, codec, ids, timeout_s=TIMEOUT_S)
    assert {event_id: o.status for event_id, o in outcomes.items()} == dict.fromkeys(
        ids, "archived"
    )
    records = {r["document_id"]: r for r in catalog(pipeline_settings, codec).values()}
    today = dt.datetime.now(dt.UTC).date()
    hold = dt.timedelta(days=pipeline_settings.appraisal_hold_days)
    for document_id, period, ended in [
        ("BGT-L-2010-1", "D10", dt.date(2021, 1, 1)),
        ("BGT-L-2010-2", "D10", dt.date(2021, 1, 1)),
        ("BGT-L-2010-3", "D10", dt.date(2021, 1, 1)),
        ("BGT-L-1985", "D30", dt.date(2016, 1, 1)),
    ]:
        record = records[document_id]
        assert record["retention_period"] == period, document_id
        assert record["retain_until"] == ended, document_id
        assert record["appraisal_status"] == "DUE", document_id
        assert record["lock_until"] == record["archived_at"].date() + hold > today
    assert sorted(records[d]["reference_code"] for d in submissions if d.startswith("BGT-L-2010")) == [
        f"Z101-WS·2010-D10-BGS-000{n}" for n in (1, 2, 3)
    ]  # fmt: skip
    fresh = records["BGT-L-2026"]
    assert fresh["appraisal_status"] is None
    assert fresh["lock_until"] == fresh["retain_until"] == dt.date(2037, 1, 1)

    # The archive's objects are locked to the hold, not to a date in the past.
    storage = Storage(pipeline_settings)
    for document_id in ("BGT-L-2010-1", "BGT-L-1985"):
        record = records[document_id]
        for payload in [c["payload"] for c in record["components"]] + [record["package"]]:
            retention = storage.client.get_object_retention(
                payload["bucket"], payload["key"], version_id=payload["version_id"]
            )
            assert retention is not None and retention.retain_until_date is not None
            assert retention.retain_until_date.date() == record["lock_until"]

    # Archive staff find each of them in the appraisal queue, keyed by its event id.
    items = {
        key.decode(): codec.decode(value, "retention_review")
        for key, value in read_topic(pipeline_settings, pipeline_settings.review_topic)
        if key is not None and value is not None
    }
    due = {d for d in submissions if d != "BGT-L-2026"}
    assert {item["document_id"] for item in items.values()} == due
    for event_id, item in items.items():
        record = records[item["document_id"]]
        assert event_id == record["event_id"]
        assert (item["kind"], item["status"], item["reference_code"]) == (
            "APPRAISAL",
            "PENDING",
            record["reference_code"],
        )
        assert (item["retain_until"], item["lock_until"]) == (
            record["retain_until"],
            record["lock_until"],
        )
        assert "到期" in item["reason"] or "届满" in item["reason"]

    # Each agency system hears of it: its latest receipt says APPRAISAL_DUE, after ARCHIVED, with
    # the 档号; the fresh record's says ARCHIVED.
    for document_id, receipt in receipts.items():
        latest = latest_receipt(pipeline_settings, codec, "bgt", receipt.event_id)
        assert latest is not None, document_id
        expected = "ARCHIVED" if document_id == "BGT-L-2026" else "APPRAISAL_DUE"
        assert (latest["outcome"], latest["archival_code"]) == (
            expected,
            records[document_id]["reference_code"],
        )
