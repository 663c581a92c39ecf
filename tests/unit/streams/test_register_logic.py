"""The register stage's pure logic (streams/register.py): gap-free item numbers that survive
redelivery and torn changelog writes, content verification, archive keys and retention dates."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archival.formats import FormatInfo
from archival.reference import parse
from avro_schemas.records import Component, RecordDescription
from connectors.storage import Digests
from recordflow.errors import RecordRejected
from streams.receipt import Inspected
from streams.register import (
    Allocation,
    allocate,
    archive_key,
    claim_of,
    conflicting_claim,
    duplicate_key,
    hold_for,
    mark_published,
    refuse_bomb,
    retain_until,
    verify,
)
from tests.examples import lifecycle_event, request_description

SERIES = ["Z109-WS·2026-Y-BGS", "Z109-WS·2026-D10-BGS", "Z215-WS·2026-D30-DJK"]


def view(allocation: Allocation) -> tuple[int, bool, bool]:
    return allocation.item_number, allocation.fresh, allocation.published


def test_archive_time_is_kept_for_redeliveries() -> None:
    table: dict[str, Any] = {}
    first = allocate(
        table, SERIES[0], "a", now=dt.datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)
    )
    assert first.at == dt.datetime(
        2026, 5, 1, 8, 0, 0, 123000, tzinfo=dt.UTC
    )  # milliseconds, as Avro
    mark_published(table, "a", first)
    again = allocate(table, SERIES[0], "a", now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert again.at == first.at and again.published


# --- item numbers ------------------------------------------------------------------------
def test_numbers_run_from_one_per_series() -> None:
    table: dict[str, Any] = {}
    assert view(allocate(table, SERIES[0], "a")) == (1, True, False)
    assert view(allocate(table, SERIES[0], "b")) == (2, True, False)
    assert view(allocate(table, SERIES[1], "c")) == (1, True, False)
    assert view(allocate(table, SERIES[0], "a")) == (1, False, False)


def test_published_flag_is_remembered() -> None:
    table: dict[str, Any] = {}
    first = allocate(table, SERIES[0], "a")
    mark_published(table, "a", first)
    assert view(allocate(table, SERIES[0], "a")) == (1, False, True)
    assert view(allocate(table, SERIES[0], "b")) == (2, True, False)


def test_torn_changelog_write() -> None:
    """The series counter reached the changelog, the event's own entry did not."""
    table: dict[str, Any] = {}
    assert allocate(table, SERIES[0], "a").item_number == 1
    assert allocate(table, SERIES[0], "b").item_number == 2
    del table["event:b"]
    assert view(allocate(table, SERIES[0], "b")) == (2, False, False)
    assert {k: v for k, v in table["event:b"].items() if k != "at"} == {
        "n": 2, "published": False, "series": SERIES[0]
    }  # fmt: skip
    assert view(allocate(table, SERIES[0], "c")) == (3, True, False)
    assert allocate(table, SERIES[0], "b").item_number == 2


def test_a_number_stays_in_the_series_it_was_given_in() -> None:
    """A parked record replayed after its schedule changed: its number is in the old series."""
    table: dict[str, Any] = {}
    allocate(table, SERIES[0], "a")
    again = allocate(table, SERIES[1], "a")
    assert (again.item_number, again.fresh, again.series) == (1, False, SERIES[0])
    assert "series:" + SERIES[1] not in table


def test_torn_write_does_not_leak_into_another_series() -> None:
    table: dict[str, Any] = {}
    allocate(table, SERIES[0], "a")
    del table["event:a"]
    assert view(allocate(table, SERIES[1], "x")) == (1, True, False)
    assert view(allocate(table, SERIES[0], "a")) == (1, False, False)


OUTCOMES = st.sampled_from(["done", "published", "torn"])


@given(
    series_of=st.lists(st.sampled_from(SERIES), min_size=1, max_size=12),
    deliveries=st.lists(
        st.tuples(st.integers(min_value=0, max_value=11), OUTCOMES), min_size=1, max_size=60
    ),
)
def test_item_numbers_are_gap_free_under_redelivery(
    series_of: list[str], deliveries: list[tuple[int, str]]
) -> None:
    """Any interleaving of first deliveries, redeliveries and torn writes numbers every series
    1..n with no gap and no duplicate, and an event keeps the number it was given.

    A torn write (the crash between the counter and the event entry) means the event's offset was
    not committed, so Kafka delivers it again before anything later in its partition; the series
    is the partition key, so its redelivery comes before the series' next event.
    """
    table: dict[str, Any] = {}
    given_numbers: dict[str, int] = {}
    published: set[str] = set()
    torn: dict[str, str] = {}  # series → event whose entry was lost
    for index, outcome in deliveries:
        series = series_of[index % len(series_of)]
        event_id = torn.pop(series, f"event-{index % len(series_of)}")
        allocation = allocate(table, series, event_id)
        if event_id in given_numbers:
            assert allocation.item_number == given_numbers[event_id]
            assert not allocation.fresh
            assert allocation.published == (event_id in published)
        else:
            assert allocation.fresh
            assert not allocation.published
            given_numbers[event_id] = allocation.item_number
        if outcome == "published":
            mark_published(table, event_id, allocation)
            published.add(event_id)
        elif outcome == "torn" and allocation.fresh:
            del table[f"event:{event_id}"]
            torn[series] = event_id
    for series, event_id in torn.items():  # redeliveries still pending at the end
        assert allocate(table, series, event_id).item_number == given_numbers[event_id]
    for series in set(series_of):
        numbers = sorted(
            number
            for event_id, number in given_numbers.items()
            if series_of[int(event_id.split("-")[1])] == series
        )
        assert numbers == list(range(1, len(numbers) + 1))
        if numbers:
            assert table[f"series:{series}"]["last"] == len(numbers)


# --- content -----------------------------------------------------------------------------
CONTENT = "关于做好2026年春节期间值班工作的通知".encode() * 50


def digests_of(data: bytes) -> Digests:
    digests = Digests()
    digests.update(data)
    return digests


def declared(data: bytes, *algorithms: str) -> dict[str, Any]:
    values = {
        "SHA256": hashlib.sha256(data).hexdigest(),
        "SM3": hashlib.new("sm3", data).hexdigest(),
    }
    return {
        "file_name": "通知.pdf",
        "size_bytes": len(data),
        "checksums": [{"algorithm": a, "value": values[a]} for a in algorithms],
    }


def reason_of(component: dict[str, Any], data: bytes) -> str:
    with pytest.raises(RecordRejected) as caught:
        verify(component, digests_of(data))
    assert caught.value.stage == "register"
    return caught.value.reason


def test_matching_content_verifies() -> None:
    verify(declared(CONTENT, "SHA256", "SM3"), digests_of(CONTENT))
    verify(declared(CONTENT, "SHA256"), digests_of(CONTENT))
    verify(declared(b"", "SHA256", "SM3"), digests_of(b""))


def test_declared_digests_may_be_upper_case() -> None:
    component = declared(CONTENT, "SHA256", "SM3")
    for checksum in component["checksums"]:
        checksum["value"] = checksum["value"].upper()
    verify(component, digests_of(CONTENT))


def test_size_mismatch() -> None:
    assert reason_of(declared(CONTENT, "SHA256", "SM3"), CONTENT + b"\n") == "size-mismatch"
    assert reason_of(declared(CONTENT, "SHA256", "SM3"), CONTENT[:-1]) == "size-mismatch"


def tampered(data: bytes) -> bytes:
    """Same length, twenty bytes changed."""
    changed = bytearray(data)
    changed[-40:-20] = b"X" * 20
    assert len(changed) == len(data) and changed != data
    return bytes(changed)


def test_sha256_mismatch() -> None:
    assert reason_of(declared(CONTENT, "SHA256"), tampered(CONTENT)) == "checksum-mismatch"


def test_sm3_mismatch() -> None:
    component = declared(CONTENT, "SHA256", "SM3")
    component["checksums"][0]["value"] = hashlib.sha256(tampered(CONTENT)).hexdigest()
    # SHA-256 agrees with the received bytes; only SM3 tells they are not what was declared.
    with pytest.raises(RecordRejected, match="SM3") as caught:
        verify(component, digests_of(tampered(CONTENT)))
    assert caught.value.reason == "checksum-mismatch"


@given(data=st.binary(max_size=256), flip=st.integers(min_value=0))
def test_any_changed_byte_is_caught(data: bytes, flip: int) -> None:
    component = declared(data, "SHA256", "SM3")
    verify(component, digests_of(data))
    if not data:
        return
    changed = bytearray(data)
    changed[flip % len(data)] ^= 0xFF
    assert reason_of(component, bytes(changed)) == "checksum-mismatch"


# --- retention dates ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("period", "year", "until"),
    [
        ("D30", 2026, dt.date(2057, 1, 1)),
        ("D10", 2026, dt.date(2037, 1, 1)),
        ("D10", 1999, dt.date(2010, 1, 1)),
        ("Y", 2026, None),
    ],
)
def test_retain_until(period: str, year: int, until: dt.date | None) -> None:
    assert retain_until(period, year) == until


@given(year=st.integers(min_value=1949, max_value=2200))
def test_thirty_years_outlast_ten(year: int) -> None:
    d10, d30 = retain_until("D10", year), retain_until("D30", year)
    assert d10 is not None and d30 is not None
    assert d10 > dt.date(year, 12, 31)
    assert (d30.year - d10.year, d30.month, d30.day) == (20, 1, 1)


# --- the hold: a lock never in the past, and appraisal for what has run out ----------------------
RECEIVED = dt.date(2026, 12, 6)


@pytest.mark.parametrize(
    ("period", "year", "lock", "due"),
    [
        ("D10", 2010, dt.date(2027, 12, 6), True),  # ended 2021-01-01: held a year, appraised
        ("D30", 1985, dt.date(2027, 12, 6), True),  # ended 2016-01-01
        ("D10", 2016, dt.date(2027, 12, 6), True),  # ends 2027-01-01, within the hold
        ("D10", 2017, dt.date(2028, 1, 1), False),  # ends after the hold: its own end
        ("D30", 2026, dt.date(2057, 1, 1), False),
        ("Y", 1985, None, False),  # permanent: a legal hold, never due
    ],
)
def test_hold(period: str, year: int, lock: dt.date | None, due: bool) -> None:
    hold = hold_for(period, year, RECEIVED, hold_days=365)
    assert (hold.retain_until, hold.lock_until, hold.appraisal_due) == (
        retain_until(period, year),
        lock,
        due,
    )


@given(
    period=st.sampled_from(["D10", "D30"]),
    year=st.integers(min_value=1949, max_value=2026),
    received=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2100, 1, 1)),
    hold_days=st.integers(min_value=1, max_value=3650),
)
def test_the_lock_is_never_shorter_than_the_hold_or_the_period(
    period: str, year: int, received: dt.date, hold_days: int
) -> None:
    hold = hold_for(period, year, received, hold_days)
    assert hold.lock_until is not None and hold.retain_until is not None
    assert hold.lock_until >= received + dt.timedelta(days=hold_days)
    assert hold.lock_until >= hold.retain_until
    assert hold.appraisal_due == (hold.retain_until <= received + dt.timedelta(days=hold_days))


# --- archive keys ------------------------------------------------------------------------
CODE = "Z109-WS·2011-Y-BGS-0001"
SHA = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    ("file_name", "suffix"),
    [
        ("通知.pdf", ".pdf"),
        ("SCAN.JPG", ".jpg"),
        ("archive.tar.gz", ".gz"),
        ("../../etc/passwd.PDF", ".pdf"),
        ("C:\\Users\\办公室\\报告.docx", ".docx"),
        ("README", ""),
        ("", ""),
    ],
)
def test_archive_key(file_name: str, suffix: str) -> None:
    key = archive_key(CODE, {"file_name": file_name, "sequence": 3}, SHA)
    assert key == f"Z109/2011/{CODE}/03-{SHA}{suffix}"
    assert ".." not in key and "\\" not in key


@given(
    file_name=st.text(max_size=80),
    sequence=st.integers(min_value=1, max_value=99),
    code=st.sampled_from([CODE, "Z215-WS·2026-D30-DJK-0012"]),
)
def test_archive_key_is_safe_for_any_file_name(file_name: str, sequence: int, code: str) -> None:
    key = archive_key(code, {"file_name": file_name, "sequence": sequence}, SHA)
    series, _ = parse(code)
    prefix = f"{series.fonds_code}/{series.year}/{code}/{sequence:02d}-{SHA}"
    assert key.startswith(prefix)
    extension = key[len(prefix) :]
    assert extension == "" or (extension.startswith(".") and "." not in extension[1:])
    assert "/" not in extension and "\x00" not in extension and extension == extension.lower()


@pytest.mark.parametrize("file_name", ["report.", "dir.v2/README", "报告。.", "a.b\\c"])
def test_archive_key_without_extension(file_name: str) -> None:
    key = archive_key(CODE, {"file_name": file_name, "sequence": 1}, SHA)
    assert key == f"Z109/2011/{CODE}/01-{SHA}"


# --- duplicates (DA/T 70: no duplicates of 文号 + 题名) -----------------------------------------
def test_duplicate_key_names_fonds_year_number_and_title() -> None:
    description: RecordDescription = {
        **request_description(),
        "document_number": " 市建发〔2026〕7号 ",
        "title": "关于印发办法的决定 ",
        "year": 2026,
    }
    assert (
        duplicate_key("Z109-WS·2026-Y-ZFK", description)
        == "duplicate:Z109|2026|市建发〔2026〕7号|关于印发办法的决定"
    )
    # the same number and title in another series of the same fonds and year is the same key
    assert duplicate_key("Z109-WS·2026-D10-BGS", description) == duplicate_key(
        "Z109-WS·2026-Y-ZFK", description
    )
    assert duplicate_key("Z101-WS·2026-Y-ZFK", description) != duplicate_key(
        "Z109-WS·2026-Y-ZFK", description
    )
    assert duplicate_key("Z109-WS·2026-Y-ZFK", {**description, "title": "另一件"}) != duplicate_key(
        "Z109-WS·2026-Y-ZFK", description
    )


def numbered(document_number: str | None) -> RecordDescription:
    return {**request_description(), "document_number": document_number, "title": "t", "year": 2026}


def test_a_record_without_a_document_number_has_no_duplicate_key() -> None:
    assert duplicate_key("Z109-WS·2026-Y-ZFK", numbered(None)) is None
    assert duplicate_key("Z109-WS·2026-Y-ZFK", numbered("  ")) is None


# --- event ids reused for another document; bombs (issue 4) ----------------------------------
def filing(document_id: str, sha256: str, event_id: str = "e-1") -> dict[str, Any]:
    return {"event_id": event_id, "agency": {"code": "bgt"}, "document_id": document_id,
            "action": "FILED",
            "components": [{"sequence": 1, "checksums": [{"algorithm": "SHA256", "value": sha256}]}]}  # fmt: skip


def test_the_same_event_again_claims_what_it_claimed() -> None:
    table: dict[str, Any] = {}
    first = filing("BGT-1", "aa")
    allocation = allocate(table, SERIES[1], "e-1", claim=claim_of(first))
    mark_published(table, "e-1", allocation)
    assert table["event:e-1"]["published"] and table["event:e-1"]["document_id"] == "BGT-1"
    assert conflicting_claim(table["event:e-1"], first) is None
    assert conflicting_claim(table["event:e-1"], filing("BGT-1", "AA")) is None  # digest case


@pytest.mark.parametrize("other", [filing("BGT-2", "aa"), filing("BGT-1", "bb")])
def test_another_document_under_a_known_event_id_conflicts(other: dict[str, Any]) -> None:
    table: dict[str, Any] = {}
    allocate(table, SERIES[1], "e-1", claim=claim_of(filing("BGT-1", "aa")))
    conflict = conflicting_claim(table["event:e-1"], other)
    assert conflict is not None and conflict.reason == "event-id-conflict"
    assert (
        conflict.event_id == "e-1"
        and "'BGT-1'" in conflict.message
        and "item 1" in conflict.message
    )


def test_entries_from_before_claims_conflict_with_nothing() -> None:
    assert conflicting_claim({"n": 3, "published": True, "at": "2026-01-01T00:00:00+00:00"},
                             filing("BGT-9", "cc")) is None  # fmt: skip
    assert conflicting_claim(None, filing("BGT-9", "cc")) is None


def named(file_name: str) -> Component:
    """A file of the realistic event under another name (refuse_bomb reads only the name)."""
    return {**lifecycle_event()["components"][0], "file_name": file_name}


def test_a_compression_bomb_is_refused_with_what_identification_found() -> None:
    info = FormatInfo(None, None, None, None, "ZIP container: 3 entries expand to …", None, False,
                      {}, ("compression-bomb",))  # fmt: skip
    item = Inspected(named("通知.ofd"), cast(Any, None), info, None)
    with pytest.raises(RecordRejected) as caught:
        refuse_bomb(item)
    assert caught.value.reason == "compression-bomb"
    assert caught.value.message == "通知.ofd: ZIP container: 3 entries expand to …"
    refuse_bomb(Inspected(named("a.pdf"), cast(Any, None), replace(info, problems=()), None))


def test_the_register_hop_keeps_the_inputs_own_headers_for_its_dead_letters() -> None:
    from types import SimpleNamespace

    from archival.reference import Series
    from archival.retention import Decision
    from streams.register import origin_from_headers
    from topics.deadletter import Origin
    from topics.register import register_headers

    origin = Origin("ingest.zjj.lifecycle.v1", 2, 41, 1, b"ZJJ-1", b"\x00event",
                    [("ce_id", b"e-1"), ("ce_source", b"/zjj/oa"), ("recordflow.stray", b"x")])  # fmt: skip
    headers = register_headers(Series("Z109", 2026, "D10", "GHK"), Decision("D10", "r"), origin, [])
    assert headers[:2] == [("ce_id", b"e-1"), ("ce_source", b"/zjj/oa")]
    hop = SimpleNamespace(topic="recordflow.register.v1", partition=0, offset=7, timestamp=9.0,
                          key=b"series", value=b"\x00event", headers=headers)  # fmt: skip
    first = origin_from_headers(hop)
    assert (first.topic, first.partition, first.offset, first.key) == (
        "ingest.zjj.lifecycle.v1", 2, 41, b"ZJJ-1")  # fmt: skip
    assert first.headers == [("ce_id", b"e-1"), ("ce_source", b"/zjj/oa")]
