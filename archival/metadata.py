"""Validation of a decoded DocumentLifecycleEvent: pure functions (no I/O but loading the rules).

The agency is the owner of the topic the event arrived on, never a field of the payload: the
payload's agency must agree with it. The producer SDK runs the same checks before it sends, so an
agency system hears about a bad submission at once rather than from the dead-letter topic.

The rules for the content description are data (`recordflow/metadata_rules.yaml`, loaded once at
an entry point with `load_metadata_rules` and passed in): required and conditional elements,
lengths, value domains, refused values, stray characters, reasonable dates and page counts. The
DA/T 70 check at receipt (archival/checks.py) reads the same `MetadataRules`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from archival.formats import Category as FormatCategory
from archival.persons import validate_persons
from archival.reference import CATEGORY_WS, category_of
from archival.reference import parse as parse_reference_code
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, load_schema_json, shared_types
from recordflow.agencies import Agency, AgencyRegistry
from recordflow.errors import RecordRejected
from recordflow.settings import ingest_agency_code

DESCRIPTION_TYPE = "recordflow.common.RecordDescription"
MEDIA_TYPE = "recordflow.common.MediaDescription"
# 拍摄时间 as precisely as it is known: an old photo's catalogue often has the year only.
CAPTURE_TIME = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?")
CAPTURE_TIME_FORMS = ("%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_DOCUMENT_ID_CHARS = 200  # 电子文件号: an agency system's own id, never a text
MAX_FILE_NAME_BYTES = 255  # what ext4, NTFS and most other file systems take as one name
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# %2F "/", %5C "\\", %2E ".": what a decoding client would turn into a path to resolve.
PERCENT_ENCODED_PATH = re.compile(r"%(2[fFeE]|5[cC])")
# Names Windows gives to devices, whatever extensions follow (`nul.tar.gz` is NUL).
WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))]
)
# The event's lists of other DA/T 46 entities (v2 of the event) and the shared type of their items.
ENTITY_LISTS = {
    "history": "recordflow.common.BusinessActivity",
    "agents": "recordflow.common.AgentEntity",
    "relations": "recordflow.common.RecordRelation",
}


# --- the rules (data) --------------------------------------------------------------------
@cache
def description_elements() -> tuple[str, ...]:
    """The elements of a RecordDescription: the fields of its shared Avro schema, in order."""
    return tuple(field["name"] for field in shared_types()[DESCRIPTION_TYPE]["fields"])


def _known_element(name: str) -> str:
    if name not in description_elements():
        known = ", ".join(description_elements())
        raise ValueError(f"{name!r} is not an element of RecordDescription ({known})")
    return name


def _known_media_element(name: str) -> str:
    fields = [field["name"] for field in shared_types()[MEDIA_TYPE]["fields"]]
    if name not in fields:
        raise ValueError(f"{name!r} is not an element of MediaDescription ({', '.join(fields)})")
    return name


def _known_entity_element(name: str) -> str:
    """`<event list>.<field>`, e.g. relations.relation_type."""
    list_name, _, field = name.partition(".")
    item_type = ENTITY_LISTS.get(list_name)
    if item_type is None or field not in {f["name"] for f in shared_types()[item_type]["fields"]}:
        known = ", ".join(
            f"{entity_list}.{f['name']}"
            for entity_list, entity_type in ENTITY_LISTS.items()
            for f in shared_types()[entity_type]["fields"]
        )
        raise ValueError(f"{name!r} is not an element of the event's entity lists ({known})")
    return name


def _known_event_field(name: str) -> str:
    fields = [
        field["name"] for field in json.loads(load_schema_json(DOCUMENT_LIFECYCLE_EVENT))["fields"]
    ]
    if name not in fields:
        raise ValueError(f"{name!r} is not a field of the lifecycle event ({', '.join(fields)})")
    return name


Element = Annotated[str, AfterValidator(_known_element)]
EntityElement = Annotated[str, AfterValidator(_known_entity_element)]
MediaElement = Annotated[str, AfterValidator(_known_media_element)]
CategoryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
EventField = Annotated[str, AfterValidator(_known_event_field)]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z]+(-[a-z]+)*$")]
Value = Annotated[str, Field(min_length=1)]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Refused(_Rule):
    """Values of an element the pipeline does not accept at all (classified records)."""

    element: Element
    values: tuple[Value, ...] = Field(min_length=1)
    reason: ReasonCode


class RequiredElement(_Rule):
    element: Element
    reason: ReasonCode


class ConditionalElement(_Rule):
    """An element required when every element named in `when` has one of the values listed,
    unless the agency declares that the document truly has none (`absent_elements` of the event)
    and the rule lets it (`declarable`)."""

    element: Element
    reason: ReasonCode
    when: dict[Element, tuple[Value, ...]] = Field(min_length=1)
    declarable: bool = False

    def applies(self, description: Mapping[str, Any]) -> bool:
        return all(description.get(name) in values for name, values in self.when.items())


class TextRules(_Rule):
    elements: tuple[Element, ...]
    stray_characters: re.Pattern[str]
    normal_form: Literal["NFC", "NFD", "NFKC", "NFKD"]


class MaxLength(_Rule):
    element: Element
    chars: PositiveInt
    reason: ReasonCode = "value-too-long"


class KeywordRules(_Rule):
    max_count: PositiveInt
    max_chars: PositiveInt


class ValueDomain(_Rule):
    reason: ReasonCode
    values: tuple[Value, ...] = Field(min_length=1)
    nullable: bool = False

    @model_validator(mode="after")
    def _unique(self) -> ValueDomain:
        if repeated := sorted({value for value in self.values if self.values.count(value) > 1}):
            raise ValueError(f"values listed twice: {', '.join(repeated)}")
        return self

    def allows(self, value: Any) -> bool:
        return (value is None and self.nullable) or value in self.values


class DateRules(_Rule):
    earliest: dt.date


class PageCountRange(_Rule):
    min: PositiveInt
    max: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> PageCountRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class MediaRequired(_Rule):
    element: MediaElement
    reason: ReasonCode


class ArchiveCategory(_Rule):
    """One archive category (门类): what its records are and must describe (metadata_rules.yaml,
    `categories`)."""

    name: str
    standard: str | None = None
    document_types: tuple[Value, ...] = ()  # the 文种 of its records; none: any no other claims
    format_categories: tuple[FormatCategory, ...] = ()  # of its files' formats; none: any
    required: tuple[MediaRequired, ...] = ()  # of the media description
    max_length: dict[MediaElement, PositiveInt] = {}

    @property
    def describes_media(self) -> bool:
        return bool(self.required or self.max_length)


class MetadataRules(_Rule):
    """recordflow/metadata_rules.yaml: what a RecordDescription must satisfy."""

    version: Literal[1]
    refused: tuple[Refused, ...] = ()
    required: tuple[RequiredElement, ...]
    text: TextRules
    max_length: tuple[MaxLength, ...]
    keywords: KeywordRules
    value_domains: dict[Element, ValueDomain]
    entity_domains: dict[EntityElement, ValueDomain] = {}
    event_domains: dict[EventField, ValueDomain] = {}
    conditional: tuple[ConditionalElement, ...] = ()
    dates: DateRules
    page_count: PageCountRange
    categories: dict[CategoryCode, ArchiveCategory]

    @model_validator(mode="after")
    def _consistent(self) -> MetadataRules:
        if CATEGORY_WS not in self.categories:
            raise ValueError(
                f"categories: {CATEGORY_WS}, the category of a record that names none, is missing"
            )
        claimed = [
            kind for category in self.categories.values() for kind in category.document_types
        ]
        if repeated := sorted({kind for kind in claimed if claimed.count(kind) > 1}):
            raise ValueError(f"categories: {', '.join(repeated)} claimed by two categories")
        self._within_domain("categories", "document_type", tuple(claimed))
        for section, elements in (
            ("required", [rule.element for rule in self.required]),
            ("max_length", [rule.element for rule in self.max_length]),
        ):
            if repeated := sorted({e for e in elements if elements.count(e) > 1}):
                raise ValueError(f"{section} lists {', '.join(repeated)} more than once")
        required = {rule.element for rule in self.required}
        for rule in self.conditional:
            if rule.element in required:
                raise ValueError(f"conditional: {rule.element} is required anyway")
            for name, values in rule.when.items():
                self._within_domain(f"conditional {rule.element}: when {name}", name, values)
        for refusal in self.refused:
            domain = self.value_domains.get(refusal.element)
            if domain is None:
                raise ValueError(f"refused: {refusal.element} has no value domain")
            self._within_domain(f"refused {refusal.element}", refusal.element, refusal.values)
        return self

    def _within_domain(self, where: str, element: str, values: tuple[str, ...]) -> None:
        """A value outside the element's domain is rejected before this rule could see it."""
        domain = self.value_domains.get(element)
        if domain is not None and (outside := [v for v in values if v not in domain.values]):
            raise ValueError(f"{where}: {', '.join(outside)} not in the value domain of {element}")

    def required_elements(
        self, description: Mapping[str, Any], absent: Collection[str] = ()
    ) -> list[str]:
        """The elements this description must not leave empty: the required ones and the
        conditional ones whose condition it meets, but for those the agency declared absent."""
        return [rule.element for rule in self.required] + [
            rule.element
            for rule in self.conditional
            if rule.applies(description) and rule.element not in absent
        ]

    def declarable_absent(self) -> list[str]:
        """The conditional elements an agency may declare a document does not have."""
        return [rule.element for rule in self.conditional if rule.declarable]

    def category_claiming(self, document_type: str) -> str | None:
        """The category whose records alone have this 文种 (照片 → ZP), or None."""
        return next(
            (code for code, category in self.categories.items()
             if document_type in category.document_types), None
        )  # fmt: skip

    def max_chars(self, element: str) -> int | None:
        return next((rule.chars for rule in self.max_length if rule.element == element), None)


def load_metadata_rules(path: Path) -> MetadataRules:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        return MetadataRules.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: not valid metadata rules: {exc}") from exc


def is_empty(value: Any) -> bool:
    """Null, blank text or an empty list: a required element given no value."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple) and not value


# --- validation --------------------------------------------------------------------------
def agency_for_topic(topic: str, registry: AgencyRegistry, topic_prefix: str = "") -> Agency:
    """The registered agency that owns an ingest topic `ingest.<code>.lifecycle.v1`."""
    code = ingest_agency_code(topic, topic_prefix)
    agency = registry.get(code) if code else None
    if agency is None:
        raise RecordRejected(
            "unknown-topic", f"{topic} is not the ingest topic of a registered agency"
        )
    return agency


def validate_event(
    event: Mapping[str, Any],
    owner: Agency,
    registry: AgencyRegistry,
    rules: MetadataRules,
    *,
    max_file_bytes: int,
    staging_bucket: str,
    today: dt.date | None = None,
) -> None:
    """Raise RecordRejected with a reason code for the first rule the event breaks."""
    claimed = event["agency"]["code"]
    if registry.get(claimed) is None:
        raise RecordRejected("unknown-agency", f"agency {claimed!r} is not in the agency registry")
    if claimed != owner.code:
        raise RecordRejected(
            "agency-mismatch",
            f"event names agency {claimed!r} but arrived on {owner.code!r}'s topic",
        )
    validate_document_id(event["document_id"])
    absent = event.get("absent_elements") or []
    validate_description(event["description"], owner, rules, today=today, absent=absent)
    validate_entities(event, rules)
    validate_transfer(event, owner)
    validate_category(event, rules, today=today)
    validate_components(
        event["components"], owner, max_file_bytes=max_file_bytes, staging_bucket=staging_bucket
    )


def document_type_in_title(title: str, rules: MetadataRules) -> str | None:
    """The 文种 a title ends with (关于…的通知 → 通知; 市政府第五次常务会议纪要 → 会议纪要, the longest
    that fits), for a catalogue of legacy paper that has no 文种 column; None when none fits."""
    domain = rules.value_domains.get("document_type")
    kinds = sorted((str(v) for v in domain.values), key=len, reverse=True) if domain else []
    return next((kind for kind in kinds if title.strip().endswith(kind)), None)


CARRIER_MEDIA = ("electronic", "digitized")


def validate_transfer(fields: Mapping[str, Any], agency: Agency) -> None:
    """A transferred record's 档号 (kept as given: a legacy or digitized record's) must be a DA/T 22
    code of the agency's fonds and one of its units; its carrier must say what it is on."""
    code = fields.get("reference_code")
    if code is not None:
        try:
            series, _ = parse_reference_code(code)
        except ValueError as exc:
            raise RecordRejected("legacy-reference-code-invalid", str(exc)) from exc
        if series.fonds_code != agency.fonds_code:
            raise RecordRejected("legacy-reference-code-invalid",
                                 f"档号 {code} is of fonds {series.fonds_code}, not "
                                 f"{agency.code}'s {agency.fonds_code}")  # fmt: skip
        if agency.unit(series.unit_code) is None:
            raise RecordRejected("legacy-reference-code-invalid",
                                 f"档号 {code} names unit {series.unit_code}, which {agency.code} "
                                 "has not registered")  # fmt: skip
    carrier = fields.get("carrier")
    if carrier is not None:
        if carrier["medium"] not in CARRIER_MEDIA:
            raise RecordRejected("invalid-carrier", f"carrier medium {carrier['medium']!r} is not "
                                 f"one of {', '.join(CARRIER_MEDIA)}")  # fmt: skip
        if carrier["medium"] == "digitized" and not carrier.get("original_medium"):
            raise RecordRejected("invalid-carrier", "a digitized copy names its original's carrier "
                                 "(original_medium: 纸质, 照片 …)")  # fmt: skip
        if carrier.get("awaiting_counterpart") and agency.single_set:
            raise RecordRejected("invalid-carrier", f"{agency.code} files single-set (单套制): "
                                 "no paper twin to wait for")  # fmt: skip


def validate_category(
    fields: Mapping[str, Any], rules: MetadataRules, *, today: dt.date | None = None
) -> None:
    """The event's archive category is known and fits its 文种 and legacy 档号; a photo's or
    recording's description has what its standard requires (DA/T 54, DA/T 63), in clean text,
    with a 拍摄时间 in one of the forms CAPTURE_TIME allows and not in the future."""
    code = category_of(fields)
    category = rules.categories.get(code)
    if category is None:
        raise RecordRejected("unknown-category", f"archive category {code!r} is not one of "
                             f"{', '.join(rules.categories)} (门类代码)")  # fmt: skip
    document_type = fields["description"]["document_type"]
    claimed = rules.category_claiming(document_type)
    if claimed not in (None, code) or (category.document_types and claimed != code):
        expected = ", ".join(category.document_types) or "a 文种 of no other category"
        raise RecordRejected("document-type-not-in-category", f"a {category.name} ({code}) record "
                             f"is not a {document_type}: expected {expected}")  # fmt: skip
    legacy = fields.get("reference_code")
    if legacy and parse_reference_code(legacy)[0].category != code:
        raise RecordRejected("legacy-reference-code-invalid",
                             f"档号 {legacy} is not of the record's category {code}")  # fmt: skip
    media = fields.get("media")
    if media is None and not category.required:
        return
    if not category.describes_media:
        raise RecordRejected("media-description-not-expected", f"a {category.name} ({code}) "
                             "record has no photo or recording description (media)")  # fmt: skip
    media = media or {}
    for rule in category.required:
        if is_empty(media.get(rule.element)):
            raise RecordRejected(rule.reason, f"a {category.name} ({code}) record's media "
                                 f"description needs {rule.element}")  # fmt: skip
    _validate_text(media, rules.text, elements=tuple(category.max_length))
    for element, chars in category.max_length.items():
        values = media.get(element)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and len(value) > chars:
                raise RecordRejected("value-too-long",
                                     f"media {element} is longer than {chars} characters")  # fmt: skip
    _validate_capture_time(media.get("captured_at"), today or dt.date.today())


def _validate_capture_time(captured_at: str | None, today: dt.date) -> None:
    if captured_at is None:
        return
    if CAPTURE_TIME.fullmatch(captured_at):
        for form in CAPTURE_TIME_FORMS:
            try:
                moment = dt.datetime.strptime(captured_at, form)
            except ValueError:
                continue
            if moment.date() > today:
                raise RecordRejected("invalid-capture-time",
                                     f"拍摄时间 {captured_at} is in the future")  # fmt: skip
            return
    raise RecordRejected("invalid-capture-time", f"拍摄时间 {captured_at!r} is not a time like "
                         "1986, 1986-05, 1986-05-01 or 1986-05-01T09:30")  # fmt: skip


def validate_description(
    description: Mapping[str, Any],
    agency: Agency,
    rules: MetadataRules,
    *,
    today: dt.date | None = None,
    absent: Collection[str] = (),
) -> None:
    """Raise RecordRejected for the first metadata rule the description breaks, in the order of
    metadata_rules.yaml's sections. `absent`: the conditional elements the agency declares the
    document does not have (the event's `absent_elements`)."""
    today = today or dt.date.today()
    validate_absent(description, absent, rules)
    for refusal in rules.refused:
        value = description.get(refusal.element)
        if value in refusal.values:
            raise RecordRejected(
                refusal.reason,
                f"records whose {refusal.element} is {value!r} are not accepted by this pipeline",
            )
    for rule in rules.required:
        if is_empty(description.get(rule.element)):
            raise RecordRejected(
                rule.reason, f"required metadata element {rule.element!r} is empty"
            )
    _validate_text(description, rules.text)
    for limit in rules.max_length:
        value = description.get(limit.element)
        if value is not None and len(value) > limit.chars:
            raise RecordRejected(
                limit.reason, f"{limit.element} is longer than {limit.chars} characters"
            )
    _validate_keywords(description.get("keywords") or [], rules.keywords)
    for element, domain in rules.value_domains.items():
        value = description.get(element)
        if not domain.allows(value):
            raise RecordRejected(
                domain.reason, f"{element} {value!r} is not one of {', '.join(domain.values)}"
            )
    for conditional in rules.conditional:
        if conditional.element in absent:
            continue
        if conditional.applies(description) and is_empty(description.get(conditional.element)):
            condition = " and ".join(
                f"{name} is {description.get(name)!r}" for name in conditional.when
            )
            raise RecordRejected(
                conditional.reason,
                f"metadata element {conditional.element!r} is required when {condition}",
            )
    if agency.unit(description["unit_code"]) is None:
        raise RecordRejected(
            "unknown-unit", f"unit {description['unit_code']!r} is not one of {agency.code}'s units"
        )
    _validate_dates(description["document_date"], description["year"], rules.dates, today)
    pages = description.get("page_count")
    if pages is not None and not rules.page_count.min <= pages <= rules.page_count.max:
        raise RecordRejected(
            "page-count-out-of-range",
            f"page count {pages} is outside {rules.page_count.min}..{rules.page_count.max}",
        )


def validate_absent(
    description: Mapping[str, Any], absent: Collection[str], rules: MetadataRules
) -> None:
    """A declaration that the document has no such element (无文号 …) names a conditional element
    the rules let an agency declare, once, and leaves that element empty."""
    declarable = rules.declarable_absent()
    for element in absent:
        if element not in declarable:
            allowed = ", ".join(declarable) or "none"
            raise RecordRejected(
                "invalid-absent-declaration",
                f"{element!r} cannot be declared absent (declarable: {allowed})",
            )
        if not is_empty(description.get(element)):
            raise RecordRejected(
                "invalid-absent-declaration",
                f"{element!r} is declared absent but has the value {description.get(element)!r}",
            )
    if len(set(absent)) != len(absent):
        raise RecordRejected("invalid-absent-declaration", "an element is declared absent twice")


def validate_entities(event: Mapping[str, Any], rules: MetadataRules) -> None:
    """Raise RecordRejected for the first of the event's own fields (`event_domains`: proposed
    period, issuer relation) or items of its entity lists (relations, agents …: `entity_domains`)
    whose value is outside its domain (metadata_rules.yaml), or the first person it names without
    a role and name or with a wrong identity number (archival/persons.py)."""
    for name, domain in rules.event_domains.items():
        if not domain.allows(event.get(name)):
            raise RecordRejected(
                domain.reason,
                f"{name} {event.get(name)!r} is not one of {', '.join(domain.values)}",
            )
    for key, domain in rules.entity_domains.items():
        list_name, _, field = key.partition(".")
        for number, item in enumerate(event.get(list_name) or []):
            value = item.get(field)
            if not domain.allows(value):
                raise RecordRejected(
                    domain.reason,
                    f"{list_name}[{number}].{field} {value!r} is not one of "
                    f"{', '.join(domain.values)}",
                )
    validate_persons(event.get("persons") or [])


def _validate_text(
    description: Mapping[str, Any], text: TextRules, elements: tuple[str, ...] | None = None
) -> None:
    """No stray characters and one Unicode form in `elements` (the text rules' own by default)."""
    for element in text.elements if elements is None else elements:
        value = description.get(element)
        for item in value if isinstance(value, list | tuple) else [value]:
            if not item:
                continue
            if text.stray_characters.search(item):
                raise RecordRejected(
                    "stray-characters", f"{element!r} contains control or replacement characters"
                )
            if unicodedata.normalize(text.normal_form, item) != item:
                raise RecordRejected(
                    "not-normalized", f"{element!r} is not in Unicode {text.normal_form} form"
                )


def _validate_keywords(keywords: list[str], rules: KeywordRules) -> None:
    if len(keywords) > rules.max_count:
        raise RecordRejected(
            "too-many-keywords", f"{len(keywords)} keywords, more than {rules.max_count}"
        )
    for keyword in keywords:
        if len(keyword) > rules.max_chars:
            raise RecordRejected(
                "value-too-long",
                f"keyword {keyword[:20]!r}… is longer than {rules.max_chars} characters",
            )


def _validate_dates(document_date: dt.date, year: int, dates: DateRules, today: dt.date) -> None:
    if document_date > today:
        raise RecordRejected("future-date", f"document date {document_date} is in the future")
    if document_date < dates.earliest:
        raise RecordRejected(
            "date-too-early", f"document date {document_date} is before {dates.earliest}"
        )
    if not dates.earliest.year <= year <= today.year:
        raise RecordRejected(
            "invalid-year", f"filing year {year} is outside {dates.earliest.year}..{today.year}"
        )
    if document_date.year > year:
        raise RecordRejected(
            "invalid-year", f"filing year {year} is before the document date {document_date}"
        )


def validate_document_id(document_id: str) -> None:
    """The agency system's id of the document (电子文件号): present, short, printable."""
    if is_empty(document_id):
        raise RecordRejected("invalid-document-id", "the document id is empty")
    if len(document_id) > MAX_DOCUMENT_ID_CHARS:
        raise RecordRejected(
            "invalid-document-id",
            f"document id {document_id[:20]!r}… has {len(document_id)} characters, "
            f"more than {MAX_DOCUMENT_ID_CHARS}",
        )
    if CONTROL.search(document_id):
        raise RecordRejected("invalid-document-id", "the document id holds control characters")


def file_name_problem(name: str) -> str | None:
    """What makes `name` unsafe as a computer file name (计算机文件名), or None for a plain one.

    The name travels into the record, its package and every export: it must be one name, not a
    path (no `/` or `\\`, not `.` or `..`), hold no control characters (NUL above all, which cuts
    a name short in C and so in most file systems), fit in 255 bytes, and not be a Windows
    device (`CON.pdf` opens the console) or end in a space or a dot (which Windows drops).
    The SDK makes a safe staging key of any name (connectors.storage.safe_filename), but keeps
    the name the agency gave in the event: this is what that name must be.
    """
    if not name.strip():
        return "is empty"
    if name in (".", ".."):
        return "is a path, not a file name"
    if "/" in name or "\\" in name:
        return "holds a directory separator: a path, not a file name"
    if CONTROL.search(name):
        return "holds control characters (NUL, newline …)"
    if len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        return f"is {len(name.encode('utf-8'))} bytes long, more than {MAX_FILE_NAME_BYTES}"
    if name.partition(".")[0].rstrip(" ").lower() in WINDOWS_DEVICES:
        return "is a Windows device name"
    if name.endswith((" ", ".")):
        return "ends in a space or a dot"
    return None


def validate_components(
    components: Sequence[Mapping[str, Any]],
    agency: Agency,
    *,
    max_file_bytes: int,
    staging_bucket: str,
) -> None:
    if not components:
        raise RecordRejected("no-content", "the record has no computer files")
    mains = [component for component in components if component["is_main"]]
    if len(mains) != 1:
        raise RecordRejected("main-document", f"expected one main document, found {len(mains)}")
    sequences = sorted(component["sequence"] for component in components)
    if sequences != list(range(1, len(components) + 1)):
        raise RecordRejected(
            "component-sequence", f"file sequence numbers {sequences} are not 1..n"
        )
    for component in components:
        name = component["file_name"]
        if problem := file_name_problem(name):
            raise RecordRejected(
                "unsafe-file-name", f"file {component['sequence']} name {name[:80]!r} {problem}"
            )
        if component["size_bytes"] < 0 or component["size_bytes"] > max_file_bytes:
            raise RecordRejected(
                "size-limit",
                f"{name}: size {component['size_bytes']} is outside 0..{max_file_bytes}",
            )
        if component["size_bytes"] == 0:  # DA/T 70 YJ-2-2: no file is empty
            raise RecordRejected("empty-file", f"{name}: declared empty (0 bytes)")
        if not any(checksum["algorithm"] == "SHA256" for checksum in component["checksums"]):
            raise RecordRejected("missing-checksum", f"{name}: no SHA-256 digest")
        payload = component["payload"]
        if payload["inline_content"] is None:
            where = f"{payload['bucket']}/{payload['key']}"
            if payload["bucket"] != staging_bucket or not payload["key"]:
                raise RecordRejected(
                    "payload-outside-staging",
                    f"{name}: {where} is outside {staging_bucket}/{agency.code}/",
                )
            if problem := staged_key_problem(payload["key"], agency.code):
                raise RecordRejected(
                    "unsafe-staged-key", f"{name}: staged key {payload['key'][:200]!r} {problem}"
                )


def staged_key_problem(key: str, agency_code: str) -> str | None:
    """What keeps `key` from naming an object under `staging/<agency>/`, or None.

    The key is taken as it is, never normalised on the agency's behalf: an S3 client or server that
    resolves `..` or decodes `%2F` would read another agency's file, so a key with anything to
    resolve is refused before any S3 call (DA/T 70 authenticity: the source is the agency's own).
    """
    if CONTROL.search(key) or "\\" in key:
        return "holds control characters or a backslash"
    if PERCENT_ENCODED_PATH.search(key):
        return "holds a percent-encoded separator or dot"
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "is not a normalised path (empty, '.' or '..' segments)"
    if segments[0] != agency_code or len(segments) < 2:
        return f"is not under {agency_code}/, the agency's own staging prefix"
    return None
