"""The receiving register (电子档案移交与接收登记表) as data: `build_register` over the catalog's
records, the dead letters and the review items, for one agency and one period.

A record is in the register when it is the agency's and its `archived_at` (接收时间, when the
archive stored and registered it) falls on a day of the period, the days being China Standard
Time's, the archives' clock: `--to 2026-12-31` takes a record archived at 23:59:59 CST that day.
A dead letter is in it when it is the agency's and failed in the period, a review item when it is
the agency's, still pending and was queued in the period.

The four-property check (DA/T 70, stage YJ) is summed up from each record's CheckSummary: passed,
flagged for usability review (archived, for staff to look at), failed after store (an
authenticity or integrity item failed when the check ran again on what was stored) or with no
check recorded; and per property (真实性, 完整性, 可用性, 安全性) as its items say: failed when an
item failed, passed when every item passed, otherwise not checked (a virus check without clamd,
say). Every record that is not simply passed is listed with its failing items.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archival.checks import (
    FAIL,
    FLAG_FAILED_AFTER_STORE,
    NOT_CHECKED,
    PASS,
    PROPERTIES,
    VERDICT_FLAGGED,
    load_items,
)
from archival.metadata import load_metadata_rules
from archival.package import CST
from archival.reasons import catalog as reason_catalog
from archival.retention import PERIOD_NAMES, PERIODS
from recordflow.agencies import Agency, Archives

TODAY = "today"  # what --from and --to take beside a date: the archives' today
PENDING = "PENDING"
# A record's standing in the check summary, worst first.
FAILED_AFTER_STORE, FLAGGED, PASSED, UNCHECKED = (
    "failed-after-store", "flagged", "passed", "not-checked",
)  # fmt: skip
STANDING_NAMES = {
    FAILED_AFTER_STORE: "存储后检测未通过",
    FLAGGED: "可用性待复核",
    PASSED: "通过",
    UNCHECKED: "无检测记录",
}
REVIEW_KIND_NAMES = {"RETENTION": "保管期限待鉴定", "APPRAISAL": "到期待鉴定"}
UNIDENTIFIED = "未识别 unidentified"


# --- the period ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """From the first day to the last, both included, in China Standard Time."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"--from {self.first} is after --to {self.last}")

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), CST)

    @property
    def end(self) -> dt.datetime:
        """The first moment after the period: midnight CST after its last day."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), CST)

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"


def parse_day(text: str, option: str, today: dt.date) -> dt.date:
    """`--from`/`--to`: YYYY-MM-DD, or `today` (the archives' today); ValueError in one line."""
    value = text.strip()
    if value.lower() == TODAY:
        return today
    try:
        if len(value) != len("YYYY-MM-DD"):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{option} {text!r} is not a date (YYYY-MM-DD, or today)") from exc


def parse_period(first: str, last: str, today: dt.date) -> Period:
    return Period(parse_day(first, "--from", today), parse_day(last, "--to", today))


def archives_today(now: dt.datetime) -> dt.date:
    return now.astimezone(CST).date()


# --- names -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Labels:
    """The names the register prints beside codes, from the project's data files."""

    categories: Mapping[str, str]  # 门类代码 → name (metadata_rules.yaml)
    properties: Mapping[int, tuple[str, str]]  # DA/T 70 property → (zh, en) (checks.yaml)
    check_items: Mapping[str, str]  # item code → zh name (checks.yaml)
    reasons: Mapping[str, str]  # reason code → zh text (reasons.yaml)

    @classmethod
    def load(cls, metadata_rules_file: Path, checks_file: Path) -> Labels:
        rules = load_metadata_rules(metadata_rules_file)
        items = load_items(checks_file, metadata_rules=rules)
        return cls(
            categories={code: category.name for code, category in rules.categories.items()},
            properties={number: (name.zh, name.en) for number, name in items.properties.items()},
            check_items={item.code: item.zh for item in items.items},
            reasons={reason.code: reason.zh for reason in reason_catalog().reasons},
        )


# --- what goes in ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rejection:
    """One dead letter, as much of it as the register needs."""

    reason: str
    failed_at: dt.datetime
    agency_code: str | None
    submission: str  # the event id, or the letter's id when the input could not be decoded
    replayed: bool = False


# --- what comes out --------------------------------------------------------------------------
@dataclass(frozen=True)
class Tally:
    """One row of a breakdown: items (件) and their bytes."""

    key: str
    name: str
    items: int
    bytes: int


@dataclass(frozen=True)
class FormatTally:
    """Files of one identified format (PRONOM), and whether it is accepted for preservation."""

    puid: str | None
    name: str
    version: str | None
    accepted: bool
    files: int
    bytes: int


@dataclass(frozen=True)
class CheckTotals:
    passed: int
    flagged: int
    failed_after_store: int
    not_checked: int


@dataclass(frozen=True)
class PropertyTally:
    """Records whose items of one DA/T 70 property all passed, one failed, or some not checked."""

    number: int
    zh: str
    en: str
    passed: int
    failed: int
    not_checked: int


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    reason: str


@dataclass(frozen=True)
class CheckedRecord:
    """A record the check did not simply pass, with its failing items."""

    reference_code: str
    title: str
    standing: str
    findings: tuple[Finding, ...]

    @property
    def standing_name(self) -> str:
        return STANDING_NAMES[self.standing]


@dataclass(frozen=True)
class RejectionTally:
    reason: str
    name: str
    letters: int
    submissions: int  # distinct events: the same submission rejected again counts once
    replayed: int


@dataclass(frozen=True)
class PendingItem:
    kind: str
    kind_name: str
    event_id: str
    document_id: str
    title: str
    reference_code: str | None
    queued_at: dt.datetime
    reason: str


@dataclass(frozen=True)
class TransferRegister:
    agency: Agency
    archives: Archives
    period: Period
    prepared_by: str | None
    produced_at: dt.datetime
    items: int
    files: int
    bytes: int
    by_category: tuple[Tally, ...]
    by_retention: tuple[Tally, ...]
    by_year: tuple[Tally, ...]
    by_format: tuple[FormatTally, ...]
    check: CheckTotals
    properties: tuple[PropertyTally, ...]
    checked_records: tuple[CheckedRecord, ...]
    rejections: tuple[RejectionTally, ...]
    pending: tuple[PendingItem, ...]

    @property
    def rejected(self) -> int:
        return sum(tally.letters for tally in self.rejections)

    @property
    def title(self) -> str:
        return "电子档案移交与接收登记表"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "agency": {
                "code": self.agency.code,
                "name": self.agency.name,
                "fonds_code": self.agency.fonds_code,
                "fonds_name": self.agency.fonds_name,
            },
            "archives": {"code": self.archives.code, "name": self.archives.name},
            "period": {
                "from": self.period.first.isoformat(),
                "to": self.period.last.isoformat(),
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "prepared_by": self.prepared_by,
            "produced_at": self.produced_at.astimezone(CST).isoformat(timespec="seconds"),
            "totals": {"items": self.items, "files": self.files, "bytes": self.bytes},
            "by_category": [vars(tally) for tally in self.by_category],
            "by_retention": [vars(tally) for tally in self.by_retention],
            "by_year": [vars(tally) for tally in self.by_year],
            "by_format": [vars(tally) for tally in self.by_format],
            "check": {
                **vars(self.check),
                "properties": [vars(tally) for tally in self.properties],
                "records": [
                    {
                        "reference_code": record.reference_code,
                        "title": record.title,
                        "standing": record.standing,
                        "standing_name": record.standing_name,
                        "findings": [vars(finding) for finding in record.findings],
                    }
                    for record in self.checked_records
                ],
            },
            "dead_letters": {
                "total": self.rejected,
                "by_reason": [vars(tally) for tally in self.rejections],
            },
            "pending_review": [
                {**vars(item), "queued_at": item.queued_at.astimezone(CST).isoformat()}
                for item in self.pending
            ],
        }


# --- building it -----------------------------------------------------------------------------
def build_register(
    records: Iterable[Mapping[str, Any]],
    rejections: Iterable[Rejection],
    review_items: Iterable[Mapping[str, Any]],
    *,
    agency: Agency,
    archives: Archives,
    period: Period,
    labels: Labels,
    prepared_by: str | None,
    produced_at: dt.datetime,
) -> TransferRegister:
    """The register of what `agency` transferred in `period`, from everything given (records of
    other agencies or times are left out here)."""
    chosen = sorted(
        (r for r in records if r["agency"]["code"] == agency.code and period.contains(r["archived_at"])),
        key=lambda record: record["reference_code"],
    )  # fmt: skip
    sizes = [_record_bytes(record) for record in chosen]
    standings = [_standing(record) for record in chosen]
    findings = [_findings(record, labels) for record in chosen]
    return TransferRegister(
        agency=agency,
        archives=archives,
        period=period,
        prepared_by=prepared_by,
        produced_at=produced_at,
        items=len(chosen),
        files=sum(len(record["components"]) for record in chosen),
        bytes=sum(sizes),
        by_category=_tally(
            [(r["category"], size) for r, size in zip(chosen, sizes, strict=True)],
            labels.categories,
        ),
        by_retention=_tally(
            [(r["retention_period"], size) for r, size in zip(chosen, sizes, strict=True)],
            PERIOD_NAMES,
            order=PERIODS,
        ),
        by_year=_tally([(str(r["year"]), size) for r, size in zip(chosen, sizes, strict=True)], {}),
        by_format=_formats(chosen),
        check=CheckTotals(
            passed=standings.count(PASSED),
            flagged=standings.count(FLAGGED),
            failed_after_store=standings.count(FAILED_AFTER_STORE),
            not_checked=standings.count(UNCHECKED),
        ),
        properties=_properties(chosen, labels),
        checked_records=tuple(
            CheckedRecord(record["reference_code"], record["description"]["title"], standing, found)
            for record, standing, found in zip(chosen, standings, findings, strict=True)
            if standing != PASSED or found
        ),
        rejections=_rejections(
            [
                r
                for r in rejections
                if r.agency_code == agency.code and period.contains(r.failed_at)
            ],
            labels,
        ),
        pending=_pending(review_items, agency, period),
    )


def _record_bytes(record: Mapping[str, Any]) -> int:
    return sum(int(component["size_bytes"]) for component in record["components"])


def _tally(
    keyed: Sequence[tuple[str, int]], names: Mapping[str, str], order: Sequence[str] = ()
) -> tuple[Tally, ...]:
    """Items and bytes per key. Every key of `names` gets a row (a zero is worth printing in a
    register: 永久 0 件 says something); keys it does not know follow, in order."""
    items: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for key, size in keyed:
        items[key] += 1
        sizes[key] += size
    known = list(order or names)
    keys = known + sorted(key for key in items if key not in known)
    return tuple(Tally(key, names.get(key, key), items[key], sizes[key]) for key in keys)


def _formats(records: Sequence[Mapping[str, Any]]) -> tuple[FormatTally, ...]:
    """Files per identified format, most files first. A file with no identification is
    unidentified, and not accepted."""
    files: Counter[tuple[str | None, str, str | None, bool]] = Counter()
    sizes: Counter[tuple[str | None, str, str | None, bool]] = Counter()
    for record in records:
        formats = {found["sequence"]: found for found in record.get("formats") or []}
        for component in record["components"]:
            found = formats.get(component["sequence"]) or {}
            key = (
                found.get("puid"),
                found.get("name") or UNIDENTIFIED,
                found.get("version"),
                bool(found.get("accepted")),
            )
            files[key] += 1
            sizes[key] += int(component["size_bytes"])
    ranked = sorted(files, key=lambda key: (-files[key], key[0] or "~", key[1], key[2] or ""))
    return tuple(FormatTally(*key, files=files[key], bytes=sizes[key]) for key in ranked)


def _standing(record: Mapping[str, Any]) -> str:
    check = record.get("check")
    if check is None:
        return UNCHECKED
    if FLAG_FAILED_AFTER_STORE in (record.get("flags") or []):
        return FAILED_AFTER_STORE
    if check["verdict"] == VERDICT_FLAGGED:
        return FLAGGED
    return PASSED


def _findings(record: Mapping[str, Any], labels: Labels) -> tuple[Finding, ...]:
    check = record.get("check") or {"items": []}
    return tuple(
        Finding(item["code"], labels.check_items.get(item["code"], ""), item["reason"])
        for item in check["items"]
        if item["result"] == FAIL
    )


def _property_of(code: str) -> int | None:
    """YJ-3-2 → 3; None for a code not shaped so."""
    parts = code.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _properties(records: Sequence[Mapping[str, Any]], labels: Labels) -> tuple[PropertyTally, ...]:
    verdicts: dict[int, Counter[str]] = defaultdict(Counter)
    for record in records:
        results: dict[int, list[str]] = defaultdict(list)
        for item in (record.get("check") or {"items": []})["items"]:
            number = _property_of(item["code"])
            if number is not None:
                results[number].append(item["result"])
        for number in PROPERTIES:
            verdicts[number][_verdict(results[number])] += 1
    return tuple(
        PropertyTally(
            number,
            *labels.properties.get(number, (str(number), str(number))),
            passed=verdicts[number][PASS],
            failed=verdicts[number][FAIL],
            not_checked=verdicts[number][NOT_CHECKED],
        )
        for number in PROPERTIES
    )


def _verdict(results: Sequence[str]) -> str:
    """As archival.checks' verdict of a property: fail if one failed, pass if all passed."""
    if FAIL in results:
        return FAIL
    return PASS if results and all(result == PASS for result in results) else NOT_CHECKED


def _rejections(letters: Sequence[Rejection], labels: Labels) -> tuple[RejectionTally, ...]:
    by_reason: dict[str, list[Rejection]] = defaultdict(list)
    for letter in letters:
        by_reason[letter.reason].append(letter)
    ranked = sorted(by_reason.items(), key=lambda entry: (-len(entry[1]), entry[0]))
    return tuple(
        RejectionTally(
            reason=reason,
            name=labels.reasons.get(reason, ""),
            letters=len(group),
            submissions=len({letter.submission for letter in group}),
            replayed=sum(letter.replayed for letter in group),
        )
        for reason, group in ranked
    )


def _pending(
    items: Iterable[Mapping[str, Any]], agency: Agency, period: Period
) -> tuple[PendingItem, ...]:
    chosen = [
        item
        for item in items
        if item["agency_code"] == agency.code
        and item["status"] == PENDING
        and period.contains(item["queued_at"])
    ]
    chosen.sort(key=lambda item: (item["queued_at"], item["event_id"]))
    return tuple(
        PendingItem(
            kind=item["kind"],
            kind_name=REVIEW_KIND_NAMES.get(item["kind"], item["kind"]),
            event_id=item["event_id"],
            document_id=item["document_id"],
            title=item["title"],
            reference_code=item.get("reference_code"),
            queued_at=item["queued_at"],
            reason=item["reason"],
        )
        for item in chosen
    )


# --- for the renderings --------------------------------------------------------------------------
def short_size(size: float) -> str:
    """48213 → '47.1 KiB': for people (the console's pages)."""
    value, unit = float(size), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{int(size):,} B" if unit == "B" else f"{value:.1f} {unit}"


def size_text(size: int) -> str:
    """48213 → '47.1 KiB (48,213 B)': for people, with the exact count a register must give."""
    return f"{size:,} B" if size < 1024 else f"{short_size(size)} ({size:,} B)"


def local_time(moment: dt.datetime) -> str:
    """A time as the archives read it: China Standard Time."""
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
