"""The agency registry: which agency systems may transfer records, and their archival identity.

The registry is data: the agencies the platform was installed with (`agencies.yaml`), and those
onboarded since (`recordflow agencies onboard`), which live on the compacted topic
recordflow.agencies.v1 (connectors/agency_registry.py) so that running workers and gateways learn
of them without a restart. This module loads, merges and validates it. Everything per agency
(ingest topics, staging prefixes, fonds codes in reference codes) derives from it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

AGENCY_CODE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
FONDS_CODE = re.compile(r"^[A-Z0-9]{4}$")
UNIT_CODE = re.compile(r"^[A-Z0-9]{1,8}$")
# Prefixes of the staging bucket the platform keeps for itself (the gateway's working objects,
# connectors/gateway/objects.py; the S3 drops, connectors/drops.py). An agency staging under
# `<code>/` with one of these codes would write among them. (`_archived/`, the register stage's
# markers, cannot be an agency code.)
RESERVED_CODES = frozenset({"gateway", "drop"})


class Unit(BaseModel):
    code: str = Field(pattern=UNIT_CODE.pattern)
    name: str


class Agency(BaseModel):
    code: str = Field(pattern=AGENCY_CODE.pattern)
    name: str = Field(min_length=1)  # the organisation its records name (intake): never empty
    fonds_code: str = Field(pattern=FONDS_CODE.pattern)
    fonds_name: str
    units: list[Unit]
    # 单套制: the agency files electronically only, with no paper twins (a record of it never waits
    # for one). Otherwise 双套制: a record may wait for its paper twin (connectors/paper_twins.py).
    single_set: bool = False
    # Set by `recordflow agencies offboard`: the agency may no longer submit; what it sent before
    # is still archived and stays readable. A fonds code is never reused.
    offboarded_at: dt.datetime | None = None

    @field_validator("code")
    @classmethod
    def _not_reserved(cls, code: str) -> str:
        if code in RESERVED_CODES:
            raise ValueError(
                f"agency code {code!r} is reserved: staging's {code}/ is the platform's"
            )
        return code

    @property
    def active(self) -> bool:
        return self.offboarded_at is None

    def unit(self, code: str) -> Unit | None:
        return next((unit for unit in self.units if unit.code == code), None)


class Archives(BaseModel):
    code: str
    name: str


class AgencyRegistry(BaseModel):
    version: int
    archives: Archives
    agencies: list[Agency]

    @field_validator("agencies")
    @classmethod
    def _unique(cls, agencies: list[Agency]) -> list[Agency]:
        for attribute in ("code", "fonds_code"):
            values = [getattr(agency, attribute) for agency in agencies]
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise ValueError(f"duplicate agency {attribute}: {', '.join(duplicates)}")
        return agencies

    @cached_property
    def by_code(self) -> dict[str, Agency]:
        return {agency.code: agency for agency in self.agencies}

    def get(self, code: str) -> Agency | None:
        return self.by_code.get(code)

    def merged(self, entries: Iterable[Agency]) -> AgencyRegistry:
        """This registry with `entries` (from recordflow.agencies.v1) added, or replacing the
        entry of the same code; validated again, so a fonds code stays unique."""
        agencies = dict(self.by_code)
        for entry in entries:
            agencies[entry.code] = entry
        return AgencyRegistry.model_validate(
            {**self.model_dump(), "agencies": [a.model_dump() for a in agencies.values()]}
        )


def load_registry(path: Path) -> AgencyRegistry:
    with path.open(encoding="utf-8") as handle:
        return AgencyRegistry.model_validate(yaml.safe_load(handle))
