"""The names a package gives its metadata, mapped to ours: loaded from
recordflow/package_mappings.yaml (the one place they are written down) and applied to the
(place, name, value) triples each format's reader finds."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from archival.packages.model import Kind, PackageProblem
from recordflow.settings import PACKAGE_DIR

MAPPINGS_FILE = PACKAGE_DIR / "package_mappings.yaml"
# The fields of `recordflow submit --metadata` a package's text can give (connectors/sdk.py:
# the RecordDescription, the event's own and the retention fields; a unit test keeps them equal).
METADATA_FIELDS = frozenset({
    "document_id", "title", "document_number", "responsible_party", "document_date",
    "document_type", "security_classification", "urgency", "keywords", "abstract", "unit_code",
    "year", "page_count", "language", "source_system", "actor", "retention_proposal",
    "issuer_relation", "business_matter_code",
})  # fmt: skip
# Kept on the PackageRecord beside the metadata: the event has no field for them.
RECORD_FIELDS = frozenset({"reference_code", "fonds_code", "agency"})
ValueKind = Literal["text", "date", "integer", "list"]
DATE = re.compile(r"(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*[-/.月]?\s*(\d{1,2})\s*日?(?:[\sT].*)?")
COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
INTEGER = re.compile(r"(\d+)\s*[页件]?")
LIST_SEPARATORS = re.compile(r"[\s,，;；、]+")


class PackageMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    kinds: dict[str, ValueKind] = {}
    values: dict[str, dict[str, str]] = {}
    formats: dict[Kind, dict[str, str]]

    @model_validator(mode="after")
    def _known_targets(self) -> PackageMapping:
        known = METADATA_FIELDS | RECORD_FIELDS
        for kind, names in self.formats.items():
            for name, target in names.items():
                if target not in known:
                    raise ValueError(f"formats.{kind}.{name}: {target!r} is not a field we take")
        for where in (self.kinds, self.values):
            for target in where:
                if target not in known:
                    raise ValueError(f"{target!r} is not a field we take")
        return self


def load_mapping(path: Path = MAPPINGS_FILE) -> PackageMapping:
    """The mapping at `path`; ValueError naming the file when it is not valid."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        return PackageMapping.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid package mapping: {exc}") from exc


@cache
def default_mapping() -> PackageMapping:
    return load_mapping()


@dataclass
class Mapped:
    """What one record's elements gave."""

    metadata: dict[str, Any] = field(default_factory=dict)
    record: dict[str, str] = field(default_factory=dict)  # reference_code, fonds_code, agency
    note: dict[str, str] = field(default_factory=dict)
    problems: list[PackageProblem] = field(default_factory=list)


def apply(mapping: PackageMapping, kind: Kind, found: Iterable[tuple[str, str, str]]) -> Mapped:
    """Map each (place, name, value) a reader found: a mapped name sets its field (the first
    present wins), anything else, and a later different value, goes to the note under its place."""
    names = mapping.formats.get(kind, {})
    mapped = Mapped()
    for place, name, raw in found:
        value = raw.strip()
        target = names.get(name)
        if not value:
            continue
        if target is None:
            mapped.note[place] = value
            continue
        converted = _convert(mapping, target, value)
        if converted is None:
            mapped.problems.append(PackageProblem(
                "package-value-unreadable", f"{place}: {value!r} is not a {_kind(mapping, target)}"
            ))  # fmt: skip
            continue
        into = mapped.record if target in RECORD_FIELDS else mapped.metadata
        if target not in into:
            into[target] = converted
        elif into[target] != converted:
            mapped.note[place] = value
    return mapped


def _kind(mapping: PackageMapping, target: str) -> ValueKind:
    return mapping.kinds.get(target, "text")


def _convert(mapping: PackageMapping, target: str, value: str) -> Any:
    kind = _kind(mapping, target)
    if kind == "date":
        return normalise_date(value)
    if kind == "integer":
        match = INTEGER.fullmatch(value)
        return int(match.group(1)) if match else None
    if kind == "list":
        return [word for word in LIST_SEPARATORS.split(value) if word]
    return mapping.values.get(target, {}).get(value, value)


def normalise_date(value: str) -> str | None:
    """YYYY-MM-DD, or None when `value` is no date in a form the packages use."""
    match = COMPACT_DATE.fullmatch(value) or DATE.fullmatch(value)
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None
