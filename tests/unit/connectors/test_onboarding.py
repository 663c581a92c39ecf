"""Onboarding's entry and what an offboarded entry changes (connectors/onboarding.py,
recordflow/agencies.py), without servers."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.bucket_policies import bucket_policies
from connectors.onboarding import OnboardingError, new_agency, registry_with
from recordflow.agencies import Agency, load_registry
from recordflow.settings import Settings

SETTINGS = Settings(topic_prefix="t1.", bucket_prefix="t1-")
REGISTRY = load_registry(SETTINGS.agencies_file)


def sjj(fonds: str = "Z140") -> Agency:
    return new_agency("sjj", "市司法局", fonds, None, ["BGS:办公室", "FZK:法治科"])


def test_the_entry_comes_from_the_arguments() -> None:
    agency = new_agency("sjj", "市司法局", "Z140", None, ["BGS:办公室", "FZK: 法治科"])
    assert (agency.fonds_name, [(u.code, u.name) for u in agency.units]) == (
        "市司法局",
        [("BGS", "办公室"), ("FZK", "法治科")],
    )
    assert agency.active


@pytest.mark.parametrize(
    ("code", "fonds", "units", "message"),
    [
        ("sjj", "Z140", ["BGS"], "write it as CODE:名称"),
        ("sjj", "Z140", [], "at least one --unit"),
        ("SJJ", "Z140", ["BGS:办公室"], "code"),
        ("sjj", "z14", ["BGS:办公室"], "fonds_code"),
    ],
)
def test_a_bad_argument_is_one_line_saying_which(
    code: str, fonds: str, units: list[str], message: str
) -> None:
    with pytest.raises(OnboardingError, match=message) as raised:
        new_agency(code, "市司法局", fonds, None, units)
    assert "\n" not in str(raised.value)


def test_an_agency_needs_a_name() -> None:
    with pytest.raises(OnboardingError, match=r"^name: String should have at least 1 character$"):
        new_agency("sjj", "", "Z140", None, ["BGS:办公室"])


def test_a_code_or_fonds_code_already_taken_is_refused() -> None:
    with pytest.raises(OnboardingError, match="'bgt' is already registered"):
        registry_with(REGISTRY, new_agency("bgt", "x", "Z999", None, ["BGS:办公室"]))
    with pytest.raises(OnboardingError, match="duplicate agency fonds_code: Z101"):
        registry_with(REGISTRY, sjj("Z101"))  # 市人民政府办公厅's
    merged = registry_with(REGISTRY, sjj())
    assert merged.get("sjj") is not None and len(merged.agencies) == len(REGISTRY.agencies) + 1


def test_an_offboarded_code_is_never_reused() -> None:
    gone = REGISTRY.by_code["fy"].model_copy(update={"offboarded_at": dt.datetime.now(dt.UTC)})
    after = REGISTRY.merged([gone])
    assert not after.by_code["fy"].active and len(after.agencies) == len(REGISTRY.agencies)
    with pytest.raises(OnboardingError, match="'fy' is already offboarded"):
        registry_with(after, new_agency("fy", "x", "Z998", None, ["BGS:办公室"]))


def test_an_offboarded_agency_may_no_longer_stage() -> None:
    gone = REGISTRY.by_code["fy"].model_copy(update={"offboarded_at": dt.datetime.now(dt.UTC)})
    staging = bucket_policies(SETTINGS, REGISTRY.merged([gone]))[SETTINGS.staging_bucket]
    stagers = [s["Principal"]["AWS"] for s in staging["Statement"] if "StagesOwnPrefix" in s["Sid"]]
    assert ["agency-fy"] not in stagers and ["agency-bgt"] in stagers
