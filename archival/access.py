"""开放与控制使用 Access: when a record opens to the public, and who may see it (recordflow/access.yaml).

Pure rules, shared by every door that shows records outside the archive (the lookup service first):
no Kafka, no S3. A record's `Opening` says from which day it is open (`opens_on`), or that it is
controlled (needs an archivist's decision to open) or never shown (a state secret), and why.
An archivist's 开放鉴定 decision, when there is one, overrides the rule either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

OPEN: Literal["open"] = "open"
CONTROLLED: Literal["controlled"] = "controlled"
NEVER: Literal["never"] = "never"


class AtFormation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_types: list[str] = Field(default_factory=list)
    control_marks: list[str] = Field(default_factory=list)


class AccessRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    basis: str
    default_years: int = Field(ge=0)
    category_years: dict[str, int] = Field(default_factory=dict)
    agency_years: dict[str, int] = Field(default_factory=dict)
    open_at_formation: AtFormation = Field(default_factory=AtFormation)
    controlled_classifications: list[str] = Field(default_factory=list)
    never_shown_classifications: list[str] = Field(default_factory=list)

    def years_for(self, agency: str, category: str) -> int:
        if agency in self.agency_years:
            return self.agency_years[agency]
        return self.category_years.get(category, self.default_years)


def load_access_rules(path: Path) -> AccessRules:
    return AccessRules.model_validate(yaml.safe_load(path.read_text("utf-8")))


@dataclass(frozen=True)
class Decision:
    """An archivist's 开放鉴定: open or controlled, why, by whom, when."""

    access: Literal["open", "controlled"]
    reason: str
    decided_by: str
    decided_at: dt.datetime


@dataclass(frozen=True)
class Opening:
    """`status` open: open from `opens_on` (which may lie ahead: open then, not before);
    controlled: not open until an archivist decides so; never: a state secret, not shown at all."""

    status: Literal["open", "controlled", "never"]
    opens_on: dt.date | None
    basis: str

    def open_on(self, day: dt.date) -> bool:
        return self.status == OPEN and self.opens_on is not None and self.opens_on <= day


def formed_on(description: Mapping[str, Any]) -> dt.date:
    """The day a record was formed: its 日期, or the 1st of January of its 年度."""
    date = description.get("document_date")
    if isinstance(date, dt.date):
        return date
    if isinstance(date, str) and date:
        return dt.date.fromisoformat(date[:10])
    return dt.date(int(description["year"]), 1, 1)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def opening(record: Mapping[str, Any], rules: AccessRules,
            decision: Decision | None = None) -> Opening:  # fmt: skip
    """When the archived `record` (an ArchivalRecord, decoded) opens to the public."""
    description = record["description"]
    classification = description["security_classification"]
    if classification in rules.never_shown_classifications:
        return Opening(NEVER, None, f"密级 {classification}: never shown")
    if decision is not None:
        day = decision.decided_at.date()
        why = f"开放鉴定 {decision.decided_by} {day.isoformat()}: {decision.reason}"
        if decision.access == OPEN:
            return Opening(OPEN, day, why)
        return Opening(CONTROLLED, None, why)
    if classification in rules.controlled_classifications:
        return Opening(CONTROLLED, None, f"密级 {classification}: open only by 开放鉴定")
    supplementary = record.get("supplementary") or {}
    marks = set(supplementary.get("control_marks") or [])
    public_marks = marks & set(rules.open_at_formation.control_marks)
    if description["document_type"] in rules.open_at_formation.document_types or public_marks:
        what = "、".join(sorted(public_marks)) or description["document_type"]
        return Opening(OPEN, formed_on(description), f"{what}: public when it was formed")
    years = rules.years_for(record["agency"]["code"], record["category"])
    return Opening(
        OPEN,
        _add_years(formed_on(description), years),
        f"{rules.basis}: {years} years after it was formed",
    )
