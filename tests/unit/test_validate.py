"""Validation of decoded lifecycle events (streams/validate.py): every rule has an input that
passes it and one that breaks it with the exact reason code."""

from __future__ import annotations

import copy
import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recordflow.agencies import Agency, load_registry
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR
from streams.validate import (
    EARLIEST_YEAR,
    MAX_TITLE_CHARS,
    agency_for_topic,
    validate_components,
    validate_description,
    validate_event,
)

REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")
TODAY = dt.date(2026, 6, 30)
STAGING = "staging"
MAX_FILE_BYTES = 10_000
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def agency(code: str = "bgt") -> Agency:
    found = REGISTRY.get(code)
    assert found is not None
    return found


def description(**changes: Any) -> dict[str, Any]:
    return {
        "title": "关于做好2026年春节期间值班工作的通知",
        "document_number": "市府办发〔2026〕3号",
        "responsible_party": "市人民政府办公厅",
        "document_date": dt.date(2026, 1, 20),
        "document_type": "通知",
        "security_classification": "公开",
        "urgency": None,
        "keywords": ["值班"],
        "abstract": None,
        "unit_code": "BGS",
        "year": 2026,
        "page_count": 1,
        "language": "zh",
        **changes,
    }


def component(sequence: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "is_main": sequence == 1,
        "title": None,
        "file_name": f"{sequence:02d}.pdf",
        "mime_type": "application/pdf",
        "size_bytes": 1234,
        "checksums": [{"algorithm": "SHA256", "value": SHA256}],
        "payload": {
            "bucket": STAGING,
            "key": f"bgt/upload-1/{sequence:02d}.pdf",
            "version_id": None,
            "inline_content": None,
        },
        **changes,
    }


def event(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": "0b8e3c59-6f7a-5d4e-8c1b-2a3f4e5d6c7b",
        "action": "FILED",
        "event_time": dt.datetime(2026, 1, 21, 9, 30, tzinfo=dt.UTC),
        "agency": {"code": "bgt", "name": "市人民政府办公厅"},
        "document_id": "BGT-2026-0003",
        "upload_id": "upload-1",
        "source_system": "OA",
        "actor": None,
        "description": description(),
        "components": [component(1), component(2)],
        **changes,
    }


def check(candidate: dict[str, Any], owner: str = "bgt") -> None:
    validate_event(
        candidate,
        agency(owner),
        REGISTRY,
        max_file_bytes=MAX_FILE_BYTES,
        staging_bucket=STAGING,
        today=TODAY,
    )


def reason_of(candidate: dict[str, Any], owner: str = "bgt") -> str:
    with pytest.raises(RecordRejected) as caught:
        check(candidate, owner)
    return caught.value.reason


def test_the_reference_event_passes() -> None:
    check(event())


# --- description -------------------------------------------------------------------------
# (rule, description changes that pass it, description changes that break it, reason)
DESCRIPTION_RULES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("title", {"title": "题"}, {"title": "   "}, "missing-title"),
    ("title-none", {"title": "题"}, {"title": None}, "missing-title"),
    ("responsible", {"responsible_party": "办公厅"}, {"responsible_party": ""},
     "missing-responsible-party"),
    ("document-type", {"document_type": "函"}, {"document_type": " "}, "missing-document-type"),
    ("unit", {"unit_code": "MSK"}, {"unit_code": ""}, "missing-unit"),
    ("stray-title", {"title": "第一行\n第二行\t续"}, {"title": "通知\x00"}, "stray-characters"),
    ("stray-party", {"responsible_party": "办公厅"}, {"responsible_party": "办公厅\x1b"},
     "stray-characters"),
    ("stray-number", {"document_number": "〔2026〕3号"}, {"document_number": "〔2026〕\ufffd号"},
     "stray-characters"),
    ("stray-abstract", {"abstract": "摘要\n第二段"}, {"abstract": "摘要\x7f"}, "stray-characters"),
    ("nfc-title", {"title": "Caf\u00e9"}, {"title": "Cafe\u0301"}, "not-normalized"),
    ("nfc-abstract", {"abstract": "\u00c5"}, {"abstract": "A\u030a"}, "not-normalized"),
    ("title-length", {"title": "题" * MAX_TITLE_CHARS}, {"title": "题" * (MAX_TITLE_CHARS + 1)},
     "title-too-long"),
    ("unit-known", {"unit_code": "DCS"}, {"unit_code": "GHK"}, "unknown-unit"),
    ("future-date", {"document_date": TODAY}, {"document_date": TODAY + dt.timedelta(days=1)},
     "future-date"),
    ("year-earliest", {"year": EARLIEST_YEAR, "document_date": dt.date(EARLIEST_YEAR, 10, 1)},
     {"year": EARLIEST_YEAR - 1, "document_date": dt.date(EARLIEST_YEAR - 1, 10, 1)},
     "invalid-year"),
    ("year-future", {"year": TODAY.year}, {"year": TODAY.year + 1}, "invalid-year"),
    ("year-before-date", {"year": 2026, "document_date": dt.date(2025, 12, 31)},
     {"year": 2025, "document_date": dt.date(2026, 1, 2)}, "invalid-year"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("passes", "breaks", "reason"),
    [rule[1:] for rule in DESCRIPTION_RULES],
    ids=[rule[0] for rule in DESCRIPTION_RULES],
)
def test_description_rule(passes: dict[str, Any], breaks: dict[str, Any], reason: str) -> None:
    check(event(description=description(**passes)))
    assert reason_of(event(description=description(**breaks))) == reason


def test_description_rules_report_the_validate_stage() -> None:
    with pytest.raises(RecordRejected) as caught:
        validate_description(description(title=""), agency(), today=TODAY)
    assert caught.value.stage == "validate"
    assert "title" in caught.value.message


def test_first_broken_rule_decides() -> None:
    # Empty title and an unknown unit: the required-element check comes first.
    assert reason_of(event(description=description(title="", unit_code="XXX"))) == "missing-title"


def test_today_defaults_to_the_real_date() -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(RecordRejected, match="in the future") as caught:
        validate_description(description(document_date=tomorrow, year=tomorrow.year), agency())
    assert caught.value.reason == "future-date"


STRAY = st.sampled_from(
    [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] + ["\x7f", "\ufffd"]
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() and "\ufffd" not in text)


@given(
    field=st.sampled_from(["title", "responsible_party", "document_number", "abstract"]),
    text=TEXT,
    stray=STRAY,
    at=st.integers(min_value=0),
)
def test_any_stray_character_is_rejected(field: str, text: str, stray: str, at: int) -> None:
    text = unicodedata.normalize("NFC", text)
    position = at % (len(text) + 1)
    value = text[:position] + stray + text[position:]
    with pytest.raises(RecordRejected) as caught:
        validate_description(description(**{field: value}), agency(), today=TODAY)
    assert caught.value.reason == "stray-characters"


@given(title=TEXT, abstract=st.none() | TEXT)
def test_printable_normalized_metadata_passes(title: str, abstract: str | None) -> None:
    title = unicodedata.normalize("NFC", title)
    abstract = abstract and unicodedata.normalize("NFC", abstract)
    validate_description(description(title=title, abstract=abstract), agency(), today=TODAY)


@given(
    year=st.integers(min_value=1800, max_value=2100),
    document_year=st.integers(min_value=1800, max_value=2100),
)
def test_year_rule(year: int, document_year: int) -> None:
    candidate = description(year=year, document_date=dt.date(document_year, 1, 1))
    valid = EARLIEST_YEAR <= year <= TODAY.year and document_year <= year
    if valid:
        validate_description(candidate, agency(), today=TODAY)
        return
    with pytest.raises(RecordRejected) as caught:
        validate_description(candidate, agency(), today=TODAY)
    assert caught.value.reason in ("invalid-year", "future-date")
    if document_year <= TODAY.year:
        assert caught.value.reason == "invalid-year"


@pytest.mark.parametrize("code", [a.code for a in REGISTRY.agencies])
def test_units_are_checked_against_the_agencys_own_list(code: str) -> None:
    owner = agency(code)
    for unit in owner.units:
        validate_description(description(unit_code=unit.code), owner, today=TODAY)
    foreign = {u.code for a in REGISTRY.agencies for u in a.units} - {u.code for u in owner.units}
    for unit_code in foreign:
        with pytest.raises(RecordRejected) as caught:
            validate_description(description(unit_code=unit_code), owner, today=TODAY)
        assert caught.value.reason == "unknown-unit"


# --- agency ------------------------------------------------------------------------------
def test_unknown_agency() -> None:
    check(event())
    stranger = event(agency={"code": "swj", "name": "市水务局"})
    assert reason_of(stranger) == "unknown-agency"


def test_agency_mismatch() -> None:
    components = [component(1, payload={**component(1)["payload"], "key": "zjj/u/01.pdf"})]
    check(
        event(
            agency={"code": "zjj", "name": "市住房和城乡建设局"},
            components=components,
            description=description(unit_code="BGS"),
        ),
        owner="zjj",
    )
    assert reason_of(event(agency={"code": "zjj", "name": "市住房和城乡建设局"})) == (
        "agency-mismatch"
    )


@pytest.mark.parametrize("prefix", ["", "t0a1b2c3."])
def test_agency_for_topic(prefix: str) -> None:
    for registered in REGISTRY.agencies:
        topic = f"{prefix}ingest.{registered.code}.lifecycle.v1"
        assert agency_for_topic(topic, REGISTRY, prefix) == registered


@pytest.mark.parametrize(
    "topic",
    [
        "ingest.swj.lifecycle.v1",  # not registered
        "ingest.bgt.lifecycle.v2",
        "ingest.bgt.lifecycle.v1.extra",
        "records.catalog.v1",
        "ingest..lifecycle.v1",
        "ingest.BGT.lifecycle.v1",
        "x.ingest.bgt.lifecycle.v1",  # prefix not declared
        "",
    ],
)
def test_agency_for_topic_rejects(topic: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        agency_for_topic(topic, REGISTRY)
    assert caught.value.reason == "unknown-topic"


# --- components --------------------------------------------------------------------------
def with_payload(**changes: Any) -> dict[str, Any]:
    base = component(1)
    return {**base, "payload": {**base["payload"], **changes}}


Mutation = Callable[[], list[dict[str, Any]]]
# (rule, components that pass it, components that break it, reason)
COMPONENT_RULES: list[tuple[str, Mutation, Mutation, str]] = [
    ("content", lambda: [component(1)], lambda: [], "no-content"),
    ("one-main", lambda: [component(1), component(2)],
     lambda: [component(1), component(2, is_main=True)], "main-document"),
    ("a-main", lambda: [component(1)], lambda: [component(1, is_main=False)], "main-document"),
    ("sequence", lambda: [component(2, is_main=False), component(1)],
     lambda: [component(1), component(3)], "component-sequence"),
    ("sequence-dup", lambda: [component(1), component(2)],
     lambda: [component(1), component(1, is_main=False)], "component-sequence"),
    ("size-max", lambda: [component(1, size_bytes=MAX_FILE_BYTES)],
     lambda: [component(1, size_bytes=MAX_FILE_BYTES + 1)], "size-limit"),
    ("size-min", lambda: [component(1, size_bytes=0)], lambda: [component(1, size_bytes=-1)],
     "size-limit"),
    ("sha256", lambda: [component(1, checksums=[{"algorithm": "SM3", "value": "ab"},
                                                {"algorithm": "SHA256", "value": SHA256}])],
     lambda: [component(1, checksums=[{"algorithm": "SM3", "value": "ab"}])], "missing-checksum"),
    ("bucket", lambda: [with_payload(bucket=STAGING)], lambda: [with_payload(bucket="archive")],
     "payload-outside-staging"),
    ("prefix", lambda: [with_payload(key="bgt/x/01.pdf")], lambda: [with_payload(key="zjj/x/01.pdf")],
     "payload-outside-staging"),
    ("prefix-boundary", lambda: [with_payload(key="bgt/01.pdf")],
     lambda: [with_payload(key="bgtx/01.pdf")], "payload-outside-staging"),
    ("no-key", lambda: [with_payload(bucket=None, key=None, inline_content=b"%PDF")],
     lambda: [with_payload(key=None)], "payload-outside-staging"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("passes", "breaks", "reason"),
    [rule[1:] for rule in COMPONENT_RULES],
    ids=[rule[0] for rule in COMPONENT_RULES],
)
def test_component_rule(passes: Mutation, breaks: Mutation, reason: str) -> None:
    check(event(components=passes()))
    assert reason_of(event(components=breaks())) == reason


@given(order=st.permutations(range(1, 6)), main=st.integers(min_value=1, max_value=5))
def test_any_order_of_sequences_one_to_n_passes(order: list[int], main: int) -> None:
    components = [component(n, is_main=n == main) for n in order]
    validate_components(components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING)


@given(sequences=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=6))
def test_sequences_other_than_one_to_n_fail(sequences: list[int]) -> None:
    components = [component(n, is_main=i == 0) for i, n in enumerate(sequences)]
    if sorted(sequences) == list(range(1, len(sequences) + 1)):
        validate_components(
            components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING
        )
        return
    with pytest.raises(RecordRejected) as caught:
        validate_components(
            components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING
        )
    assert caught.value.reason == "component-sequence"


def test_validation_does_not_change_the_event() -> None:
    original = event()
    candidate = copy.deepcopy(original)
    check(candidate)
    assert candidate == original
