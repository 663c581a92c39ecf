"""A digitization batch generated on the spot (Pillow and openpyxl; nothing downloaded): a
catalogue as .xlsx and as .csv, 300-dpi page images, and one of each fault the 挂接 check must
find, with the exact problems the report must list (`Batch.problems`).

Both catalogues hold the same rows under different column names (题名 / 文件题名 …) with a title
line above the header, so their row numbers agree: data from row 3.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from PIL import Image, TiffImagePlugin

FONDS = "Z109"
DPI = 300
LOW_DPI = 150
PAGE_PX = (250, 350)  # small pages: the checks read headers, the size does not matter
SCANNER = ("Fujitsu", "fi-7600")
SCANNED_AT = "2024:03:05 10:00:00"
TITLE_LINE = "Z109 市人民政府办公厅 文书档案目录（2010年）"
CSV_HEADER = [
    "档号",
    "文号",
    "责任者",
    "题名",
    "日期",
    "页数",
    "密级",
    "保管期限",
    "备注",
    "全宗号",
    "年度",
    "机构或问题",
]
XLSX_HEADER = ["档号", "发文字号", "责任者", "文件题名", "文件日期", "页数", "密级", "保管期限", "备注", "全宗号",
               "年度", "机构（问题）"]  # fmt: skip
PARTY = "市人民政府办公厅"


def code(item: int, dot: str = "·") -> str:
    return f"{FONDS}-WS{dot}2010-Y-BGS-{item:04d}"


# 档号, 文号, 题名, 日期 (as the CSV writes it), 页数. Row n of this list is catalogue row n + 3.
ROWS: list[tuple[str, str | None, str, str, int]] = [
    (code(1), "市府办发〔2010〕12号", "关于做好2010年防汛工作的通知", "20100506", 3),
    (code(2), "市府办发〔2010〕13号", "关于开展爱国卫生月活动的通知", "2010.5.6", 2),
    (code(3), "市府办发〔2010〕14号", "关于印发城区道路改造计划的通知", "2010-05-06", 3),
    (code(4), None, "市政府第五次常务会议纪要", "2010年5月6日", 2),
    (code(5), "市府办函〔2010〕3号", "关于商请支持老城区改造的函", "2010/5/6", 1),
    (code(6), "市府办发〔2010〕15号", "关于加强安全生产工作的通知", "2010/6/1", 2),
    (code(7), "市府办发〔2010〕16号", "关于做好2010年高考服务工作的通知", "2010/6/2", 2),
    (code(8), "市府办发〔2010〕17号", "关于调整市政府领导分工的通知", "2010/6/3", 1),
    (code(8), "市府办发〔2010〕18号", "关于成立市创建文明城市指挥部的通知", "2010/6/4", 1),
    (code(10), "市府办发〔2010〕19号", "关于印发市政府工作规则的通知", "2010/6/5", 2),
    ("Z109-WS-2010-Y-BGS-0011", "市府办发〔2010〕20号", "关于公布第一批历史建筑名录的通知", "2010/6/6", 1),
]  # fmt: skip
FIRST_ROW = 3
LINKED = [code(1), code(2), code(10)]


@dataclass(frozen=True)
class Batch:
    root: Path
    images: Path
    xlsx: Path
    csv: Path
    problems: list[dict[str, Any]]  # the report's problems, exactly, in its order
    linked: list[str]  # the 档号 linked


def page(path: Path, shade: int, *, dpi: int = DPI, mode: str = "RGB", exif: bool = False) -> Path:
    """A one-page JPEG of its own content (`shade` makes each page's bytes differ)."""
    colour: Any = (shade, 255 - shade, 128) if mode == "RGB" else shade
    image = Image.new(mode, PAGE_PX, colour)
    image.putpixel((shade % PAGE_PX[0], 7), 0 if mode == "L" else (0, 0, 0))
    options: dict[str, Any] = {"dpi": (dpi, dpi), "quality": 90}
    if exif:
        tags = Image.Exif()
        tags[271], tags[272], tags[306] = *SCANNER, SCANNED_AT
        options["exif"] = tags.tobytes()
    image.save(path, "JPEG", **options)
    return path


def multipage_tiff(path: Path, dpis: list[int], mode: str = "1") -> Path:
    """A multi-page TIFF whose pages each carry their own resolution (Group 4 for bilevel)."""
    with path.open("w+b") as handle, TiffImagePlugin.AppendingTiffWriter(handle, True) as tiff:
        for number, dpi in enumerate(dpis, start=1):
            frame = Image.new(mode, PAGE_PX, 1 if mode == "1" else 200)
            frame.putpixel((number, number), 0)
            compression = "group4" if mode == "1" else "tiff_lzw"
            frame.save(tiff, "TIFF", dpi=(dpi, dpi), compression=compression)
            tiff.newFrame()
    return path


def write_csv(path: Path, rows: list[list[Any]], header: list[str], encoding: str) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[TITLE_LINE], header, *rows])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def catalogue_rows() -> list[list[Any]]:
    """The rows as the CSV has them: 密级 公开, 保管期限 永久, cover fields agreeing with the 档号."""
    return [[ref, number or "", PARTY, title, date, pages, "公开", "永久", "", FONDS, "2010", "BGS"]
            for ref, number, title, date, pages in ROWS]  # fmt: skip


def write_xlsx(path: Path) -> Path:
    """The same rows under the other column names; a date as a real date cell and a 页数 as a
    number, as Excel keeps them."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([TITLE_LINE])
    sheet.append(XLSX_HEADER)
    for index, row in enumerate(catalogue_rows()):
        cells = list(row)
        if index == 0:
            cells[4] = dt.datetime(2010, 5, 6)  # 20100506 as Excel stores a date
        cells[10] = 2010
        sheet.append(cells)
    workbook.save(path)
    return path


def build(root: Path) -> Batch:
    images = root / "images"
    images.mkdir(parents=True)
    shade = iter(range(10, 250, 7))
    for number in (1, 2, 3):  # 0001: three colour pages with the scanner's EXIF
        page(images / f"{code(1)}-{number}.jpg", next(shade), exif=True)
    for number in (1, 2):  # 0002: grey pages, the 档号's dot written "_", page numbers padded
        page(images / f"{code(2, '_')}-{number:02d}.jpg", next(shade), mode="L")
    for number in (1, 3):  # 0003: page 2 missing
        page(images / f"{code(3)}-{number}.jpg", next(shade))
    page(images / f"{code(4)}-1.jpg", next(shade))  # 0004: page 2 at 150 dpi
    page(images / f"{code(4)}-2.jpg", next(shade), dpi=LOW_DPI)
    # 0005: no images at all
    for number in (1, 2, 3):  # 0006: three pages, the catalogue says two
        page(images / f"{code(6)}-{number}.jpg", next(shade))
    same = next(shade)  # 0007: page 2 is page 1 scanned again, byte for byte
    page(images / f"{code(7)}-1.jpg", same)
    page(images / f"{code(7)}-2.jpg", same)
    page(images / f"{code(8)}-1.jpg", next(shade))  # 0008: two catalogue rows claim it
    page(images / f"{code(9)}-1.jpg", next(shade))  # 0009: no catalogue row
    multipage_tiff(images / f"{code(10, '.')}.tif", [DPI, DPI])  # 0010: one bilevel TIFF
    (images / "Thumbs.db").write_bytes(b"ignored")
    xlsx = write_xlsx(root / "目录.xlsx")
    csv_path = write_csv(root / "目录.csv", catalogue_rows(), CSV_HEADER, "gb18030")
    return Batch(root, images, xlsx, csv_path, expected_problems(), LINKED)


def expected_problems() -> list[dict[str, Any]]:
    def problem(reason: str, ref: str | None, row: int | None, message: str,
                file: str | None = None, page: int | None = None) -> dict[str, Any]:  # fmt: skip
        return {"reason": reason, "reference_code": ref, "row": row, "file": file, "page": page,
                "message": message}  # fmt: skip

    return [
        problem("catalogue-invalid-reference", "Z109-WS-2010-Y-BGS-0011", 13,
                "档号 'Z109-WS-2010-Y-BGS-0011' 不符合 DA/T 22（如 Z109-WS·2011-Y-BGS-0001）"),
        problem("page-missing", code(3), 5, "缺第 2 页", page=2),
        problem("resolution-too-low", code(4), 6, "150 dpi，低于 200 dpi", f"{code(4)}-2.jpg", 2),
        problem("catalogue-row-without-images", code(5), 7, "没有找到该件的图像"),
        problem("page-count-mismatch", code(6), 8, "目录页数 2，图像 3 页"),
        problem("page-duplicate", code(7), 9, f"与 {code(7)}-1.jpg 内容完全相同", f"{code(7)}-2.jpg", 2),
        problem("catalogue-duplicate", code(8), 10, f"档号 {code(8)} 在目录中出现 2 次"),
        problem("catalogue-duplicate", code(8), 11, f"档号 {code(8)} 在目录中出现 2 次"),
        problem("image-orphan", code(9), None, f"目录中没有档号 {code(9)}", f"{code(9)}-1.jpg", 1),
    ]  # fmt: skip
