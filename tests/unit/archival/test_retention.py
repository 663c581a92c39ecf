"""Retention classification (archival/retention.py) over the city default schedule
(recordflow/retention/city-default.yaml, 国家档案局令第8号) and the agencies' own schedules: every
rule decides something, every category of the regulation's permanent and fixed-term lists has a
rule, the first match wins, an agency's schedule comes before the city default, conditions read
the issuer, importance signals, business-matter codes, annual documents and relations, an agency's
proposed period is kept only where the schedule allows it, and what no rule decides goes to
review, never to a default."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from archival.retention import (
    PERIODS,
    ArchivedCode,
    Decision,
    Period,
    Rule,
    RuleSet,
    Schedules,
    Undecided,
    classify,
    load_rules,
    load_schedules,
)
from recordflow.agencies import Agency, Unit, load_registry
from recordflow.settings import PACKAGE_DIR

RETENTION = PACKAGE_DIR / "retention"
RULES_FILE = RETENTION / "city-default.yaml"
SCHEDULES = load_schedules(RETENTION)
CITY = SCHEDULES.city
PREFIX = "city-default@2026.3/"
REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")


def agency(code: str) -> Agency:
    found = REGISTRY.get(code)
    assert found is not None, code
    return found


ZJJ = agency("zjj")


def event(
    document_type: str,
    title: str,
    *,
    of: Agency = ZJJ,
    party: str | None = None,
    issuer: str | None = None,
    proposal: str | None = None,
    code: str | None = None,
    relations: Iterable[tuple[str, str]] = (),
    keywords: Iterable[str] = (),
    abstract: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """A lifecycle event as intake decodes it (only what classification reads). The responsible
    party is the filing agency unless given."""
    return {
        "description": {
            "title": title,
            "document_type": document_type,
            "responsible_party": party or of.name,
            "keywords": list(keywords),
            "abstract": abstract,
            "unit_code": "BGS",
            "year": 2026,
        },
        "relations": [
            {"related_id": related, "relation_type": kind, "description": None}
            for related, kind in relations
        ],
        "retention_proposal": proposal,
        "issuer_relation": issuer,
        "business_matter_code": code,
        "absent_elements": [],
        "category": category,
    }


def decide(case: dict[str, Any], of: Agency = ZJJ, **kwargs: Any) -> Decision | Undecided:
    return classify(case, of, SCHEDULES, **kwargs)


def decision(case: dict[str, Any], of: Agency = ZJJ, **kwargs: Any) -> Decision:
    outcome = decide(case, of, **kwargs)
    assert isinstance(outcome, Decision), outcome
    return outcome


def undecided(case: dict[str, Any], of: Agency = ZJJ, **kwargs: Any) -> Undecided:
    outcome = decide(case, of, **kwargs)
    assert isinstance(outcome, Undecided), outcome
    return outcome


@dataclass(frozen=True)
class Case:
    """A realistic document the rule, and no earlier one, decides (filed by zjj, whose own
    schedule decides none of them)."""

    document_type: str
    title: str
    period: Period
    issuer: str | None = None  # None: the responsible party is zjj itself
    code: str | None = None
    relations: tuple[tuple[str, str], ...] = ()
    keywords: tuple[str, ...] = field(default=())
    category: str | None = None  # 门类代码; None: WS

    def event(self, proposal: str | None = None) -> dict[str, Any]:
        return event(
            self.document_type,
            self.title,
            party=None if self.issuer in (None, "self") else "另一机关",
            issuer=self.issuer,
            code=self.code,
            relations=self.relations,
            keywords=self.keywords,
            proposal=proposal,
            category=self.category,
        )


HIGHER, LOWER, PEER = "higher", "lower", "peer"
REQUEST_CODE = "Z109-WS·2025-Y-ZFK-0012"  # a 请示 archived permanently

# One case per rule of the city default, in the schedule's order: rule id → case.
CASES: dict[str, Case] = {
    "reply-follows-request": Case("批复", "关于同意调整公租房租金标准的批复", "Y", HIGHER,
                                  relations=((REQUEST_CODE, "reply-to"),)),
    "Y-regulation": Case("决定", "关于修改《市住房保障管理办法》的决定", "Y"),
    "D30-forwarded": Case("通知", "关于转发《省住房和城乡建设厅关于加强物业服务管理的意见》的通知", "D30"),
    "Y-regulation-issued": Case("通知", "关于印发《市住房公积金缴存管理办法》的通知", "Y"),
    "Y-important-meeting": Case("会议纪要", "市住房和城乡建设局2026年第3次局务会议纪要", "Y"),
    "Y-major-event": Case("通知", "关于举办2026年城市建设博览会的通知", "Y"),
    "Y-important-request": Case("请示", "关于市轨道交通三号线延伸工程立项的请示", "Y"),
    "Y-important-reply-from-higher": Case("批复", "关于市轨道交通三号线延伸工程可行性研究报告的批复", "Y", HIGHER),
    "Y-annual-own": Case("总结", "市住房和城乡建设局2025年工作总结", "Y"),
    "Y-important-report": Case("报告", "关于重大项目建设推进情况的报告", "Y"),
    "Y-organisation": Case("通知", "关于调整局内设机构的通知", "Y"),
    "Y-property": Case("函", "关于协助办理土地确权登记的函", "Y"),
    "Y-important-contract": Case("合同", "市档案馆新馆重大项目代建合同", "Y"),
    "Y-higher-important": Case("通知", "关于印发全省保障性住房建设规划的通知", "Y", HIGHER),
    "Y-incoming-important": Case("请示", "关于旧城区重大项目用地调整的请示", "Y", LOWER),
    "Y-reply-important": Case("批复", "关于南山区保障性住房建设规划的批复", "Y"),
    "Y-important-business": Case("通知", "关于开展重大事项社会稳定风险评估的通知", "Y"),
    "D10-sub-annual": Case("总结", "市住房和城乡建设局2026年上半年工作总结", "D10"),
    "D30-request": Case("请示", "关于调整公租房租金标准的请示", "D30"),
    "D30-reply-from-higher": Case("批复", "关于同意调整公租房租金标准的批复", "D30", HIGHER),
    "D30-report": Case("报告", "关于老旧小区加装电梯工作进展情况的报告", "D30"),
    "D30-business-matter": Case("通知", "关于开展建筑工地扬尘专项检查的通知", "D30", code="ZJJ-05-01"),
    "D30-business": Case("方案", "住房租赁市场整治工作方案", "D30"),
    "D30-meeting": Case("会议纪要", "物业管理工作协调会会议纪要", "D30"),
    "D30-personnel": Case("通知", "关于2026年公开招聘事业单位工作人员的通知", "D30"),
    "D30-reply-letter": Case("函", "关于对市政协第0123号提案的复函", "D30"),
    "D10-routine": Case("通知", "关于做好2026年春节期间值班工作的通知", "D10"),
    "D30-higher-business": Case("通知", "关于开展全省建筑市场秩序专项检查的通知", "D30", HIGHER,
                                code="ZJJ-05-01"),
    "D30-incoming": Case("函", "关于商请提供住房保障对象名单的函", "D30", PEER),
    "D30-reply-to-lower": Case("批复", "关于同意南山区调整公租房租金标准的批复", "D30"),
    "D10-carry-out": Case("通知", "关于做好全省第五次经济普查工作的通知", "D10", HIGHER),
    "D30-lower-annual": Case("计划", "南山区住房和建设局2026年度工作计划", "D30", LOWER),
    "D30-lower-plan": Case("规划", "南山区住房发展“十五五”规划", "D30", LOWER),
    "D30-lower-special-report": Case("报告", "关于南山区重大项目建设情况的专题报告", "D30", LOWER),
    "Y-media-important": Case("照片", "深南大道夜景（城市记忆拍摄工程）", "Y", category="ZP"),
    "D30-media": Case("录像", "局机关职工趣味运动会", "D30", category="LY"),
}  # fmt: skip


def rule(rule_id: str, rules: RuleSet = CITY) -> Rule:
    (found,) = [candidate for candidate in rules.rules if candidate.id == rule_id]
    return found


def test_rule_set_identity() -> None:
    assert CITY.name == PREFIX.rstrip("/") == "city-default@2026.3"


def test_every_rule_has_a_case() -> None:
    assert [rule.id for rule in CITY.rules] == list(CASES)


@pytest.mark.parametrize(("rule_id", "case"), CASES.items(), ids=list(CASES))
def test_rule_decides(rule_id: str, case: Case) -> None:
    assert decision(case.event()) == Decision(case.period, PREFIX + rule_id)


# --- every category of the regulation ----------------------------------------------------
# 国家档案局令第8号 第七条 (永久) and 第八条 (定期), item by item: the regulation's wording (a phrase
# of it that the rule's description must quote) and the periods it allows.
CATEGORIES: dict[str, tuple[str, tuple[Period, ...]]] = {
    "第七条（一）": ("本机关制定的法规政策性文件材料", ("Y",)),
    "第七条（二）": ("本机关召开重要会议", ("Y",)),
    "第七条（三）": ("本机关职能活动中形成的重要业务文件材料", ("Y",)),
    "第七条（四）": ("本机关关于重要问题的请示", ("Y",)),
    "第七条（五）": ("本机关机构演变、人事任免等文件材料", ("Y",)),
    "第七条（六）": ("本机关房屋买卖、土地征用", ("Y",)),
    "第七条（七）": ("上级机关制发的属于本机关主管业务的重要文件材料", ("Y",)),
    "第七条（八）": ("同级机关、下级机关关于重要业务问题的来函、请示", ("Y",)),
    "第八条（一）": ("本机关职能活动中形成的一般性业务文件材料", ("D30", "D10")),
    "第八条（二）": ("本机关召开会议、举办活动等形成的一般性文件材料", ("D30", "D10")),
    "第八条（三）": ("本机关人事管理工作形成的一般性文件材料", ("D30", "D10")),
    "第八条（四）": ("本机关一般性事务管理文件材料", ("D30", "D10")),
    "第八条（五）": ("本机关关于一般性问题的请示", ("D30", "D10")),
    "第八条（六）": ("上级机关制发的属于本机关主管业务的一般性文件材料", ("D30", "D10")),
    "第八条（七）": (
        "上级机关和同级机关制发的非本机关主管业务但要贯彻执行的文件材料",
        ("D30", "D10"),
    ),
    "第八条（八）": ("同级机关、下级机关关于一般性业务问题的来函、请示", ("D30", "D10")),
    "第八条（九）": ("下级机关报送的年度或年度以上计划", ("D30", "D10")),
}
CLAUSE = re.compile(r"第([七八])条((?:（[一二三四五六七八九]）)+)")


def clauses(basis: str | None) -> set[str]:
    """The categories a rule's `basis` names: 第七条（四）（八） names two."""
    return {
        f"第{article}条{item}"
        for article, items in CLAUSE.findall(basis or "")
        for item in re.findall(r"（.）", items)
    }


def rules_for(category: str) -> list[Rule]:
    return [
        rule for rule in CITY.rules if category in clauses(rule.basis) and rule.period != "related"
    ]


def test_every_rule_names_its_category_of_the_regulation() -> None:
    # 第8号令 is for 文书 (WS) records; a photo or recording rule cites its own standards.
    for each in CITY.rules:
        if each.categories == ["WS"]:
            assert clauses(each.basis) and clauses(each.basis) <= set(CATEGORIES), each.id
        else:
            assert each.basis and "GB/T 11821" in each.basis and not clauses(each.basis), each.id


@pytest.mark.parametrize("category", CATEGORIES, ids=list(CATEGORIES))
def test_category(category: str) -> None:
    """Each category of the regulation's permanent and fixed-term lists has a rule whose
    description quotes it, and its realistic documents get a period the list allows."""
    wording, periods = CATEGORIES[category]
    rules = rules_for(category)
    assert rules, f"no rule of the city default covers {category}"
    assert any(wording in each.description for each in rules), (category, wording)
    for each in rules:
        case = CASES[each.id]
        outcome = decision(case.event())
        assert outcome == Decision(case.period, PREFIX + each.id)
        assert outcome.period in periods, (category, each.id)


# --- the issue's examples (issue 12, "Retention depth") ----------------------------------
HIGHWAY_REQUEST = "关于G4高速公路市区段改扩建项目核准的请示"
HIGHWAY_REPLY = "关于G4高速公路市区段改扩建项目核准的批复"


def test_a_highway_project_approval_request_is_permanent() -> None:
    assert decision(event("请示", HIGHWAY_REQUEST)) == Decision("Y", PREFIX + "Y-important-request")


def test_its_reply_is_permanent_by_its_own_signal_and_by_its_request() -> None:
    reply = event("批复", HIGHWAY_REPLY, party="省发展和改革委员会", issuer="higher")
    assert decision(reply) == Decision("Y", PREFIX + "Y-important-reply-from-higher")
    answering = event("批复", "关于同意G4改扩建项目的批复", party="省发展和改革委员会",
                      issuer="higher", relations=[("Z109-WS·2026-Y-GHK-0003", "reply-to")])  # fmt: skip
    assert decision(answering) == Decision("Y", PREFIX + "reply-follows-request")


def test_a_courts_own_annual_work_report_is_permanent() -> None:
    report = event("报告", "市中级人民法院2025年工作报告", of=agency("fy"))
    assert decision(report, agency("fy")) == Decision("Y", PREFIX + "Y-annual-own")


def test_a_county_bureaus_annual_work_plan_is_fixed_term_not_review() -> None:
    plan = event(
        "计划", "南山区住房和建设局2026年度工作计划", party="南山区住房和建设局", issuer="lower"
    )
    assert decision(plan) == Decision("D30", PREFIX + "D30-lower-annual")
    # The same plan as the bureau's own is its annual plan, kept permanently.
    assert decision(event("计划", "市住房和城乡建设局2026年度工作计划")).period == "Y"


# --- issuer relation ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "party", "rule_id"),
    [
        ("self", "另一机关", "D30-request"),  # the event says so, whatever the party
        (None, "市住房和城乡建设局", "D30-request"),  # the party is the agency: self
        ("lower", None, "D30-incoming"),
        ("peer", None, "D30-incoming"),
        ("higher", None, None),  # a higher authority does not send 请示: no rule
        (None, "南山区住房和建设局", None),  # unknown issuer: no issuer condition accepts it
    ],
)
def test_issuer_relation(issuer: str | None, party: str | None, rule_id: str | None) -> None:
    case = event("请示", "关于调整公租房租金标准的请示", party=party, issuer=issuer)
    outcome = decide(case)
    if rule_id is None:
        assert isinstance(outcome, Undecided)
        assert "issuer " + (issuer or "unknown") in outcome.reason
    else:
        assert outcome == Decision("D30", PREFIX + rule_id)


def test_the_fonds_name_is_the_agency_too() -> None:
    renamed = Agency(code="zjj", name="市住房和城乡建设局", fonds_code="Z109",
                     fonds_name="市住房和城乡建设委员会", units=[Unit(code="BGS", name="办公室")])  # fmt: skip
    case = event("请示", "关于调整公租房租金标准的请示", party="市住房和城乡建设委员会")
    assert decision(case, renamed).rule_id == PREFIX + "D30-request"
    assert isinstance(decide(case, ZJJ), Undecided)  # for zjj as registered, another body


def test_the_same_document_from_each_issuer() -> None:
    """A 通知 on a general matter: the agency's own is routine affairs (D10), a higher authority's
    in its remit is D30, one it only carries out D10."""
    title = "关于开展安全生产大检查的通知"
    assert decision(event("通知", title)).rule_id == PREFIX + "D10-routine"
    higher = event("通知", title, party="省住房和城乡建设厅", issuer="higher")
    assert decision(higher).rule_id == PREFIX + "D10-carry-out"
    in_remit = event("通知", title, party="省住房和城乡建设厅", issuer="higher", code="ZJJ-05-01")
    assert decision(in_remit).rule_id == PREFIX + "D30-higher-business"


# --- importance signals ------------------------------------------------------------------
WORDS = CITY.signals.important_words


@pytest.mark.parametrize("word", WORDS)
def test_each_importance_word_makes_a_request_permanent(word: str) -> None:
    case = event("请示", f"关于申请{word}相关事项的请示")
    assert decision(case) == Decision("Y", PREFIX + "Y-important-request")


@pytest.mark.parametrize(
    "where",
    [{"title": "关于市体育中心项目核准的请示"}, {"keywords": ["体育中心", "核准"]},
     {"abstract": "请求市发改委核准市体育中心建设项目。"}],
    ids=["title", "keyword", "abstract"],
)  # fmt: skip
def test_signals_are_read_in_title_keywords_and_abstract(where: dict[str, Any]) -> None:
    case = event("请示", where.get("title", "关于市体育中心项目的请示"),
                 keywords=where.get("keywords", ()), abstract=where.get("abstract"))  # fmt: skip
    outcome = decision(case)
    assert outcome == Decision("Y", PREFIX + "Y-important-request")
    assert "importance: 核准" in outcome.detail


def test_without_a_signal_a_request_is_general() -> None:
    assert decision(event("请示", "关于市体育中心项目的请示")).period == "D30"


def test_a_near_miss_is_no_signal() -> None:
    """重大 alone is not a signal (重大节日 is a duty roster's word): only the named compounds."""
    case = event("通知", "关于做好重大节日期间值班工作的通知")
    assert decision(case).rule_id == PREFIX + "D10-routine"


@given(
    prefix=st.sampled_from(["关于", "关于申请", "关于报送", "关于市"]),
    word=st.sampled_from(WORDS),
    suffix=st.sampled_from(["的请示", "事项的请示", "工作的请示", "有关问题的请示"]),
)
def test_any_title_with_an_importance_word_makes_a_request_permanent(
    prefix: str, word: str, suffix: str
) -> None:
    assert decision(event("请示", prefix + word + suffix)).period == "Y"


# --- business-matter codes ---------------------------------------------------------------
def test_an_important_business_matter_is_a_signal_for_the_city_categories() -> None:
    """zjj's schedule marks ZJJ-03-02 (立项、核准与规划审查) important; the city default's
    categories then apply: a 请示 on it is permanent, though its title says nothing."""
    case = event("请示", "关于市体育中心项目的请示", code="ZJJ-03-02")
    outcome = decision(case)
    assert outcome == Decision("Y", PREFIX + "Y-important-request")
    assert "business matter ZJJ-03-02" in outcome.detail
    assert decision(event("请示", "关于市体育中心项目的请示", code="ZJJ-05-01")).period == "D30"


def test_a_business_matter_makes_an_own_notice_business_not_affairs() -> None:
    title = "关于开展建筑工地扬尘专项检查的通知"
    assert decision(event("通知", title)).rule_id == PREFIX + "D10-routine"
    assert (
        decision(event("通知", title, code="ZJJ-05-01")).rule_id == PREFIX + "D30-business-matter"
    )


def test_an_unknown_business_matter_code_goes_to_review() -> None:
    outcome = undecided(event("通知", "关于开展建筑工地扬尘专项检查的通知", code="ZJJ-99-99"))
    assert "'ZJJ-99-99' is in no schedule of zjj-schedule@2026.2 or city-default@2026.3" in (
        outcome.reason
    )
    # Another agency's code is unknown to this one's schedules.
    assert isinstance(decide(event("通知", "关于开展检查的通知", of=agency("fy"), code="ZJJ-05-01"),
                             agency("fy")), Undecided)  # fmt: skip


def test_a_rule_on_business_matter_codes(tmp_path: Path) -> None:
    own = RuleSet.model_validate({
        "ruleset": "zjj-test", "version": "1", "agency": "zjj",
        "business_matters": {"ZJJ-07-01": "建设工程消防验收"},
        "rules": [{"id": "Y-fire-acceptance", "period": "Y", "description": "消防验收",
                   "business_matters": ["ZJJ-07-01"]}],
    })  # fmt: skip
    schedules = Schedules(CITY, {"zjj": own})
    case = event("通知", "关于做好2026年春节期间值班工作的通知", code="ZJJ-07-01")
    assert classify(case, ZJJ, schedules) == Decision("Y", "zjj-test@1/Y-fire-acceptance")
    plain = event("通知", "关于做好2026年春节期间值班工作的通知")
    assert classify(plain, ZJJ, schedules) == Decision("D10", PREFIX + "D10-routine")


# --- annual vs routine -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("document_type", "title", "rule_id"),
    [
        ("总结", "市住房和城乡建设局2025年工作总结", "Y-annual-own"),
        ("计划", "市住房和城乡建设局2026年度工作计划", "Y-annual-own"),
        ("计划", "市住房和城乡建设局2026年工作要点", "Y-annual-own"),
        ("报告", "关于市住房和城乡建设局2025年工作情况的报告", "Y-annual-own"),
        ("统计报表", "2025年住房和城乡建设统计年报", "Y-annual-own"),
        ("报告", "市住房和城乡建设局年度工作报告", "Y-annual-own"),
        ("总结", "市住房和城乡建设局2026年第一季度工作总结", "D10-sub-annual"),
        ("计划", "市住房和城乡建设局2026年下半年工作计划", "D10-sub-annual"),
        ("统计报表", "2026年3月份住房保障统计月报", "D10-sub-annual"),
        # A task within a year is not the year's plan; asking for a summary is not one.
        ("计划", "2026年春运保障工作计划", "D30-report"),
        ("报告", "关于老旧小区加装电梯工作进展情况的报告", "D30-report"),
        ("通知", "关于报送2025年度工作总结的通知", "D10-routine"),
    ],
)
def test_the_agencys_own_annual_and_routine_documents(
    document_type: str, title: str, rule_id: str
) -> None:
    assert decision(event(document_type, title)).rule_id == PREFIX + rule_id


@pytest.mark.parametrize(
    ("document_type", "title", "expected"),
    [
        ("计划", "南山区住房和建设局2026年度工作计划", "D30-lower-annual"),
        ("总结", "南山区住房和建设局2025年工作总结", "D30-lower-annual"),
        ("规划", "南山区住房发展“十五五”规划", "D30-lower-plan"),
        ("总结", "南山区住房和建设局2026年第一季度工作总结", None),  # not to be filed (第四条)
    ],
)
def test_a_lower_bodys_annual_documents(
    document_type: str, title: str, expected: str | None
) -> None:
    outcome = decide(event(document_type, title, party="南山区住房和建设局", issuer="lower"))
    if expected is None:
        assert isinstance(outcome, Undecided)
    else:
        assert outcome == Decision("D30", PREFIX + expected)


@given(
    year=st.integers(1990, 2099),
    year_word=st.sampled_from(["年", "年度"]),
    kind=st.sampled_from(["工作总结", "工作计划", "工作报告", "工作要点"]),
    part=st.sampled_from(["", "第一季度", "第二季度", "上半年", "下半年"]),
)
def test_a_title_is_annual_unless_it_names_part_of_the_year(
    year: int, year_word: str, kind: str, part: str
) -> None:
    title = f"市住房和城乡建设局{year}{year_word}{part}{kind}"
    document_type = "总结" if "总结" in kind else "计划" if "计划" in kind else "报告"
    period = decision(event(document_type, title)).period
    if part == "":
        assert period == "Y", title
    elif "季度" in part or "半年" in part:
        assert period == "D10", title


# --- relations: a reply takes the period of the request it answers -----------------------
def no_lookup(agency_code: str, related_id: str) -> str | None:
    raise AssertionError(f"looked up {related_id}: a 档号 says its period itself")


@pytest.mark.parametrize("period", PERIODS)
def test_a_reply_takes_the_period_of_the_request_named_by_its_reference_code(
    period: Period,
) -> None:
    reply = event("批复", "关于同意调整公租房租金标准的批复", party="市人民政府", issuer="higher",
                  relations=[(f"Z109-WS·2025-{period}-ZFK-0012", "reply-to")])  # fmt: skip
    outcome = decision(reply, archived_code=no_lookup)
    assert outcome == Decision(period, PREFIX + "reply-follows-request")
    assert f"Z109-WS·2025-{period}-ZFK-0012" in outcome.detail


def test_a_reply_takes_the_period_of_the_request_the_archive_holds_under_its_document_id() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(agency_code: str, related_id: str) -> str | None:
        asked.append((agency_code, related_id))
        return "Z109-WS·2026-Y-ZFK-0029"

    reply = event("批复", "关于同意南山区调整公租房租金标准的批复",
                  relations=[("NS-2026-0029", "responds-to")])  # fmt: skip
    outcome = decision(reply, archived_code=lookup)
    assert outcome == Decision("Y", PREFIX + "reply-follows-request")
    assert "Z109-WS·2026-Y-ZFK-0029" in outcome.detail and "NS-2026-0029" in outcome.detail
    assert asked == [("zjj", "NS-2026-0029")]


@pytest.mark.parametrize("lookup", [None, lambda agency_code, related_id: None])
def test_an_unknown_request_leaves_the_reply_to_the_other_rules(
    lookup: ArchivedCode | None,
) -> None:
    reply = event("批复", "关于同意南山区调整公租房租金标准的批复",
                  relations=[("NS-2026-0029", "responds-to")])  # fmt: skip
    outcome = decision(reply, archived_code=lookup)
    assert outcome == Decision("D30", PREFIX + "D30-reply-to-lower")


def test_only_reply_relations_of_a_reply_count() -> None:
    cited = event("批复", "关于同意南山区调整公租房租金标准的批复",
                  relations=[(REQUEST_CODE, "references")])  # fmt: skip
    assert decision(cited).rule_id == PREFIX + "D30-reply-to-lower"
    letter = event("函", "关于商请提供住房保障对象名单的函", relations=[(REQUEST_CODE, "reply-to")])
    assert decision(letter).rule_id == PREFIX + "D10-routine"


def test_of_several_requests_the_longest_period() -> None:
    reply = event("批复", "关于同意南山区调整公租房租金标准的批复", relations=[
        ("Z109-WS·2025-D10-ZFK-0001", "reply-to"), ("Z109-WS·2025-Y-ZFK-0002", "reply-to"),
        ("Z109-WS·2025-D30-ZFK-0003", "responds-to")])  # fmt: skip
    assert decision(reply).period == "Y"


def test_the_relation_comes_before_the_replys_own_words() -> None:
    """In the city default the reply follows its request even when its title would say more:
    the pair is kept together (the request was decided, perhaps by archive staff)."""
    reply = event("批复", HIGHWAY_REPLY, party="省发展和改革委员会", issuer="higher",
                  relations=[("Z109-WS·2026-D30-GHK-0003", "reply-to")])  # fmt: skip
    assert decision(reply) == Decision("D30", PREFIX + "reply-follows-request")


def test_an_agency_rule_says_otherwise() -> None:
    own = RuleSet.model_validate({
        "ruleset": "zjj-test", "version": "3", "agency": "zjj",
        "rules": [{"id": "D10-rent-replies", "period": "D10", "description": "租金批复",
                   "document_types": ["批复"], "title_contains": ["租金"]}],
    })  # fmt: skip
    reply = event("批复", "关于同意调整公租房租金标准的批复", party="市人民政府", issuer="higher",
                  relations=[(REQUEST_CODE, "reply-to")])  # fmt: skip
    assert classify(reply, ZJJ, Schedules(CITY, {"zjj": own})) == Decision(
        "D10", "zjj-test@3/D10-rent-replies"
    )


def test_a_lookup_that_answers_no_reference_code_is_a_bug() -> None:
    reply = event("批复", "关于同意南山区调整公租房租金标准的批复",
                  relations=[("NS-2026-0029", "responds-to")])  # fmt: skip
    with pytest.raises(ValueError, match="archived_code gave 'D20'"):
        decide(reply, archived_code=lambda agency_code, related_id: "D20")


reference_codes = st.builds(
    lambda fonds, year, period, unit, item: f"{fonds}-WS·{year}-{period}-{unit}-{item:04d}",
    st.from_regex(r"[A-Z][0-9]{3}", fullmatch=True),
    st.integers(1949, 2099),
    st.sampled_from(PERIODS),
    st.from_regex(r"[A-Z]{2,4}", fullmatch=True),
    st.integers(1, 9999),
)


@given(code=reference_codes, kind=st.sampled_from(["reply-to", "responds-to"]))
def test_any_reference_code_gives_its_period(code: str, kind: str) -> None:
    reply = event("批复", "关于同意调整公租房租金标准的批复", party="市人民政府", issuer="higher",
                  relations=[(code, kind)])  # fmt: skip
    assert decision(reply, archived_code=no_lookup).period == code.split("-")[2]


# --- the agency's proposed period (拟定保管期限) -----------------------------------------
def test_a_proposal_equal_to_the_schedule_is_kept_and_said() -> None:
    outcome = decision(CASES["D30-request"].event(proposal="D30"))
    assert outcome == Decision("D30", PREFIX + "D30-request", proposed="D30")


def test_a_proposal_the_rule_allows_is_kept() -> None:
    outcome = decision(CASES["D30-request"].event(proposal="Y"))
    assert outcome == Decision("Y", PREFIX + "D30-request+proposal", proposed="Y")
    assert "proposal Y" in outcome.detail


def test_a_disputed_proposal_goes_to_review_with_both_periods() -> None:
    outcome = undecided(CASES["D30-request"].event(proposal="D10"))
    assert (outcome.proposed_period, outcome.schedule_period, outcome.schedule_rule_id) == (
        "D10",
        "D30",
        PREFIX + "D30-request",
    )
    assert "proposes D10" in outcome.reason and "gives D30" in outcome.reason


def test_a_proposal_and_no_rule_goes_to_review_showing_the_proposal() -> None:
    outcome = undecided(event("备忘录", "窗口服务工作备忘录", proposal="D10"))
    assert (outcome.proposed_period, outcome.schedule_period, outcome.schedule_rule_id) == (
        "D10",
        None,
        None,
    )
    assert "proposes D10" in outcome.reason


def test_an_agency_schedule_may_allow_a_proposal() -> None:
    request = event("请示", "关于申请老旧小区改造专项资金的请示", proposal="Y")
    assert decision(request) == Decision(
        "Y", "zjj-schedule@2026.2/D30-special-funds+proposal", proposed="Y"
    )


def test_a_proposal_against_a_related_period() -> None:
    reply = event("批复", "关于同意调整公租房租金标准的批复", party="市人民政府", issuer="higher",
                  relations=[(REQUEST_CODE, "reply-to")], proposal="D30")  # fmt: skip
    outcome = undecided(reply)
    assert (outcome.schedule_period, outcome.schedule_rule_id) == (
        "Y",
        PREFIX + "reply-follows-request",
    )


@pytest.mark.parametrize("proposal", PERIODS)
@pytest.mark.parametrize("rule_id", list(CASES))
def test_every_rule_and_proposal(rule_id: str, proposal: Period) -> None:
    """Kept when equal to the rule's period or listed under its `proposable`, else disputed; a
    proposal shorter than the rule's period is never kept."""
    case, deciding = CASES[rule_id], rule(rule_id)
    outcome = decide(case.event(proposal=proposal))
    if proposal == case.period:
        assert outcome == Decision(case.period, PREFIX + rule_id, proposed=proposal)
    elif proposal in deciding.proposable:
        assert outcome == Decision(proposal, PREFIX + rule_id + "+proposal", proposed=proposal)
        assert PERIODS.index(proposal) < PERIODS.index(case.period)
    else:
        assert outcome == Undecided(
            outcome.reason if isinstance(outcome, Undecided) else "",
            proposed_period=proposal,
            schedule_period=case.period,
            schedule_rule_id=PREFIX + rule_id,
        )


def test_an_invalid_proposal_or_issuer_goes_to_review() -> None:
    assert "'D20' is not Y, D30 or D10" in undecided(CASES["D30-request"].event("D20")).reason
    odd = event("请示", "关于调整公租房租金标准的请示", issuer="superior")
    assert "'superior' is not self, higher, lower or peer" in undecided(odd).reason


# --- rule ids name the rule set and its version -----------------------------------------
RULE_ID = re.compile(
    r"(?P<ruleset>[a-z-]+)@(?P<version>[0-9.]+)/(?P<rule>[A-Za-z0-9-]+)(\+proposal)?"
)


@pytest.mark.parametrize("proposal", [None, "Y"])
def test_every_decision_names_rule_set_version_and_rule(proposal: str | None) -> None:
    versions = {rules.ruleset: rules.version for rules in (CITY, *SCHEDULES.agencies.values())}
    for rule_id, case in CASES.items():
        outcome = decide(case.event(proposal=proposal))
        named = outcome if isinstance(outcome, Decision) else None
        if named is None:
            continue
        match = RULE_ID.fullmatch(named.rule_id)
        assert match, named.rule_id
        assert versions[match["ruleset"]] == match["version"]
        assert match["rule"] == rule_id


def test_undecided_names_every_schedule_tried() -> None:
    outcome = undecided(event("备忘录", "窗口服务工作备忘录", of=agency("bdc")), agency("bdc"))
    assert (
        "no rule of bdc-schedule@2026.1 or city-default@2026.3 decides a 备忘录" in outcome.reason
    )
    assert "'窗口服务工作备忘录'" in outcome.reason
    assert str(outcome) == outcome.reason
    assert (outcome.proposed_period, outcome.schedule_period, outcome.schedule_rule_id) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("document_type", "title"),
    [("备忘录", "窗口服务工作备忘录"), ("大事记", "市住房和城乡建设局2025年大事记"), ("", "关于做好值班工作的安排"),
     ("Notice", "Holiday duty")],
)  # fmt: skip
def test_undecided(document_type: str, title: str) -> None:
    assert isinstance(decide(event(document_type, title)), Undecided)


# --- first match wins; agency schedules first --------------------------------------------
@pytest.mark.parametrize(
    ("document_type", "title", "rule_id"),
    [
        # A title word of an earlier Y rule beats the document type of a later fixed-term rule.
        ("通知", "关于不动产登记窗口调整的通知", "Y-property"),
        ("请示", "关于机构设置调整的请示", "Y-organisation"),
        # Both conditions of a rule must hold: minutes of a routine meeting fall through.
        ("会议纪要", "党组会议纪要", "Y-important-meeting"),
        ("会议纪要", "科室例会纪要", "D30-meeting"),
        ("通知", "关于常务会议安排的通知", "D10-routine"),
        # Two Y rules match; the earlier one is named.
        ("决定", "关于任免张某某同志职务的决定", "Y-regulation"),
        ("总结", "关于土地确权工作的2025年工作总结", "Y-annual-own"),
    ],
)
def test_first_match_wins(document_type: str, title: str, rule_id: str) -> None:
    assert decision(event(document_type, title)).rule_id == PREFIX + rule_id


def test_order_of_rules_is_what_decides() -> None:
    case = event("通知", "关于不动产登记窗口调整的通知")
    reordered = CITY.model_copy(update={"rules": list(reversed(CITY.rules))})
    assert decision(case) == Decision("Y", PREFIX + "Y-property")
    assert classify(case, ZJJ, Schedules(reordered, {})) == Decision("D10", PREFIX + "D10-routine")


def test_agency_schedule_overrides_the_city_default() -> None:
    report = event("报告", "关于2026年第一季度不动产登记情况的报告", of=agency("bdc"))
    city_only = classify(report, agency("bdc"), Schedules(CITY, {}))
    assert city_only == Decision("Y", PREFIX + "Y-property")
    assert decision(report, agency("bdc")) == Decision(
        "D30", "bdc-schedule@2026.1/D30-registration-statistics"
    )


def test_agency_schedule_falls_back_to_the_city_default() -> None:
    notice = event("通知", "关于做好春节期间值班工作的通知", of=agency("bdc"))
    assert decision(notice, agency("bdc")).rule_id == PREFIX + "D10-routine"
    assert SCHEDULES.for_agency("fy") == (CITY,)  # no schedule of its own


def test_every_agency_schedule_names_a_registered_agency() -> None:
    assert SCHEDULES.agencies, "the shipped schedules include agency schedules"
    for code, schedule in SCHEDULES.agencies.items():
        assert REGISTRY.get(code) is not None, code
        assert schedule.agency == code


# --- an oracle written from the YAML alone, without the Rule class -----------------------
with RULES_FILE.open(encoding="utf-8") as handle:
    RAW: dict[str, Any] = yaml.safe_load(handle)
RAW_RULES: list[dict[str, Any]] = RAW["rules"]
FY = agency("fy")  # no schedule of its own: the city default alone


def expected(document_type: str, title: str, issuer: str | None) -> tuple[str, str] | None:
    """For an event without relations or business-matter code."""
    important = any(word in title for word in RAW["signals"]["important_words"])
    annual = any(re.search(pattern, title) for pattern in RAW["signals"]["annual_titles"])
    for raw in RAW_RULES:
        checks = [
            document_type in raw.get("document_types", [document_type]),
            any(word in title for word in raw.get("title_contains", [title])),
            issuer in raw.get("issuers", [issuer]),
            raw.get("important", important) == important,
            raw.get("annual", annual) == annual,
            raw.get("business_matter", False) is False,
            not raw.get("business_matters") and not raw.get("relation_types"),
            "WS" in raw.get("categories", ["WS"]),  # the events here name no category: WS
        ]
        if all(checks):
            return raw["period"], PREFIX + raw["id"]
    return None


DOCUMENT_TYPES = sorted({t for raw in RAW_RULES for t in raw.get("document_types", [])})
TITLE_WORDS = sorted({w for raw in RAW_RULES for w in raw.get("title_contains", [])})
titles = st.lists(
    st.sampled_from([*TITLE_WORDS, *RAW["signals"]["important_words"], "2025年工作总结",
                     "2026年度工作计划", "统计年报", "第一季度", "关于", "的", "工作", "会议", "登记"]),
    max_size=5,
).map("".join)  # fmt: skip
issuers = st.sampled_from([None, "self", "higher", "lower", "peer", "unknown"])


def fy_event(document_type: str, title: str, issuer: str | None) -> dict[str, Any]:
    if issuer == "unknown":
        return event(document_type, title, of=FY, party="另一机关")
    return event(document_type, title, of=FY, issuer=issuer)


@given(
    document_type=st.sampled_from([*DOCUMENT_TYPES, "备忘录", "简报", ""]),
    title=titles,
    issuer=issuers,
)
def test_decision_is_the_first_matching_rule(
    document_type: str, title: str, issuer: str | None
) -> None:
    outcome = classify(fy_event(document_type, title, issuer), FY, SCHEDULES)
    want = expected(document_type, title, "self" if issuer is None else issuer)
    if want is None:
        assert isinstance(outcome, Undecided)
    else:
        assert isinstance(outcome, Decision)
        assert (outcome.period, outcome.rule_id) == want


@given(
    document_type=st.sampled_from(DOCUMENT_TYPES),
    title=titles,
    issuer=issuers,
    word=st.sampled_from(WORDS),
)
def test_an_importance_signal_never_shortens_the_period(
    document_type: str, title: str, issuer: str | None, word: str
) -> None:
    plain = classify(fy_event(document_type, title, issuer), FY, SCHEDULES)
    signalled = classify(fy_event(document_type, title + word, issuer), FY, SCHEDULES)
    if isinstance(plain, Decision) and isinstance(signalled, Decision):
        assert PERIODS.index(signalled.period) <= PERIODS.index(plain.period)


# --- the rule set as data ----------------------------------------------------------------
def test_rule_without_condition_is_refused() -> None:
    with pytest.raises(ValidationError, match="no condition"):
        Rule(id="everything", period="D10", description="matches all")
    with pytest.raises(ValidationError, match="no condition"):
        Rule(id="proposals", period="D10", description="x", proposable=["Y"])


@pytest.mark.parametrize(
    "condition",
    [{"issuers": ["lower"]}, {"important": False}, {"business_matter": True}, {"annual": True},
     {"relation_types": ["attachment-of"]}, {"business_matters": ["ZJJ-01-01"]}],
)  # fmt: skip
def test_any_one_condition_is_enough(condition: dict[str, Any]) -> None:
    Rule.model_validate({"id": "r", "period": "D10", "description": "x", **condition})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"period": "D20", "document_types": ["函"]}, "period"),
        ({"period": "D10", "issuers": ["superior"]}, "issuers"),
        ({"period": "D10", "relation_types": ["answers"]}, "relation_types"),
        ({"period": "related", "document_types": ["批复"]}, "name relation_types"),
        ({"period": "D30", "document_types": ["请示"], "proposable": ["D30"]}, "its own period"),
        ({"period": "D30", "document_type": ["请示"]}, "document_type"),  # a typo is no key
    ],
)
def test_a_bad_rule_is_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Rule.model_validate({"id": "r", "description": "x", **rule})


def rule_set(**extra: Any) -> dict[str, Any]:
    return {"ruleset": "t", "version": "1", "rules": [
        {"id": "D10-x", "period": "D10", "description": "x", "document_types": ["函"]}], **extra}  # fmt: skip


def test_a_bad_rule_set_is_refused() -> None:
    with pytest.raises(ValidationError, match="ZJJ-09-09 are not declared"):
        RuleSet.model_validate(rule_set(signals={"important_business_matters": ["ZJJ-09-09"]}))
    coded = rule_set()
    coded["rules"].append(
        {"id": "Y-x", "period": "Y", "description": "x", "business_matters": ["A"]}
    )
    with pytest.raises(ValidationError, match="A are not declared"):
        RuleSet.model_validate(coded)
    twice = rule_set()
    twice["rules"].append(dict(twice["rules"][0]))
    with pytest.raises(ValidationError, match="duplicate rule id"):
        RuleSet.model_validate(twice)
    with pytest.raises(ValidationError, match="no regular expression"):
        RuleSet.model_validate(rule_set(signals={"annual_titles": ["(年度"]}))
    with pytest.raises(ValidationError, match="signal"):
        RuleSet.model_validate(rule_set(signal={}))


def test_agency_rule_set_loads(tmp_path: Path) -> None:
    path = tmp_path / "zjj.yaml"
    path.write_text(
        "ruleset: zjj\nversion: '1'\nrules:\n"
        "  - {id: Y-plan, period: Y, description: 规划, title_contains: [城市更新]}\n",
        "utf-8",
    )
    rules = load_rules(path)
    assert isinstance(rules, RuleSet)
    only = Schedules(rules, {})
    assert classify(event("函", "城市更新专项规划"), ZJJ, only) == Decision("Y", "zjj@1/Y-plan")
    assert isinstance(classify(event("函", "其他"), ZJJ, only), Undecided)


def write_schedules(directory: Path, own: str) -> None:
    (directory / "city-default.yaml").write_text(RULES_FILE.read_text("utf-8"), "utf-8")
    (directory / "zjj.yaml").write_text(own, "utf-8")


def test_schedule_file_must_name_its_agency(tmp_path: Path) -> None:
    write_schedules(tmp_path, "ruleset: zjj\nagency: bdc\nversion: '1'\nrules:\n"
                    "  - {id: Y-plan, period: Y, description: 规划, title_contains: [城市更新]}\n")  # fmt: skip
    with pytest.raises(ValueError, match="agency: zjj"):
        load_schedules(tmp_path)


def test_annual_rules_need_annual_patterns(tmp_path: Path) -> None:
    own = ("ruleset: zjj\nagency: zjj\nversion: '1'\nrules:\n"
           "  - {id: Y-annual, period: Y, description: 年度, annual: true}\n")  # fmt: skip
    write_schedules(tmp_path, own)
    assert load_schedules(tmp_path).agencies["zjj"].rules[0].annual  # the city's patterns count
    city = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    city["signals"]["annual_titles"] = []
    (tmp_path / "city-default.yaml").write_text(yaml.safe_dump(city, allow_unicode=True), "utf-8")
    with pytest.raises(ValueError, match="no annual_titles"):
        load_schedules(tmp_path)


def test_a_photo_is_decided_by_a_photo_rule_never_a_document_rule() -> None:
    # 重大项目 makes a WS record permanent by Y-major-event; a photo of it is a ZP record.
    photo = event("照片", "前海重大项目开工仪式", category="ZP")
    assert decision(photo).rule_id == PREFIX + "Y-media-important"
    report = event("报告", "局机关职工趣味运动会情况的报告")
    assert decision(report).rule_id != PREFIX + "D30-media"


def test_a_rule_may_name_only_its_categories() -> None:
    rule = Rule(id="r", period="D30", description="d", categories=["ZP"])
    assert rule.categories == ["ZP"]
    with pytest.raises(ValidationError, match="no condition"):
        Rule(id="r", period="D30", description="d")
