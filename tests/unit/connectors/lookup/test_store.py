"""The lookup store (connectors/lookup/store.py) on a real SQLite file: what each searched field
and filter finds, paging and sorting, who sees what on which day, tombstones and replacements,
where files are kept and never shown, offsets kept with their batch, a store of another version
rebuilt."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.follower import Batch, connect
from connectors.lookup.store import VERSION, Citizen, Query, Store
from tests.unit.connectors.lookup.lookup_parts import (
    RULES,
    SETTINGS,
    TODAY,
    archived,
    catalog,
    new_store,
    put,
)

FLOOD = "Z101-WS·1995-Y-BGS-0001"
TRANSFER = "Z109-WS·1998-D30-GHK-0002"
LETTER = "Z109-WS·1998-D10-GHK-0003"
PHOTO = "Z101-ZP·2000-Y-BGS-0004"
BGT = {"code": "bgt", "name": "市人民政府办公厅"}
EVERY = {FLOOD, TRANSFER, LETTER, PHOTO}


def corpus() -> list[dict[str, Any]]:
    """Four open records; each searched field holds a word no other record has."""
    return [
        archived(FLOOD, agency=BGT, year=1995, retention_period="Y",
                 archived_at=dt.datetime(2026, 1, 4, tzinfo=dt.UTC),
                 description={"title": "关于做好1995年防汛工作的通知", "document_type": "通知",
                              "document_number": "市府办发〔1995〕12号", "year": 1995,
                              "keywords": ["防汛", "水利"], "abstract": "部署全市汛期值班。",
                              "responsible_party": "市人民政府办公厅",
                              "document_date": dt.date(1995, 7, 1)}),
        archived(TRANSFER, year=1998, retention_period="D30",
                 archived_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                 description={"title": "关于不动产登记资料移交的请示", "document_type": "请示",
                              "document_number": "深建请〔1998〕41号", "year": 1998,
                              "keywords": ["房产", "移交"], "abstract": "旧城改造征收补偿资料。",
                              "document_date": dt.date(1998, 3, 2)}),
        archived(LETTER, year=1998, retention_period="D10",
                 archived_at=dt.datetime(2026, 1, 3, tzinfo=dt.UTC),
                 description={"title": "关于购置办公设备的函", "document_type": "函",
                              "document_number": None, "year": 1998, "keywords": [],
                              "abstract": None, "responsible_party": "市规划和自然资源局",
                              "document_date": dt.date(1998, 11, 20)}),
        archived(PHOTO, agency=BGT, category="ZP", year=2000, retention_period="Y",
                 archived_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                 description={"title": "深南大道夜景", "document_type": "照片",
                              "document_number": None, "year": 2000, "keywords": ["城市记忆"],
                              "abstract": None, "responsible_party": "市人民政府办公厅",
                              "document_date": dt.date(2000, 2, 29)}),
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    built = new_store(tmp_path)
    put(built, *corpus())
    return built


def codes(store: Store, audience: Any = "public", today: dt.date = TODAY,
          **query: Any) -> list[str]:  # fmt: skip
    return [hit["reference_code"] for hit in store.search(Query(**query), audience, today).records]


def grams_rows(store: Store) -> int:
    with store.reading() as db:
        return int(db.execute("SELECT count(*) FROM grams").fetchone()[0])


# --- words and filters -----------------------------------------------------------------------
@pytest.mark.parametrize(("words", "field", "code"), [
    ("防汛工作", "title", FLOOD),
    ("房产", "keywords", TRANSFER),
    ("征收补偿", "abstract", TRANSFER),
    ("规划", "responsible_party", LETTER),
    ("〔1998〕41号", "document_number", TRANSFER),
])  # fmt: skip
def test_a_word_is_found_in_each_searched_field(store: Store, words: str, field: str,
                                                code: str) -> None:  # fmt: skip
    [hit] = store.search(Query(words=words), "public", TODAY).records
    assert hit["reference_code"] == code
    assert set(hit["highlights"]) == {field}  # only the field holding it is highlighted
    assert "<mark>" in hit["highlights"][field]


def test_only_the_fields_holding_a_word_are_highlighted(store: Store) -> None:
    [hit] = store.search(Query(words="防汛"), "public", TODAY).records
    assert hit["highlights"] == {"title": "关于做好1995年<mark>防汛</mark>工作的通知",
                                 "keywords": "<mark>防汛</mark>；水利"}  # fmt: skip
    assert all(hit["highlights"] == {} for hit in store.search(Query(), "public", TODAY).records)


def test_the_code_is_matched_exactly(store: Store) -> None:
    assert codes(store, code=TRANSFER) == [TRANSFER]
    assert codes(store, code="Z109") == []
    assert codes(store, code=TRANSFER.lower()) == []


@pytest.mark.parametrize(("query", "expected"), [
    ({"agency": "bgt"}, {FLOOD, PHOTO}),
    ({"agency": "zjj"}, {TRANSFER, LETTER}),
    ({"year_from": 1998}, {TRANSFER, LETTER, PHOTO}),
    ({"year_to": 1998}, {FLOOD, TRANSFER, LETTER}),
    ({"year_from": 1998, "year_to": 1998}, {TRANSFER, LETTER}),
    ({"year_from": 2001}, set()),
    ({"period": "D10"}, {LETTER}),
    ({"period": "Y"}, {FLOOD, PHOTO}),
    ({"document_type": "请示"}, {TRANSFER}),
    ({"category": "ZP"}, {PHOTO}),
    ({"category": "WS", "agency": "bgt"}, {FLOOD}),
    ({"words": "关于", "period": "D30"}, {TRANSFER}),
])  # fmt: skip
def test_filters_restrict_the_results(store: Store, query: dict[str, Any],
                                      expected: set[str]) -> None:  # fmt: skip
    assert set(codes(store, **query)) == expected


# --- paging and sorting --------------------------------------------------------------------------
def test_a_page_holds_size_records_and_total_counts_them_all(store: Store) -> None:
    pages = [store.search(Query(sort="code", page=page, size=3), "public", TODAY)
             for page in (1, 2, 3)]  # fmt: skip
    assert [found.total for found in pages] == [4, 4, 4]
    assert [len(found.records) for found in pages] == [3, 1, 0]
    assert {hit["reference_code"] for found in pages for hit in found.records} == EVERY
    assert codes(store, sort="code", page=0, size=3) == codes(store, sort="code", page=1, size=3)


@pytest.mark.parametrize(("sort", "expected"), [
    ("date_desc", [PHOTO, LETTER, TRANSFER, FLOOD]),
    ("date_asc", [FLOOD, TRANSFER, LETTER, PHOTO]),
    ("code", [FLOOD, PHOTO, LETTER, TRANSFER]),  # Z101-WS < Z101-ZP < Z109-…-D10 < Z109-…-D30
    ("relevance", [FLOOD, LETTER, PHOTO, TRANSFER]),  # without words: the latest archived first
])  # fmt: skip
def test_each_sort_orders_the_records(store: Store, sort: Any, expected: list[str]) -> None:
    assert codes(store, sort=sort) == expected


def test_relevance_puts_the_best_match_first(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    put(store,
        archived("A-1", description={"title": "关于市档案馆新馆建设与搬迁工作中若干问题的请示报告"}),
        archived("A-2", description={"title": "档案 档案 档案"}))  # fmt: skip
    assert codes(store, words="档案") == ["A-2", "A-1"]
    assert codes(store, words="档案", sort="code") == ["A-1", "A-2"]


# --- who sees what, when -------------------------------------------------------------------------
def test_the_public_sees_a_record_from_the_day_it_opens(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    put(store, archived("SOON", description={"document_date": dt.date(2001, 6, 2)}))  # 2026-06-02
    tomorrow = TODAY + dt.timedelta(days=1)
    assert codes(store, today=TODAY) == []
    assert store.record("SOON", "public", TODAY) is None
    assert store.file("SOON", 1, "public", TODAY) is None
    assert codes(store, today=tomorrow) == ["SOON"]
    assert store.record("SOON", "public", tomorrow) is not None
    assert codes(store, "staff", today=TODAY) == ["SOON"]  # staff before it opens


def test_staff_see_controlled_records_and_nobody_sees_state_secrets(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    put(store,
        archived("OPEN"),
        archived("INTERNAL", description={"security_classification": "内部"}),
        archived("SECRET", description={"security_classification": "绝密", "title": "档案"}),
        archived("PUBLISHED", description={"document_type": "公告",
                                           "document_date": TODAY}))  # fmt: skip
    assert set(codes(store)) == {"OPEN", "PUBLISHED"}
    assert set(codes(store, "staff")) == {"OPEN", "INTERNAL", "PUBLISHED"}
    assert codes(store, "staff", words="档案") == []
    for audience in ("public", "staff"):
        assert store.record("SECRET", audience, TODAY) is None
        assert store.file("SECRET", 1, audience, TODAY) is None
    assert store.record("INTERNAL", "public", TODAY) is None
    internal = store.record("INTERNAL", "staff", TODAY)
    assert internal is not None and internal["access"]["status"] == "controlled"
    assert store.count() == 4  # kept, only never shown


def test_a_hit_says_when_and_why_it_is_open(store: Store) -> None:
    [photo] = store.search(Query(code=PHOTO), "public", TODAY).records
    assert photo["access"] == {"status": "open", "opens_on": "2025-02-28",
                               "basis": "《档案法》第二十七条: 25 years after it was formed"}  # fmt: skip
    assert photo["document_date"] == "2000-02-29" and photo["title"] == "深南大道夜景"


# --- tombstones and replacements -----------------------------------------------------------------
def test_a_tombstone_deletes_the_record_and_its_index_entry(store: Store) -> None:
    assert grams_rows(store) == 4
    store.apply(catalog((TRANSFER, None)))
    assert store.count() == 3 and grams_rows(store) == 3
    assert codes(store, words="房产") == [] and codes(store, code=TRANSFER) == []
    assert store.record(TRANSFER, "staff", TODAY) is None
    store.apply(catalog(("NEVER-SEEN", None)))  # a tombstone of nothing: nothing happens
    assert store.count() == 3


def test_a_second_put_replaces_the_record(store: Store) -> None:
    changed = archived(TRANSFER, description={"title": "关于历史建筑保护的请示", "keywords": []})
    store.apply(catalog((TRANSFER, changed)))
    assert store.count() == 4 and grams_rows(store) == 4
    assert codes(store, words="不动产") == [] and codes(store, words="房产") == []
    assert codes(store, words="历史建筑") == [TRANSFER]


def test_a_message_of_another_topic_is_not_a_record(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    batch = Batch([("t1.other.v1", 0, 5, 1, "X-1", archived("X-1"))], {("t1.other.v1", 0): 6})
    store.apply(batch)
    assert store.count() == 0 and store.offsets() == {("t1.other.v1", 0): 6}


# --- files ---------------------------------------------------------------------------------------
def test_a_record_lists_its_files_without_their_s3_addresses(store: Store) -> None:
    found = store.record(FLOOD, "public", TODAY)
    assert found is not None
    assert found["files"] == [
        {"sequence": 1, "mime_type": "application/pdf", "size_bytes": 48213},
        {"sequence": 2, "mime_type": "application/pdf", "size_bytes": 1000},
    ]
    shown = json.dumps(found, ensure_ascii=False)
    assert not [word for word in ("bucket", '"archive"', f"{FLOOD}/01.pdf", "version_id",
                                  f"v-{FLOOD}-1") if word in shown]  # fmt: skip
    hits = json.dumps(store.search(Query(), "staff", TODAY).records, ensure_ascii=False)
    assert "bucket" not in hits and f"v-{FLOOD}-1" not in hits


def test_a_file_says_where_it_is_stored(store: Store) -> None:
    assert store.file(FLOOD, 2, "public", TODAY) == {
        "sequence": 2, "mime_type": "application/pdf", "size_bytes": 1000, "bucket": "archive",
        "key": f"{FLOOD}/02.pdf", "version_id": f"v-{FLOOD}-2",
    }  # fmt: skip
    assert store.file(FLOOD, 3, "public", TODAY) is None
    assert store.file("NONE", 1, "staff", TODAY) is None


# --- offsets and versions ------------------------------------------------------------------------
def test_the_offsets_are_saved_with_their_batch(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    assert store.offsets() == {}
    store.apply(catalog(("A-1", archived("A-1")), ("A-2", archived("A-2")), partition=3))
    store.apply(catalog(("A-3", archived("A-3")), first_offset=7))
    assert store.offsets() == {(SETTINGS.catalog_topic, 3): 2, (SETTINGS.catalog_topic, 0): 8}


def test_a_batch_that_fails_writes_neither_records_nor_offsets(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    broken = archived("A-2")
    del broken["components"]
    with pytest.raises(KeyError):
        store.apply(catalog(("A-1", archived("A-1")), ("A-2", broken)))
    assert store.count() == 0 and grams_rows(store) == 0 and store.offsets() == {}


def test_a_store_of_another_version_is_rebuilt_empty(store: Store) -> None:
    with contextlib.closing(connect(store.path)) as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    reopened = Store(store.path, catalog_topic=SETTINGS.catalog_topic, rules=store.rules)
    assert reopened.count() == 0 and reopened.offsets() == {} and grams_rows(reopened) == 0
    with contextlib.closing(connect(store.path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_a_store_of_this_version_is_kept(store: Store) -> None:
    reopened = Store(store.path, catalog_topic=SETTINGS.catalog_topic, rules=store.rules)
    assert reopened.count() == 4 and reopened.offsets() == {(SETTINGS.catalog_topic, 0): 4}


def test_a_citizen_sees_the_records_naming_them_and_a_new_state_of_a_record_renames_them(
    tmp_path: Path,
) -> None:
    store = new_store(tmp_path)
    zhang, li = {"role": "权利人", "name": "张三", "id_hmac": "a" * 64}, {
        "role": "当事人", "name": "李四", "id_hmac": "b" * 64}  # fmt: skip
    put(store,
        archived("DEED", persons=[zhang, li]),
        archived("RECENT", persons=[zhang], description={"document_date": TODAY}),  # not open
        archived("SECRET", persons=[zhang], description={"security_classification": "绝密"}),
        archived("OTHER"))  # fmt: skip
    assert set(codes(store, Citizen("a" * 64))) == {"DEED", "RECENT"}
    assert set(codes(store, Citizen("b" * 64))) == {"DEED"}
    assert codes(store, Citizen("c" * 64)) == []
    assert store.record("OTHER", Citizen("a" * 64), TODAY) is None
    put(store, archived("DEED", persons=[li]))  # the record's new state no longer names 张三
    assert set(codes(store, Citizen("a" * 64))) == {"RECENT"}
    store.apply(catalog(("RECENT", None)))
    assert codes(store, Citizen("a" * 64)) == []
    with store.reading() as db:
        assert (
            db.execute("SELECT count(*) FROM persons").fetchone()[0] == 2
        )  # DEED's 李四, SECRET's


def decision(access: str, at: str = "2026-05-20T09:30:00+08:00") -> dict[str, Any]:
    return {"reference_code": "X", "access": access, "reason": "开放鉴定会议 2026-1",
            "decided_by": "wang.li", "decided_at": at}  # fmt: skip


def decisions(*entries: tuple[str, dict[str, Any] | None]) -> Batch:
    batch = Batch()
    for n, (code, value) in enumerate(entries):
        batch.messages.append((DECISIONS, 0, n, 1, code, value))
    return batch


DECISIONS = "t1.records.access-decisions.v1"


def test_an_archivists_decision_overrides_the_rule_whether_it_comes_before_or_after_the_record(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "store.sqlite3", catalog_topic=SETTINGS.catalog_topic, rules=RULES,
                  decisions_topic=DECISIONS)  # fmt: skip
    store.apply(decisions(("RECENT", decision("open"))))  # before its record: kept for it
    put(
        store,
        archived("RECENT", description={"document_date": TODAY}),  # open in 2051 by the rule
        archived("OLD"),
    )  # open since 2015 by the rule
    assert set(codes(store)) == {"RECENT", "OLD"}
    (hit,) = store.search(Query(code="RECENT"), "public", TODAY).records
    assert hit["access"]["opens_on"] == "2026-05-20" and "wang.li" in hit["access"]["basis"]
    assert codes(store, today=dt.date(2026, 5, 19)) == ["OLD"]  # opened the day it was decided

    store.apply(decisions(("OLD", decision("controlled"))))  # after its record
    assert set(codes(store)) == {"RECENT"}
    assert store.record("OLD", "staff", TODAY)["access"]["status"] == "controlled"  # type: ignore[index]
    store.apply(decisions(("OLD", None)))  # withdrawn: the rule again
    assert set(codes(store)) == {"RECENT", "OLD"}
    # A new state of the record (an appraisal, a paper twin) keeps the decision on it.
    put(store, archived("RECENT", description={"document_date": TODAY, "title": "改"}))
    assert set(codes(store)) == {"RECENT", "OLD"}
    store.apply(decisions(("RECENT", None)))
    assert set(codes(store)) == {"OLD"}
