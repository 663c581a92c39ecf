"""The four-property check at receipt (移交接收检测, DA/T 70-2018, stage YJ): pure functions, no I/O.

The check items are data (`recordflow/checks.yaml`): codes, names, and the value lists they check
against; the metadata items (YJ-1-2, YJ-2-1) read the same `MetadataRules`
(`recordflow/metadata_rules.yaml`) that intake validates against, so the two cannot disagree. This
module has one checker per item code. `check_receipt` runs them all over the
`Evidence` the register stage gathers for one record (its metadata, what was received, format
identification, the virus scan, what was read back from the archive) and returns a `CheckReport`:
one pass / fail / not-checked result with a reason per item.

An item that cannot be checked yet or at all (no scanner configured, no item number assigned yet,
nothing stored yet) is "not-checked" with the reason, never "pass". A failed authenticity (1) or
integrity (2) item rejects the record; a failed usability (3) item flags it for archive staff to
review; a failed security (4) item quarantines it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from archival.metadata import MetadataRules, TextRules, is_empty
from archival.reference import CATEGORY_WS, parse
from avro_schemas.schemas import shared_types
from recordflow.agencies import UNIT_CODE
from recordflow.settings import PACKAGE_DIR

Result = Literal["pass", "fail", "not-checked"]
PASS: Result = "pass"
FAIL: Result = "fail"
NOT_CHECKED: Result = "not-checked"
Outcome = tuple[Result, str]

DEFAULT_ITEMS_FILE = PACKAGE_DIR / "checks.yaml"
AUTHENTICITY, INTEGRITY, USABILITY, SECURITY = 1, 2, 3, 4
PROPERTIES = (AUTHENTICITY, INTEGRITY, USABILITY, SECURITY)
# The flags an archived record carries for archive staff (ArchivalRecord `flags`): a usability item
# failed; an authenticity or integrity item failed when the check ran again on what was stored
# (only a storage fault can do that, since the same items were checked before numbering).
FLAG_USABILITY_REVIEW = "usability-review"
FLAG_FAILED_AFTER_STORE = "check-failed-after-store"
# The verdict of a record's CheckSummary: PASS, or flagged for usability review.
VERDICT_FLAGGED = "flagged"


# --- evidence ----------------------------------------------------------------------------
class FormatLike(Protocol):
    """What format identification found for one file (archival.formats.FormatInfo has this shape).

    `problems` are problem codes (archival.formats.PROBLEMS: "unreadable", "not-accepted",
    "encrypted", "extension-mismatch" …); checks.yaml says which item each one fails. Of
    `technical`, the check reads `compression` (scheme names, comma-separated) and the
    creating-application keys checks.yaml names.
    """

    @property
    def puid(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def mime_type(self) -> str | None: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def category(self) -> str | None: ...  # the accepted format's kind: image, audio, video …
    @property
    def technical(self) -> Mapping[str, str]: ...
    @property
    def problems(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class SignatureCheck:
    """What verifying one electronic signature on a file found (archival/signatures.py)."""

    signature_id: str
    result: Result
    reason: str


# A virus scan's outcome (connectors/clamd.py asks clamd).
ScanOutcome = Literal["clean", "infected", "not-checked"]


@dataclass(frozen=True)
class ScanResult:
    result: ScanOutcome
    detail: str  # the signature found, why the content was not checked, or clamd's reply
    # Not checked because clamd could not be reached or gave no answer: the pipeline waits for
    # it (connectors/failures.py ScannerUnavailable) rather than archive the file unscanned.
    unavailable: bool = False

    @classmethod
    def not_checked(cls, detail: str) -> ScanResult:
        return cls("not-checked", detail)


@dataclass(frozen=True)
class ComponentEvidence:
    """One computer file (文档) of the record: what was declared, received, identified and stored."""

    file_name: str
    declared_size: int
    actual_size: int | None  # None: the file was not received
    declared_sha256: str | None
    actual_sha256: str | None  # None: the file was not received
    format: FormatLike | None  # None: format identification did not run
    scan: ScanResult | None  # None: no virus scanner is configured
    stored_key: str | None = None  # the archive key, once stored
    stored_sha256: str | None = None  # SHA-256 read back from stored_key; None if not read back
    signatures: Sequence[SignatureCheck] = ()  # one per electronic signature the producer sent


@dataclass(frozen=True)
class Evidence:
    """Everything the check needs to know about one received record."""

    description: Mapping[str, Any]  # the record's RecordDescription, as decoded from Avro
    reference_code: str | None  # 档号; None before the item number is assigned
    item_number_follows_series: bool | None  # 件号 = previous + 1; None before it is assigned
    components: Sequence[ComponentEvidence]
    authenticated_source: bool  # the event arrived on the ingest topic of the agency it names
    # Conditional elements the agency declared the document does not have (无文号 …).
    absent_elements: tuple[str, ...] = ()
    category: str = CATEGORY_WS  # 门类代码 the record was sent as
    # The kinds of format its category's files may be (metadata_rules.yaml); empty: any.
    format_categories: tuple[str, ...] = ()


# --- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SubResult:
    """One part of an item checked on its own: one signature of one file, for YJ-1-1."""

    subject: str
    result: Result
    reason: str


@dataclass(frozen=True)
class ItemResult:
    code: str
    property: int
    result: Result
    reason: str
    sub_results: tuple[SubResult, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    stage: str
    items: tuple[ItemResult, ...]
    checked_at: dt.datetime

    @property
    def properties(self) -> dict[int, Result]:
        """Verdict per property: fail if any item failed, pass if every item passed, else
        not-checked."""
        return {number: _verdict(self._results(number)) for number in PROPERTIES}

    @property
    def rejects(self) -> bool:
        """An authenticity or integrity item failed: the record must not be archived as it is."""
        return any(self._failed(number) for number in (AUTHENTICITY, INTEGRITY))

    @property
    def flags_for_review(self) -> bool:
        """A usability item failed: archive staff should look at the record."""
        return self._failed(USABILITY)

    @property
    def quarantines(self) -> bool:
        """A security item failed (malware found, unauthenticated source)."""
        return self._failed(SECURITY)

    @property
    def failing_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items if item.result == FAIL)

    def item(self, code: str) -> ItemResult:
        return next(item for item in self.items if item.code == code)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "stage": self.stage,
            "checked_at": self.checked_at.isoformat(),
            "properties": {str(number): result for number, result in self.properties.items()},
            "rejects": self.rejects,
            "flags_for_review": self.flags_for_review,
            "quarantines": self.quarantines,
            "failing_codes": list(self.failing_codes),
            "items": [
                {
                    "code": i.code,
                    "property": i.property,
                    "result": i.result,
                    "reason": i.reason,
                    "sub_results": [vars(sub) for sub in i.sub_results],
                }
                for i in self.items
            ],
        }

    def _results(self, number: int) -> list[Result]:
        return [item.result for item in self.items if item.property == number]

    def _failed(self, number: int) -> bool:
        return FAIL in self._results(number)


def _verdict(results: Sequence[Result]) -> Result:
    if FAIL in results:
        return FAIL
    return PASS if results and all(result == PASS for result in results) else NOT_CHECKED


# --- check items (data) ------------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PropertyName(_Frozen):
    zh: str
    en: str


class CheckItem(_Frozen):
    code: str
    zh: str
    en: str
    checks: str

    @property
    def property(self) -> int:
        return int(self.code.split("-")[1])


class NotAtReceipt(_Frozen):
    item: str
    why: str


class FormatRules(_Frozen):
    problem_items: dict[str, str]  # problem code → the item it fails; others fail FORMAT_ITEM
    public_compression: tuple[str, ...]
    creating_application_keys: tuple[str, ...]


class CheckItems(_Frozen):
    version: int
    stage: str = Field(pattern=r"^[A-Z]{2}$")
    standard: str
    properties: dict[int, PropertyName]
    items: tuple[CheckItem, ...]
    not_at_receipt: tuple[NotAtReceipt, ...] = ()
    metadata: MetadataRules  # not from checks.yaml: the pipeline's metadata_rules.yaml
    mojibake_markers: tuple[str, ...]
    formats: FormatRules

    @model_validator(mode="after")
    def _consistent(self) -> CheckItems:
        if sorted(self.properties) != list(PROPERTIES):
            raise ValueError(f"properties must be {PROPERTIES}, not {sorted(self.properties)}")
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate item codes in {codes}")
        shape = re.compile(rf"{self.stage}-[1-4]-[1-9][0-9]*")
        if bad := [code for code in codes if not shape.fullmatch(code)]:
            raise ValueError(f"item codes {bad} are not {self.stage}-<property 1-4>-<n>")
        if unknown := sorted(set(codes) - set(CHECKERS)):
            raise ValueError(f"no checker for items {unknown}")
        if stray := sorted(set(self.formats.problem_items.values()) - set(codes)):
            raise ValueError(f"formats.problem_items names items {stray} that are not listed")
        return self


def load_items(path: Path = DEFAULT_ITEMS_FILE, *, metadata_rules: MetadataRules) -> CheckItems:
    """The check items of `path`, checking metadata against `metadata_rules` (the rules intake
    validates against: load them once, with archival.metadata.load_metadata_rules)."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if isinstance(data, dict) and "metadata" in data:
        raise ValueError(
            f"{path}: metadata rules live in metadata_rules.yaml (Settings.metadata_rules_file), "
            "not in the check items"
        )
    return CheckItems.model_validate({**(data or {}), "metadata": metadata_rules})


# --- the check ---------------------------------------------------------------------------
def check_receipt(
    evidence: Evidence, items: CheckItems, *, now: dt.datetime | None = None
) -> CheckReport:
    """Run every check item over the evidence, in the order the items are listed."""
    checked_at = now or dt.datetime.now(dt.UTC)
    results = []
    for item in items.items:
        result, reason = CHECKERS[item.code](evidence, items, checked_at)
        parts = SUB_RESULTS[item.code](evidence) if item.code in SUB_RESULTS else ()
        results.append(ItemResult(item.code, item.property, result, reason, parts))
    return CheckReport(items.stage, tuple(results), checked_at)


Checker = Callable[[Evidence, CheckItems, dt.datetime], Outcome]


def _per_file(evidence: Evidence, check: Callable[[ComponentEvidence], Outcome]) -> Outcome:
    """Combine one outcome per file: any failure fails, then any not-checked, else pass."""
    if not evidence.components:
        return NOT_CHECKED, "no computer files to check 无内容数据"
    outcomes = [(component.file_name, *check(component)) for component in evidence.components]
    for wanted in (FAIL, NOT_CHECKED):
        if reasons := [
            f"{name}: {reason}" for name, result, reason in outcomes if result == wanted
        ]:
            return wanted, "; ".join(reasons)
    distinct = {reason for _, _, reason in outcomes}
    if len(outcomes) > 1 and len(distinct) == 1:
        return PASS, f"all {len(outcomes)} files: {distinct.pop()}"
    return PASS, "; ".join(f"{name}: {reason}" for name, _, reason in outcomes)


# YJ-1-1 --------------------------------------------------------------------------------------
def check_fixity(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    def one(component: ComponentEvidence) -> Outcome:
        if component.actual_sha256 is None:
            return NOT_CHECKED, "file not received 未收到文件, no digest to compare"
        if not component.declared_sha256:
            return FAIL, "the producer declared no SHA-256 digest 缺少固定性信息"
        if component.declared_sha256.lower() != component.actual_sha256.lower():
            return FAIL, (
                f"SHA-256 {component.actual_sha256} differs from the producer's digest "
                f"{component.declared_sha256} 固定性信息不符"
            )
        signatures = [
            f"signature {s.signature_id} {s.result}: {s.reason}" for s in component.signatures
        ]
        if failed := [s for s in component.signatures if s.result == FAIL]:
            return FAIL, "; ".join(f"signature {s.signature_id} fails: {s.reason}" for s in failed)
        return PASS, "; ".join(
            ["SHA-256 matches the producer's digest 固定性信息有效", *signatures]
        )

    return _per_file(evidence, one)


def signature_results(evidence: Evidence) -> tuple[SubResult, ...]:
    return tuple(
        SubResult(
            f"{component.file_name} signature {check.signature_id}", check.result, check.reason
        )
        for component in evidence.components
        for check in component.signatures
    )


# YJ-1-2 --------------------------------------------------------------------------------------
TEXT_ELEMENTS = (
    "title", "document_number", "responsible_party", "document_type",
    "security_classification", "urgency", "abstract", "unit_code", "language",
)  # fmt: skip


def check_metadata_accurate(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    problems = list(_metadata_problems(evidence.description, items.metadata, now.date()))
    if problems:
        return FAIL, "元数据不准确 metadata not accurate: " + "; ".join(problems)
    return PASS, "metadata elements have valid types, lengths, formats and values 元数据准确"


def _metadata_problems(
    description: Mapping[str, Any], rules: MetadataRules, today: dt.date
) -> Iterator[str]:
    limits = {rule.element: rule.chars for rule in rules.max_length}
    for field in TEXT_ELEMENTS:
        value = description.get(field)
        if value is None or value == "":
            continue  # absent: YJ-2-1 says whether it may be
        label = _label(field)
        if not isinstance(value, str):
            yield f"{label} is a {type(value).__name__}, not text"
            continue
        if field in limits and len(value) > limits[field]:
            yield f"{label} has {len(value)} characters, more than {limits[field]}"
        yield from _text_problems(label, value, rules.text)
        domain = rules.value_domains.get(field)
        if domain is not None and not domain.allows(value):
            yield f"{label} {value!r} is not one of {_listed(domain.values)}"
    unit = description.get("unit_code")
    if isinstance(unit, str) and unit and not UNIT_CODE.fullmatch(unit):
        yield f"{_label('unit_code')} {unit!r} is not 1-8 capital letters or digits"
    yield from _keyword_problems(description.get("keywords"), rules)
    yield from _date_problems(
        description.get("document_date"), description.get("year"), rules.dates.earliest, today
    )
    pages, least, most = description.get("page_count"), rules.page_count.min, rules.page_count.max
    if pages is not None and (not _is_int(pages) or not least <= pages <= most):
        yield f"{_label('page_count')} {pages!r} is not a whole number {least}..{most}"


MAX_LISTED = 10


def _listed(values: Sequence[str]) -> str:
    """A value domain for a reason: in full when short, else how many values it has."""
    if len(values) <= MAX_LISTED:
        return ", ".join(values)
    return f"the {len(values)} values of its domain (metadata_rules.yaml)"


def _text_problems(label: str, value: str, text: TextRules) -> Iterator[str]:
    if text.stray_characters.search(value):
        yield f"{label} contains control or replacement characters"
    if unicodedata.normalize(text.normal_form, value) != value:
        yield f"{label} is not in Unicode {text.normal_form} form"


def _keyword_problems(keywords: Any, rules: MetadataRules) -> Iterator[str]:
    label = _label("keywords")
    if keywords is None:
        return
    if not isinstance(keywords, list | tuple) or not all(isinstance(k, str) for k in keywords):
        yield f"{label} is not a list of text"
        return
    if len(keywords) > rules.keywords.max_count:
        yield f"{label}: {len(keywords)}, more than {rules.keywords.max_count}"
    limit = rules.keywords.max_chars
    for keyword in keywords:
        if not keyword.strip():
            yield f"{label} has an empty keyword"
        elif len(keyword) > limit:
            yield f"{label} {keyword[:20]!r}… has more than {limit} characters"
        yield from _text_problems(label, keyword, rules.text)
    if len(set(keywords)) != len(keywords):
        yield f"{label} repeat a keyword"


def _date_problems(
    document_date: Any, year: Any, earliest: dt.date, today: dt.date
) -> Iterator[str]:
    date_label, year_label = _label("document_date"), _label("year")
    if document_date is not None:
        if not isinstance(document_date, dt.date) or isinstance(document_date, dt.datetime):
            yield f"{date_label} {document_date!r} is not a date"
            document_date = None
        elif document_date > today:
            yield f"{date_label} {document_date} is in the future"
        elif document_date < earliest:
            yield f"{date_label} {document_date} is before {earliest}"
    if year is not None:
        if not _is_int(year):
            yield f"{year_label} {year!r} is not a whole number"
        elif not earliest.year <= year <= today.year:
            yield f"{year_label} {year} is outside {earliest.year}..{today.year}"
        elif document_date is not None and document_date.year > year:
            yield f"{year_label} {year} is before the document date {document_date}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# YJ-1-3 --------------------------------------------------------------------------------------
def check_reference_code(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    code = evidence.reference_code
    if code is None:
        return (
            NOT_CHECKED,
            "档号 not assigned yet: the item number is given after the content verifies",
        )
    try:
        series, _ = parse(code)
    except ValueError:
        return (
            FAIL,
            f"档号 {code!r} is not 全宗号-门类代码·年度-保管期限代码-机构代码-件号 (DA/T 22)",
        )
    description = evidence.description
    if series.category != evidence.category:
        return FAIL, f"档号 {code} has category {series.category}, the record {evidence.category}"
    if series.year != description.get("year"):
        return FAIL, f"档号 {code} has year {series.year}, the metadata {description.get('year')}"
    if series.unit_code != description.get("unit_code"):
        return FAIL, (
            f"档号 {code} has unit {series.unit_code}, the metadata {description.get('unit_code')}"
        )
    return PASS, f"档号 {code} is well-formed (DA/T 22) and agrees with the metadata"


# YJ-1-4 --------------------------------------------------------------------------------------
def check_content_attributes(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    def one(component: ComponentEvidence) -> Outcome:
        if component.actual_size is None:
            return NOT_CHECKED, "file not received 未收到文件"
        if component.actual_size != component.declared_size:
            return FAIL, (
                f"received {component.actual_size} bytes, declared {component.declared_size} "
                "计算机文件大小不符"
            )
        name = component.file_name
        if name in ("", ".", "..") or re.search(r"[/\\\x00-\x1f\x7f]", name):
            return FAIL, f"{name!r} is not a plain file name 计算机文件名不规范"
        found = component.format
        if found is None:
            return NOT_CHECKED, "size matches; format not identified, so not compared 格式未识别"
        if mismatches := _problems_for(found, "YJ-1-4", items):
            return FAIL, (
                f"format identification found {_describe(found)}: {', '.join(mismatches)} "
                "格式与元数据不符"
            )
        kinds = evidence.format_categories
        if kinds and found.category not in kinds:
            return FAIL, (
                f"{_describe(found)} is {found.category or 'no accepted'} format; a "
                f"{evidence.category} record's files are {', '.join(kinds)} 格式与门类不符"
            )
        return (
            PASS,
            f"size, name and format ({_describe(found)}) agree with the metadata 内容与元数据一致",
        )

    return _per_file(evidence, one)


def _problems_for(found: FormatLike, code: str, items: CheckItems) -> list[str]:
    """The format problems that fail item `code`; problems no item claims fail FORMAT_ITEM."""
    claims = items.formats.problem_items
    return [problem for problem in found.problems if claims.get(problem, FORMAT_ITEM) == code]


# YJ-1-5 --------------------------------------------------------------------------------------
def check_storage_location(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    code = evidence.reference_code

    def one(component: ComponentEvidence) -> Outcome:
        key = component.stored_key
        if key is None:
            return NOT_CHECKED, "not stored yet 尚未存储"
        if component.stored_sha256 is None or component.actual_sha256 is None:
            return NOT_CHECKED, f"stored at {key} but not read back 存储后未回读"
        if component.stored_sha256.lower() != component.actual_sha256.lower():
            return FAIL, (
                f"the object at {key} has SHA-256 {component.stored_sha256}, not the received "
                f"{component.actual_sha256} 存储位置不符"
            )
        if component.actual_sha256.lower() not in key:
            return FAIL, f"archive key {key} does not hold the content hash 存储位置不符"
        if code is not None and f"/{code}/" not in key:
            return FAIL, f"archive key {key} is not under the record's 档号 {code} 存储位置不符"
        return PASS, f"read back from {key} with the received SHA-256 存储位置真实"

    return _per_file(evidence, one)


# YJ-2-1 --------------------------------------------------------------------------------------
def check_required_metadata(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    required = items.metadata.required_elements(evidence.description, evidence.absent_elements)
    missing = [field for field in required if is_empty(evidence.description.get(field))]
    if missing:
        return FAIL, "必填著录项缺失 required metadata missing: " + ", ".join(map(_label, missing))
    declared = (
        "; declared absent by the agency 声明无此项: "
        + ", ".join(map(_label, evidence.absent_elements))
        if evidence.absent_elements
        else ""
    )
    return PASS, f"all {len(required)} required metadata elements present 著录完整{declared}"


# YJ-2-2 --------------------------------------------------------------------------------------
def check_components_present(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    components = evidence.components
    if not components:
        return FAIL, "the record has no computer files 无内容数据"
    if missing := [c.file_name for c in components if c.actual_size is None]:
        return FAIL, "declared files not received 文件缺失: " + ", ".join(missing)
    if empty := [c.file_name for c in components if c.actual_size == 0]:
        return FAIL, "empty files 空文件: " + ", ".join(empty)
    return PASS, f"all {len(components)} declared files received, none empty 内容数据完整"


# YJ-2-3 --------------------------------------------------------------------------------------
def check_item_numbers(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    follows = evidence.item_number_follows_series
    if follows is None:
        return NOT_CHECKED, "件号 not assigned yet"
    if not follows:
        return FAIL, "件号 does not follow the previous number in its series 件号不连续"
    return PASS, "件号 follows the previous number in its series 件号连续"


# YJ-3-1 --------------------------------------------------------------------------------------
def _cp1252_specials() -> dict[str, int]:
    """Characters Windows-1252 puts at 0x80-0x9F, by the byte they stand for."""
    specials = {}
    for byte in range(0x80, 0xA0):
        try:
            specials[bytes([byte]).decode("cp1252")] = byte
        except UnicodeDecodeError:
            continue  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned
    return specials


CP1252_SPECIALS = _cp1252_specials()
C1_CONTROLS = re.compile(r"[\x80-\x9f]")
LATIN_RUN = re.compile("[\u00a0-\u00ff" + re.escape("".join(CP1252_SPECIALS)) + "]{2,}")
NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]{3,}")


def mojibake(text: str, markers: Sequence[str] = ()) -> str | None:
    """What is wrong with text that went through a wrong character encoding, or None."""
    if "\ufffd" in text:
        return "replacement character U+FFFD"
    if C1_CONTROLS.search(text):
        return "C1 control characters"
    if found := next((marker for marker in markers if marker in text), None):
        return f"mojibake marker {found!r}"
    for run in LATIN_RUN.findall(text):
        # Punctuation alone (“”, ……, ——: Chinese text is full of it) is not mojibake: misread
        # UTF-8 always has a Latin-1 letter (lead bytes 0xC2-0xF4), and so does misread GB2312.
        if any("\u00a0" <= char <= "\u00ff" for char in run) and (found := _latin_mojibake(run)):
            return found
    for run in NON_ASCII_RUN.findall(text):
        try:
            decoded = run.encode("gbk").decode("utf-8")
        except UnicodeError:
            continue
        if len(decoded) < len(run) and any(_is_cjk(char) for char in decoded):
            return f"UTF-8 read as GBK ({run!r} is {decoded!r})"
    return None


def _latin_mojibake(run: str) -> str | None:
    """A run of Latin-1/Windows-1252 characters that are really the bytes of UTF-8 or GBK text."""
    raw = bytes(CP1252_SPECIALS.get(char, ord(char)) for char in run)
    said = "read as Latin-1/Windows-1252"
    for encoding, label in (("utf-8", "UTF-8"), ("gbk", "GBK")):
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8" or all(_is_cjk(char) for char in decoded):
            return f"{label} {said} ({run!r} is {decoded!r})"
    # Windows drops the bytes it has no character for (0x81, 0x8D, 0x8F, 0x90, 0x9D): what is
    # left still holds whole UTF-8 sequences.
    partly = raw.decode("utf-8", errors="replace")
    if any(char != "\ufffd" and not char.isascii() for char in partly):
        return f"UTF-8 {said} ({run!r} is partly {partly!r})"
    return None


def _is_cjk(char: str) -> bool:
    return (
        "\u4e00" <= char <= "\u9fff" or "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef"
    )


def check_metadata_readable(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    texts: list[tuple[str, str]] = []
    for field, value in evidence.description.items():
        if isinstance(value, str):
            texts.append((_label(field), value))
        elif isinstance(value, list | tuple):
            texts.extend((_label(field), v) for v in value if isinstance(v, str))
    texts.extend((f"计算机文件名 {c.file_name!r}", c.file_name) for c in evidence.components)
    problems = [
        f"{label}: {problem}"
        for label, text in texts
        if (problem := mojibake(text, items.mojibake_markers))
    ]
    if problems:
        return FAIL, "元数据不可读 metadata unreadable (mojibake): " + "; ".join(problems)
    return PASS, "metadata and file names read as clean text 元数据可读"


# YJ-3-2 --------------------------------------------------------------------------------------
FORMAT_ITEM = "YJ-3-2"
NOT_ACCEPTED = "not-accepted"


def check_format_accepted(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    def one(component: ComponentEvidence) -> Outcome:
        found = component.format
        if found is None:
            return NOT_CHECKED, "format not identified 格式未识别"
        problems = _problems_for(found, FORMAT_ITEM, items)
        if not found.accepted and NOT_ACCEPTED not in problems:
            problems.append(NOT_ACCEPTED)
        if problems:
            return FAIL, f"{_describe(found)}: {', '.join(problems)} 内容数据不可用或非长期保存格式"
        return (
            PASS,
            f"{_describe(found)} is accepted for long-term preservation 格式符合长期保存要求",
        )

    return _per_file(evidence, one)


def _describe(found: FormatLike) -> str:
    name = " ".join(part for part in (found.name, found.version) if part) or "unknown format"
    return f"{name} ({found.puid})" if found.puid else name


# YJ-3-3 --------------------------------------------------------------------------------------
def check_no_encryption(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    public = set(items.formats.public_compression)

    def one(component: ComponentEvidence) -> Outcome:
        found = component.format
        if found is None:
            return NOT_CHECKED, "format not identified 格式未识别"
        if encrypted := _problems_for(found, "YJ-3-3", items):
            return FAIL, f"format identification found {', '.join(encrypted)} 文件加密"
        named = found.technical.get("compression", "").split(",")
        schemes = [scheme.strip() for scheme in named if scheme.strip()]
        if private := [scheme for scheme in schemes if _compression_key(scheme) not in public]:
            return FAIL, f"compression {', '.join(private)} is not a public scheme 非公开压缩算法"
        used = f", public compression {', '.join(schemes)}" if schemes else ""
        return PASS, f"not encrypted{used} 无加密及非公开压缩"

    return _per_file(evidence, one)


def _compression_key(scheme: str) -> str:
    return re.sub(r"[\s_\-./]", "", scheme.lower())


# YJ-3-4 --------------------------------------------------------------------------------------
def check_environment_metadata(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    keys = items.formats.creating_application_keys

    def one(component: ComponentEvidence) -> Outcome:
        found = component.format
        if found is None:
            return NOT_CHECKED, "format not identified 格式未识别"
        application = next((found.technical[k] for k in keys if found.technical.get(k)), None)
        recorded = [
            f"creating application {application!r}" if application else "",
            f"format version {found.version}" if found.version else "",
        ]
        if not any(recorded):
            return (
                NOT_CHECKED,
                "neither creating application nor format version recorded 环境元数据未著录",
            )
        return PASS, " and ".join(r for r in recorded if r) + " recorded 环境元数据已著录"

    return _per_file(evidence, one)


# YJ-4-1 --------------------------------------------------------------------------------------
def check_virus_scan(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    def one(component: ComponentEvidence) -> Outcome:
        scan = component.scan
        if scan is None:
            return NOT_CHECKED, "扫描未执行 no virus scanner configured"
        if scan.result == "infected":
            return FAIL, f"发现病毒 malware found: {scan.detail}"
        if scan.result == "clean":
            return PASS, "ClamAV found no malware 未发现病毒"
        return NOT_CHECKED, f"扫描未执行 {scan.detail}"

    return _per_file(evidence, one)


# YJ-4-2 --------------------------------------------------------------------------------------
def check_authenticated_source(evidence: Evidence, items: CheckItems, now: dt.datetime) -> Outcome:
    if evidence.authenticated_source:
        return PASS, "arrived on the ingest topic of the agency it names 来源可信"
    return FAIL, "did not arrive on the ingest topic of the agency it names 来源不可信"


# --- names -------------------------------------------------------------------------------
@cache
def _element_names() -> dict[str, str]:
    """field → its DA/T 46 Chinese name, the first word of its doc in the shared Avro schema."""
    description = shared_types()["recordflow.common.RecordDescription"]
    return {field["name"]: field["doc"].split()[0] for field in description["fields"]}


def _label(field: str) -> str:
    name = _element_names().get(field)
    return f"{field} {name}" if name else field


CHECKERS: dict[str, Checker] = {
    "YJ-1-1": check_fixity,
    "YJ-1-2": check_metadata_accurate,
    "YJ-1-3": check_reference_code,
    "YJ-1-4": check_content_attributes,
    "YJ-1-5": check_storage_location,
    "YJ-2-1": check_required_metadata,
    "YJ-2-2": check_components_present,
    "YJ-2-3": check_item_numbers,
    "YJ-3-1": check_metadata_readable,
    "YJ-3-2": check_format_accepted,
    "YJ-3-3": check_no_encryption,
    "YJ-3-4": check_environment_metadata,
    "YJ-4-1": check_virus_scan,
    "YJ-4-2": check_authenticated_source,
}
# Items whose parts are reported one by one as well as summed up in the item's result.
SUB_RESULTS: dict[str, Callable[[Evidence], tuple[SubResult, ...]]] = {
    "YJ-1-1": signature_results,
}
