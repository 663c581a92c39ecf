"""Retention classification (国家档案局令第8号): a rule engine over YAML retention schedules.

Each agency may have its own schedule (归档范围和保管期限表, `recordflow/retention/<agency>.yaml`)
that is tried before the city default (`city-default.yaml`). Within a schedule rules are tried in
order and the first match decides; the decision names its rule, schedule and version so that an
archivist can see why a record is kept as long as it is. What no rule decides goes to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, model_validator

from recordflow.errors import RecordRejected

Period = Literal["Y", "D30", "D10"]


class Rule(BaseModel):
    id: str
    period: Period
    description: str
    document_types: list[str] = []
    title_contains: list[str] = []

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not (self.document_types or self.title_contains):
            raise ValueError(f"rule {self.id} has no condition and would match everything")
        return self

    def matches(self, description: dict[str, Any]) -> bool:
        if self.document_types and description["document_type"] not in self.document_types:
            return False
        title = description["title"]
        return not self.title_contains or any(word in title for word in self.title_contains)


class RuleSet(BaseModel):
    ruleset: str
    version: str
    agency: str | None = None  # None for the city default
    rules: list[Rule]


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
    period: Period
    rule_id: str


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
    return Schedules(city, agencies)


def classify(description: dict[str, Any], *rulesets: RuleSet) -> Decision:
    """The first matching rule of the first rule set that has one, or RecordRejected."""
    for rules in rulesets:
        for rule in rules.rules:
            if rule.matches(description):
                return Decision(rule.period, f"{rules.ruleset}@{rules.version}/{rule.id}")
    tried = " or ".join(f"{rules.ruleset}@{rules.version}" for rules in rulesets)
    raise RecordRejected(
        "retention-undecided",
        f"no rule of {tried} decides a {description['document_type']} titled {description['title']!r}",
        stage="classify",
    )
