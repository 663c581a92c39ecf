"""The agency registry (recordflow/agencies.py + agencies.yaml): the shipped data is valid, and
everything derived from an agency (topic, staging prefix, reference codes) comes out well-formed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from archival.metadata import agency_for_topic
from archival.reference import Series, parse
from recordflow.agencies import (
    AGENCY_CODE,
    FONDS_CODE,
    UNIT_CODE,
    Agency,
    AgencyRegistry,
    load_registry,
)
from recordflow.settings import PACKAGE_DIR

AGENCIES_FILE = PACKAGE_DIR / "agencies.yaml"
REGISTRY = load_registry(AGENCIES_FILE)


def data() -> dict[str, Any]:
    with AGENCIES_FILE.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def test_shipped_registry() -> None:
    assert REGISTRY.version == 1
    assert (REGISTRY.archives.code, REGISTRY.archives.name) == ("440300", "市档案馆")
    assert [agency.code for agency in REGISTRY.agencies] == ["bgt", "zjj", "bdc", "zwfw", "fy"]
    zjj = REGISTRY.get("zjj")
    assert zjj is not None
    assert (zjj.fonds_code, zjj.name) == ("Z109", "市住房和城乡建设局")


@pytest.mark.parametrize("agency", REGISTRY.agencies, ids=lambda agency: agency.code)
def test_agency_identity_is_well_formed(agency: Agency) -> None:
    assert AGENCY_CODE.match(agency.code)
    assert FONDS_CODE.match(agency.fonds_code)
    assert agency.name.strip() and agency.fonds_name.strip()
    assert agency.units
    unit_codes = [unit.code for unit in agency.units]
    assert len(unit_codes) == len(set(unit_codes))
    assert all(UNIT_CODE.match(code) for code in unit_codes)


@pytest.mark.parametrize("agency", REGISTRY.agencies, ids=lambda agency: agency.code)
def test_reference_codes_of_every_unit_parse(agency: Agency) -> None:
    for unit in agency.units:
        for period in ("Y", "D30", "D10"):
            series = Series(agency.fonds_code, 2026, period, unit.code)
            assert parse(series.code(1)) == (series, 1)


@pytest.mark.parametrize("agency", REGISTRY.agencies, ids=lambda agency: agency.code)
def test_ingest_topic_leads_back_to_the_agency(agency: Agency) -> None:
    assert agency_for_topic(f"ingest.{agency.code}.lifecycle.v1", REGISTRY) == agency


def test_codes_and_fonds_are_unique() -> None:
    for attribute in ("code", "fonds_code"):
        values = [getattr(agency, attribute) for agency in REGISTRY.agencies]
        assert len(values) == len(set(values))


def test_lookup() -> None:
    bgt = REGISTRY.get("bgt")
    assert bgt is not None
    secretariat = bgt.unit("MSK")
    assert secretariat is not None and secretariat.name == "秘书科"
    assert bgt.unit("GHK") is None
    assert bgt.unit("bgs") is None
    assert REGISTRY.get("swj") is None
    assert REGISTRY.get("BGT") is None
    assert set(REGISTRY.by_code) == {agency.code for agency in REGISTRY.agencies}


@pytest.mark.parametrize("attribute", ["code", "fonds_code"])
def test_duplicates_refused(attribute: str) -> None:
    registry = data()
    registry["agencies"][1][attribute] = registry["agencies"][0][attribute]
    with pytest.raises(ValidationError, match=f"duplicate agency {attribute}"):
        AgencyRegistry.model_validate(registry)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("code",), "BGT"),  # upper case would not be a Kafka-topic-and-S3-safe code
        (("code",), "b"),
        (("code",), "1bgt"),
        (("code",), "bgt.x"),
        (("code",), "bgt\n"),
        (("fonds_code",), "Z10"),
        (("fonds_code",), "z109"),
        (("fonds_code",), "Z1090"),
        (("units", 0, "code"), "办公室"),
        (("units", 0, "code"), "ABCDEFGHI"),
        (("units", 0, "code"), ""),
    ],
)
def test_bad_codes_refused(path: tuple[Any, ...], value: str) -> None:
    registry = data()
    target = registry["agencies"][0]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        AgencyRegistry.model_validate(registry)


@given(code=st.from_regex(r"[a-z][a-z0-9-]{1,30}", fullmatch=True).filter(lambda c: "\n" not in c))
def test_any_valid_agency_code_is_accepted(code: str) -> None:
    registry = data()
    registry["agencies"][0]["code"] = code
    if code in {agency["code"] for agency in registry["agencies"][1:]}:
        return
    assert AgencyRegistry.model_validate(registry).get(code) is not None


def test_missing_fields_refused(tmp_path: Path) -> None:
    registry = data()
    del registry["agencies"][0]["fonds_name"]
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump(registry, allow_unicode=True), "utf-8")
    with pytest.raises(ValidationError, match="fonds_name"):
        load_registry(path)


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump(REGISTRY.model_dump(), allow_unicode=True), "utf-8")
    assert load_registry(path) == REGISTRY
