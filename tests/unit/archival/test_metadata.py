"""Validation of decoded lifecycle events (archival/metadata.py) and the metadata rules it reads
(recordflow/metadata_rules.yaml): every rule has an input that passes it and one that breaks it
with the exact reason code, every entry of the YAML included; a malformed rules file fails to load,
saying where."""

from __future__ import annotations

import copy
import datetime as dt
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from archival.metadata import (
    MetadataRules,
    agency_for_topic,
    description_elements,
    load_metadata_rules,
    staged_key_problem,
    validate_components,
    validate_description,
    validate_event,
)
from archival.retention import load_schedules
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, shared_types
from recordflow.agencies import Agency, load_registry
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR, Settings
from tests.strategies import TEXT as ANY_TEXT
from tests.strategies import avro_field_values, avro_values

RULES_FILE = PACKAGE_DIR / "metadata_rules.yaml"
RULES = load_metadata_rules(RULES_FILE)
REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")
TODAY = dt.date(2026, 6, 30)
STAGING = "staging"
MAX_FILE_BYTES = 10_000
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MAX_TITLE_CHARS = 500
EARLIEST = dt.date(1949, 10, 1)

# Every reason code description validation can give. Reason codes end up in dead-letter records,
# logs and metric labels: a change here is a change to what operators and dashboards see.
DESCRIPTION_REASONS = {
    "classified-not-accepted",
    "missing-title", "missing-responsible-party", "missing-document-type", "missing-unit",
    "missing-document-date", "missing-year", "missing-security-class", "missing-language",
    "stray-characters", "not-normalized",
    "title-too-long", "value-too-long", "too-many-keywords",
    "unknown-document-type", "unknown-security-class", "unknown-urgency", "unknown-language",
    "missing-document-number",
    "unknown-unit",
    "future-date", "date-too-early", "invalid-year",
    "page-count-out-of-range",
}  # fmt: skip


def agency(code: str = "bgt") -> Agency:
    found = REGISTRY.get(code)
    assert found is not None
    return found


def description(**changes: Any) -> dict[str, Any]:
    return {
        "title": "关于做好2026年春节期间值班工作的通知",
        "document_number": "市府办发〔2026〕3号",
        "responsible_party": "市人民政府办公厅",
        "document_date": dt.date(2026, 1, 20),
        "document_type": "通知",
        "security_classification": "公开",
        "urgency": None,
        "keywords": ["值班"],
        "abstract": None,
        "unit_code": "BGS",
        "year": 2026,
        "page_count": 1,
        "language": "zh",
        **changes,
    }


def component(sequence: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "is_main": sequence == 1,
        "title": None,
        "file_name": f"{sequence:02d}.pdf",
        "mime_type": "application/pdf",
        "size_bytes": 1234,
        "checksums": [{"algorithm": "SHA256", "value": SHA256}],
        "payload": {
            "bucket": STAGING,
            "key": f"bgt/upload-1/{sequence:02d}.pdf",
            "version_id": None,
            "inline_content": None,
        },
        **changes,
    }


def event(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": "0b8e3c59-6f7a-5d4e-8c1b-2a3f4e5d6c7b",
        "action": "FILED",
        "event_time": dt.datetime(2026, 1, 21, 9, 30, tzinfo=dt.UTC),
        "agency": {"code": "bgt", "name": "市人民政府办公厅"},
        "document_id": "BGT-2026-0003",
        "upload_id": "upload-1",
        "source_system": "OA",
        "actor": None,
        "description": description(),
        "components": [component(1), component(2)],
        **changes,
    }


def check(candidate: dict[str, Any], owner: str = "bgt") -> None:
    validate_event(
        candidate,
        agency(owner),
        REGISTRY,
        RULES,
        max_file_bytes=MAX_FILE_BYTES,
        staging_bucket=STAGING,
        today=TODAY,
    )


def reason_of(candidate: dict[str, Any], owner: str = "bgt") -> str:
    with pytest.raises(RecordRejected) as caught:
        check(candidate, owner)
    return caught.value.reason


def validate(candidate: dict[str, Any], owner: str = "bgt") -> None:
    validate_description(candidate, agency(owner), RULES, today=TODAY)


def test_the_reference_event_passes() -> None:
    check(event())


# --- description: the rules, by hand ----------------------------------------------------
# (rule, description changes that pass it, description changes that break it, reason)
DESCRIPTION_RULES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("classified", {"security_classification": "内部"}, {"security_classification": "秘密"},
     "classified-not-accepted"),
    ("classified-first", {"security_classification": "非密", "title": "题"},
     {"security_classification": "绝密", "title": ""}, "classified-not-accepted"),
    ("title", {"title": "题"}, {"title": "   "}, "missing-title"),
    ("title-none", {"title": "题"}, {"title": None}, "missing-title"),
    ("responsible", {"responsible_party": "办公厅"}, {"responsible_party": ""},
     "missing-responsible-party"),
    ("document-type", {"document_type": "函"}, {"document_type": " "}, "missing-document-type"),
    ("unit", {"unit_code": "MSK"}, {"unit_code": ""}, "missing-unit"),
    ("date", {"document_date": dt.date(2026, 1, 1)}, {"document_date": None},
     "missing-document-date"),
    ("year", {"year": 2026}, {"year": None}, "missing-year"),
    ("security", {"security_classification": "内部"}, {"security_classification": ""},
     "missing-security-class"),
    ("language", {"language": "en"}, {"language": None}, "missing-language"),
    ("stray-title", {"title": "第一行\n第二行\t续\r"}, {"title": "通知\x00"}, "stray-characters"),
    ("stray-party", {"responsible_party": "办公厅"}, {"responsible_party": "办公厅\x1b"},
     "stray-characters"),
    ("stray-number", {"document_number": "〔2026〕3号"}, {"document_number": "〔2026〕\ufffd号"},
     "stray-characters"),
    ("stray-abstract", {"abstract": "摘要\n第二段"}, {"abstract": "摘要\x7f"}, "stray-characters"),
    ("stray-keyword", {"keywords": ["值班", "春节"]}, {"keywords": ["值班", "春\x0c节"]},
     "stray-characters"),
    ("nfc-title", {"title": "Caf\u00e9"}, {"title": "Cafe\u0301"}, "not-normalized"),
    ("nfc-abstract", {"abstract": "\u00c5"}, {"abstract": "A\u030a"}, "not-normalized"),
    ("nfc-keyword", {"keywords": ["\u00c5"]}, {"keywords": ["A\u030a"]}, "not-normalized"),
    ("title-length", {"title": "题" * MAX_TITLE_CHARS}, {"title": "题" * (MAX_TITLE_CHARS + 1)},
     "title-too-long"),
    ("number-length", {"document_number": "号" * 100}, {"document_number": "号" * 101},
     "value-too-long"),
    ("party-length", {"responsible_party": "厅" * 200}, {"responsible_party": "厅" * 201},
     "value-too-long"),
    ("abstract-length", {"abstract": "摘" * 2000}, {"abstract": "摘" * 2001}, "value-too-long"),
    ("keyword-length", {"keywords": ["词" * 50]}, {"keywords": ["词" * 51]}, "value-too-long"),
    ("keyword-count", {"keywords": [f"词{n}" for n in range(20)]},
     {"keywords": [f"词{n}" for n in range(21)]}, "too-many-keywords"),
    ("no-keywords", {"keywords": []}, {"keywords": [f"词{n}" for n in range(99)]},
     "too-many-keywords"),
    ("document-type-domain", {"document_type": "备忘录"}, {"document_type": "通知书"},
     "unknown-document-type"),
    ("old-minutes-name", {"document_type": "会议纪要"}, {"document_type": "会议记要"},
     "unknown-document-type"),
    ("security-domain", {"security_classification": "内部"}, {"security_classification": "保密"},
     "unknown-security-class"),
    ("urgency-domain", {"urgency": "特急"}, {"urgency": "很急"}, "unknown-urgency"),
    ("urgency-null", {"urgency": None}, {"urgency": ""}, "unknown-urgency"),
    ("language-domain", {"language": "bo"}, {"language": "zh-CN"}, "unknown-language"),
    ("language-case", {"language": "en"}, {"language": "EN"}, "unknown-language"),
    ("number-for-request", {"document_type": "请示", "document_number": "市建请〔2026〕41号"},
     {"document_type": "请示", "document_number": None}, "missing-document-number"),
    ("number-for-letter", {"document_type": "函", "document_number": "（2026）市中法函字第219号"},
     {"document_type": "函", "document_number": "  "}, "missing-document-number"),
    ("no-number-for-minutes", {"document_type": "会议纪要", "document_number": None},
     {"document_type": "通知", "document_number": None}, "missing-document-number"),
    ("unit-known", {"unit_code": "DCS"}, {"unit_code": "GHK"}, "unknown-unit"),
    ("future-date", {"document_date": TODAY}, {"document_date": TODAY + dt.timedelta(days=1)},
     "future-date"),
    ("earliest-date", {"document_date": EARLIEST, "year": EARLIEST.year},
     {"document_date": EARLIEST - dt.timedelta(days=1), "year": EARLIEST.year}, "date-too-early"),
    ("year-earliest", {"year": EARLIEST.year, "document_date": EARLIEST},
     {"year": EARLIEST.year - 1, "document_date": EARLIEST}, "invalid-year"),
    ("year-future", {"year": TODAY.year}, {"year": TODAY.year + 1}, "invalid-year"),
    ("year-before-date", {"year": 2026, "document_date": dt.date(2025, 12, 31)},
     {"year": 2025, "document_date": dt.date(2026, 1, 2)}, "invalid-year"),
    ("page-count-min", {"page_count": 1}, {"page_count": 0}, "page-count-out-of-range"),
    ("page-count-max", {"page_count": 10_000}, {"page_count": 10_001}, "page-count-out-of-range"),
    ("page-count-none", {"page_count": None}, {"page_count": -3}, "page-count-out-of-range"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("passes", "breaks", "reason"),
    [rule[1:] for rule in DESCRIPTION_RULES],
    ids=[rule[0] for rule in DESCRIPTION_RULES],
)
def test_description_rule(passes: dict[str, Any], breaks: dict[str, Any], reason: str) -> None:
    check(event(description=description(**passes)))
    assert reason_of(event(description=description(**breaks))) == reason


def test_every_reason_code_has_a_hand_written_case() -> None:
    assert {rule[3] for rule in DESCRIPTION_RULES} == DESCRIPTION_REASONS


# --- description: every rule of the YAML -------------------------------------------------
Case = tuple[str, dict[str, Any], dict[str, Any], str]


def _other_value(element: str) -> str:
    """A value the element's domain does not hold."""
    return "未知" if element != "language" else "xx"


def yaml_cases(rules: MetadataRules) -> Iterator[tuple[str, Case]]:
    """(section, case) for every entry of the rules: changes that pass the entry, changes that
    break it, and the reason the YAML (or, for fixed codes, the code) gives."""
    refused = {(r.element, v) for r in rules.refused for v in r.values}
    passes: dict[str, Any]
    breaks: dict[str, Any]
    for rule in rules.refused:
        allowed = next(
            v for v in rules.value_domains[rule.element].values if (rule.element, v) not in refused
        )
        for value in rule.values:
            passes, breaks = {rule.element: allowed}, {rule.element: value}
            yield "refused", (f"refused:{value}", passes, breaks, rule.reason)
    for required in rules.required:
        breaks = {required.element: None}
        yield "required", (f"required:{required.element}", {}, breaks, required.reason)
    for element in rules.text.elements:
        wrap: Callable[[str], Any] = (lambda v: [v]) if element == "keywords" else (lambda v: v)
        clean = {element: wrap("Caf\u00e9 通知")}
        stray, decomposed = {element: wrap("通知\x01")}, {element: wrap("Cafe\u0301")}
        yield "text", (f"stray:{element}", clean, stray, "stray-characters")
        yield "text", (f"normal-form:{element}", clean, decomposed, "not-normalized")
    for limit in rules.max_length:
        passes, breaks = (
            {limit.element: "文" * limit.chars},
            {limit.element: "文" * (limit.chars + 1)},
        )
        yield "max_length", (f"length:{limit.element}", passes, breaks, limit.reason)
    count, chars = rules.keywords.max_count, rules.keywords.max_chars
    passes = {"keywords": [f"词{n}" for n in range(count)]}
    breaks = {"keywords": [f"词{n}" for n in range(count + 1)]}
    yield "keywords", ("keywords:count", passes, breaks, "too-many-keywords")
    passes, breaks = {"keywords": ["词" * chars]}, {"keywords": ["词" * (chars + 1)]}
    yield "keywords", ("keywords:chars", passes, breaks, "value-too-long")
    for element, domain in rules.value_domains.items():
        breaks = {element: _other_value(element)}
        for value in domain.values:
            if (element, value) not in refused:
                yield (
                    "value_domains",
                    (f"{element}={value}", {element: value}, breaks, domain.reason),
                )
        if domain.nullable:
            yield "value_domains", (f"{element}=null", {element: None}, breaks, domain.reason)
    for conditional in rules.conditional:
        missing: dict[str, Any] = {conditional.element: None}
        for name, values in conditional.when.items():
            for value in values:  # required: given passes, missing breaks
                passes, breaks = {name: value}, {name: value, **missing}
                yield "conditional", (f"{conditional.element}:{name}={value}", passes, breaks,
                                      conditional.reason)  # fmt: skip
            for value in rules.value_domains[name].values:
                if value not in values and (name, value) not in refused:  # not required
                    passes, breaks = {name: value, **missing}, {name: values[0], **missing}
                    yield "conditional", (f"{conditional.element}:{name}={value}", passes, breaks,
                                          conditional.reason)  # fmt: skip
    earliest = rules.dates.earliest
    passes = {"document_date": earliest, "year": earliest.year}
    breaks = {"document_date": earliest - dt.timedelta(days=1), "year": earliest.year}
    yield "dates", ("dates:earliest", passes, breaks, "date-too-early")
    breaks = {"document_date": earliest, "year": earliest.year - 1}
    yield "dates", ("dates:year", passes, breaks, "invalid-year")
    least, most = rules.page_count.min, rules.page_count.max
    pages = "page-count-out-of-range"
    yield "page_count", ("pages:min", {"page_count": least}, {"page_count": least - 1}, pages)
    yield "page_count", ("pages:max", {"page_count": most}, {"page_count": most + 1}, pages)


YAML_CASES = list(yaml_cases(RULES))


@pytest.mark.parametrize(
    ("passes", "breaks", "reason"),
    [case[1:] for _, case in YAML_CASES],
    ids=[case[0] for _, case in YAML_CASES],
)
def test_every_yaml_rule(passes: dict[str, Any], breaks: dict[str, Any], reason: str) -> None:
    validate(description(**passes))
    with pytest.raises(RecordRejected) as caught:
        validate(description(**breaks))
    assert caught.value.reason == reason, caught.value.message


def test_every_section_of_the_yaml_has_cases() -> None:
    # entity_domains and event_domains apply to the event's own fields, not the description:
    # tested below; categories in tests/unit/archival/test_categories.py.
    sections = set(MetadataRules.model_fields) - {
        "version",
        "entity_domains",
        "event_domains",
        "categories",
    }
    assert {section for section, _ in YAML_CASES} == sections


# --- the other DA/T 46 entities: relation and agent types ---------------------------------
ENTITY_ITEMS: dict[str, dict[str, Any]] = {
    "relations": {"related_id": "BGT-2026-0001", "relation_type": "references",
                  "description": None},
    "agents": {"agent_type": "个人", "name": "张三", "organisation_code": None, "position": None},
}  # fmt: skip


def test_the_entity_domains_are_relation_and_agent_types() -> None:
    assert {key: domain.reason for key, domain in RULES.entity_domains.items()} == {
        "relations.relation_type": "unknown-relation-type",
        "agents.agent_type": "unknown-agent-type",
    }
    assert set(RULES.entity_domains["agents.agent_type"].values) == {"单位", "内设机构", "个人"}


@pytest.mark.parametrize("key", sorted(RULES.entity_domains))
def test_every_entity_domain_value(key: str) -> None:
    list_name, _, element = key.partition(".")
    domain = RULES.entity_domains[key]
    item = ENTITY_ITEMS[list_name]
    for value in domain.values:
        check(event(**{list_name: [item, {**item, element: value}]}))
    broken = event(**{list_name: [item, {**item, element: "未知"}]})
    with pytest.raises(RecordRejected) as caught:
        check(broken)
    assert caught.value.reason == domain.reason
    assert f"{list_name}[1].{element} '未知'" in caught.value.message


@pytest.mark.parametrize("name", sorted(RULES.event_domains))
def test_every_event_domain_value(name: str) -> None:
    domain = RULES.event_domains[name]
    for value in [*domain.values, None]:
        check(event(**{name: value}))
    with pytest.raises(RecordRejected) as caught:
        check(event(**{name: "未知"}))
    assert caught.value.reason == domain.reason


def test_event_domains_name_fields_of_the_event() -> None:
    data = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    data["event_domains"] = {"retention": {"reason": "unknown-x", "values": ["a"]}}
    with pytest.raises(ValidationError, match="not a field of the lifecycle event"):
        MetadataRules.model_validate(data)


# --- 无文号: a conditional element the agency declares the document does not have -------------
def test_a_report_declared_without_document_number_passes() -> None:
    report = description(document_type="报告", document_number=None)
    with pytest.raises(RecordRejected) as caught:
        check(event(description=report))
    assert caught.value.reason == "missing-document-number"
    check(event(description=report, absent_elements=["document_number"]))


@pytest.mark.parametrize(
    ("changes", "absent", "says"),
    [
        ({"document_number": "市统〔2026〕3号"}, ["document_number"], "has the value"),
        ({"document_number": None}, ["title"], "cannot be declared absent"),
        ({"document_number": None}, ["document_number", "document_number"], "twice"),
    ],
)
def test_a_wrong_absent_declaration_is_refused(
    changes: dict[str, Any], absent: list[str], says: str
) -> None:
    with pytest.raises(RecordRejected) as caught:
        check(event(description=description(document_type="报告", **changes),
                    absent_elements=absent))  # fmt: skip
    assert caught.value.reason == "invalid-absent-declaration"
    assert says in caught.value.message


def test_only_declarable_conditionals_may_be_declared_absent() -> None:
    assert RULES.declarable_absent() == ["document_number"]
    report = description(document_type="报告", document_number=None)
    assert "document_number" in RULES.required_elements(report)
    assert "document_number" not in RULES.required_elements(report, ["document_number"])


def test_an_event_without_entity_lists_passes() -> None:
    """A v1 event (decoded as v2 it has empty lists; built by hand it has none) is unaffected."""
    check(event(relations=[], agents=[]))
    check(event())


@pytest.mark.parametrize("key", ["relations.kind", "agents", "description.title", "unknown.x"])
def test_entity_domains_name_fields_of_the_entity_lists(key: str) -> None:
    data = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    data["entity_domains"] = {key: {"reason": "unknown-x", "values": ["a"]}}
    with pytest.raises(ValidationError, match="not an element of the event's entity lists"):
        MetadataRules.model_validate(data)


def test_the_yaml_gives_only_known_reason_codes() -> None:
    assert {case[3] for _, case in YAML_CASES} <= DESCRIPTION_REASONS


def test_the_shipped_rules_are_the_settings_default() -> None:
    assert Settings().metadata_rules_file == RULES_FILE


def test_every_document_type_a_retention_schedule_names_is_in_the_value_domain() -> None:
    schedules = load_schedules(PACKAGE_DIR / "retention")
    named = {
        document_type
        for ruleset in (schedules.city, *schedules.agencies.values())
        for rule in ruleset.rules
        for document_type in rule.document_types
    }
    assert named <= set(RULES.value_domains["document_type"].values)


def test_the_yaml_names_only_description_elements() -> None:
    assert "title" in description_elements()
    assert set(description()) == set(description_elements())


# --- description: order and messages -----------------------------------------------------
def test_description_rules_report_the_validate_stage() -> None:
    with pytest.raises(RecordRejected) as caught:
        validate(description(title=""))
    assert caught.value.stage == "validate"
    assert "title" in caught.value.message


def test_first_broken_rule_decides() -> None:
    # Empty title and an unknown unit: the required-element check comes first.
    assert reason_of(event(description=description(title="", unit_code="XXX"))) == "missing-title"


def test_a_missing_document_number_names_the_condition() -> None:
    with pytest.raises(RecordRejected, match="required when document_type is '批复'"):
        validate(description(document_type="批复", document_number=None))


def test_an_unknown_value_names_the_domain() -> None:
    with pytest.raises(RecordRejected, match="not one of 特急, 加急, 特提, 平急"):
        validate(description(urgency="很急"))


def test_today_defaults_to_the_real_date() -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(RecordRejected, match="in the future") as caught:
        validate_description(
            description(document_date=tomorrow, year=tomorrow.year), agency(), RULES
        )
    assert caught.value.reason == "future-date"


STRAY = st.sampled_from(
    [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] + ["\x7f", "\ufffd"]
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() and "\ufffd" not in text)


@given(
    field=st.sampled_from(["title", "responsible_party", "document_number", "abstract"]),
    text=TEXT,
    stray=STRAY,
    at=st.integers(min_value=0),
)
def test_any_stray_character_is_rejected(field: str, text: str, stray: str, at: int) -> None:
    text = unicodedata.normalize("NFC", text)
    position = at % (len(text) + 1)
    value = text[:position] + stray + text[position:]
    with pytest.raises(RecordRejected) as caught:
        validate(description(**{field: value}))
    assert caught.value.reason == "stray-characters"


@given(title=TEXT, abstract=st.none() | TEXT)
def test_printable_normalized_metadata_passes(title: str, abstract: str | None) -> None:
    title = unicodedata.normalize("NFC", title)
    abstract = abstract and unicodedata.normalize("NFC", abstract)
    validate(description(title=title, abstract=abstract))


@given(
    year=st.integers(min_value=1800, max_value=2100),
    document_date=st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2100, 12, 31)),
)
def test_date_and_year_rules(year: int, document_date: dt.date) -> None:
    candidate = description(year=year, document_date=document_date)
    if document_date > TODAY:
        expected = "future-date"
    elif document_date < EARLIEST:
        expected = "date-too-early"
    elif not EARLIEST.year <= year <= TODAY.year or document_date.year > year:
        expected = "invalid-year"
    else:
        validate(candidate)
        return
    with pytest.raises(RecordRejected) as caught:
        validate(candidate)
    assert caught.value.reason == expected


@pytest.mark.parametrize("code", [a.code for a in REGISTRY.agencies])
def test_units_are_checked_against_the_agencys_own_list(code: str) -> None:
    owner = agency(code)
    for unit in owner.units:
        validate(description(unit_code=unit.code), code)
    foreign = {u.code for a in REGISTRY.agencies for u in a.units} - {u.code for u in owner.units}
    for unit_code in foreign:
        with pytest.raises(RecordRejected) as caught:
            validate(description(unit_code=unit_code), code)
        assert caught.value.reason == "unknown-unit"


# --- the rules file ----------------------------------------------------------------------
def _write_rules(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    change(data)
    path = tmp_path / "metadata_rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def test_the_shipped_rules_load_unchanged_through_a_round_trip(tmp_path: Path) -> None:
    assert load_metadata_rules(_write_rules(tmp_path, lambda data: None)) == RULES


def _set(*path: str | int, to: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = to

    return change


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


# (what is wrong, the change, what the error must say)
MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown-section", _set("colours", to=["红"]), r"colours\s+Extra inputs are not permitted"),
    ("unknown-rule-key", _set("value_domains", "urgency", "default", to="特急"),
     r"value_domains\.urgency\.default\s+Extra inputs are not permitted"),
    ("unknown-required-key", _set("required", 0, "severity", to="high"),
     r"required\.0\.severity\s+Extra inputs"),
    ("missing-section", _delete("dates"), r"dates\s+Field required"),
    ("version", _set("version", to=2), r"version\s+Input should be 1"),
    ("unknown-element", _set("required", 0, "element", to="titel"),
     r"required\.0\.element\s+Value error, 'titel' is not an element of RecordDescription"),
    ("unknown-domain-element", _set("value_domains", "colour", to={"reason": "x", "values": ["红"]}),
     r"'colour' is not an element"),
    ("reason-code", _set("required", 0, "reason", to="Missing Title"),
     r"required\.0\.reason\s+String should match pattern"),
    ("no-reason", _set("required", 0, to={"element": "title"}), r"required\.0\.reason\s+Field required"),
    ("bad-regex", _set("text", "stray_characters", to="[\\x00-"), r"text\.stray_characters"),
    ("normal-form", _set("text", "normal_form", to="NFX"), r"text\.normal_form"),
    ("zero-length", _set("max_length", 0, "chars", to=0), r"max_length\.0\.chars\s+Input should be greater than 0"),
    ("length-twice", lambda data: data["max_length"].append(data["max_length"][0]),
     r"max_length lists title more than once"),
    ("required-twice", lambda data: data["required"].append(data["required"][0]),
     r"required lists title more than once"),
    ("empty-domain", _set("value_domains", "urgency", "values", to=[]), r"values\s+Tuple should have at least 1"),
    ("domain-value-twice", _set("value_domains", "urgency", "values", to=["特急", "特急"]),
     r"values listed twice: 特急"),
    ("domain-not-text", _set("value_domains", "language", "values", to=["zh", False]),
     r"value_domains\.language\.values\.1\s+Input should be a valid string"),
    ("refused-outside-domain", _set("refused", 0, "values", to=["秘密", "顶级"]),
     r"refused security_classification: 顶级 not in the value domain"),
    ("refused-without-domain", _set("refused", 0, "element", to="title"),
     r"refused: title has no value domain"),
    ("condition-outside-domain", _set("conditional", 0, "when", "document_type", to=["通知", "通知书"]),
     r"when document_type: 通知书 not in the value domain of document_type"),
    ("condition-on-unknown", _set("conditional", 0, "when", to={"doc_type": ["通知"]}),
     r"'doc_type' is not an element"),
    ("conditional-but-required", _set("conditional", 0, "element", to="title"),
     r"conditional: title is required anyway"),
    ("pages-reversed", _set("page_count", to={"min": 10, "max": 1}), r"min 10 is greater than max 1"),
    ("earliest-not-a-date", _set("dates", "earliest", to="the founding"), r"dates\.earliest"),
    ("no-sections", lambda data: data.clear(), r"Field required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "says"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_malformed_rules_fail_to_load_and_say_where(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], says: str
) -> None:
    path = _write_rules(tmp_path, change)
    with pytest.raises(ValueError, match=says) as caught:
        load_metadata_rules(path)
    assert str(path) in str(caught.value)


# --- agency ------------------------------------------------------------------------------
def test_unknown_agency() -> None:
    check(event())
    stranger = event(agency={"code": "swj", "name": "市水务局"})
    assert reason_of(stranger) == "unknown-agency"


def test_agency_mismatch() -> None:
    components = [component(1, payload={**component(1)["payload"], "key": "zjj/u/01.pdf"})]
    check(
        event(
            agency={"code": "zjj", "name": "市住房和城乡建设局"},
            components=components,
            description=description(unit_code="BGS"),
        ),
        owner="zjj",
    )
    assert reason_of(event(agency={"code": "zjj", "name": "市住房和城乡建设局"})) == (
        "agency-mismatch"
    )


@pytest.mark.parametrize("prefix", ["", "t0a1b2c3."])
def test_agency_for_topic(prefix: str) -> None:
    for registered in REGISTRY.agencies:
        topic = f"{prefix}ingest.{registered.code}.lifecycle.v1"
        assert agency_for_topic(topic, REGISTRY, prefix) == registered


@pytest.mark.parametrize(
    "topic",
    [
        "ingest.swj.lifecycle.v1",  # not registered
        "ingest.bgt.lifecycle.v2",
        "ingest.bgt.lifecycle.v1.extra",
        "records.catalog.v1",
        "ingest..lifecycle.v1",
        "ingest.BGT.lifecycle.v1",
        "x.ingest.bgt.lifecycle.v1",  # prefix not declared
        "",
    ],
)
def test_agency_for_topic_rejects(topic: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        agency_for_topic(topic, REGISTRY)
    assert caught.value.reason == "unknown-topic"


# --- components --------------------------------------------------------------------------
def with_payload(**changes: Any) -> dict[str, Any]:
    base = component(1)
    return {**base, "payload": {**base["payload"], **changes}}


Mutation = Callable[[], list[dict[str, Any]]]
# (rule, components that pass it, components that break it, reason)
COMPONENT_RULES: list[tuple[str, Mutation, Mutation, str]] = [
    ("content", lambda: [component(1)], lambda: [], "no-content"),
    ("one-main", lambda: [component(1), component(2)],
     lambda: [component(1), component(2, is_main=True)], "main-document"),
    ("a-main", lambda: [component(1)], lambda: [component(1, is_main=False)], "main-document"),
    ("sequence", lambda: [component(2, is_main=False), component(1)],
     lambda: [component(1), component(3)], "component-sequence"),
    ("sequence-dup", lambda: [component(1), component(2)],
     lambda: [component(1), component(1, is_main=False)], "component-sequence"),
    ("size-max", lambda: [component(1, size_bytes=MAX_FILE_BYTES)],
     lambda: [component(1, size_bytes=MAX_FILE_BYTES + 1)], "size-limit"),
    ("size-min", lambda: [component(1, size_bytes=1)], lambda: [component(1, size_bytes=-1)],
     "size-limit"),
    ("not-empty", lambda: [component(1, size_bytes=1)], lambda: [component(1, size_bytes=0)],
     "empty-file"),
    ("name-plain", lambda: [component(1, file_name="关于防汛工作的通知（定稿）.pdf")],
     lambda: [component(1, file_name="../../etc/cron.d/x.pdf")], "unsafe-file-name"),
    ("name-absolute", lambda: [component(1, file_name="x.pdf")],
     lambda: [component(1, file_name="/var/lib/x.pdf")], "unsafe-file-name"),
    ("name-backslash", lambda: [component(1, file_name="x.pdf")],
     lambda: [component(1, file_name="C:\\Users\\x.pdf")], "unsafe-file-name"),
    ("name-nul", lambda: [component(1, file_name="x.pdf")],
     lambda: [component(1, file_name="x.pdf\x00.exe")], "unsafe-file-name"),
    ("name-newline", lambda: [component(1, file_name="x.pdf")],
     lambda: [component(1, file_name="x\n.pdf")], "unsafe-file-name"),
    ("name-255-bytes", lambda: [component(1, file_name="通" * 83 + ".pdf")],
     lambda: [component(1, file_name="通" * 84 + ".pdf")], "unsafe-file-name"),
    ("name-device", lambda: [component(1, file_name="console.pdf")],
     lambda: [component(1, file_name="CON.pdf")], "unsafe-file-name"),
    ("name-device-any-extension", lambda: [component(1, file_name="nullable.tar.gz")],
     lambda: [component(1, file_name="nul.tar.gz")], "unsafe-file-name"),
    ("name-dots", lambda: [component(1, file_name=".x.pdf")],
     lambda: [component(1, file_name="..")], "unsafe-file-name"),
    ("name-trailing-dot", lambda: [component(1, file_name="x.pdf")],
     lambda: [component(1, file_name="x.pdf.")], "unsafe-file-name"),
    ("name-empty", lambda: [component(1, file_name="x")],
     lambda: [component(1, file_name="  ")], "unsafe-file-name"),
    ("sha256", lambda: [component(1, checksums=[{"algorithm": "SM3", "value": "ab"},
                                                {"algorithm": "SHA256", "value": SHA256}])],
     lambda: [component(1, checksums=[{"algorithm": "SM3", "value": "ab"}])], "missing-checksum"),
    ("bucket", lambda: [with_payload(bucket=STAGING)], lambda: [with_payload(bucket="archive")],
     "payload-outside-staging"),
    ("prefix", lambda: [with_payload(key="bgt/x/01.pdf")], lambda: [with_payload(key="zjj/x/01.pdf")],
     "unsafe-staged-key"),
    ("prefix-boundary", lambda: [with_payload(key="bgt/01.pdf")],
     lambda: [with_payload(key="bgtx/01.pdf")], "unsafe-staged-key"),
    ("traversal", lambda: [with_payload(key="bgt/u1/01.pdf")],
     lambda: [with_payload(key="bgt/../zjj/u1/01.pdf")], "unsafe-staged-key"),
    ("no-key", lambda: [with_payload(bucket=None, key=None, inline_content=b"%PDF")],
     lambda: [with_payload(key=None)], "payload-outside-staging"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("passes", "breaks", "reason"),
    [rule[1:] for rule in COMPONENT_RULES],
    ids=[rule[0] for rule in COMPONENT_RULES],
)
def test_component_rule(passes: Mutation, breaks: Mutation, reason: str) -> None:
    check(event(components=passes()))
    assert reason_of(event(components=breaks())) == reason


@given(order=st.permutations(range(1, 6)), main=st.integers(min_value=1, max_value=5))
def test_any_order_of_sequences_one_to_n_passes(order: list[int], main: int) -> None:
    components = [component(n, is_main=n == main) for n in order]
    validate_components(components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING)


@given(sequences=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=6))
def test_sequences_other_than_one_to_n_fail(sequences: list[int]) -> None:
    components = [component(n, is_main=i == 0) for i, n in enumerate(sequences)]
    if sorted(sequences) == list(range(1, len(sequences) + 1)):
        validate_components(
            components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING
        )
        return
    with pytest.raises(RecordRejected) as caught:
        validate_components(
            components, agency(), max_file_bytes=MAX_FILE_BYTES, staging_bucket=STAGING
        )
    assert caught.value.reason == "component-sequence"


@pytest.mark.parametrize(
    ("document_id", "passes"),
    [("BGT-2026-0003", True), ("x" * 200, True), ("x" * 201, False), ("", False), ("  ", False),
     ("BGT-1\x00", False), ("BGT-1\n", False)],
)  # fmt: skip
def test_document_id(document_id: str, passes: bool) -> None:
    if passes:
        check(event(document_id=document_id))
    else:
        assert reason_of(event(document_id=document_id)) == "invalid-document-id"


def test_validation_does_not_change_the_event() -> None:
    original = event()
    candidate = copy.deepcopy(original)
    check(candidate)
    assert candidate == original


# --- properties (issue 4: bad input) -------------------------------------------------------
# Every reason code validate_event can give; a new one must be added here on purpose.
EVENT_REASONS = DESCRIPTION_REASONS | {
    "unknown-agency", "agency-mismatch", "invalid-document-id",
    "unknown-relation-type", "unknown-agent-type",
    "no-content", "main-document", "component-sequence", "unsafe-file-name", "size-limit",
    "empty-file", "missing-checksum", "payload-outside-staging", "unsafe-staged-key",
    "invalid-absent-declaration", "unknown-retention-period", "unknown-issuer-relation",
}  # fmt: skip
DESCRIPTION_FIELDS = shared_types()["recordflow.common.RecordDescription"]["fields"]


def passes_or_says_why(candidate: dict[str, Any], owner: str = "bgt") -> None:
    try:
        check(candidate, owner)
    except RecordRejected as rejection:
        assert rejection.reason in EVENT_REASONS, rejection
        assert rejection.message


@settings(max_examples=300, deadline=None)
@given(value=avro_values(DOCUMENT_LIFECYCLE_EVENT))
def test_any_decodable_event_passes_or_is_rejected_with_a_known_reason(
    value: dict[str, Any],
) -> None:
    passes_or_says_why(value)


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_a_valid_event_with_any_fields_changed_passes_or_is_rejected_with_a_known_reason(
    data: st.DataObject,
) -> None:
    """Closer to real input than wholly random events: a valid 通知 whose description elements,
    file names, sizes and document id are replaced by any value of their Avro type."""
    changed = data.draw(
        st.lists(st.sampled_from(DESCRIPTION_FIELDS), max_size=4, unique_by=lambda f: f["name"])
    )
    values = {
        field["name"]: data.draw(avro_field_values(field["type"]), label=field["name"])
        for field in changed
    }
    files = [
        component(1, file_name=data.draw(st.one_of(ANY_TEXT, st.just("01.pdf")), label="file_name"),
                  size_bytes=data.draw(st.integers(min_value=-1, max_value=MAX_FILE_BYTES + 1)))
    ]  # fmt: skip
    document_id = data.draw(st.one_of(st.just("BGT-2026-0003"), ANY_TEXT), label="document_id")
    passes_or_says_why(event(description=description(**values), components=files,
                             document_id=document_id))  # fmt: skip


# --- staged keys (issue 12): only the agency's own prefix, taken as it is ---------------------
@pytest.mark.parametrize(
    "key",
    [
        "bgt/../zjj/u1/01.pdf",  # climbs into another agency's prefix
        "bgt/u1/../../zjj/u1/01.pdf",
        "bgt/./u1/01.pdf",
        "bgt//u1/01.pdf",  # an empty segment some clients fold away
        "bgt/u1/",
        "bgt/u1%2F..%2F..%2Fzjj/01.pdf",  # percent-encoded separators
        "bgt/u1%2f01.pdf",
        "bgt/%2E%2E/zjj/u1/01.pdf",
        "bgt/u1%5C..%5Czjj/01.pdf",
        "bgt\\..\\zjj\\u1\\01.pdf",
        "bgt/u1/01\x00.pdf",
        "/bgt/u1/01.pdf",
        "bgt",
        "zjj/u1/01.pdf",
        "BGT/u1/01.pdf",
    ],
)
def test_a_staged_key_outside_the_agencys_own_prefix_is_unsafe(key: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        validate_components(
            [with_payload(key=key)], agency(), max_file_bytes=MAX_FILE_BYTES,
            staging_bucket=STAGING,
        )  # fmt: skip
    assert caught.value.reason == "unsafe-staged-key"


@pytest.mark.parametrize("key", ["bgt/u1/01-请示.pdf", "bgt/u1/02-a%20b.pdf", "bgt/u1/sub/03.pdf"])
def test_a_normalised_key_under_the_agencys_prefix_passes(key: str) -> None:
    assert staged_key_problem(key, "bgt") is None
