"""Legacy and digitized records keep the 档号 they come with (issue 15): the register stage never
renumbers them, refuses one already taken, and new records of the same series number around them;
intake takes their period and series from the code; validation refuses a code of another fonds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from archival.metadata import validate_transfer
from archival.retention import LEGACY_RULE, classify, load_schedules
from recordflow.agencies import load_registry
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR
from streams.register import allocate, claim_legacy
from tests.examples import lifecycle_event

SERIES = "Z101-WS·2010-D10-BGS"
REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")
BGT = REGISTRY.by_code["bgt"]


def test_a_legacy_code_is_kept_and_the_series_numbers_around_it() -> None:
    table: dict[str, Any] = {}
    assert allocate(table, SERIES, "new-1").item_number == 1
    kept = claim_legacy(table, f"{SERIES}-0003", "legacy-3")
    assert (kept.item_number, kept.series, kept.fresh) == (3, SERIES, True)
    assert claim_legacy(table, f"{SERIES}-0002", "legacy-2").item_number == 2
    # New records go on from the counter and never take a legacy record's number.
    assert [allocate(table, SERIES, f"new-{n}").item_number for n in (2, 3)] == [4, 5]


def test_a_redelivered_legacy_record_keeps_its_code_even_after_a_torn_write() -> None:
    table: dict[str, Any] = {}
    first = claim_legacy(table, f"{SERIES}-0007", "legacy-7")
    again = claim_legacy(table, f"{SERIES}-0007", "legacy-7")
    assert (again.item_number, again.fresh, again.at) == (7, False, first.at)
    torn: dict[str, Any] = {f"code:{SERIES}-0008": "legacy-8"}  # the entry was never written
    assert claim_legacy(torn, f"{SERIES}-0008", "legacy-8").item_number == 8


@pytest.mark.parametrize("taken_by", ["another legacy record", "a new record"])
def test_a_code_already_taken_is_refused(taken_by: str) -> None:
    table: dict[str, Any] = {}
    if taken_by == "a new record":
        allocate(table, SERIES, "new-1")
        code, whose = f"{SERIES}-0001", "a record numbered here"
    else:
        claim_legacy(table, f"{SERIES}-0009", "legacy-a")
        code, whose = f"{SERIES}-0009", "the record of event legacy-a"
    with pytest.raises(RecordRejected) as refused:
        claim_legacy(table, code, "legacy-b")
    assert refused.value.reason == "reference-code-taken" and whose in refused.value.message


def test_intake_takes_a_legacy_records_period_from_its_code() -> None:
    event = {**lifecycle_event(), "agency": {"code": "bgt", "name": BGT.name},
             "reference_code": "Z101-WS·2010-Y-BGS-0012"}  # fmt: skip
    decision = classify(event, BGT, load_schedules(PACKAGE_DIR / "retention"))
    assert (decision.period, decision.rule_id) == ("Y", LEGACY_RULE)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Z101-WS·2010-D10-BGS-12", "not an archival reference code"),
        ("Z109-WS·2010-D10-BGS-0012", "of fonds Z109, not bgt's Z101"),
        ("Z101-WS·2010-D10-XYZ-0012", "names unit XYZ"),
    ],
)
def test_a_legacy_code_of_another_fonds_or_unit_is_refused(code: str, message: str) -> None:
    with pytest.raises(RecordRejected, match=message) as refused:
        validate_transfer({"reference_code": code}, BGT)
    assert refused.value.reason == "legacy-reference-code-invalid"


def test_a_digitized_copy_names_its_original() -> None:
    copy = {"medium": "digitized", "original_medium": None, "counterpart_code": None,
            "awaiting_counterpart": False}  # fmt: skip
    with pytest.raises(RecordRejected, match="names its original's carrier"):
        validate_transfer({"carrier": copy}, BGT)
    validate_transfer({"carrier": {**copy, "original_medium": "纸质"}}, BGT)
    with pytest.raises(RecordRejected, match="'tape' is not one of electronic, digitized"):
        validate_transfer({"carrier": {**copy, "medium": "tape"}}, BGT)


def test_dates_of_legacy_claims_keep_milliseconds_only() -> None:
    at = dt.datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert claim_legacy({}, f"{SERIES}-0001", "e", now=at).at.microsecond == 123000


def test_a_single_set_agencys_record_never_waits_for_paper() -> None:
    zwfw = REGISTRY.by_code["zwfw"]
    awaiting = {"medium": "electronic", "original_medium": None, "counterpart_code": None,
                "awaiting_counterpart": True}  # fmt: skip
    assert zwfw.single_set and not BGT.single_set
    with pytest.raises(RecordRejected, match="zwfw files single-set") as refused:
        validate_transfer({"carrier": awaiting}, zwfw)
    assert refused.value.reason == "invalid-carrier"
    validate_transfer({"carrier": awaiting}, BGT)  # 双套制: it may wait
