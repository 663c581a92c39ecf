"""The agency registry: which agency systems may transfer records, and their archival identity.

The registry is data (`agencies.yaml`); this module loads and validates it. Everything per agency
(ingest topics, staging prefixes, fonds codes in reference codes) derives from it.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

AGENCY_CODE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
FONDS_CODE = re.compile(r"^[A-Z0-9]{4}$")
UNIT_CODE = re.compile(r"^[A-Z0-9]{1,8}$")


class Unit(BaseModel):
    code: str = Field(pattern=UNIT_CODE.pattern)
    name: str


class Agency(BaseModel):
    code: str = Field(pattern=AGENCY_CODE.pattern)
    name: str
    fonds_code: str = Field(pattern=FONDS_CODE.pattern)
    fonds_name: str
    units: list[Unit]

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


def load_registry(path: Path) -> AgencyRegistry:
    with path.open(encoding="utf-8") as handle:
        return AgencyRegistry.model_validate(yaml.safe_load(handle))
