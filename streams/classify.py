"""Retention classification (国家档案局令第8号): a rule engine over a YAML retention schedule.

Rules are tried in order and the first match decides; the decision names its rule and the rule
set's version so that an archivist can see why a record is kept as long as it is.
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
    rules: list[Rule]


@dataclass(frozen=True)
class Decision:
    period: Period
    rule_id: str


def load_rules(path: Path) -> RuleSet:
    with path.open(encoding="utf-8") as handle:
        return RuleSet.model_validate(yaml.safe_load(handle))


def classify(description: dict[str, Any], rules: RuleSet) -> Decision:
    for rule in rules.rules:
        if rule.matches(description):
            return Decision(rule.period, f"{rules.ruleset}@{rules.version}/{rule.id}")
    raise RecordRejected(
        "retention-undecided",
        f"no rule of {rules.ruleset}@{rules.version} decides a {description['document_type']} "
        f"titled {description['title']!r}",
        stage="classify",
    )
