"""The demo's offline doors. The paper backlog (存量数字化): a small digitization batch of 市人民政府办公厅's 1998
文书 — a catalogue (.csv, as scanning stations deliver it) and 300-dpi page scans — imported the way
`recordflow import digitized` imports one: linked by 档号 (目录挂接), checked against DA/T 31,
archived under the 档号 the catalogue gives (never renumbered), as digitized copies of paper.

One item is deliberately incomplete (its second page was never scanned), so the 挂接 report shows
what the archives would have to rescan. A photo batch (照片档案, 门类 ZP) imported as `recordflow
import photos` imports one: a print of 1986 scanned at 300 dpi and a camera's photo whose 拍摄时间
comes from its EXIF. And an offline transfer package: a BagIt bag an OA system exported, imported
as `recordflow import packages` imports one. Generation is deterministic: a rerun imports
nothing new.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
from PIL import Image, ImageDraw
from rich.console import Console

from archival.digitization import LinkReport, link_batch, load_link_config, write_report
from archival.metadata import load_metadata_rules
from archival.packages.intake import PackageReport
from connectors.agency_registry import current_registry
from connectors.importer import ItemResult, import_items, linked_items, record_outcomes
from connectors.outbox import Outbox
from connectors.package_import import import_package
from connectors.readback import Outcome
from recordflow.demo.samples import UNSCANNED_PAGE, Sample, render_pdf
from recordflow.settings import Settings

AGENCY = "bgt"
FONDS = "Z101"
PARTY = "市人民政府办公厅"
DPI = 300
EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_DATETIME_ORIGINAL = 271, 272, 0x8769, 36867
HEADER = ["档号", "文号", "责任者", "题名", "日期", "页数", "密级", "保管期限", "备注"]
# 档号, 文号, 题名, 日期, 页数, the pages scanned (a gap: a page the station missed)
BATCH = [
    ("Z101-WS·1998-Y-BGS-0001", "市府办发〔1998〕5号", "关于做好1998年防汛抗洪工作的通知", "1998-04-20", 2, (1, 2)),
    ("Z101-WS·1998-Y-BGS-0002", "市府办发〔1998〕9号", "关于印发城市总体规划实施意见的通知", "1998-06-12",
     3, (1, 2, 3)),
    ("Z101-WS·1998-Y-BGS-0003", None, "市政府1998年第七次常务会议纪要", "1998-07-03", 3, (1, 3)),
]  # fmt: skip


@dataclass
class DigitizedImport:
    report: LinkReport
    results: list[ItemResult]
    folder: Path  # where report.html/.csv/.json are


def write_batch(root: Path) -> tuple[Path, Path]:
    """The catalogue and the page scans; (catalogue, images folder)."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    catalogue = root / "目录.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for code, number, title, date, pages, scanned in BATCH:
        writer.writerow([code, number or "", PARTY, title, date, pages, "公开", "永久", ""])
        for page in scanned:
            (images / f"{code}-{page}.jpg").write_bytes(scan(f"{code} p{page}", len(title) + page))
    catalogue.write_text(buffer.getvalue(), encoding="utf-8-sig")
    return catalogue, images


def scan(label: str, seed: int) -> bytes:
    """A grey A4 'scanned page' at 300 dpi (small in pixels: the checks read its header)."""
    image = Image.new("L", (248, 351), color=240)
    draw = ImageDraw.Draw(image)
    for row in range(10):
        draw.rectangle((24, 40 + row * 28, 24 + 120 + (seed * 31 + row * 17) % 90, 46 + row * 28),
                       fill=60)  # fmt: skip
    draw.text((24, 12), label.encode("ascii", "replace").decode(), fill=20)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, dpi=(DPI, DPI))
    return buffer.getvalue()


def import_batch(settings: Settings, console: Console, root: Path) -> DigitizedImport:
    catalogue, images = write_batch(root)
    with console.status("存量数字化 Linking and importing a digitization batch…"):
        return _import(settings, catalogue, images, category="WS", name="digitized")


def import_photos(settings: Settings, console: Console, root: Path) -> DigitizedImport:
    catalogue, photos = write_photos(root)
    with console.status("照片挂接 Linking and importing a photo batch…"):
        return _import(settings, catalogue, photos, category="ZP", name="photos")


def _import(
    settings: Settings, catalogue: Path, files: Path, *, category: str, name: str
) -> DigitizedImport:
    """A batch of `category` linked, submitted and reported as `recordflow import digitized` or
    `import photos` does it."""
    rules = load_metadata_rules(settings.metadata_rules_file)
    config = load_link_config(settings.digitization_file)
    report = link_batch(catalogue, files, config, category=category, rules=rules)
    outbox = Outbox(settings.outbox_path)
    try:
        results = import_items(settings, linked_items(report, AGENCY, rules), outbox)
    finally:
        outbox.close()
    record_outcomes(report, results)
    folder = settings.home / "demo" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_report(report, folder)
    return DigitizedImport(report, results, folder)


def demo_rows(
    imported: DigitizedImport, catalogue: list[tuple[str, str]]
) -> list[tuple[Sample, str, Outcome]]:
    """Each catalogue row (档号, 题名) as the demo shows it: (sample, event id, outcome)."""
    results = {result.key: result for result in imported.results}
    rows = []
    for code, title in catalogue:
        complete = code not in INCOMPLETE
        sample = Sample(AGENCY, {"document_id": f"SZH-{code}", "title": title},
                        bad=None if complete else UNSCANNED_PAGE,
                        expected_reason=None if complete else "page-missing")  # fmt: skip
        result = results.get(code)
        if result is None:  # held at linking: its first problem says why
            problem = next(p for p in imported.report.problems if p.reference_code == code)
            rows.append((sample, "", Outcome("held", code, None, problem.reason, problem.message)))
            continue
        status = "archived" if result.status == "already-archived" else result.status
        rows.append((sample, result.event_id or "",
                     Outcome(status, result.reference_code, result.retention_period,
                             result.reason, result.detail)))  # fmt: skip
    return rows


# --- a photo batch (照片档案, 门类 ZP) ----------------------------------------------------------
PHOTO_HEADER = ["档号", "题名", "摄影者", "拍摄时间", "拍摄地点", "人物", "文字说明", "载体"]
PHOTOS = [
    # A print of 1986 scanned at 300 dpi; and a camera's photo, whose row leaves 拍摄时间 to EXIF.
    ("Z101-ZP·1986-Y-BGS-0001", "罗湖口岸开通仪式", "李摄影", "1986年5月1日", "罗湖口岸", "王市长",
     "罗湖口岸旅检大楼启用", "照片"),
    ("Z101-ZP·2026-Y-BGS-0001", "深南大道夜景", "王摄影", "", "深南大道与华强北路交汇处", "",
     "城市记忆拍摄工程", "数码"),
]  # fmt: skip
CAMERA_TAKEN = "2026:05:06 20:15:03"  # EXIF's form of a time
BATCH_ROWS = [(code, title) for code, _, title, *_ in BATCH]
# The items with a page the scanning station missed: held at linking.
INCOMPLETE = {code for code, _, _, _, pages, scanned in BATCH if len(scanned) != pages}
PHOTO_ROWS = [(code, title) for code, title, *_ in PHOTOS]


def write_photos(root: Path) -> tuple[Path, Path]:
    """The photo catalogue and the photos; (catalogue, photos folder)."""
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    catalogue = root / "照片目录.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([PHOTO_HEADER, *PHOTOS])
    catalogue.write_text(buffer.getvalue(), encoding="utf-8-sig")
    scanned, camera = PHOTOS
    (photos / f"{scanned[0]}.jpg").write_bytes(scan(scanned[0], 7))
    (photos / f"{camera[0]}.jpg").write_bytes(camera_photo())
    return catalogue, photos


def camera_photo() -> bytes:
    """A camera's JPEG: the time, make and model in its EXIF, no resolution (a camera's is none)."""
    exif = Image.Exif()
    exif[EXIF_MAKE], exif[EXIF_MODEL] = "Canon", "EOS R5"
    exif.get_ifd(EXIF_IFD)[EXIF_DATETIME_ORIGINAL] = CAMERA_TAKEN
    image = Image.new("RGB", (320, 213), (20, 30, 60))
    ImageDraw.Draw(image).rectangle((0, 150, 320, 213), fill=(200, 160, 40))  # a lit avenue
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, exif=exif)
    return buffer.getvalue()


# --- an offline transfer package ---------------------------------------------------------------
PACKAGE_AGENCY = "zjj"
PACKAGE_RECORD: dict[str, Any] = {
    "document_id": "ZJJ-OA-2025-0318",
    "title": "关于2025年度建筑市场信用评价结果的通报",
    "document_number": "市建通〔2025〕18号",
    "responsible_party": "市住房和城乡建设局",
    "document_date": "2025-11-03",
    "document_type": "通报",
    "unit_code": "BGS",
    "keywords": ["信用评价"],
}


def import_package_sample(settings: Settings, console: Console, root: Path) -> PackageReport:
    """A BagIt bag as an OA system exports it offline (a document, its metadata in the submit
    form), imported as `recordflow import packages --agency zjj BAG` does."""
    bag = root / "ZJJ-OA-2025-0318"
    bag.mkdir(parents=True)
    meta = PACKAGE_RECORD
    (bag / "通报.pdf").write_bytes(render_pdf(meta["title"], meta["document_number"],
                                            meta["responsible_party"], meta["document_date"],
                                            "各有关单位：\n　　现将评价结果通报如下。"))  # fmt: skip
    made = bagit.make_bag(
        str(bag), {"Source-Organization": "市住房和城乡建设局"}, checksums=["sha256"]
    )
    (bag / "metadata").mkdir()
    (bag / "metadata" / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    made.save()  # the metadata file into the tag manifest
    agency = current_registry(settings).by_code[PACKAGE_AGENCY]
    with console.status("离线移交 Importing an offline transfer package (BagIt)…"):
        outbox = Outbox(settings.outbox_path)
        try:
            return import_package(settings, bag, agency, outbox)
        finally:
            outbox.close()
