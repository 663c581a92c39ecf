"""The console store's 校验 and 立档单位 tables without Kafka: verify runs newest first, alerts one row
per record, the registry topic's entries (replaced, removed by a tombstone, a bad one skipped), and
each agency's activity from the tables the other pages fill. The messages go through the
follower's own decoding (a codec that knows the test's bytes)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from connectors.console.store import PAGE_SIZE, VERSION, Store
from connectors.verify import CHECKSUM_MISMATCH, INCOMPLETE, OBJECT_MISSING, SIZE_MISMATCH
from recordflow.agencies import Agency, Unit
from tests.unit.connectors.console.console_parts import (
    DAY,
    SETTINGS,
    DictCodec,
    agency_message,
    alert,
    alert_message,
    catalog_batch,
    follow,
    letter_message,
    record,
    review_item,
    review_message,
    store,
    verify_run,
    verify_run_message,
)

SJJ = Agency(code="sjj", name="市司法局", fonds_code="Z140", fonds_name="市司法局",
             units=[Unit(code="BGS", name="办公室")])  # fmt: skip
HOUR = dt.timedelta(hours=1)


def test_runs_are_kept_newest_first_with_their_times_in_the_console_zone(tmp_path: Path) -> None:
    kept, codec = store(tmp_path), DictCodec()
    follow(kept, codec, [
        verify_run_message(codec, verify_run("r-1", DAY), 0),
        verify_run_message(codec, verify_run("r-3", DAY + 2 * HOUR, status=INCOMPLETE,
                                             problem="storage-error: …", agency="bgt",
                                             since=DAY - dt.timedelta(days=30)), 1),
        verify_run_message(codec, verify_run("r-2", DAY + HOUR), 2),
        verify_run_message(codec, verify_run("r-1", DAY), 3),  # delivered twice: one run
    ])  # fmt: skip
    runs = kept.verify_runs()
    assert [run["run_id"] for run in runs] == ["r-3", "r-2", "r-1"]
    latest = runs[0]
    assert (latest["status"], latest["problem"], latest["agency"]) == (
        INCOMPLETE, "storage-error: …", "bgt"
    )  # fmt: skip
    assert latest["finished_at"] == DAY + 2 * HOUR
    assert latest["finished_at"].utcoffset() == dt.timedelta(hours=8)
    assert latest["finished_ms"] - latest["started_ms"] == (42 * 60 + 7) * 1000
    assert latest["since_at"] == DAY - dt.timedelta(days=30)
    assert runs[1]["since_at"] is None  # every record, whenever archived
    assert (runs[2]["records_checked"], runs[2]["records_failed"]) == (1842, 1)
    assert (runs[2]["user"], runs[2]["host"]) == ("recordflow", "archive-verify-01")
    assert [run["run_id"] for run in kept.verify_runs(limit=1)] == ["r-3"]


def test_alerts_show_once_per_record_with_the_latest_problems_first_found_and_count(
    tmp_path: Path,
) -> None:
    kept, codec = store(tmp_path), DictCodec()
    follow(kept, codec, [
        alert_message(codec, alert("Z109-A", DAY, OBJECT_MISSING), 0, 0),
        alert_message(codec, alert("Z109-B", DAY + HOUR, SIZE_MISMATCH), 1, 0),
        alert_message(codec, alert("Z109-A", DAY + 2 * HOUR, CHECKSUM_MISMATCH), 0, 1),
        alert_message(codec, alert("Z109-A", DAY, OBJECT_MISSING), 0, 0),  # redelivered
    ])  # fmt: skip
    found = kept.alert_groups()
    assert found.total == 2
    assert [row["reference_code"] for row in found.rows] == ["Z109-A", "Z109-B"]
    latest = found.rows[0]
    assert [problem["code"] for problem in latest["problems"]] == [CHECKSUM_MISMATCH]
    assert (latest["alerts"], latest["first_at"], latest["checked_at"]) == (2, DAY, DAY + 2 * HOUR)
    assert latest["agency_code"] == "zjj"


def test_alerts_are_paged(tmp_path: Path) -> None:
    kept, codec = store(tmp_path), DictCodec()
    follow(kept, codec, [alert_message(codec, alert(f"Z109-{n:03d}", DAY + n * HOUR), 0, n)
                         for n in range(PAGE_SIZE + 5)])  # fmt: skip
    first, second = kept.alert_groups(), kept.alert_groups(page=2)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (25, 2, PAGE_SIZE, 5)
    assert second.rows[-1]["reference_code"] == "Z109-000"  # the one found first, last


def test_registry_entries_are_replaced_removed_and_a_bad_one_is_skipped(tmp_path: Path) -> None:
    kept = store(tmp_path)
    gone = SJJ.model_copy(update={"offboarded_at": DAY})
    follow(kept, DictCodec(), [
        agency_message("sjj", SJJ, 0),
        agency_message("fy", b'{"code": "fy", "name": "no fonds"}', 1),  # not an Agency
        agency_message("sjj", gone, 2),
    ])  # fmt: skip
    [entry] = kept.agency_entries()
    assert Agency.model_validate(entry) == gone
    assert kept.offsets()[SETTINGS.agencies_topic, 0] == 3  # the bad entry was read past
    follow(kept, DictCodec(), [agency_message("sjj", None, 3)])  # a tombstone
    assert kept.agency_entries() == []


def test_each_agency_s_records_rejections_and_review_items_are_counted(tmp_path: Path) -> None:
    kept, codec = store(tmp_path), DictCodec()
    bgt = {"code": "bgt", "name": "市人民政府办公厅"}
    kept.apply(catalog_batch(SETTINGS, [
        *(record(f"Z101-WS·2026-D10-BGS-000{n}", f"通知{n}", agency=bgt,
                 archived_at=f"2026-05-0{5 + n}T02:00:00+00:00") for n in (1, 2)),
        record("Z109-WS·2026-D30-GHK-0007", "请示"),
    ]))  # fmt: skip
    follow(kept, codec, [
        letter_message(codec, 0, 1, event_id="e-1"),  # one document rejected twice
        letter_message(codec, 1, 1, event_id="e-1"),
        letter_message(codec, 2, 1, event_id=None, agency="bgt"),
        review_message(codec, review_item("e-5"), "e-5", 0),
        review_message(codec, review_item("e-6", status="DECIDED"), "e-6", 1),  # no longer waits
    ])  # fmt: skip
    activity = kept.agency_activity()
    assert activity["bgt"] == {"records": 2, "last_archived": "2026-05-07T02:00:00+00:00",
                               "rejected": 1, "reviewing": 0}  # fmt: skip
    assert activity["zjj"]["records"] == 1
    assert (activity["zjj"]["rejected"], activity["zjj"]["reviewing"]) == (1, 1)
    assert "bdc" not in activity


def test_a_store_of_the_version_before_the_results_is_rebuilt(tmp_path: Path) -> None:
    kept, codec = store(tmp_path), DictCodec()
    follow(kept, codec, [verify_run_message(codec, verify_run("r-1", DAY), 0)])
    with sqlite3.connect(kept.path) as db:
        db.execute(f"PRAGMA user_version = {VERSION - 1}")
    rebuilt: Store = store(tmp_path)
    assert rebuilt.offsets() == {} and rebuilt.verify_runs() == []
