"""The console store's queues without Kafka: review items (待鉴定) with their original events
decoded, leaving the queue once decided; dead letters (死信) grouped by document with their
replays; both written with their offsets, resumed after a restart and rebuilt from nothing. The
messages go through the follower's own decoding (a codec that knows the test's bytes)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connectors.console.store import LetterQuery, ReviewQuery, Store
from tests.examples import lifecycle_event, retention_review_record
from tests.unit.connectors.console.console_parts import (
    DAY,
    SETTINGS,
    DictCodec,
    FakeMessage,
    appraisal_item,
    follow,
    letter_message,
    replay_message,
    review_item,
    review_message,
    store,
)


@pytest.fixture
def codec() -> DictCodec:
    codec = DictCodec()
    item = retention_review_record()
    codec.bytes_for(lifecycle_event(), raw=item["original_value"])  # the event under review
    return codec


def queued(kept: Store, kind: str = "RETENTION") -> list[str]:
    return [item["event_id"] for item in kept.review_queue(ReviewQuery(kind=kind)).rows]


# --- the review queue ------------------------------------------------------------------------
def test_review_items_are_kept_with_their_event_and_a_decided_one_leaves_the_queue(
    tmp_path: Path, codec: DictCodec
) -> None:
    kept = store(tmp_path)
    follow(kept, codec, [
        review_message(codec, review_item("e-1"), "e-1", 0),
        review_message(codec, review_item("e-2", original_value=b"junk"), "e-2", 1),
        review_message(codec, appraisal_item("e-3"), "e-3", 2),
    ])  # fmt: skip
    assert queued(kept) == ["e-1", "e-2"] and queued(kept, "APPRAISAL") == ["e-3"]
    assert kept.review_counts() == {"RETENTION": 2, "APPRAISAL": 1}
    item = kept.review_item("e-1")
    assert item is not None and "original_value" not in item
    assert item["event"]["description"]["title"] == lifecycle_event()["description"]["title"]
    assert item["event"]["document_id"] == "ZJJ-2026-0041" and item["event_problem"] is None
    assert item["history_before_filing"][0]["description"] == "CREATED in OA"
    assert item["reason"].startswith("no rule of bdc-schedule@2026.1")
    # An event that does not decode stays in the queue, saying why.
    undecodable = kept.review_item("e-2")
    assert undecodable is not None and undecodable["event"] is None
    assert (undecodable["event_problem"] or "").startswith("not-avro")
    assert kept.review_queue(ReviewQuery(agency="bdc")).total == 0
    assert kept.review_queue(ReviewQuery(agency="zjj")).total == 2

    decided = review_item("e-1", status="DECIDED", decided_period="D10", decided_by="wang",
                          decided_at=DAY, note="窗口日常事务")  # fmt: skip
    follow(kept, codec, [review_message(codec, decided, "e-1", 3)])
    assert queued(kept) == ["e-2"]
    shown = kept.review_item("e-1")
    assert shown is not None
    assert (shown["status"], shown["decided_by"], shown["decided_period"]) == (
        "DECIDED",
        "wang",
        "D10",
    )
    follow(kept, codec, [review_message(codec, None, "e-2", 4)])  # a tombstone
    assert queued(kept) == [] and kept.review_item("e-2") is None


def test_an_older_review_state_from_another_partition_does_not_win(
    tmp_path: Path, codec: DictCodec
) -> None:
    kept = store(tmp_path)
    decided = review_item("e-1", status="DECIDED", decided_period="Y", decided_by="li",
                          decided_at=DAY)  # fmt: skip
    follow(kept, codec, [review_message(codec, decided, "e-1", 0, partition=1, timestamp=200)])
    follow(kept, codec, [review_message(codec, review_item("e-1"), "e-1", 0, partition=2,
                                        timestamp=100)])  # fmt: skip
    assert queued(kept) == []


def test_queues_resume_where_the_store_stopped_and_are_rebuilt_from_nothing(
    tmp_path: Path, codec: DictCodec
) -> None:
    kept = store(tmp_path)
    follow(kept, codec, [review_message(codec, review_item("e-1"), "e-1", 0),
                         letter_message(codec, 2, 7, event_id="e-9")])  # fmt: skip
    assert kept.offsets() == {(SETTINGS.review_topic, 0): 1, (SETTINGS.deadletter_topic, 2): 8}
    again = store(tmp_path)  # restarted on the same file
    assert queued(again) == ["e-1"] and again.letter("2-7") is not None
    assert again.offsets()[SETTINGS.deadletter_topic, 2] == 8
    with sqlite3.connect(kept.path) as db:
        db.execute("PRAGMA user_version = 1")  # the store before the queues
    rebuilt = store(tmp_path)
    assert rebuilt.offsets() == {} and queued(rebuilt) == [] and rebuilt.letter("2-7") is None


# --- dead letters ----------------------------------------------------------------------------
@pytest.fixture
def letters(tmp_path: Path, codec: DictCodec) -> Store:
    """Document e-1 rejected three times (its first letter replayed), e-2 once at another
    stage, and an input that did not decode (no event id) twice: two letters, two rows."""
    kept = store(tmp_path)
    hour = dt.timedelta(hours=1)
    follow(kept, codec, [
        letter_message(codec, 0, 1, event_id="e-1", failed_at=DAY),
        letter_message(codec, 1, 1, event_id="e-1", failed_at=DAY + hour),
        letter_message(codec, 0, 2, event_id="e-1", failed_at=DAY + 2 * hour),
        letter_message(codec, 2, 1, event_id="e-2", reason="checksum-mismatch", stage="register",
                       agency="bgt", failed_at=DAY + dt.timedelta(days=1)),
        letter_message(codec, 2, 2, event_id=None, reason="not-avro", stage="intake",
                       failed_at=DAY - hour),
        letter_message(codec, 2, 3, event_id=None, reason="not-avro", stage="intake",
                       failed_at=DAY - hour),
        replay_message(0, 1, 0),
    ])  # fmt: skip
    return kept


def groups(kept: Store, **query: Any) -> list[tuple[str, int, int]]:
    """(latest letter, letters, replayed) per document."""
    return [(row["letter_id"], row["letters"], row["replayed"])
            for row in kept.letter_groups(LetterQuery(**query)).rows]  # fmt: skip


def test_letters_of_one_document_show_once_with_their_count(letters: Store) -> None:
    found = letters.letter_groups(LetterQuery())
    assert found.total == 4
    assert groups(letters) == [("2-1", 1, 0), ("0-2", 3, 1), ("2-3", 1, 0), ("2-2", 1, 0)]
    e1 = found.rows[1]
    assert e1["first_at"] == DAY and e1["failed_at"] == DAY + dt.timedelta(hours=2)
    assert e1["failed_at"].utcoffset() == dt.timedelta(hours=8)
    assert [row["letter_id"] for row in letters.letters_of(e1["grouping"])] == ["0-2", "1-1", "0-1"]
    assert [row["replayed_by"] for row in letters.letters_of(e1["grouping"])] == [
        None,
        None,
        "赵管理",
    ]


def test_letters_are_filtered_by_agency_reason_stage_and_day(letters: Store) -> None:
    assert groups(letters, agency="bgt") == [("2-1", 1, 0)]
    assert groups(letters, reason="not-avro") == [("2-3", 1, 0), ("2-2", 1, 0)]
    assert groups(letters, stage="store") == [("0-2", 3, 1)]
    assert groups(letters, day=dt.date(2026, 5, 7)) == [("2-1", 1, 0)]  # Beijing's day
    assert groups(letters, day=dt.date(2026, 5, 6), stage="store") == [("0-2", 3, 1)]
    assert groups(letters, agency="zjj", reason="checksum-mismatch") == []
    assert letters.letter_facets() == {
        "agencies": ["bgt", "zjj"],
        "reasons": ["checksum-mismatch", "not-avro", "payload-missing"],
        "stages": ["intake", "register", "store"],
    }


def test_a_replay_counts_only_for_the_very_letter_it_names(
    tmp_path: Path, codec: DictCodec
) -> None:
    kept = store(tmp_path)
    follow(kept, codec, [letter_message(codec, 0, 1, event_id="e-1"),
                         replay_message(0, 1, 0, fingerprint="another letter's bytes")])  # fmt: skip
    letter = kept.letter("0-1")
    assert letter is not None
    assert kept.replay_of(letter["ledger_key"], letter["fingerprint"]) is None
    assert groups(kept) == [("0-1", 1, 0)]
    follow(kept, codec, [replay_message(0, 1, 1)])  # the ledger's later entry for the key
    entry = kept.replay_of(letter["ledger_key"], letter["fingerprint"])
    assert entry is not None and entry["replayed_by"] == "赵管理"
    assert groups(kept) == [("0-1", 1, 1)]
    follow(kept, codec, [FakeMessage(SETTINGS.replay_ledger_topic, 0, 2,
                                     letter["ledger_key"].encode(), None)])  # fmt: skip
    assert kept.replay_of(letter["ledger_key"], letter["fingerprint"]) is None


def test_letters_past_the_topics_retention_leave_the_list(letters: Store) -> None:
    letters.prune_letters({0: 2, 1: 0})
    assert letters.letter("0-1") is None and letters.letter("0-2") is not None
    assert groups(letters, stage="store") == [("0-2", 2, 0)]


def test_a_review_items_event_is_kept_without_identity_numbers(tmp_path: Path) -> None:
    """The event under review names a person with an identity number: the store keeps the person,
    never the number (archival/persons.py); the review itself reads the original bytes."""
    codec = DictCodec()
    person = {"role": "权利人", "name": "张三", "id_number": "11010519491231002X"}
    item = retention_review_record()
    codec.bytes_for({**lifecycle_event(), "persons": [person]}, raw=item["original_value"])
    kept = store(tmp_path)
    follow(kept, codec, [review_message(codec, review_item("e-9"), "e-9", 0)])
    shown = kept.review_item("e-9")
    assert shown is not None
    assert shown["event"]["persons"] == [{**person, "id_number": None}]
    for written in tmp_path.glob("store.sqlite3*"):  # the database, its WAL
        assert b"11010519491231002X" not in written.read_bytes()
    assert b"\xe5\xbc\xa0\xe4\xb8\x89" in b"".join(
        f.read_bytes() for f in tmp_path.glob("store.sqlite3*")
    )
