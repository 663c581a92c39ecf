"""Linking a catalogue to its page images (目录挂接) and the DA/T 31-2017 checks of each item.

An item is linked when its catalogue row is sound, its images are all there and every check
passes; anything else is a problem in the report, and the item is not submitted. The checks, in
the order they are made (docs/design.md, "Digitized paper", "Photo batches"):
- format-not-accepted / image-unreadable: each file's content is an accepted format that opens;
- page-duplicate: no page given twice (by number, or the same content under two numbers);
- page-missing: pages 1..n with no gap;
- page-count-mismatch: n equals the catalogue's 页数 (a category's fixed count: a photo is one);
- resolution-unknown / resolution-too-low: every page of a scan records its resolution, at least
  the collection's minimum (a born-digital photo has no original to scan: not checked);
- the category's description as the SDK checks it (validate_category: a photo's 摄影者, 拍摄时间,
  拍摄地点 …), when the metadata rules are given.
The batch's category (门类) decides what differs: config.categories and the metadata rules'.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from archival.digitization.catalogue import Catalogue, CatalogueEntry, read_catalogue
from archival.digitization.config import LinkConfig
from archival.digitization.images import ImageName, Inspection, find_images, inspect_file
from archival.digitization.report import COPY_FORM, LinkedItem, LinkProblem, LinkReport
from archival.media import MediaUnreadable, read_media
from archival.metadata import MetadataRules, validate_category
from archival.reference import CATEGORY_WS
from recordflow.errors import RecordRejected

DIGITIZED_FORM = "扫描件"  # 数字化对象形态
DAY = "YYYY-MM-DD"  # a 拍摄时间 at least this long names its day


def link_batch(
    catalogue_path: Path,
    images: Path,
    config: LinkConfig,
    *,
    category: str = CATEGORY_WS,
    rules: MetadataRules | None = None,
) -> LinkReport:
    """Read the catalogue, find the images under `images`, check and link each item.

    `category`: the batch's archive category (门类代码), which every row's 档号 must have.
    `rules`: the metadata rules, to check each item's category description as the SDK will; a
    category whose records describe what they show (a photo's 摄影者 …) cannot be linked without."""
    catalogue = read_catalogue(catalogue_path, config, category)
    found, orphans = find_images(images, config, skip=frozenset({catalogue_path.resolve()}))
    return link(catalogue, found, orphans, images, config, category=category, rules=rules)


def link(
    catalogue: Catalogue,
    found: dict[str, list[ImageName]],
    orphans: list[LinkProblem],
    images: Path,
    config: LinkConfig,
    *,
    category: str = CATEGORY_WS,
    rules: MetadataRules | None = None,
) -> LinkReport:
    if rules is None and category != CATEGORY_WS:
        raise ValueError(f"a batch of category {category} needs the metadata rules to link")
    report = LinkReport(str(catalogue.path), str(images))
    problems = [*catalogue.problems, *orphans]
    # Images of a row that has a problem of its own are that row's, not orphans.
    claimed = {problem.reference_code for problem in catalogue.problems}
    for code, files in sorted(found.items()):
        if code not in catalogue.entries and code not in claimed:
            problems += [
                LinkProblem(
                    "image-orphan", f"目录中没有档号 {code}", code, file=f.relative, page=f.page
                )
                for f in files
            ]
    for code, entry in sorted(catalogue.entries.items()):
        pages = found.get(code)
        if not pages:
            problems.append(
                LinkProblem(
                    "catalogue-row-without-images", "没有找到该件的图像", code, row=entry.row
                )
            )
            continue
        item, item_problems = check_item(entry, pages, config, category=category, rules=rules)
        problems += item_problems
        if item is not None:
            report.linked.append(item)
    report.problems = sorted(problems, key=_order)
    return report


def _order(problem: LinkProblem) -> tuple[Any, ...]:
    return (
        problem.reference_code or "",
        problem.row or 0,
        problem.file or "",
        problem.page or 0,
        problem.reason,
    )


def check_item(
    entry: CatalogueEntry,
    files: list[ImageName],
    config: LinkConfig,
    *,
    category: str = CATEGORY_WS,
    rules: MetadataRules | None = None,
) -> tuple[LinkedItem | None, list[LinkProblem]]:
    """The DA/T 31 checks of one item of a batch of `category`, and its description's when
    `rules` are given: the linked item, or None and what is wrong."""
    code, row = entry.reference_code, entry.row
    problems: list[LinkProblem] = []
    files = sorted(files, key=lambda f: (f.page or 0, f.relative))
    inspected = {f.relative: inspect_file(f.path) for f in files}
    formats = config.formats_for(category)
    for f in files:
        found = inspected[f.relative]
        if found.format is None or found.format not in formats:
            accepted = "/".join(formats)
            problems.append(
                LinkProblem(
                    "format-not-accepted", f"内容不是 {accepted}", code, row, f.relative, f.page
                )
            )
        elif found.unreadable:
            problems.append(
                LinkProblem("image-unreadable", found.unreadable, code, row, f.relative, f.page)
            )
    # Every page: its number, the file it is in, its resolution.
    pages: dict[int, list[tuple[ImageName, Inspection, int]]] = defaultdict(list)
    for f in files:
        found = inspected[f.relative]
        if f.page is not None:
            pages[f.page].append((f, found, 0))
        else:  # the whole item: its pages from 1
            for index in range(found.pages):
                pages[index + 1].append((f, found, index))
    for number, where in sorted(pages.items()):
        if len(where) > 1:
            names = "、".join(f.relative for f, _, _ in where)
            problems.append(
                LinkProblem(
                    "page-duplicate",
                    f"第 {number} 页出现 {len(where)} 次：{names}",
                    code,
                    row,
                    where[1][0].relative,
                    number,
                )
            )
    by_content: dict[str, list[ImageName]] = defaultdict(list)
    for f in files:
        by_content[inspected[f.relative].sha256].append(f)
    for same in by_content.values():
        for f in same[1:]:
            problems.append(
                LinkProblem(
                    "page-duplicate",
                    f"与 {same[0].relative} 内容完全相同",
                    code,
                    row,
                    f.relative,
                    f.page,
                )
            )
    last = max(pages, default=0)
    for number in range(1, last + 1):
        if number not in pages:
            problems.append(
                LinkProblem("page-missing", f"缺第 {number} 页", code, row, page=number)
            )
    fixed = config.category(category).pages
    if (fixed or entry.page_count) != last:
        if fixed:
            said = f"每件 {fixed} 页"
        else:
            said = "目录未填页数" if entry.page_count is None else f"目录页数 {entry.page_count}"
        problems.append(LinkProblem("page-count-mismatch", f"{said}，图像 {last} 页", code, row))
    minimum = config.min_dpi_for(entry.fonds_code, category)
    for number, where in sorted(pages.items()):
        f, found, index = where[0]
        if found.format is None or found.unreadable or entry.original_medium is None:
            continue  # said above; or born digital: no original was scanned
        dpi = found.dpi[index] if index < len(found.dpi) else None
        if dpi is None:
            problems.append(
                LinkProblem(
                    "resolution-unknown",
                    f"{found.format} 未记录分辨率",
                    code,
                    row,
                    f.relative,
                    number,
                )
            )
        elif dpi < minimum:
            problems.append(
                LinkProblem(
                    "resolution-too-low",
                    f"{dpi} dpi，低于 {minimum} dpi",
                    code,
                    row,
                    f.relative,
                    number,
                )
            )
    if problems:
        return None, problems
    item = _linked(entry, files, inspected, last, config)
    if rules is None:
        return item, []
    try:
        item = _described(item, entry, category, rules)
    except MediaUnreadable as exc:
        return None, [LinkProblem("image-unreadable", str(exc), code, row, item.file_names[0])]
    except RecordRejected as exc:  # as the SDK would refuse it
        return None, [LinkProblem(exc.reason, exc.message, code, row)]
    return item, []


def _linked(
    entry: CatalogueEntry,
    files: list[ImageName],
    inspected: dict[str, Inspection],
    pages: int,
    config: LinkConfig,
) -> LinkedItem:
    details = []
    scanned = entry.original_medium is not None  # else born digital: no 数字化属性
    for sequence, f in enumerate(files if scanned else [], start=1):
        found = inspected[f.relative]
        details.append(
            {
                "sequence": sequence,
                "digitization": {
                    "form": DIGITIZED_FORM,
                    "resolution_dpi": found.min_dpi,
                    "colour_mode": found.colour_mode,
                    "compression": found.compression,
                    "device": entry.device or found.device,
                },
            }
        )
    metadata: dict[str, Any] = {
        # The same 档号 gives the same document id, so a rerun is the same submission.
        "document_id": f"{config.document_id_prefix}{entry.reference_code}",
        "title": entry.title,
        "document_number": entry.document_number,
        "responsible_party": entry.responsible_party,
        "unit_code": entry.unit_code,
        "year": entry.year,
        "page_count": pages,
        "retention_proposal": entry.retention_period,
        "reference_code": entry.reference_code,  # the legacy 档号, kept as given
        "file_details": details,
    }
    optional = {
        "document_date": entry.document_date.isoformat() if entry.document_date else None,
        "document_type": entry.document_type,
        "security_classification": entry.security_classification,
    }
    metadata |= {name: value for name, value in optional.items() if value is not None}
    captured = None
    if scanned:  # a born-digital file's EXIF time is when it was taken, not scanned
        captured = entry.digitized_at or next(
            (t for f in files if (t := inspected[f.relative].digitized_at)), None
        )
    return LinkedItem(
        reference_code=entry.reference_code,
        row=entry.row,
        metadata=metadata,
        files=tuple(f.path for f in files),
        file_names=tuple(f.relative for f in files),
        pages=pages,
        digitized_at=captured,
        carrier=entry.original_medium,
        copy_form=COPY_FORM if scanned else None,
    )


def _described(
    item: LinkedItem, entry: CatalogueEntry, category: str, rules: MetadataRules
) -> LinkedItem:
    """The item as a record of its category: its 门类 (none is WS), the 文种 when the category has
    only one (照片), and what a photo shows (MediaDescription), with what linking filled in noted.
    RecordRejected when the SDK would refuse it for its category (validate_category), or when a
    photo has no 日期 (the event needs one) and its 拍摄时间 names no day to take it from."""
    rule = rules.categories[category]
    metadata = dict(item.metadata)
    notes: list[str] = []
    if category != CATEGORY_WS:
        metadata["category"] = category
    if not metadata.get("document_type") and len(rule.document_types) == 1:
        metadata["document_type"] = rule.document_types[0]
    if rule.describes_media:
        media = metadata["media"] = _media(entry, item.files[0], notes)
        if not entry.responsible_party and entry.creator:  # a photo's 责任者 is who took it
            metadata["responsible_party"] = entry.creator
            notes.append("责任者取自摄影者")
        day = media["captured_at"] or ""
        if entry.document_date is None and len(day) >= len(DAY):
            metadata["document_date"] = day[: len(DAY)]  # its 日期 is the day it was taken
            notes.append("日期取自拍摄时间")
    kind = metadata.get("document_type", "")  # paper's may come from its title, later
    validate_category({**metadata, "description": {"document_type": kind}}, rules)
    if rule.describes_media and "document_date" not in metadata:
        raise RecordRejected(
            "missing-document-date",
            f"目录没有日期，拍摄时间 {metadata['media']['captured_at']} 不到日：请在目录中填写日期",
        )
    return replace(item, metadata=metadata, notes=tuple(notes))


def _media(entry: CatalogueEntry, photo: Path, notes: list[str]) -> dict[str, Any]:
    """The item's MediaDescription. A born-digital photo without 拍摄时间 in the catalogue has its
    camera's (EXIF DateTimeOriginal, read as the register stage reads it, its offset dropped: a
    catalogue's times are local). A scan's EXIF time is when it was scanned, never when taken."""
    captured = entry.captured_at
    if captured is None and entry.original_medium is None:
        exif = read_media(photo, "image", 1)["captured_at"]
        if exif is not None:
            captured = dt.datetime.fromisoformat(exif).replace(tzinfo=None).isoformat()
            notes.append(f"拍摄时间取自照片 EXIF：{captured}")
    return {
        "creator": entry.creator,
        "captured_at": captured,
        "place": entry.place,
        "persons": list(entry.persons),
        "background": entry.background,
        "photo_number": entry.photo_number,
        "negative_number": entry.negative_number,
    }
