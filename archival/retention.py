"""Retention classification (国家档案局令第8号): a rule engine over YAML retention schedules.

Each agency may have its own schedule (归档范围和保管期限表, `recordflow/retention/<agency>.yaml`)
that is tried before the city default (`city-default.yaml`). Within a schedule rules are tried in
order and the first match decides; the decision names its rule, schedule and version so that an
archivist can see why a record is kept as long as it is. What no rule decides goes to review.

A rule's conditions (every one optional, all of a rule's must hold, a rule needs at least one):
- `document_types`: the 文种 is one of these;
- `title_contains`: the 题名 contains one of these words;
- `issuers`: who issued it, relative to the filing agency (self 本机关, higher 上级机关, lower 下级
  机关, peer 同级或不相隶属机关): the event's `issuer_relation`, or self when it is null and the
  responsible party (责任者) is the agency's name or its fonds' name; otherwise unknown, which no
  `issuers` condition accepts;
- `important: true|false`: the document shows (or shows none of) the importance signals
  (重要性标志) the schedules name: a word in its title, keywords or abstract, or a business-matter
  code (业务事项) the schedule marks important;
- `business_matters`: its business-matter code is one of these; `business_matter: true|false`:
  it carries (or does not carry) a code of the agency's schedule at all (本机关主管业务);
- `annual: true|false`: its title names (or does not name) a whole year's plan, summary, report or
  statistics (年度工作计划/总结/报告), by the schedules' `annual_titles` patterns;
- `relation_types`: it has a relation of one of these types (reply-to, responds-to …);
- `categories`: its archive category (门类代码: WS, ZP, LY) is one of these. A rule that does not
  say is a rule for WS (文书) records: the schedules of 国家档案局令第8号 are written for them, and
  a photo titled 重大项目 must not be kept by a 文书 rule.

The signals (importance words and codes, annual patterns, declared business matters) of every
schedule tried count for all of them: an agency's schedule may say which of its business matters
are important, and the city default's categories (重要/一般) then apply to them.

A rule gives a period (Y, D30, D10) or `related`: the period of the record this one replies to — a
批复 takes the period of the 请示 it answers. The related record's period is read from its 档号:
the relation's own when it names one, else the one the caller's `archived_code` lookup finds for
the agency's document id; when neither is known, the rule does not match and the next is tried.

An agency may propose a period (拟定保管期限). A proposal equal to the decided period, or one the
deciding rule lists under `proposable`, is kept (the decision says so); any other is a
disagreement that archive staff settle, with both periods shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from archival.reference import CATEGORY_WS, category_of, parse
from recordflow.agencies import Agency

Period = Literal["Y", "D30", "D10"]
PERIODS: tuple[Period, ...] = get_args(Period)  # longest first
# Their names (国家档案局令第8号), as registers and reports print them.
PERIOD_NAMES: dict[str, str] = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
Issuer = Literal["self", "higher", "lower", "peer"]
ISSUERS: tuple[Issuer, ...] = get_args(Issuer)
RelationType = Literal["reply-to", "responds-to", "attachment-of", "supersedes", "references"]
RELATED = "related"  # a rule's period: that of the record it replies to
# The "rule" of a record that came with its 档号 (a legacy or digitized record, appraised before).
LEGACY_RULE = "legacy-reference-code"
# Ends the id of a rule that allows the agency's proposal, when the period is that proposal.
PROPOSAL_SUFFIX = "+proposal"

# The caller's lookup of an archived document: (agency code, document id) → the 档号 the archive
# gave it, or None when the archive holds no such document (yet).
ArchivedCode = Callable[[str, str], str | None]


class Signals(BaseModel):
    """What the rule set counts as a sign of importance, and as an annual document."""

    model_config = ConfigDict(extra="forbid")

    important_words: list[str] = []
    important_business_matters: list[str] = []
    annual_titles: list[str] = []  # regular expressions, searched in the title

    @field_validator("annual_titles")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"annual_titles: {pattern!r} is no regular expression: {exc}"
                ) from exc
        return patterns


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    period: Period | Literal["related"]
    description: str
    basis: str | None = None  # the regulation's clause, e.g. 第七条（四）
    document_types: list[str] = []
    title_contains: list[str] = []
    issuers: list[Issuer] = []
    important: bool | None = None
    business_matters: list[str] = []
    business_matter: bool | None = None
    annual: bool | None = None
    relation_types: list[RelationType] = []
    categories: list[str] = [CATEGORY_WS]
    proposable: list[Period] = []

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        conditions = (
            self.document_types,
            self.title_contains,
            self.issuers,
            self.business_matters,
            self.relation_types,
        )
        flags = (self.important, self.business_matter, self.annual)
        names_category = "categories" in self.model_fields_set
        if not any(conditions) and not names_category and all(flag is None for flag in flags):
            raise ValueError(f"rule {self.id} has no condition and would match everything")
        if self.period == RELATED and not self.relation_types:
            raise ValueError(f"rule {self.id} takes a related record's period: name relation_types")
        if self.period in self.proposable:
            raise ValueError(f"rule {self.id} lists its own period {self.period} as proposable")
        return self

    def matches(self, facts: Facts) -> bool:
        """Whether every condition of the rule holds (a `related` period is resolved later)."""
        checks = (
            not self.document_types or facts.document_type in self.document_types,
            not self.title_contains or any(word in facts.title for word in self.title_contains),
            not self.issuers or facts.issuer in self.issuers,
            self.important is None or self.important == bool(facts.signals),
            not self.business_matters or facts.business_matter in self.business_matters,
            self.business_matter is None
            or self.business_matter == (facts.business_matter is not None),
            self.annual is None or self.annual == facts.annual,
            not self.relation_types or bool(facts.relation_types & set(self.relation_types)),
            facts.category in self.categories,
        )
        return all(checks)


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ruleset: str
    version: str
    agency: str | None = None  # None for the city default
    business_matters: dict[str, str] = {}  # 业务事项: code → name
    signals: Signals = Signals()
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ValueError(f"{self.ruleset}: duplicate rule id(s) {', '.join(duplicates)}")
        named = {code for rule in self.rules for code in rule.business_matters}
        undeclared = (named | set(self.signals.important_business_matters)) - set(
            self.business_matters
        )
        if undeclared:
            raise ValueError(
                f"{self.ruleset}: business-matter code(s) {', '.join(sorted(undeclared))} are "
                "not declared under business_matters"
            )
        return self

    @property
    def name(self) -> str:
        return f"{self.ruleset}@{self.version}"


CITY_DEFAULT = "city-default.yaml"


@dataclass(frozen=True)
class Schedules:
    """The city default and the agencies' own schedules."""

    city: RuleSet
    agencies: dict[str, RuleSet]

    def for_agency(self, agency_code: str) -> tuple[RuleSet, ...]:
        """The rule sets to try for an agency, its own first."""
        own = self.agencies.get(agency_code)
        return (own, self.city) if own else (self.city,)


@dataclass(frozen=True)
class Decision:
    """The period and the rule that gave it (`<ruleset>@<version>/<rule id>`, with `+proposal`
    when the period is the agency's proposal that the rule allows). `proposed`: the agency's
    proposal, when it gave one and it was kept; `detail`: how the period was found, in words."""

    period: Period
    rule_id: str
    proposed: Period | None = None
    detail: str = field(default="", compare=False)


@dataclass(frozen=True)
class Undecided:
    """No rule decides, or the agency's proposal disagrees with the schedule: archive staff
    decide. For a disagreement, both periods and the schedule's rule are given."""

    reason: str
    proposed_period: str | None = None
    schedule_period: Period | None = None
    schedule_rule_id: str | None = None

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Facts:
    """What the rules look at, read once from the event."""

    document_type: str
    title: str
    issuer: Issuer | None  # None: unknown
    business_matter: str | None  # a code declared by a schedule tried, or None
    signals: tuple[str, ...]  # the importance signals found
    annual: bool
    relation_types: frozenset[str]
    category: str = CATEGORY_WS


def load_rules(path: Path) -> RuleSet:
    with path.open(encoding="utf-8") as handle:
        return RuleSet.model_validate(yaml.safe_load(handle))


def load_schedules(directory: Path) -> Schedules:
    """`city-default.yaml` and one `<agency>.yaml` per agency with a schedule of its own."""
    city = load_rules(directory / CITY_DEFAULT)
    if city.agency is not None:
        raise ValueError(f"{CITY_DEFAULT} must not name an agency")
    agencies = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == CITY_DEFAULT:
            continue
        schedule = load_rules(path)
        if schedule.agency != path.stem:
            raise ValueError(f"{path.name} must say `agency: {path.stem}`")
        agencies[path.stem] = schedule
    schedules = Schedules(city, agencies)
    for rulesets in [(city,), *((own, city) for own in agencies.values())]:
        uses_annual = any(rule.annual is not None for rule in rulesets[0].rules)
        if uses_annual and not any(rules.signals.annual_titles for rules in rulesets):
            raise ValueError(f"{rulesets[0].name} has `annual` rules but no annual_titles")
    return schedules


def issuer_of(event: Mapping[str, Any], agency: Agency) -> Issuer | None:
    """The issuer's relation to the filing agency: the event's own, else self when the responsible
    party is the agency (by name or fonds name), else None (unknown)."""
    relation = event.get("issuer_relation")
    if relation is not None:
        return cast(Issuer, relation) if relation in ISSUERS else None
    party = (event["description"].get("responsible_party") or "").strip()
    return "self" if party in (agency.name, agency.fonds_name) else None


def facts_of(event: Mapping[str, Any], agency: Agency, rulesets: tuple[RuleSet, ...]) -> Facts:
    description = event["description"]
    title = description.get("title") or ""
    text = "\n".join(
        [title, *(description.get("keywords") or []), description.get("abstract") or ""]
    )
    declared = {matter for rules in rulesets for matter in rules.business_matters}
    code = event.get("business_matter_code")
    business_matter = code if code in declared else None
    words = sorted({word for rules in rulesets for word in rules.signals.important_words})
    important_codes = {
        matter for rules in rulesets for matter in rules.signals.important_business_matters
    }
    signals = [word for word in words if word in text]
    if business_matter in important_codes:
        signals.append(f"business matter {business_matter}")
    patterns = [pattern for rules in rulesets for pattern in rules.signals.annual_titles]
    return Facts(
        document_type=description.get("document_type") or "",
        title=title,
        issuer=issuer_of(event, agency),
        business_matter=business_matter,
        signals=tuple(signals),
        annual=any(re.search(pattern, title) for pattern in patterns),
        relation_types=frozenset(r["relation_type"] for r in event.get("relations") or []),
        category=category_of(event),
    )


def related_period_of(
    event: Mapping[str, Any],
    relation_types: list[RelationType],
    agency_code: str,
    lookup: ArchivedCode | None,
) -> tuple[Period, str] | None:
    """The period of the record(s) this one relates to by one of `relation_types`, and where it
    came from: the 档号 the relation names, else the 档号 `lookup` finds for the document id it
    names. Of several known periods, the longest (an answer is kept as long as the longest-kept
    request it answers). None when none is known."""
    known: list[tuple[Period, str]] = []
    for relation in event.get("relations") or []:
        if relation["relation_type"] not in relation_types:
            continue
        related_id = relation["related_id"]
        try:
            series, _ = parse(related_id)
            source = f"the 档号 {related_id}"
        except ValueError:
            code = lookup(agency_code, related_id) if lookup else None
            if code is None:
                continue
            try:
                series, _ = parse(code)
            except ValueError:
                raise ValueError(f"archived_code gave {code!r} for {related_id!r}") from None
            source = f"the 档号 {code} (the archive's record of document {related_id})"
        period = cast(Period, series.period)  # the 档号 pattern allows only the three
        known.append(
            (period, f"{period} of {source}, which it answers ({relation['relation_type']})")
        )
    return min(known, key=lambda found: PERIODS.index(found[0])) if known else None


def classify(
    event: Mapping[str, Any],
    agency: Agency,
    schedules: Schedules,
    archived_code: ArchivedCode | None = None,
) -> Decision | Undecided:
    """Decide the retention period of a lifecycle event (its description, relations, proposed
    period, issuer relation and business-matter code) filed by `agency`: the first matching rule
    of the agency's schedule, then of the city default. `archived_code` finds the 档号 of a related
    record named by its document id (it may raise: a lookup's failure is the caller's to retry);
    without it, those are unknown."""
    legacy = event.get("reference_code")
    if legacy:  # appraised before it came (a legacy or digitized record): its 档号's period stands
        return Decision(cast(Period, parse(legacy)[0].period), LEGACY_RULE,
                        detail=f"档号 {legacy} given before transfer; its period stands")  # fmt: skip
    rulesets = schedules.for_agency(agency.code)
    tried = " or ".join(rules.name for rules in rulesets)
    description = event["description"]
    proposal = event.get("retention_proposal")
    problem = _invalid(event, rulesets, tried)
    if problem:
        return Undecided(problem, proposed_period=proposal)
    facts = facts_of(event, agency, rulesets)
    for rules in rulesets:
        for rule in rules.rules:
            if not rule.matches(facts):
                continue
            rule_id = f"{rules.name}/{rule.id}"
            if rule.period == RELATED:
                found = related_period_of(event, rule.relation_types, agency.code, archived_code)
                if found is None:
                    continue
                period, detail = found
            else:
                period, detail = cast(Period, rule.period), rule.description
            if facts.signals:
                detail += f" [importance: {', '.join(facts.signals)}]"
            return _with_proposal(Decision(period, rule_id, detail=detail), rule, proposal)
    issuer = facts.issuer or "unknown 未知"
    reason = (
        f"no rule of {tried} decides a {description.get('document_type')} titled "
        f"{description.get('title')!r} (issuer {issuer}) — 无保管期限规则适用，待鉴定"
    )
    if proposal is not None:
        # No rule to allow it: an agency's own say-so is not a schedule the archives bureau
        # approved (第十二条), so archive staff decide, seeing the proposal.
        reason += f"; the agency proposes {proposal} (拟定保管期限 {proposal})"
    return Undecided(reason, proposed_period=proposal)


def _invalid(event: Mapping[str, Any], rulesets: tuple[RuleSet, ...], tried: str) -> str | None:
    """Why the event's retention fields cannot be classified, or None. (Intake's validation
    refuses bad proposals and issuer relations before this; classify does not rely on it.)"""
    proposal = event.get("retention_proposal")
    if proposal is not None and proposal not in PERIODS:
        return f"the proposed period {proposal!r} is not Y, D30 or D10 (拟定保管期限无效)"
    relation = event.get("issuer_relation")
    if relation is not None and relation not in ISSUERS:
        return f"the issuer relation {relation!r} is not self, higher, lower or peer (来文关系无效)"
    code = event.get("business_matter_code")
    if code is not None and not any(code in rules.business_matters for rules in rulesets):
        # An unknown code could hide an important matter: staff decide rather than a guess.
        return f"business-matter code {code!r} is in no schedule of {tried} (业务事项代码不在保管期限表中)"
    return None


def _with_proposal(decision: Decision, rule: Rule, proposal: Period | None) -> Decision | Undecided:
    """The decision with the agency's proposal taken into account: kept when it equals the
    decided period or the rule allows it, else a disagreement for archive staff."""
    if proposal is None:
        return decision
    if proposal == decision.period:
        return Decision(decision.period, decision.rule_id, proposal, decision.detail)
    if proposal in rule.proposable:
        detail = f"the agency's proposal {proposal}, which {decision.rule_id} allows instead of {decision.period}"
        return Decision(proposal, decision.rule_id + PROPOSAL_SUFFIX, proposal, detail)
    allowed = ", ".join(rule.proposable) or "no other period"
    return Undecided(
        f"the agency proposes {proposal} but {decision.rule_id} gives {decision.period} and allows "
        f"{allowed} (拟定保管期限 {proposal} 与保管期限表 {decision.period} 不一致，待鉴定)",
        proposed_period=proposal,
        schedule_period=decision.period,
        schedule_rule_id=decision.rule_id,
    )
