"""Linking a catalogue to its page images (目录挂接) and the DA/T 31-2017 checks of each item.

An item is linked when its catalogue row is sound, its images are all there and every check
passes; anything else is a problem in the report, and the item is not submitted. The checks, in
the order they are made (docs/design.md, "Digitized paper"):
- format-not-accepted / image-unreadable: each file's content is an accepted format that opens;
- page-duplicate: no page given twice (by number, or the same content under two numbers);
- page-missing: pages 1..n with no gap;
- page-count-mismatch: n equals the catalogue's 页数;
- resolution-unknown / resolution-too-low: every page records its resolution, at least the
  collection's minimum.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from archival.digitization.catalogue import Catalogue, CatalogueEntry, read_catalogue
from archival.digitization.config import LinkConfig
from archival.digitization.images import ImageName, Inspection, find_images, inspect_file
from archival.digitization.report import LinkedItem, LinkProblem, LinkReport

DIGITIZED_FORM = "扫描件"  # 数字化对象形态


def link_batch(catalogue_path: Path, images: Path, config: LinkConfig) -> LinkReport:
    """Read the catalogue, find the images under `images`, check and link each item."""
    catalogue = read_catalogue(catalogue_path, config)
    found, orphans = find_images(images, config, skip=frozenset({catalogue_path.resolve()}))
    return link(catalogue, found, orphans, images, config)


def link(
    catalogue: Catalogue,
    found: dict[str, list[ImageName]],
    orphans: list[LinkProblem],
    images: Path,
    config: LinkConfig,
) -> LinkReport:
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
        item, item_problems = check_item(entry, pages, config)
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
    entry: CatalogueEntry, files: list[ImageName], config: LinkConfig
) -> tuple[LinkedItem | None, list[LinkProblem]]:
    """The DA/T 31 checks of one item: the linked item, or None and what is wrong."""
    code, row = entry.reference_code, entry.row
    problems: list[LinkProblem] = []
    files = sorted(files, key=lambda f: (f.page or 0, f.relative))
    inspected = {f.relative: inspect_file(f.path) for f in files}
    for f in files:
        found = inspected[f.relative]
        if found.format is None or found.format not in config.accepted_formats:
            accepted = "/".join(config.accepted_formats)
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
    if entry.page_count != last:
        said = "目录未填页数" if entry.page_count is None else f"目录页数 {entry.page_count}"
        problems.append(LinkProblem("page-count-mismatch", f"{said}，图像 {last} 页", code, row))
    minimum = config.min_dpi_for(entry.fonds_code)
    for number, where in sorted(pages.items()):
        f, found, index = where[0]
        if found.format is None or found.unreadable:
            continue  # said above
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
    return _linked(entry, files, inspected, last, config), []


def _linked(
    entry: CatalogueEntry,
    files: list[ImageName],
    inspected: dict[str, Inspection],
    pages: int,
    config: LinkConfig,
) -> LinkedItem:
    details = []
    for sequence, f in enumerate(files, start=1):
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
    )
