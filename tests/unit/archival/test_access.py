"""When a record opens to the public (archival/access.py, recordflow/access.yaml): 25 years after
its 日期 (or the 1st of January of its 年度), an agency's or a category's years first, at once
for what was public when formed (公告, 通告, 公报, 主动公开), never by the rule for 内部, never at
all for state secrets, and an archivist's 开放鉴定 over the rule except for state secrets."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from archival.access import (
    CONTROLLED,
    NEVER,
    OPEN,
    AccessRules,
    Decision,
    Opening,
    formed_on,
    load_access_rules,
    opening,
)
from recordflow.settings import PACKAGE_DIR
from tests.examples import archival_record

LAW = "《档案法》第二十七条"
RULES = load_access_rules(PACKAGE_DIR / "access.yaml")
SCHEDULED = AccessRules(basis=LAW, default_years=25,
                        category_years={"ZP": 10, "WS": 30}, agency_years={"fgw": 20},
                        controlled_classifications=["内部"],
                        never_shown_classifications=["绝密"])  # fmt: skip
DECIDED_AT = dt.datetime(2026, 3, 9, 10, 30, tzinfo=dt.UTC)
LEAP_DAY = dt.date(2000, 2, 29)


def record(*, agency: str = "zjj", category: str = "WS", marks: list[str] | None = None,
           **description: Any) -> dict[str, Any]:  # fmt: skip
    """archival_record() (a 请示 of zjj, 公开, control mark 限制利用) with `description` changes,
    another agency or category, and other control marks."""
    found: dict[str, Any] = copy.deepcopy(dict(archival_record()))
    found["description"] = {**found["description"], **description}
    found["agency"] = {**found["agency"], "code": agency}
    found["category"] = category
    if marks is not None:
        found["supplementary"] = {**found["supplementary"], "control_marks": marks}
    return found


def decision(access: Any) -> Decision:
    return Decision(access, "无敏感内容", "档案员王五", DECIDED_AT)


# --- years after formation ----------------------------------------------------------------------
def test_a_record_opens_25_years_after_its_date_by_default() -> None:
    found = opening(record(document_date=dt.date(2001, 6, 2)), RULES)
    assert found == Opening(OPEN, dt.date(2026, 6, 2), f"{LAW}: 25 years after it was formed")


def test_open_on_is_false_before_the_day_and_true_from_it() -> None:
    found = opening(record(document_date=dt.date(2001, 6, 2)), RULES)
    assert not found.open_on(dt.date(2026, 6, 1))
    assert found.open_on(dt.date(2026, 6, 2))
    assert found.open_on(dt.date(2040, 1, 1))


def test_29_february_opens_on_28_february_of_a_common_year() -> None:
    assert opening(record(document_date=LEAP_DAY), RULES).opens_on == dt.date(2025, 2, 28)
    twenty = opening(record(agency="fgw", document_date=LEAP_DAY), SCHEDULED)
    assert twenty.opens_on == dt.date(2020, 2, 29)  # a leap year again: the day itself


@pytest.mark.parametrize("no_date", [None, ""])
def test_without_a_date_the_1st_of_january_of_its_year_counts(no_date: Any) -> None:
    found = opening(record(document_date=no_date, year=1999), RULES)
    assert found.opens_on == dt.date(2024, 1, 1)


def test_a_date_given_as_text_counts_as_that_day() -> None:
    day = dt.date(2001, 6, 2)
    assert formed_on({"document_date": "2001-06-02T08:00:00+08:00", "year": 2001}) == day
    assert formed_on({"document_date": day, "year": 1999}) == day


def test_the_agencys_years_come_before_the_categorys_and_those_before_the_default() -> None:
    formed: dict[str, Any] = {"document_date": dt.date(2001, 6, 2)}
    by_agency = opening(record(agency="fgw", category="ZP", **formed), SCHEDULED)
    by_category = opening(record(agency="zjj", category="ZP", **formed), SCHEDULED)
    by_default = opening(record(agency="zjj", category="LY", **formed), SCHEDULED)
    assert (by_agency.opens_on, by_category.opens_on, by_default.opens_on) == (
        dt.date(2021, 6, 2), dt.date(2011, 6, 2), dt.date(2026, 6, 2))  # fmt: skip
    assert by_category.basis == f"{LAW}: 10 years after it was formed"
    assert SCHEDULED.years_for("fgw", "WS") == 20 and SCHEDULED.years_for("zjj", "WS") == 30


def test_the_rules_file_refuses_unknown_keys_and_negative_years() -> None:
    with pytest.raises(ValidationError):
        AccessRules.model_validate({"basis": "x", "default_years": -1})
    with pytest.raises(ValidationError):
        AccessRules.model_validate({"basis": "x", "default_years": 25, "open_years": 10})


# --- public when formed ------------------------------------------------------------------------
@pytest.mark.parametrize("document_type", ["公告", "通告", "公报"])
def test_what_was_published_is_open_from_its_date(document_type: str) -> None:
    formed = dt.date(2026, 5, 20)
    found = opening(record(document_type=document_type, document_date=formed), RULES)
    assert found == Opening(OPEN, formed, f"{document_type}: public when it was formed")


def test_a_record_marked_for_active_disclosure_is_open_from_its_date() -> None:
    formed = dt.date(2026, 5, 20)
    found = opening(record(marks=["限制利用", "主动公开"], document_date=formed), RULES)
    assert found == Opening(OPEN, formed, "主动公开: public when it was formed")


def test_other_control_marks_or_none_leave_the_years() -> None:
    formed, in_25_years = dt.date(2026, 5, 20), dt.date(2051, 5, 20)
    assert opening(record(marks=["限制利用"], document_date=formed), RULES).opens_on == in_25_years
    unmarked = record(document_date=formed)
    unmarked["supplementary"] = None  # records archived before supplementary existed
    assert opening(unmarked, RULES).opens_on == in_25_years


# --- classification --------------------------------------------------------------------------------
@pytest.mark.parametrize("published", [{}, {"document_type": "公告"}, {"marks": ["主动公开"]}])
def test_an_internal_record_is_controlled_even_when_published(published: dict[str, Any]) -> None:
    found = opening(record(security_classification="内部", **published), RULES)
    assert found == Opening(CONTROLLED, None, "密级 内部: open only by 开放鉴定")
    assert not found.open_on(dt.date(2999, 1, 1))


@pytest.mark.parametrize("classification", ["秘密", "机密", "绝密"])
def test_a_state_secret_is_never_shown(classification: str) -> None:
    found = opening(record(security_classification=classification, document_type="公告"), RULES)
    assert found == Opening(NEVER, None, f"密级 {classification}: never shown")
    assert not found.open_on(dt.date(2999, 1, 1))


# --- an archivist's decision ---------------------------------------------------------------------
def test_a_decision_to_open_opens_an_internal_record_from_the_day_decided() -> None:
    found = opening(record(security_classification="内部"), RULES, decision(OPEN))
    assert found == Opening(OPEN, dt.date(2026, 3, 9), "开放鉴定 档案员王五 2026-03-09: 无敏感内容")
    assert found.open_on(dt.date(2026, 3, 9)) and not found.open_on(dt.date(2026, 3, 8))


def test_a_decision_to_open_comes_before_the_years() -> None:
    recent = record(document_date=dt.date(2025, 12, 1))
    assert opening(recent, RULES).opens_on == dt.date(2050, 12, 1)
    assert opening(recent, RULES, decision(OPEN)).opens_on == dt.date(2026, 3, 9)


@pytest.mark.parametrize(
    "opened", [{"document_type": "公告"}, {"document_date": dt.date(1990, 1, 1)}]
)
def test_a_decision_to_control_closes_what_the_rules_open(opened: dict[str, Any]) -> None:
    assert opening(record(**opened), RULES).open_on(dt.date(2026, 6, 1))
    found = opening(record(**opened), RULES, decision(CONTROLLED))
    assert found.status == CONTROLLED and found.opens_on is None
    assert found.basis.startswith("开放鉴定 档案员王五")


def test_no_decision_shows_a_state_secret() -> None:
    found = opening(record(security_classification="绝密"), RULES, decision(OPEN))
    assert found.status == NEVER and found.opens_on is None


def test_the_rules_file_says_what_the_law_and_the_archive_decided() -> None:
    assert RULES.default_years == 25 and RULES.basis == LAW
    assert set(RULES.open_at_formation.document_types) == {"公告", "通告", "公报"}
    assert RULES.open_at_formation.control_marks == ["主动公开"]
    assert RULES.controlled_classifications == ["内部"]
    assert set(RULES.never_shown_classifications) == {"秘密", "机密", "绝密"}
