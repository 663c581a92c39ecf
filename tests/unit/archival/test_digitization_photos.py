"""A photo batch linked like a digitization batch (archival/digitization/, category ZP): the batch of
tests/photos.py gives exactly the submissions and problems it was built to give; 载体 decides
between a scan (数字化属性, a resolution minimum) and a camera's photo (its EXIF time, no
resolution check); a photo is one image whatever 页数 says; the SDK's photo rules hold a row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archival.digitization import (
    LinkConfig,
    LinkReport,
    link_batch,
    load_link_config,
    normalise_capture_time,
    read_catalogue,
    render_csv,
    render_html,
)
from archival.metadata import load_metadata_rules
from recordflow.settings import Settings
from tests import media, photos
from tests.photos import CAMERA, NEGATIVE, PRINT, Batch

RULES = load_metadata_rules(Settings().metadata_rules_file)
HEADER = ["档号", "题名", "摄影者", "拍摄时间", "拍摄地点", "载体"]


@pytest.fixture(scope="module")
def config() -> LinkConfig:
    return load_link_config(Settings().digitization_file)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return photos.build(tmp_path_factory.mktemp("photos"))


def link_photos(catalogue: Path, folder: Path, config: LinkConfig) -> LinkReport:
    return link_batch(catalogue, folder, config, category="ZP", rules=RULES)


def one_photo(tmp_path: Path, config: LinkConfig, row: list[Any], header: list[str] = HEADER,
              photo: Callable[[Path], Any] = photos.scan) -> LinkReport:  # fmt: skip
    """A batch of one catalogue row and its photo, `<档号>.jpg`, made by `photo`."""
    folder = tmp_path / "photos"
    folder.mkdir(parents=True)
    photo(folder / f"{row[0]}.jpg")
    return link_photos(photos.write_csv(tmp_path / "c.csv", [row], header), folder, config)


def problems(report: LinkReport) -> list[tuple[str, str]]:
    return [(p.reason, p.message) for p in report.problems]


@pytest.mark.parametrize("catalogue", ["xlsx", "csv"])
def test_the_batch_links_exactly_as_built(batch: Batch, config: LinkConfig, catalogue: str) -> None:
    report = link_photos(getattr(batch, catalogue), batch.photos, config)
    assert {item.reference_code: item.metadata for item in report.linked} == batch.linked
    assert [problem.as_json() for problem in report.problems] == batch.problems
    assert report.held == [photos.NO_PHOTOGRAPHER]  # held by the SDK's own rule, nothing sent


def test_the_carrier_says_what_the_photo_is(batch: Batch, config: LinkConfig) -> None:
    linked = {
        item.reference_code: item for item in link_photos(batch.csv, batch.photos, config).linked
    }
    assert [(linked[c].carrier, linked[c].copy_form) for c in (NEGATIVE, PRINT, CAMERA)] == [
        ("底片", "数字化副本"), ("照片", "数字化副本"), (None, None),
    ]  # fmt: skip
    assert linked[NEGATIVE].digitized_at == "2024-03-05T10:00:00"  # the scan's, not 拍摄时间
    assert linked[CAMERA].digitized_at is None and linked[CAMERA].digitization == []
    assert linked[CAMERA].notes == (
        "拍摄时间取自照片 EXIF：2026-05-06T20:15:03", "责任者取自摄影者", "日期取自拍摄时间",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("written", "original"),
    [("电子", None), ("数码照片", None), ("数 字", None), ("相片", "照片"), ("底片", "底片"),
     (None, "照片")],
)  # fmt: skip
def test_carrier_words(tmp_path: Path, config: LinkConfig, written: str | None,
                       original: str | None) -> None:  # fmt: skip
    row = [NEGATIVE, "合影", "李摄影", "1986-05-01", "罗湖", written or ""]
    catalogue = photos.write_csv(tmp_path / "c.csv", [row], HEADER)
    assert read_catalogue(catalogue, config, "ZP").entries[NEGATIVE].original_medium == original


def test_without_a_carrier_column_a_photo_is_a_scanned_print(
    tmp_path: Path, config: LinkConfig
) -> None:
    row = [NEGATIVE, "合影", "李摄影", "1986-05-01", "罗湖"]
    catalogue = photos.write_csv(tmp_path / "c.csv", [row], HEADER[:-1])
    assert read_catalogue(catalogue, config, "ZP").entries[NEGATIVE].original_medium == "照片"


@pytest.mark.parametrize(
    ("text", "normalised"),
    [("1986", "1986"), ("1986年", "1986"), ("1986年5月", "1986-05"), ("1986.5", "1986-05"),
     ("1986年5月1日", "1986-05-01"), ("19860501", "1986-05-01"), ("1986/5/1", "1986-05-01"),
     ("2026-05-06 20:15", "2026-05-06T20:15"), ("2026年5月6日 20:15:03", "2026-05-06T20:15:03"),
     ("2026-05-06T20:15", "2026-05-06T20:15")],
)  # fmt: skip
def test_capture_times_are_normalised(text: str, normalised: str) -> None:
    assert normalise_capture_time(text) == normalised


@pytest.mark.parametrize("text", ["1986年春", "86年", "1986-13", "0000", "2026-05-06 24:00",
                                  "2026-05-06T20:15+08:00"])  # fmt: skip
def test_a_capture_time_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalise_capture_time(text)


def test_row_problems(tmp_path: Path, config: LinkConfig) -> None:
    rows = [
        [NEGATIVE, "合影", "李摄影", "1986年春", "罗湖", "底片"],
        [PRINT, "合影", "李摄影", "1986", "罗湖", "胶卷"],
        ["Z101-WS·1986-Y-BGS-0007", "合影", "李摄影", "1986", "罗湖", "照片"],
    ]
    catalogue = read_catalogue(photos.write_csv(tmp_path / "c.csv", rows, HEADER), config, "ZP")
    assert not catalogue.entries
    assert [(p.reason, p.row, p.message) for p in catalogue.problems] == [
        ("catalogue-invalid-value", 3,
         "拍摄时间 '1986年春' 不是时间（如 1986、1986年5月、1986-05-01、2026-05-06 20:15）"),
        ("catalogue-invalid-value", 4,
         "载体 '胶卷' 无法识别（应为 电子、数码、数字、电子照片、数码照片、数字照片、"
         "照片、相片、纸质照片、底片 之一）"),
        ("catalogue-wrong-category", 5, "档号的门类代码 WS 不是本批次的 ZP"),
    ]  # fmt: skip


def test_a_photo_is_one_image_whatever_its_page_count(tmp_path: Path, config: LinkConfig) -> None:
    header = [*HEADER, "页数"]
    row = [NEGATIVE, "合影", "李摄影", "1986-05-01", "罗湖", "", 3]
    report = one_photo(tmp_path / "one", config, row, header)
    assert [item.metadata["page_count"] for item in report.linked] == [1]

    def two(path: Path) -> None:
        photos.scan(path.with_name(f"{NEGATIVE}-1.jpg"))
        photos.scan(path.with_name(f"{NEGATIVE}-2.jpg"), dpi=301)

    report = one_photo(tmp_path / "two", config, [*row[:-1], 2], header, photo=two)
    assert problems(report) == [("page-count-mismatch", "每件 1 页，图像 2 页")]


def test_a_scan_below_the_minimum_is_held(tmp_path: Path, config: LinkConfig) -> None:
    row = [NEGATIVE, "合影", "李摄影", "1986-05-01", "罗湖", "照片"]
    report = one_photo(tmp_path, config, row, photo=lambda path: photos.scan(path, dpi=250))
    assert problems(report) == [("resolution-too-low", "250 dpi，低于 300 dpi")]  # paper's is 200
    collection = config.model_copy(update={"min_dpi_by_fonds": {photos.FONDS: 200}})
    assert link_photos(tmp_path / "c.csv", tmp_path / "photos", collection).linked  # it comes first


def test_a_camera_photo_has_no_resolution_to_check(tmp_path: Path, config: LinkConfig) -> None:
    row = [CAMERA, "夜景", "王摄影", "", "深南大道", "电子"]
    report = one_photo(tmp_path, config, row, photo=photos.camera)
    assert not report.problems  # no dpi: not resolution-unknown, and Pillow's 72 is not checked
    (item,) = report.linked
    assert item.metadata["media"]["captured_at"] == "2026-05-06T20:15:03"  # +08:00 dropped
    assert item.metadata["document_date"] == "2026-05-06"


def test_the_time_of_a_scan_is_never_the_time_taken(tmp_path: Path, config: LinkConfig) -> None:
    """A scanner's EXIF time is when the print was scanned: no 拍摄时间, no photo."""
    report = one_photo(tmp_path, config, [NEGATIVE, "合影", "李摄影", "", "罗湖", "照片"])
    assert [p.reason for p in report.problems] == ["missing-capture-time"]


def test_a_camera_photo_without_exif_time_is_held(tmp_path: Path, config: LinkConfig) -> None:
    def no_time(path: Path) -> Path:
        return media.photo_jpeg(path, taken=None, dpi=None)

    report = one_photo(
        tmp_path, config, [CAMERA, "夜景", "王摄影", "", "深南", "数码"], photo=no_time
    )
    assert [p.reason for p in report.problems] == ["missing-capture-time"]


def test_the_sdk_photo_rules_hold_a_row(tmp_path: Path, config: LinkConfig) -> None:
    report = one_photo(tmp_path, config, [NEGATIVE, "合影", "李摄影", "1986-05-01", "", "照片"])
    assert [p.reason for p in report.problems] == ["missing-capture-place"]


def test_a_photo_without_a_day_needs_a_date(tmp_path: Path, config: LinkConfig) -> None:
    report = one_photo(tmp_path, config, [NEGATIVE, "合影", "李摄影", "1986年5月", "罗湖", "照片"])
    assert problems(report) == [
        ("missing-document-date", "目录没有日期，拍摄时间 1986-05 不到日：请在目录中填写日期")
    ]
    dated = [NEGATIVE, "合影", "李摄影", "1986年5月", "罗湖", "照片", "1986-05-20"]
    report = one_photo(tmp_path / "dated", config, dated, [*HEADER, "日期"])
    (item,) = report.linked
    assert (item.metadata["document_date"], item.metadata["media"]["captured_at"]) == (
        "1986-05-20", "1986-05",
    )  # fmt: skip


def test_a_pdf_is_no_photo(tmp_path: Path, config: LinkConfig) -> None:
    def pdf(path: Path) -> None:  # named .jpg: the content decides
        path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

    report = one_photo(
        tmp_path, config, [NEGATIVE, "合影", "李摄影", "1986", "罗湖", "照片"], photo=pdf
    )
    assert ("format-not-accepted", "内容不是 JPEG/TIFF") in problems(report)


def test_a_paper_batch_refuses_a_photo_and_a_photo_batch_needs_the_rules(
    tmp_path: Path, config: LinkConfig, batch: Batch
) -> None:
    paper = link_batch(batch.csv, batch.photos, config)
    assert {p.reason for p in paper.catalogue_errors} == {"catalogue-wrong-category"}
    with pytest.raises(ValueError, match="needs the metadata rules"):
        link_batch(batch.csv, batch.photos, config, category="ZP")


def test_the_report_says_what_linking_filled_in(batch: Batch, config: LinkConfig) -> None:
    report = link_photos(batch.csv, batch.photos, config)
    lines = {line[0]: line for line in csv.reader(io.StringIO(render_csv(report)))}
    assert lines[CAMERA][6].startswith("拍摄时间取自照片 EXIF：2026-05-06T20:15:03")
    assert lines[photos.NO_PHOTOGRAPHER][4:6] == ["未挂接", "missing-photographer"]
    page = render_html(report)
    assert "著录项检查未通过" in page and "<code>missing-photographer</code>" in page
    assert "拍摄时间取自照片 EXIF" in page
    data = json.loads(json.dumps(report.as_json()))
    camera = next(item for item in data["linked"] if item["reference_code"] == CAMERA)
    assert (camera["carrier"], camera["notes"][0]) == (
        None,
        "拍摄时间取自照片 EXIF：2026-05-06T20:15:03",
    )
