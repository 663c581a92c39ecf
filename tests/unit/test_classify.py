"""Retention classification (streams/classify.py) over the city default schedule
(recordflow/retention/city-default.yaml) and the agencies' own schedules: every rule decides
something, first match wins, an agency's schedule comes before the city default, and what no rule
decides is rejected, never defaulted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR
from streams.classify import (
    Decision,
    Period,
    Rule,
    RuleSet,
    classify,
    load_rules,
    load_schedules,
)

RULES_FILE = PACKAGE_DIR / "retention" / "city-default.yaml"
RULES = load_rules(RULES_FILE)
PREFIX = "city-default@2026.1/"

# One description per rule that the rule, and no earlier one, decides: rule id → (文种, 题名, period)
DECIDED: dict[str, tuple[str, str, Period]] = {
    "Y-regulation": ("决定", "关于印发《市住房保障管理办法》的决定", "Y"),
    "Y-plan": ("报告", "市住房和城乡建设局2025年度工作总结", "Y"),
    "Y-important-meeting": ("会议纪要", "市政府第十二次常务会议纪要", "Y"),
    "Y-property": ("函", "关于协助办理土地确权登记的函", "Y"),
    "Y-organisation": ("通知", "关于张某某同志任职的通知", "Y"),
    "D30-request-reply": ("请示", "关于申请老旧小区改造专项资金的请示", "D30"),
    "D30-report": ("报告", "关于城中村综合整治工作进展的报告", "D30"),
    "D10-routine": ("通知", "关于做好2026年春节期间值班工作的通知", "D10"),
}


def description(document_type: str, title: str) -> dict[str, Any]:
    return {"document_type": document_type, "title": title, "unit_code": "BGS", "year": 2026}


def test_rule_set_identity() -> None:
    assert (RULES.ruleset, RULES.version) == ("city-default", "2026.1")


def test_every_rule_has_a_case() -> None:
    assert [rule.id for rule in RULES.rules] == list(DECIDED)


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES.rules]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("rule_id", "case"), DECIDED.items(), ids=list(DECIDED))
def test_rule_decides(rule_id: str, case: tuple[str, str, Period]) -> None:
    document_type, title, period = case
    assert classify(description(document_type, title), RULES) == Decision(period, PREFIX + rule_id)


@pytest.mark.parametrize(
    ("document_type", "title"),
    [
        ("备忘录", "窗口服务工作备忘录"),
        ("纪要", "科室工作纪要"),
        ("", "关于做好值班工作的安排"),
        ("Notice", "Holiday duty"),
    ],
)
def test_undecided(document_type: str, title: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        classify(description(document_type, title), RULES)
    assert caught.value.reason == "retention-undecided"
    assert caught.value.stage == "classify"
    assert "city-default@2026.1" in caught.value.message


@pytest.mark.parametrize(
    ("document_type", "title", "rule_id"),
    [
        # A title word of an earlier Y rule beats the document type of a later fixed-term rule.
        ("通知", "关于不动产登记窗口调整的通知", "Y-property"),
        ("请示", "关于机构设置调整的请示", "Y-organisation"),
        ("报告", "2025年统计年报", "Y-plan"),
        # Both conditions of a rule must hold: minutes of a routine meeting fall through.
        ("会议纪要", "党组会议纪要", "Y-important-meeting"),
        ("会议纪要", "科室例会纪要", "D30-report"),
        ("通知", "关于常务会议安排的通知", "D10-routine"),
        # Two Y rules match; the earlier one is named.
        ("决定", "关于任免张某某同志职务的决定", "Y-regulation"),
        ("报告", "关于土地确权工作的年度工作总结", "Y-plan"),
    ],
)
def test_first_match_wins(document_type: str, title: str, rule_id: str) -> None:
    assert classify(description(document_type, title), RULES).rule_id == PREFIX + rule_id


def test_order_of_rules_is_what_decides() -> None:
    case = description("通知", "关于不动产登记窗口调整的通知")
    reordered = RULES.model_copy(update={"rules": list(reversed(RULES.rules))})
    assert classify(case, RULES) == Decision("Y", PREFIX + "Y-property")
    assert classify(case, reordered) == Decision("D10", PREFIX + "D10-routine")


# An oracle written from the YAML alone, without the Rule class.
with RULES_FILE.open(encoding="utf-8") as handle:
    RAW_RULES: list[dict[str, Any]] = yaml.safe_load(handle)["rules"]
DOCUMENT_TYPES = sorted({t for rule in RAW_RULES for t in rule.get("document_types", [])})
WORDS = sorted({w for rule in RAW_RULES for w in rule.get("title_contains", [])})


def expected(document_type: str, title: str) -> tuple[str, str] | None:
    for rule in RAW_RULES:
        if rule.get("document_types") and document_type not in rule["document_types"]:
            continue
        if rule.get("title_contains") and not any(w in title for w in rule["title_contains"]):
            continue
        return rule["period"], PREFIX + rule["id"]
    return None


@given(
    document_type=st.sampled_from([*DOCUMENT_TYPES, "备忘录", "纪要", "简报", ""]),
    title=st.lists(
        st.sampled_from([*WORDS, "关于", "的", "工作", "会议", "规划", "登记"]), max_size=5
    ).map("".join),
)
def test_decision_is_the_first_matching_rule(document_type: str, title: str) -> None:
    case = description(document_type, title)
    want = expected(document_type, title)
    if want is None:
        with pytest.raises(RecordRejected) as caught:
            classify(case, RULES)
        assert caught.value.reason == "retention-undecided"
    else:
        decision = classify(case, RULES)
        assert (decision.period, decision.rule_id) == want


# --- the rule set as data ----------------------------------------------------------------
def test_rule_without_condition_is_refused() -> None:
    with pytest.raises(ValidationError, match="no condition"):
        Rule(id="everything", period="D10", description="matches all")


def test_unknown_period_is_refused() -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(
            {"id": "D20", "period": "D20", "description": "x", "document_types": ["函"]}
        )


def test_agency_rule_set_loads(tmp_path: Path) -> None:
    path = tmp_path / "zjj.yaml"
    path.write_text(
        "ruleset: zjj\nversion: '1'\nrules:\n"
        "  - {id: Y-plan, period: Y, description: 规划, title_contains: [城市更新]}\n",
        "utf-8",
    )
    rules = load_rules(path)
    assert isinstance(rules, RuleSet)
    assert classify(description("函", "城市更新专项规划"), rules) == Decision("Y", "zjj@1/Y-plan")
    with pytest.raises(RecordRejected):
        classify(description("函", "其他"), rules)


SCHEDULES = load_schedules(PACKAGE_DIR / "retention")


def test_every_agency_schedule_names_a_registered_agency() -> None:
    from recordflow.agencies import load_registry

    registry = load_registry(PACKAGE_DIR / "agencies.yaml")
    assert SCHEDULES.agencies, "the shipped schedules include agency schedules"
    for code, schedule in SCHEDULES.agencies.items():
        assert registry.get(code) is not None, code
        assert schedule.agency == code


def test_agency_schedule_overrides_the_city_default() -> None:
    report = description("报告", "关于2026年第一季度不动产登记情况的报告")
    assert classify(report, SCHEDULES.city).rule_id == PREFIX + "Y-property"
    decision = classify(report, *SCHEDULES.for_agency("bdc"))
    assert decision == Decision("D30", "bdc-schedule@2026.1/D30-registration-statistics")


def test_agency_schedule_falls_back_to_the_city_default() -> None:
    notice = description("通知", "关于做好春节期间值班工作的通知")
    assert classify(notice, *SCHEDULES.for_agency("bdc")).rule_id == PREFIX + "D10-routine"
    assert SCHEDULES.for_agency("fy") == (SCHEDULES.city,)  # no schedule of its own


def test_undecided_names_every_schedule_tried() -> None:
    with pytest.raises(RecordRejected) as caught:
        classify(description("备忘录", "窗口服务工作备忘录"), *SCHEDULES.for_agency("zjj"))
    assert "zjj-schedule@2026.1 or city-default@2026.1" in caught.value.message


def test_schedule_file_must_name_its_agency(tmp_path: Path) -> None:
    (tmp_path / "city-default.yaml").write_text(RULES_FILE.read_text("utf-8"), "utf-8")
    (tmp_path / "zjj.yaml").write_text(
        "ruleset: zjj\nagency: bdc\nversion: '1'\nrules:\n"
        "  - {id: Y-plan, period: Y, description: 规划, title_contains: [城市更新]}\n",
        "utf-8",
    )
    with pytest.raises(ValueError, match="agency: zjj"):
        load_schedules(tmp_path)
