"""A photo batch (照片目录 + photos) generated on the spot with tests/media.py and openpyxl, nothing
downloaded: a scanned negative, a scanned print, a camera's photo whose catalogue row gives no
拍摄时间 (its EXIF does), a row without its 摄影者 and a photo without a row, with the submission
metadata of each sound photo and the problems of the others (`Batch.linked`, `Batch.problems`).

Both catalogues hold the same rows (the .xlsx keeps 拍摄时间 as Excel's date and time cells), a
title line above the header: data from row 3.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from tests import media

AGENCY, FONDS = "bgt", "Z101"
TITLE_LINE = "Z101 市人民政府办公厅 照片档案目录"
HEADER = [
    "档号",
    "题名",
    "摄影者",
    "拍摄时间",
    "拍摄地点",
    "人物",
    "文字说明",
    "照片号",
    "底片号",
    "载体",
]
SCANNER = ("Epson", "Perfection V850")
SCANNED = dt.datetime(2024, 3, 5, 10, 0, 0)
TAKEN = dt.datetime(2026, 5, 6, 20, 15, 3, tzinfo=dt.timezone(dt.timedelta(hours=8)))
FIRST_ROW = 3


def code(year: int, item: int, category: str = "ZP") -> str:
    return f"{FONDS}-{category}·{year}-Y-BGS-{item:04d}"


NEGATIVE, PRINT, CAMERA, NO_PHOTOGRAPHER, ORPHAN = (
    code(1986, 1), code(1986, 2), code(2026, 3), code(1986, 4), code(1986, 5)
)  # fmt: skip
# 档号, 题名, 摄影者, 拍摄时间 (Excel's value), 拍摄地点, 人物, 文字说明, 照片号, 底片号, 载体
ROWS: list[tuple[Any, ...]] = [
    (NEGATIVE, "罗湖口岸开通仪式", "李摄影", "1986年5月1日", "罗湖口岸", "王市长、李副市长",
     "罗湖口岸旅检大楼启用", "ZP-1986-001", "DP-1986-001", "底片"),
    (PRINT, "市政府大楼落成", "张摄影", dt.datetime(1986, 10, 15, 9, 30), "市政府大楼",
     "陈主任，刘科长 赵干事", None, "ZP-1986-002", None, "照片"),
    (CAMERA, "深南大道夜景", "王摄影", None, "深南大道与华强北路交汇处", None,
     "城市记忆拍摄工程第三期", "CSJY-2026-0031", None, "数码"),
    (NO_PHOTOGRAPHER, "老城区街景", None, "1986年", "东门老街", None, None, "ZP-1986-004", None,
     "照片"),
]  # fmt: skip


@dataclass(frozen=True)
class Batch:
    root: Path
    photos: Path
    xlsx: Path
    csv: Path
    linked: dict[str, dict[str, Any]]  # 档号 → the SDK metadata linking gives, exactly
    problems: list[dict[str, Any]]  # the report's problems, exactly, in its order


def write_csv(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([[TITLE_LINE], header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def csv_rows() -> list[list[Any]]:
    def cell(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, dt.datetime) else value

    return [["" if value is None else cell(value) for value in row] for row in ROWS]


def write_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([TITLE_LINE])
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(list(row))
    workbook.save(path)
    return path


def scan(path: Path, dpi: int = 300) -> Path:
    """A photo print or negative as a scanner writes it: its resolution, Make, Model and the time
    of the scan (EXIF DateTime, no DateTimeOriginal)."""
    return media.photo_jpeg(path, taken=None, changed=SCANNED, make=SCANNER[0], model=SCANNER[1],
                            dpi=dpi, size=(320, 240))  # fmt: skip


def camera(path: Path) -> Path:
    """A camera's JPEG: DateTimeOriginal with its offset, Make and Model, and no resolution."""
    return media.photo_jpeg(path, taken=TAKEN, make="Canon", model="EOS R5", dpi=None)


def build(root: Path) -> Batch:
    photos = root / "photos"
    photos.mkdir(parents=True)
    scan(photos / f"{NEGATIVE}.jpg")
    media.photo_tiff(photos / f"{PRINT.replace('·', '_')}.tif", taken=None, make=SCANNER[0],
                     model=SCANNER[1], dpi=600, size=(320, 240))  # fmt: skip
    camera(photos / f"{CAMERA}.jpg")
    scan(photos / f"{NO_PHOTOGRAPHER}.jpg")
    scan(photos / f"{ORPHAN}.jpg")
    xlsx = write_xlsx(root / "照片目录.xlsx")
    csv_path = write_csv(root / "照片目录.csv", csv_rows())
    return Batch(root, photos, xlsx, csv_path, expected_linked(), expected_problems())


def expected_linked() -> dict[str, dict[str, Any]]:
    def scanned(dpi: int, compression: str) -> list[dict[str, Any]]:
        return [{"sequence": 1, "digitization": {
            "form": "扫描件", "resolution_dpi": dpi, "colour_mode": "彩色", "compression": compression,
            "device": "Epson Perfection V850"}}]  # fmt: skip

    def photo(ref: str, title: str, by: str, day: str, details: list[dict[str, Any]],
              **described: Any) -> dict[str, Any]:  # fmt: skip
        return {
            "document_id": f"SZH-{ref}", "title": title, "document_number": None,
            "responsible_party": by, "unit_code": "BGS", "year": int(ref[8:12]), "page_count": 1,
            "retention_proposal": "Y", "reference_code": ref, "file_details": details,
            "category": "ZP", "document_type": "照片", "document_date": day,
            "media": {"creator": by, "persons": [], "background": None, "negative_number": None,
                      **described},
        }  # fmt: skip

    return {
        NEGATIVE: photo(NEGATIVE, "罗湖口岸开通仪式", "李摄影", "1986-05-01", scanned(300, "JPEG"),
                        captured_at="1986-05-01", place="罗湖口岸", persons=["王市长", "李副市长"],
                        background="罗湖口岸旅检大楼启用", photo_number="ZP-1986-001",
                        negative_number="DP-1986-001"),
        PRINT: photo(PRINT, "市政府大楼落成", "张摄影", "1986-10-15", scanned(600, "LZW"),
                     captured_at="1986-10-15T09:30", place="市政府大楼",
                     persons=["陈主任", "刘科长", "赵干事"], photo_number="ZP-1986-002"),
        CAMERA: photo(CAMERA, "深南大道夜景", "王摄影", "2026-05-06", [],
                      captured_at="2026-05-06T20:15:03", place="深南大道与华强北路交汇处",
                      background="城市记忆拍摄工程第三期", photo_number="CSJY-2026-0031"),
    }  # fmt: skip


def expected_problems() -> list[dict[str, Any]]:
    return [
        {"reason": "missing-photographer", "reference_code": NO_PHOTOGRAPHER, "row": 6,
         "file": None, "page": None,
         "message": "a 照片档案 (ZP) record's media description needs creator"},
        {"reason": "image-orphan", "reference_code": ORPHAN, "row": None, "file": f"{ORPHAN}.jpg",
         "page": None, "message": f"目录中没有档号 {ORPHAN}"},
    ]  # fmt: skip
