"""The console's SQLite store (connectors/console/store.py) without Kafka: batches and their
offsets in one transaction, a restart that goes on where it stopped, a rebuild from nothing, and
the searches the records page makes, a 2-character Chinese word among them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from connectors.audit import audit_event
from connectors.console.store import PAGE_SIZE, AuditQuery, RecordQuery, Store
from connectors.follower import Batch
from tests.unit.connectors.console.console_parts import (
    SETTINGS,
    audit_batch,
    catalog_batch,
    record,
    store,
)

FLOOD = record("Z101-WS·2026-D10-BGS-0001", "关于做好2026年防汛工作的通知",
               document_number="市府办发〔2026〕12号", agency={"code": "bgt", "name": "市人民政府办公厅"},
               retention_period="D10", year=2026)  # fmt: skip
FUNDS = record("Z109-WS·2026-D30-GHK-0007", "关于申请老旧小区改造专项资金的请示")
PHOTO = record("Z101-ZP·2025-Y-BGS-0001", "深南大道夜景", category="ZP", year=2025,
               agency={"code": "bgt", "name": "市人民政府办公厅"}, retention_period="Y")  # fmt: skip


@pytest.fixture
def filled(tmp_path: Path) -> Store:
    kept = store(tmp_path)
    kept.apply(catalog_batch(SETTINGS, [FLOOD, FUNDS, PHOTO]))
    return kept


def codes(kept: Store, **query: object) -> set[str]:
    return {row["code"] for row in kept.search(RecordQuery(**query)).rows}  # type: ignore[arg-type]


def test_title_words_of_two_characters_and_more_are_found(filled: Store) -> None:
    assert codes(filled, words="防汛") == {FLOOD["reference_code"]}  # 2 characters: LIKE
    assert codes(filled, words="专项资金") == {FUNDS["reference_code"]}  # 4: the trigram index
    assert codes(filled, words="夜景") == {PHOTO["reference_code"]}
    assert codes(filled, words="关于 通知") == {FLOOD["reference_code"]}  # every word
    assert codes(filled, words="关于") == {FLOOD["reference_code"], FUNDS["reference_code"]}
    assert codes(filled, words="水灾") == set()
    assert codes(filled, words="%") == set()  # LIKE's wildcards are taken literally
    assert codes(filled, words='"防汛') == set()  # nor does a quote break the FTS query


def test_exact_code_number_and_facets(filled: Store) -> None:
    assert codes(filled, code=FUNDS["reference_code"]) == {FUNDS["reference_code"]}
    assert codes(filled, code="Z109-WS·2026-D30-GHK-000") == set()  # exact, not a prefix
    assert codes(filled, document_number="〔2026〕12") == {FLOOD["reference_code"]}
    assert codes(filled, agency="bgt") == {FLOOD["reference_code"], PHOTO["reference_code"]}
    assert codes(filled, year=2025) == {PHOTO["reference_code"]}
    assert codes(filled, retention="D30") == {FUNDS["reference_code"]}
    assert codes(filled, category="ZP") == {PHOTO["reference_code"]}
    assert codes(filled, agency="bgt", category="WS", words="通知") == {FLOOD["reference_code"]}
    facets = filled.facets()
    assert facets["years"] == [2026, 2025]
    assert [a["agency_code"] for a in facets["agencies"]] == ["bgt", "zjj"]


def test_results_are_paged(tmp_path: Path) -> None:
    kept = store(tmp_path)
    many = [record(f"Z101-WS·2026-D10-BGS-{n:04d}", f"第{n}号通知") for n in range(1, 46)]
    kept.apply(catalog_batch(SETTINGS, many))
    first = kept.search(RecordQuery(words="通知"))
    last = kept.search(RecordQuery(words="通知", page=3))
    assert (first.total, first.pages, len(first.rows)) == (45, 3, PAGE_SIZE)
    assert len(last.rows) == 45 - 2 * PAGE_SIZE
    assert not {r["code"] for r in first.rows} & {r["code"] for r in last.rows}


def test_a_later_state_replaces_a_record_and_a_tombstone_removes_it(filled: Store) -> None:
    renamed = {**FUNDS, "description": {**FUNDS["description"], "title": "更名后的请示"}}
    filled.apply(catalog_batch(SETTINGS, [renamed], first_offset=3))
    assert codes(filled, words="专项资金") == set()
    assert codes(filled, words="更名") == {FUNDS["reference_code"]}
    assert filled.record(FUNDS["reference_code"])["description"]["title"] == "更名后的请示"  # type: ignore[index]
    gone = Batch()
    gone.messages.append((SETTINGS.catalog_topic, 0, 4, 2, FUNDS["reference_code"], None))
    gone.offsets[SETTINGS.catalog_topic, 0] = 5
    filled.apply(gone)
    assert filled.record(FUNDS["reference_code"]) is None
    assert codes(filled, words="更名") == set()


def test_an_older_state_from_another_partition_does_not_win(tmp_path: Path) -> None:
    kept = store(tmp_path)
    kept.apply(catalog_batch(SETTINGS, [FUNDS], partition=1, timestamp=200))
    stale = {**FUNDS, "description": {**FUNDS["description"], "title": "旧的题名"}}
    kept.apply(catalog_batch(SETTINGS, [stale], partition=2, timestamp=100))
    assert codes(kept, words="旧的") == set()


def test_offsets_are_written_with_their_messages_and_a_restart_goes_on(tmp_path: Path) -> None:
    kept = store(tmp_path)
    kept.apply(catalog_batch(SETTINGS, [FLOOD, FUNDS]))
    assert kept.offsets() == {(SETTINGS.catalog_topic, 0): 2}
    # A batch that fails half-way leaves neither its records nor its offsets.
    broken = catalog_batch(SETTINGS, [PHOTO, {"reference_code": "X"}], first_offset=2)
    with pytest.raises(KeyError):
        kept.apply(broken)
    assert kept.offsets() == {(SETTINGS.catalog_topic, 0): 2}
    assert kept.record(PHOTO["reference_code"]) is None

    assert kept.path.stat().st_mode & 0o777 == 0o600  # the audit trail's copy is in it
    again = store(tmp_path)  # the console restarted: the same file
    assert again.offsets() == {(SETTINGS.catalog_topic, 0): 2}
    assert codes(again, words="防汛") == {FLOOD["reference_code"]}


def test_a_deleted_or_older_store_is_rebuilt_from_nothing(tmp_path: Path) -> None:
    kept = store(tmp_path)
    kept.apply(catalog_batch(SETTINGS, [FLOOD]))
    with sqlite3.connect(kept.path) as db:
        db.execute("PRAGMA user_version = 0")  # written by another version of the module
    rebuilt = store(tmp_path)
    assert rebuilt.offsets() == {} and rebuilt.search(RecordQuery()).total == 0
    kept.path.unlink()
    for suffix in ("-wal", "-shm"):
        kept.path.with_name(kept.path.name + suffix).unlink(missing_ok=True)
    fresh = store(tmp_path)
    assert fresh.offsets() == {}
    fresh.apply(catalog_batch(SETTINGS, [FLOOD]))
    assert codes(fresh, words="防汛") == {FLOOD["reference_code"]}


def test_audit_events_newest_first_filtered_and_sign_outs_end_sessions(tmp_path: Path) -> None:
    kept = store(tmp_path)
    day = dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC)  # 09:30 in Beijing
    events = [
        audit_event("wang", "staff", "login", "success", target="session:s1", now=day),
        audit_event("li", None, "login", "failure", now=day + dt.timedelta(minutes=1)),
        audit_event(
            "wang",
            "staff",
            "export",
            "success",
            target="Z101-WS·2026-D10-BGS-0001",
            now=day + dt.timedelta(minutes=2),
        ),
        audit_event(
            "wang",
            "staff",
            "logout",
            "success",
            target="session:s1",
            now=day + dt.timedelta(hours=16),
        ),  # 2026-06-02 in Beijing
    ]
    kept.apply(audit_batch(SETTINGS, events))
    everything = kept.audit_events(AuditQuery())
    assert [e["action"] for e in everything.rows] == ["logout", "export", "login", "login"]
    assert everything.rows[0]["occurred_at"].utcoffset() == dt.timedelta(hours=8)
    assert kept.audit_events(AuditQuery(actor="li")).total == 1
    assert kept.audit_events(AuditQuery(action="export")).rows[0]["target"] == events[2]["target"]
    assert kept.audit_events(AuditQuery(day=dt.date(2026, 6, 1))).total == 3
    assert kept.audit_events(AuditQuery(day=dt.date(2026, 6, 2))).total == 1
    assert kept.session_ended("s1") and not kept.session_ended("s2")
    kept.apply(audit_batch(SETTINGS, events[:1]))  # a redelivery at the same offset: once
    assert kept.audit_events(AuditQuery()).total == 4
