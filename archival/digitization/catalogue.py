"""The catalogue (目录) of a digitization batch: DA/T 22 rows read from .xlsx or .csv.

Column names are matched through the configuration (recordflow/digitization.yaml), so 题名 and
文件题名 are the same column. A row that cannot be an entry (a malformed or repeated 档号, a 档号
of another category than the batch's, a date, time, page count or 载体 that is not one, cover
fields that disagree with the 档号) becomes a problem of that row, with its row number as the
spreadsheet shows it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from archival import reference
from archival.digitization.config import ELECTRONIC, LinkConfig
from archival.digitization.report import LinkProblem
from archival.reference import CATEGORY_WS

MAX_HEADER_ROWS = 10  # a title line or two may stand above the header row
MIN_HEADER_MATCHES = 2  # so a title line that happens to say 题名 is not the header
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # utf-8-sig reads UTF-8 with or without a BOM
# 2010-05-06, 2010.5.6, 2010/5/6, 2010年5月6日; and 20100506 (below).
SEPARATED_DATE = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?")
COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
WHOLE_NUMBER = re.compile(r"\d+(\.0+)?")  # a spreadsheet may hand 12 back as "12.0"
# 拍摄时间 as precisely as it is known: 1986, 1986年; 1986-05, 1986.5, 1986年5月; a date as above,
# with a time of day after it (2026-05-06 20:15, 2026-05-06T20:15:03).
YEAR = re.compile(r"(\d{4})\s*年?")
YEAR_MONTH = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*月?")
DAY_AND_CLOCK = re.compile(
    r"(?P<day>.+?)\s*(?:T|\s)\s*(?P<hour>\d{1,2})\s*[:：]\s*(?P<minute>\d{2})"
    r"(?:\s*[:：]\s*(?P<second>\d{2}))?"
)
PERSONS_SEPARATOR = re.compile(r"[、，,\s]+")
TIMED_COLUMNS = frozenset({"captured_at"})  # an Excel time's hour and minute are kept


class CatalogueError(ValueError):
    """The file is not a catalogue this configuration can read (no header row, no 档号 column)."""


@dataclass(frozen=True)
class CatalogueEntry:
    row: int
    reference_code: str
    title: str
    fonds_code: str
    year: int
    retention_period: str  # Y, D30 or D10: the 档号's, which the 保管期限 column must agree with
    unit_code: str
    # 载体 of the original the item is a 数字化副本 of (纸质, 照片, 底片); None: born digital.
    original_medium: str | None
    document_number: str | None = None
    responsible_party: str | None = None
    document_date: dt.date | None = None
    page_count: int | None = None
    security_classification: str | None = None
    document_type: str | None = None
    remarks: str | None = None
    device: str | None = None
    digitized_at: str | None = None
    # A photo's description (DA/T 54); captured_at in the forms of MediaDescription.
    creator: str | None = None
    captured_at: str | None = None
    place: str | None = None
    persons: tuple[str, ...] = ()
    background: str | None = None
    photo_number: str | None = None
    negative_number: str | None = None
    carrier: str | None = None  # the 载体 column as written


@dataclass
class Catalogue:
    path: Path
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)  # by 档号
    duplicates: dict[str, list[int]] = field(default_factory=dict)  # 档号 → its rows
    problems: list[LinkProblem] = field(default_factory=list)


def read_catalogue(path: Path, config: LinkConfig, category: str = CATEGORY_WS) -> Catalogue:
    """The catalogue at `path` (.xlsx or .csv) of a batch of `category` (门类代码): its entries
    and the problems of its rows."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = list(_xlsx_rows(path))
    elif suffix == ".csv":
        rows = list(_csv_rows(path))
    else:
        raise CatalogueError(
            f"{path.name}: a catalogue is .xlsx or .csv, not {suffix or 'nothing'}"
        )
    header_at, columns = _header(rows, config, path)
    catalogue = Catalogue(path)
    parsed: list[CatalogueEntry] = []
    for number, cells in rows[header_at + 1 :]:
        values = {
            name: _text(cells[index], timed=name in TIMED_COLUMNS)
            for name, index in columns.items()
            if index < len(cells)
        }
        if not any(values.values()):
            continue  # an empty line
        entry = _entry(number, values, config, category, catalogue.problems)
        if entry is not None:
            parsed.append(entry)
    seen = Counter(entry.reference_code for entry in parsed)
    for entry in parsed:
        if seen[entry.reference_code] == 1:
            catalogue.entries[entry.reference_code] = entry
            continue
        # Which row belongs to the images cannot be told, so none of them is linked.
        catalogue.duplicates.setdefault(entry.reference_code, []).append(entry.row)
        catalogue.problems.append(
            LinkProblem(
                "catalogue-duplicate",
                f"档号 {entry.reference_code} 在目录中出现 {seen[entry.reference_code]} 次",
                entry.reference_code,
                row=entry.row,
            )
        )
    return catalogue


# --- reading the file -------------------------------------------------------------------------
def _xlsx_rows(path: Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, tuple(cells)
    finally:
        workbook.close()  # read-only mode keeps the file open until closed


def _csv_rows(path: Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    content = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CatalogueError(f"{path.name}: neither UTF-8 nor GB18030")
    for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        yield number, tuple(cells)


def _header(
    rows: list[tuple[int, tuple[Any, ...]]], config: LinkConfig, path: Path
) -> tuple[int, dict[str, int]]:
    """The index of the header row among `rows` and each known column's position in it."""
    names = {header: column for column, headers in config.columns.items() for header in headers}
    for index, (_, cells) in enumerate(rows[:MAX_HEADER_ROWS]):
        columns: dict[str, int] = {}
        for position, cell in enumerate(cells):
            column = names.get(re.sub(r"\s+", "", _text(cell) or ""))
            if column is not None and column not in columns:
                columns[column] = position
        if len(columns) >= MIN_HEADER_MATCHES:
            missing = [c for c in ("reference_code", "title") if c not in columns]
            if missing:
                wanted = " / ".join(config.columns[missing[0]])  # type: ignore[index]
                raise CatalogueError(f"{path.name}: no column {wanted} in its header row")
            return index, columns
    raise CatalogueError(f"{path.name}: no header row with the catalogue's columns")


def _text(cell: Any, *, timed: bool = False) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, dt.datetime):
        if timed and cell.time() != dt.time():
            return cell.isoformat(sep=" ", timespec="seconds" if cell.second else "minutes")
        return cell.date().isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = str(cell).strip()
    return text or None


# --- one row ----------------------------------------------------------------------------------
def _entry(
    row: int,
    values: dict[str, str | None],
    config: LinkConfig,
    category: str,
    problems: list[LinkProblem],
) -> CatalogueEntry | None:
    code = values.get("reference_code") or ""
    try:
        series, _ = reference.parse(code)
    except ValueError:
        problems.append(
            LinkProblem(
                "catalogue-invalid-reference",
                f"档号 {code!r} 不符合 DA/T 22（如 Z109-WS·2011-Y-BGS-0001）",
                code or None,
                row=row,
            )
        )
        return None
    if series.category != category:
        problems.append(
            LinkProblem(
                "catalogue-wrong-category",
                f"档号的门类代码 {series.category} 不是本批次的 {category}",
                code,
                row=row,
            )
        )
        return None
    found: list[str] = []
    date = _date(values.get("document_date"), "日期", found)
    captured = _capture_time(values.get("captured_at"), found)
    original = _original_medium(values.get("carrier"), config, category, found)
    pages = _whole(values.get("page_count"), "页数", found)
    year = _whole(values.get("year"), "年度", found)
    period = values.get("retention_period")
    mapped = config.retention_periods.get(period) if period else series.period
    if period and mapped is None:
        found.append(f"保管期限 {period!r} 无法对应 Y/D30/D10")
    if found:
        problems.append(LinkProblem("catalogue-invalid-value", "；".join(found), code, row=row))
        return None
    given = {
        "全宗号": (values.get("fonds_code"), series.fonds_code),
        "年度": (None if year is None else str(year), str(series.year)),
        "保管期限": (mapped, series.period),
        "机构或问题": (values.get("unit_code"), series.unit_code),
    }
    if disagree := [
        f"{name} {value} ≠ {ours}"
        for name, (value, ours) in given.items()
        if value is not None and value != ours
    ]:
        problems.append(
            LinkProblem(
                "catalogue-inconsistent", f"与档号不一致：{'；'.join(disagree)}", code, row=row
            )
        )
        return None
    return CatalogueEntry(
        row=row,
        reference_code=code,
        title=values.get("title") or "",
        fonds_code=series.fonds_code,
        year=series.year,
        retention_period=series.period,
        unit_code=series.unit_code,
        original_medium=original,
        document_number=values.get("document_number"),
        responsible_party=values.get("responsible_party"),
        document_date=date,
        page_count=pages,
        security_classification=values.get("security_classification"),
        document_type=values.get("document_type"),
        remarks=values.get("remarks"),
        device=values.get("device"),
        digitized_at=values.get("digitized_at"),
        creator=values.get("creator"),
        captured_at=captured,
        place=values.get("place"),
        persons=tuple(p for p in PERSONS_SEPARATOR.split(values.get("persons") or "") if p),
        background=values.get("background"),
        photo_number=values.get("photo_number"),
        negative_number=values.get("negative_number"),
        carrier=values.get("carrier"),
    )


def normalise_date(text: str) -> dt.date:
    """A catalogue's date as a date: 20100506, 2010-05-06, 2010.5.6, 2010/5/6, 2010年5月6日.
    ValueError for anything else (a day of 00, an unknown month)."""
    text = text.strip()
    match = SEPARATED_DATE.fullmatch(text) or COMPACT_DATE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a date")
    year, month, day = (int(part) for part in match.groups())
    return dt.date(year, month, day)


def normalise_capture_time(text: str) -> str:
    """A catalogue's 拍摄时间 in the forms of MediaDescription, as precise as it is given:
    1986 and 1986年 → 1986; 1986-05, 1986.5, 1986年5月 → 1986-05; a date normalise_date reads →
    1986-05-01; with a time of day → 2026-05-06T20:15 (or :03). ValueError for anything else."""
    text = text.strip()
    if clock := DAY_AND_CLOCK.fullmatch(text):
        hour, minute, second = (int(clock[part] or 0) for part in ("hour", "minute", "second"))
        moment = dt.datetime.combine(normalise_date(clock["day"]), dt.time(hour, minute, second))
        return moment.isoformat(timespec="seconds" if clock["second"] else "minutes")
    if match := YEAR.fullmatch(text):
        return dt.date(int(match[1]), 1, 1).isoformat()[:4]  # the date: year 0000 is none
    if match := YEAR_MONTH.fullmatch(text):
        return dt.date(int(match[1]), int(match[2]), 1).isoformat()[:7]
    return normalise_date(text).isoformat()


def _capture_time(text: str | None, found: list[str]) -> str | None:
    if text is None:
        return None
    try:
        return normalise_capture_time(text)
    except ValueError:
        found.append(
            f"拍摄时间 {text!r} 不是时间（如 1986、1986年5月、1986-05-01、2026-05-06 20:15）"
        )
        return None


def _original_medium(
    text: str | None, config: LinkConfig, category: str, found: list[str]
) -> str | None:
    """载体 of the original the item is a copy of (None: born digital): the category's default
    unless its 载体 column says otherwise."""
    linking = config.category(category)
    if text is None or not linking.carriers:
        return linking.original_medium
    medium = linking.carriers.get(re.sub(r"\s+", "", text))
    if medium is None:
        found.append(f"载体 {text!r} 无法识别（应为 {'、'.join(linking.carriers)} 之一）")
        return None
    return None if medium == ELECTRONIC else medium


def _date(text: str | None, name: str, found: list[str]) -> dt.date | None:
    if text is None:
        return None
    try:
        return normalise_date(text)
    except ValueError:
        found.append(f"{name} {text!r} 不是日期")
        return None


def _whole(text: str | None, name: str, found: list[str]) -> int | None:
    if text is None:
        return None
    if not WHOLE_NUMBER.fullmatch(text) or int(float(text)) < 1:
        found.append(f"{name} {text!r} 不是正整数")
        return None
    return int(float(text))
