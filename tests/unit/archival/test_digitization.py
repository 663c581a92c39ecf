"""Linking digitized paper to its catalogue (archival/digitization/): the generated batch of
tests/digitization.py gives exactly the report it was built to give, from either catalogue."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from archival.digitization import (
    CatalogueError,
    LinkConfig,
    LinkProblem,
    inspect_file,
    link_batch,
    load_link_config,
    normalise_date,
    read_catalogue,
    render_csv,
    render_html,
    render_json,
    write_report,
)
from recordflow.settings import Settings
from tests import digitization, format_samples
from tests.digitization import Batch, code


@pytest.fixture(scope="module")
def config() -> LinkConfig:
    return load_link_config(Settings().digitization_file)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return digitization.build(tmp_path_factory.mktemp("batch"))


@pytest.mark.parametrize("catalogue", ["xlsx", "csv"])
def test_the_report_is_exactly_the_faults_built_in(
    batch: Batch, config: LinkConfig, catalogue: str
) -> None:
    report = link_batch(getattr(batch, catalogue), batch.images, config)
    assert [problem.as_json() for problem in report.problems] == batch.problems
    assert [item.reference_code for item in report.linked] == batch.linked
    assert report.held == [code(3), code(4), code(6), code(7)]
    assert [p.reference_code for p in report.rows_without_images] == [code(5)]
    assert [p.file for p in report.orphans] == [f"{code(9)}-1.jpg"]
    assert [p.reference_code for p in report.page_count_mismatches] == [code(6)]
    assert report.duplicates == {code(8): [10, 11]}
    assert [p.reason for p in report.catalogue_errors] == ["catalogue-invalid-reference"]


def test_a_linked_item_is_what_the_sdk_submits(batch: Batch, config: LinkConfig) -> None:
    report = link_batch(batch.xlsx, batch.images, config)
    item = report.linked[0]
    detail = {
        "form": "扫描件",
        "resolution_dpi": 300,
        "colour_mode": "彩色",
        "compression": "JPEG",
        "device": "Fujitsu fi-7600",
    }
    assert item.metadata == {
        "document_id": f"SZH-{code(1)}",
        "title": "关于做好2010年防汛工作的通知",
        "document_number": "市府办发〔2010〕12号",
        "responsible_party": "市人民政府办公厅",
        "document_date": "2010-05-06",
        "unit_code": "BGS",
        "year": 2010,
        "page_count": 3,
        "security_classification": "公开",
        "retention_proposal": "Y",
        "reference_code": code(1),
        "file_details": [{"sequence": n, "digitization": detail} for n in (1, 2, 3)],
    }
    assert item.files == tuple(batch.images / f"{code(1)}-{n}.jpg" for n in (1, 2, 3))
    assert (item.carrier, item.copy_form, item.digitized_at) == (
        "纸质",
        "数字化副本",
        "2024-03-05T10:00:00",
    )
    # A rerun is the same submission.
    again = link_batch(batch.csv, batch.images, config).linked[0]
    assert again.metadata == item.metadata


def test_dpi_colour_mode_and_compression_found(batch: Batch, config: LinkConfig) -> None:
    linked = {
        item.reference_code: item for item in link_batch(batch.csv, batch.images, config).linked
    }
    grey = linked[code(2)]
    assert grey.file_names == (f"{code(2, '_')}-01.jpg", f"{code(2, '_')}-02.jpg")
    assert [(d["resolution_dpi"], d["colour_mode"]) for d in grey.digitization] == [
        (300, "灰度")
    ] * 2
    bilevel = linked[code(10)]
    assert bilevel.pages == 2 and bilevel.file_names == (f"{code(10, '.')}.tif",)
    assert bilevel.digitization == [
        {
            "form": "扫描件",
            "resolution_dpi": 300,
            "colour_mode": "黑白",
            "compression": "CCITT Group 4",
            "device": None,
        }
    ]
    low = inspect_file(batch.images / f"{code(4)}-2.jpg")
    assert (low.format, low.dpi, low.colour_mode) == ("JPEG", (150,), "彩色")


def test_each_page_of_a_multipage_tiff_is_checked(tmp_path: Path, config: LinkConfig) -> None:
    images = tmp_path / "images"
    images.mkdir()
    tiff = digitization.multipage_tiff(images / f"{code(1)}.tif", [300, 150, 300], mode="L")
    assert inspect_file(tiff).dpi == (300, 150, 300)
    catalogue = digitization.write_csv(
        tmp_path / "c.csv", [[code(1), "通知", 3]], ["档号", "题名", "页数"], "utf-8"
    )
    report = link_batch(catalogue, images, config)
    assert not report.linked
    assert [(p.reason, p.page) for p in report.problems] == [("resolution-too-low", 2)]


def test_a_collection_may_require_more(batch: Batch, config: LinkConfig) -> None:
    strict = config.model_copy(update={"min_dpi_by_fonds": {"Z109": 400}})
    report = link_batch(batch.csv, batch.images, strict)
    assert not report.linked
    assert {p.reason for p in report.problems if p.reference_code == code(1)} == {
        "resolution-too-low"
    }


def test_one_folder_per_item(tmp_path: Path, config: LinkConfig) -> None:
    images = tmp_path / "images"
    (images / code(1, "_")).mkdir(parents=True)
    (images / code(2)).mkdir()
    for n in (1, 2):
        digitization.page(images / code(1, "_") / f"{n:03d}.jpg", 10 * n)
    digitization.page(images / code(2) / f"{code(1)}-1.jpg", 99)  # in the wrong item's folder
    digitization.page(images / f"{code(1)}-3.jpg", 98)  # outside any item folder
    catalogue = digitization.write_csv(
        tmp_path / "c.csv", [[code(1), "通知", 2]], ["档号", "题名", "页数"], "utf-8"
    )
    report = link_batch(catalogue, images, config.model_copy(update={"layout": "per-item"}))
    assert [item.file_names for item in report.linked] == [
        (f"{code(1, '_')}/001.jpg", f"{code(1, '_')}/002.jpg")
    ]
    assert [(p.reason, p.file) for p in report.problems] == [
        ("image-orphan", f"{code(1)}-3.jpg"),
        ("image-orphan", f"{code(2)}/{code(1)}-1.jpg"),
    ]


# --- the catalogue ------------------------------------------------------------------------------
COLUMN_VALUES = {
    "reference_code": (code(1), code(1)),
    "document_number": ("市府办发〔2010〕12号", "市府办发〔2010〕12号"),
    "responsible_party": ("市人民政府办公厅", "市人民政府办公厅"),
    "title": ("关于做好防汛工作的通知", "关于做好防汛工作的通知"),
    "document_date": ("2010.5.6", dt.date(2010, 5, 6)),
    "page_count": ("12", 12),
    "security_classification": ("内部", "内部"),
    "retention_period": ("永久", "Y"),
    "remarks": ("原件破损", "原件破损"),
    "document_type": ("通知", "通知"),
    "fonds_code": ("Z109", "Z109"),
    "year": ("2010", 2010),
    "unit_code": ("BGS", "BGS"),
    "item_number": ("1", None),  # read, and implied by the 档号
    "device": ("Fujitsu fi-7600", "Fujitsu fi-7600"),
    "digitized_at": ("2024-03-05", "2024-03-05"),
    # A photo catalogue's (tests/unit/archival/test_photo_batches.py has the photo batch itself).
    "creator": ("李摄影", "李摄影"),
    "captured_at": ("1986年5月1日", "1986-05-01"),
    "place": ("罗湖口岸", "罗湖口岸"),
    "persons": ("王市长、李副市长", ("王市长", "李副市长")),
    "background": ("口岸开通仪式", "口岸开通仪式"),
    "photo_number": ("ZP-1986-001", "ZP-1986-001"),
    "negative_number": ("DP-1986-001", "DP-1986-001"),
    "carrier": ("底片", "底片"),  # as written; a paper batch reads no 载体
}


def _mappings() -> list[tuple[str, str]]:
    config = load_link_config()
    return [(column, header) for column, headers in config.columns.items() for header in headers]


def test_every_column_has_a_value_here() -> None:
    assert set(load_link_config().columns) == set(COLUMN_VALUES)


@pytest.mark.parametrize(("column", "header"), _mappings())
def test_each_column_name_maps(
    tmp_path: Path, config: LinkConfig, column: str, header: str
) -> None:
    headers = {"reference_code": "档号", "title": "题名", column: header}
    cell, expected = COLUMN_VALUES[column]
    values = {"reference_code": code(1), "title": "通知", column: cell}
    path = digitization.write_csv(
        tmp_path / "c.csv", [list(values.values())], list(headers.values()), "utf-8"
    )
    catalogue = read_catalogue(path, config)
    assert not catalogue.problems
    entry = catalogue.entries[code(1)]
    if expected is not None:
        assert getattr(entry, column) == expected


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path: Path, config: LinkConfig, encoding: str) -> None:
    path = digitization.write_csv(
        tmp_path / "c.csv", digitization.catalogue_rows(), digitization.CSV_HEADER, encoding
    )
    entries = read_catalogue(path, config).entries
    assert entries[code(2)].title == "关于开展爱国卫生月活动的通知"
    assert entries[code(2)].document_date == dt.date(2010, 5, 6)


@pytest.mark.parametrize(
    "text", ["20100506", "2010-05-06", "2010.5.6", "2010/5/6", "2010年5月6日", " 2010 . 05 . 06 "]
)
def test_dates_are_normalised(text: str) -> None:
    assert normalise_date(text) == dt.date(2010, 5, 6)


@pytest.mark.parametrize("text", ["19980500", "2010-13-01", "2010年5月", "五月六日", "201056"])
def test_a_date_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalise_date(text)


def test_row_problems(tmp_path: Path, config: LinkConfig) -> None:
    rows = [
        [code(1), "通知", "2010-02-30", "3", "永久", "BGS"],
        [code(2), "通知", "2010-02-03", "三", "长期", "BGS"],
        [code(3), "通知", "2010-02-03", "3", "定期10年", "BGS"],
        [code(4), "通知", "2010-02-03", "3", "永久", "BGK"],
        [code(5), "通知", "2010-02-03", "3.0", "永久", "BGS"],
    ]
    path = digitization.write_csv(
        tmp_path / "c.csv",
        rows,
        ["档号", "题名", "日期", "页数", "保管期限", "机构或问题"],
        "utf-8",
    )
    catalogue = read_catalogue(path, config)
    assert list(catalogue.entries) == [code(5)] and catalogue.entries[code(5)].page_count == 3
    assert [(p.reason, p.row, p.message) for p in catalogue.problems] == [
        ("catalogue-invalid-value", 3, "日期 '2010-02-30' 不是日期"),
        ("catalogue-invalid-value", 4, "页数 '三' 不是正整数；保管期限 '长期' 无法对应 Y/D30/D10"),
        ("catalogue-inconsistent", 5, "与档号不一致：保管期限 D10 ≠ Y"),
        ("catalogue-inconsistent", 6, "与档号不一致：机构或问题 BGK ≠ BGS"),
    ]


def test_a_catalogue_without_its_columns_is_refused(tmp_path: Path, config: LinkConfig) -> None:
    path = digitization.write_csv(tmp_path / "c.csv", [["x", "y"]], ["文号", "责任者"], "utf-8")
    with pytest.raises(CatalogueError, match="档号"):
        read_catalogue(path, config)
    with pytest.raises(CatalogueError, match=r"\.xls"):
        read_catalogue(tmp_path / "c.xls", config)


# --- the report ---------------------------------------------------------------------------------
def test_the_report_renders(batch: Batch, config: LinkConfig, tmp_path: Path) -> None:
    report = link_batch(batch.csv, batch.images, config)
    report.record_outcome(code(1), "archived")
    report.record_outcome(code(2), "rejected", "missing-document-type", "文种 is required")
    with pytest.raises(KeyError):
        report.record_outcome(code(3), "archived")
    lines = list(csv.reader(io.StringIO(render_csv(report))))
    assert len(lines) == 1 + len(batch.linked) + len(batch.problems)
    files = "；".join(f"{code(1)}-{n}.jpg" for n in (1, 2, 3))
    assert lines[1][:6] == [code(1), "3", files, "3", "已归档", ""]
    assert lines[2][4:6] == ["被拒收", "missing-document-type"]
    assert lines[4][4:6] == ["未挂接", "catalogue-invalid-reference"]
    page = render_html(report)
    assert "目录挂接报告" in page and "Linking report" in page
    assert "<td><code>page-missing</code></td><td>缺第 2 页</td>" in page
    report.problems.append(LinkProblem("image-orphan", "<script>", file="<b>.jpg"))
    assert "<script>" not in render_html(report) and "&lt;b&gt;.jpg" in render_html(report)
    report.problems.pop()
    data = json.loads(render_json(report))
    assert data["counts"]["linked"] == 3 and data["counts"]["image-orphan"] == 1
    assert data["outcomes"][code(1)] == {"outcome": "archived", "reason": None, "detail": None}
    written = write_report(report, tmp_path / "report")
    assert written["csv"].read_bytes().startswith("\ufeff".encode())  # so Excel reads Chinese
    assert json.loads(written["json"].read_text(encoding="utf-8")) == data


def test_a_pdf_item_is_read_page_by_page(tmp_path: Path) -> None:
    """Each page's resolution is its scan's pixels across the page's width; nothing is decoded."""
    path = tmp_path / f"{code(1)}.pdf"
    colour = Image.new("RGB", (600, 800), (200, 10, 10))
    grey = Image.new("L", (300, 400), 120)
    colour.save(path, save_all=True, append_images=[grey], resolution=300)
    found = inspect_file(path)
    assert (found.format, found.pages, found.colour_modes) == ("PDF", 2, ("彩色", "灰度"))
    assert (found.dpi, found.compression) == ((300, 300), "JPEG")


def jpeg(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, "JPEG")
    return buffer.getvalue()


def png(size: tuple[int, int], mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_an_ofd_item_is_read_page_by_page(tmp_path: Path, absolute: bool) -> None:
    """Each page's resolution is its largest image's pixels across its boundary (mm); a page
    with no image, or only a kind of image not read here, has none."""
    path = tmp_path / f"{code(1)}.ofd"
    pages: list[tuple[bytes | None, str]] = [
        (jpeg((2480, 50)), "0 0 210 297"),  # 2480 px over 210 mm: 300 dpi
        (png((827, 20)), "0 0 105 148.5"),  # over 105 mm: 200 dpi, grey
        (None, ""),
        (b"\x97JB2\r\n\x1a\n" + bytes(40), "0 0 210 297"),  # JBIG2: not read here
    ]
    path.write_bytes(format_samples.scanned_ofd_bytes(pages, absolute=absolute))
    found = inspect_file(path)
    assert (found.format, found.pages, found.unreadable) == ("OFD", 4, None)
    assert found.dpi == (300, 200, None, None)
    assert found.colour_modes == ("彩色", "灰度", None, None)
    assert found.min_dpi is None  # two pages unknown: the item is held, not guessed


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: m.update({"Doc_0/Document.xml": "<not xml"}), "Document.xml"),
        (
            lambda m: m.update(
                {"Doc_0/DocumentRes.xml": '<!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>'}
            ),
            "entit",
        ),
        (lambda m: m.pop("Doc_0/Res/Image_0.bin"), "Image_0"),
    ],
    ids=["broken-xml", "entity", "missing-image"],
)
def test_a_broken_or_hostile_ofd_is_unreadable_not_a_crash(
    tmp_path: Path, change: Any, why: str
) -> None:
    source = zipfile.ZipFile(
        io.BytesIO(format_samples.scanned_ofd_bytes([(jpeg((100, 10)), "0 0 10 10")]))
    )
    members = {name: source.read(name) for name in source.namelist()}
    change(members)
    path = tmp_path / f"{code(1)}.ofd"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    found = inspect_file(path)
    assert found.format == "OFD"
    assert found.unreadable is not None and why.lower() in found.unreadable.lower(), (
        found.unreadable
    )


def test_a_scan_that_records_no_resolution_is_held_as_unknown_not_72_dpi(tmp_path: Path) -> None:
    # Pillow answers 72 dpi for a JPEG whose EXIF (a scanner's Make, no XResolution) has none.
    exif = Image.Exif()
    exif[271] = "Fujitsu"
    path = tmp_path / f"{code(1)}.jpg"
    buffer = io.BytesIO()
    Image.new("L", (100, 100), 128).save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    length = int.from_bytes(data[4:6], "big")
    path.write_bytes(data[:2] + data[4 + length :])  # no JFIF segment: as a scanner writes it
    assert Image.open(path).info.get("dpi") == (72, 72)  # what Pillow makes up
    assert inspect_file(path).dpi == (None,)
