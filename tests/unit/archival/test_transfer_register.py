"""The receiving register (archival/transfer_register/): what it counts over hand-made records,
the period's boundaries in China Standard Time, and its HTML and PDF renderings."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pypdf
import pytest

from archival.transfer_register.build import (
    FAILED_AFTER_STORE,
    FLAGGED,
    UNCHECKED,
    Labels,
    Period,
    Rejection,
    TransferRegister,
    build_register,
    parse_day,
    parse_period,
    size_text,
)
from archival.transfer_register.pdf import (
    CELL_CHARS,
    FONT_PACKAGE,
    MISSING_GLYPH,
    FontUnusable,
    RegisterFont,
    load_font,
    render_pdf,
)
from archival.transfer_register.render import render_html, render_json
from recordflow.agencies import load_registry
from recordflow.settings import Settings
from tests.examples import archival_record, retention_review_record

SETTINGS = Settings()
REGISTRY = load_registry(SETTINGS.agencies_file)
ZJJ = REGISTRY.by_code["zjj"]
LABELS = Labels.load(SETTINGS.metadata_rules_file, SETTINGS.checks_file)
CST = dt.timezone(dt.timedelta(hours=8))
YEAR_2026 = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
IN_PERIOD = dt.datetime(2026, 6, 1, 10, 0, tzinfo=CST)
PRODUCED_AT = dt.datetime(2027, 1, 4, 9, 0, tzinfo=CST)
PDF_A = {"puid": "fmt/354", "name": "Acrobat PDF/A - Portable Document Format", "version": "1b",
         "mime_type": "application/pdf", "basis": "byte match", "accepted": True,
         "technical": {}, "problems": []}  # fmt: skip
JPEG = {**PDF_A, "puid": "fmt/43", "name": "JPEG File Interchange Format", "version": "1.01",
        "mime_type": "image/jpeg"}  # fmt: skip
ZIP = {**PDF_A, "puid": "x-fmt/263", "name": "ZIP Format", "version": None, "accepted": False,
       "mime_type": "application/zip", "problems": ["not-accepted"]}  # fmt: skip
PASSING = [{"code": "YJ-1-1", "result": "pass", "reason": "SHA-256 matches"},
           {"code": "YJ-3-2", "result": "pass", "reason": "PDF/A accepted"},
           {"code": "YJ-4-1", "result": "not-checked", "reason": "no scanner configured"}]  # fmt: skip


def record(number: int, *, archived_at: dt.datetime = IN_PERIOD, category: str = "WS",
           period: str = "D30", year: int = 2026, sizes: tuple[int, ...] = (48213,),
           formats: tuple[dict[str, Any] | None, ...] = (PDF_A,), agency: str = "zjj",
           title: str | None = None, check: dict[str, Any] | str | None = "pass",
           flags: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """archival_record() as the catalog would hold another record of the agency."""
    made: dict[str, Any] = copy.deepcopy(dict(archival_record()))
    code = f"Z109-{category}·{year}-{period}-GHK-{number:04d}"
    template = made["components"][0]
    made.update(
        reference_code=code, item_number=number, category=category, retention_period=period,
        year=year, archived_at=archived_at, flags=list(flags),
        agency={"code": agency, "name": REGISTRY.by_code[agency].name},
        components=[{**template, "sequence": n, "size_bytes": size}
                    for n, size in enumerate(sizes, start=1)],
        formats=[{**found, "sequence": n}
                 for n, found in enumerate(formats, start=1) if found is not None],
    )  # fmt: skip
    made["description"] = {**made["description"], "title": title or f"第{number}号请示"}
    if check == "pass":
        made["check"] = {**made["check"], "verdict": "pass", "items": PASSING}
    elif check is None or isinstance(check, dict):
        made["check"] = check
    return made


def flagged_check(*items: tuple[str, str]) -> dict[str, Any]:
    failing = [{"code": code, "result": "fail", "reason": reason} for code, reason in items]
    return {"stage": "YJ", "checked_at": IN_PERIOD, "verdict": "flagged",
            "items": [*PASSING[:1], *failing]}  # fmt: skip


def register(records: list[dict[str, Any]], rejections: list[Rejection] | None = None,
             review: list[dict[str, Any]] | None = None,
             period: Period = YEAR_2026) -> TransferRegister:  # fmt: skip
    return build_register(
        records, rejections or [], review or [], agency=ZJJ, archives=REGISTRY.archives,
        period=period, labels=LABELS, prepared_by="王档案", produced_at=PRODUCED_AT,
    )  # fmt: skip


# --- the period ------------------------------------------------------------------------------
def test_the_period_is_whole_days_of_china_standard_time_both_ends_included() -> None:
    december = Period(dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    moments = {
        1: dt.datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=CST),  # the last moment: in
        2: dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=dt.UTC),  # the same day in CST: in
        3: dt.datetime(2026, 12, 1, 0, 0, tzinfo=CST),  # the first moment: in
        4: dt.datetime(2027, 1, 1, 0, 0, tzinfo=CST),  # midnight after: out
        5: dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC),  # 2027-01-01 00:00 CST: out
        6: dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=CST),  # the day before: out
        7: dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC),  # 2026-12-01 00:30 CST: in
    }
    made = register([record(n, archived_at=at) for n, at in moments.items()], period=december)
    assert made.items == 4
    assert made.by_year[0].items == 4
    assert made.period.start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert made.period.end.isoformat() == "2027-01-01T00:00:00+08:00"


def test_only_the_agencys_own_records_count() -> None:
    made = register([record(1), record(2, agency="bgt"), record(3, agency="bdc")])
    assert made.items == 1


@pytest.mark.parametrize("text", ["2026-1-1", "2026-13-01", "2026-02-30", "20260101", "yesterday",
                                  "", "2026-01-01T00:00"])  # fmt: skip
def test_a_day_that_is_not_a_date_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--from .* is not a date \(YYYY-MM-DD, or today\)$"):
        parse_day(text, "--from", dt.date(2026, 12, 7))


def test_today_is_the_archives_today_and_from_may_not_follow_to() -> None:
    today = dt.date(2026, 12, 7)
    assert parse_period("today", " TODAY ", today) == Period(today, today)
    assert parse_period("2026-12-07", "today", today) == Period(today, today)
    with pytest.raises(ValueError, match=r"^--from 2026-12-08 is after --to 2026-12-07$"):
        parse_period("2026-12-08", "today", today)


# --- totals ----------------------------------------------------------------------------------
def test_totals_by_category_retention_and_year_with_a_row_for_every_category_and_period() -> None:
    made = register([
        record(1, sizes=(1000, 24)),
        record(2, category="ZP", period="Y", sizes=(5000,), formats=(JPEG,)),
        record(3, category="ZP", period="Y", sizes=(7000,), formats=(JPEG,)),
        record(4, year=2025, period="D10", sizes=(300,)),
        record(5, archived_at=dt.datetime(2027, 1, 1, tzinfo=CST), sizes=(10**9,)),  # not in it
    ])  # fmt: skip
    assert (made.items, made.files, made.bytes) == (4, 5, 13324)
    assert [(t.key, t.name, t.items, t.bytes) for t in made.by_category] == [
        ("WS", "文书档案", 2, 1324), ("ZP", "照片档案", 2, 12000), ("LY", "录音录像档案", 0, 0),
    ]  # fmt: skip
    assert [(t.key, t.name, t.items, t.bytes) for t in made.by_retention] == [
        ("Y", "永久", 2, 12000), ("D30", "定期30年", 1, 1024), ("D10", "定期10年", 1, 300),
    ]  # fmt: skip
    assert [(t.key, t.items, t.bytes) for t in made.by_year] == [
        ("2025", 1, 300), ("2026", 3, 13024),
    ]  # fmt: skip


def test_files_per_format_with_the_unidentified_and_the_not_accepted() -> None:
    made = register([
        record(1, sizes=(100, 200), formats=(PDF_A, PDF_A)),
        record(2, sizes=(1000,), formats=(JPEG,)),
        record(3, sizes=(10, 20), formats=(PDF_A, ZIP)),
        record(4, sizes=(7,), formats=(None,)),  # no identification recorded
    ])  # fmt: skip
    assert [(f.puid, f.name, f.version, f.accepted, f.files, f.bytes) for f in made.by_format] == [
        ("fmt/354", "Acrobat PDF/A - Portable Document Format", "1b", True, 3, 310),
        ("fmt/43", "JPEG File Interchange Format", "1.01", True, 1, 1000),
        ("x-fmt/263", "ZIP Format", None, False, 1, 20),
        (None, "未识别 unidentified", None, False, 1, 7),
    ]  # fmt: skip
    assert sum(f.files for f in made.by_format) == made.files


# --- the four-property check -----------------------------------------------------------------
def test_check_summary_and_the_records_that_failed_or_are_flagged() -> None:
    flagged = flagged_check(("YJ-3-2", "报告.zip: ZIP Format is not accepted for preservation"))
    broken = {**flagged_check(("YJ-1-5", "01.pdf: archive object has another SHA-256")),
              "verdict": "pass"}  # fmt: skip
    made = register([
        record(1), record(2),
        record(3, check=flagged, title="关于<报送>2026年统计报表的报告"),
        record(4, check=broken, flags=("check-failed-after-store",)),
        record(5, check=None),  # archived before records carried a check
    ])  # fmt: skip
    assert vars(made.check) == {"passed": 2, "flagged": 1, "failed_after_store": 1,
                                "not_checked": 1}  # fmt: skip
    assert [(r.reference_code, r.standing) for r in made.checked_records] == [
        ("Z109-WS·2026-D30-GHK-0003", FLAGGED),
        ("Z109-WS·2026-D30-GHK-0004", FAILED_AFTER_STORE),
        ("Z109-WS·2026-D30-GHK-0005", UNCHECKED),
    ]  # fmt: skip
    third = made.checked_records[0]
    assert third.title == "关于<报送>2026年统计报表的报告"
    assert [(f.code, f.name, f.reason) for f in third.findings] == [
        ("YJ-3-2", "内容数据格式检测", "报告.zip: ZIP Format is not accepted for preservation"),
    ]  # fmt: skip
    assert made.checked_records[1].findings[0].code == "YJ-1-5"
    assert made.checked_records[2].findings == ()
    # Per property, as each record's items say: the virus check without clamd is not a pass.
    by_property = {p.number: (p.zh, p.passed, p.failed, p.not_checked) for p in made.properties}
    assert by_property == {
        1: ("真实性", 3, 1, 1), 2: ("完整性", 0, 0, 5), 3: ("可用性", 2, 1, 2), 4: ("安全性", 0, 0, 5),
    }  # fmt: skip


# --- dead letters and review -----------------------------------------------------------------
def test_dead_letters_of_the_agency_in_the_period_by_reason() -> None:
    def letter(reason: str, submission: str, *, at: dt.datetime = IN_PERIOD,
               agency: str | None = "zjj", replayed: bool = False) -> Rejection:  # fmt: skip
        return Rejection(reason, at, agency, submission, replayed)

    made = register([], [
        letter("checksum-mismatch", "e1"), letter("checksum-mismatch", "e1", replayed=True),
        letter("checksum-mismatch", "e2"), letter("missing-title", "e3"),
        letter("missing-title", "e4", agency="bgt"),
        letter("missing-title", "e5", at=dt.datetime(2025, 12, 31, 23, 59, tzinfo=CST)),
        letter("not-avro", "letter:0-9", agency=None),  # undecodable: no agency known
    ])  # fmt: skip
    assert [(t.reason, t.letters, t.submissions, t.replayed) for t in made.rejections] == [
        ("checksum-mismatch", 3, 2, 1), ("missing-title", 1, 1, 0),
    ]  # fmt: skip
    assert made.rejections[0].name == LABELS.reasons["checksum-mismatch"]
    assert made.rejected == 4


def test_review_items_still_pending_of_the_agency_in_the_period() -> None:
    item = dict(retention_review_record())
    pending = {**item, "event_id": "a", "agency_code": "zjj", "queued_at": IN_PERIOD}
    decided = {**pending, "event_id": "b", "status": "DECIDED", "decided_period": "D10"}
    elsewhere = {**pending, "event_id": "c", "agency_code": "bdc"}
    earlier = {**pending, "event_id": "d", "queued_at": dt.datetime(2025, 6, 1, tzinfo=CST)}
    appraisal = {**pending, "event_id": "e", "kind": "APPRAISAL",
                 "reference_code": "Z109-WS·2016-D10-GHK-0003"}  # fmt: skip
    made = register([], [], [pending, decided, elsewhere, earlier, appraisal])
    assert [(p.event_id, p.kind_name) for p in made.pending] == [
        ("a", "保管期限待鉴定"), ("e", "到期待鉴定"),
    ]  # fmt: skip
    assert made.pending[1].reference_code == "Z109-WS·2016-D10-GHK-0003"


# --- renderings ------------------------------------------------------------------------------
def sample() -> TransferRegister:
    return register(
        [record(1), record(2, category="ZP", period="Y", formats=(JPEG,)),
         record(3, check=flagged_check(("YJ-3-2", "ZIP 格式不是长期保存格式")),
                title="关于<script>alert(1)</script>的报告", formats=(ZIP,))],
        [Rejection("document-type-invalid", IN_PERIOD, "zjj", "e9")],
    )  # fmt: skip


def test_the_json_register_has_the_figures() -> None:
    data = json.loads(render_json(sample()))
    assert data["agency"] == {"code": "zjj", "name": "市住房和城乡建设局", "fonds_code": "Z109",
                              "fonds_name": "市住房和城乡建设局"}  # fmt: skip
    assert data["archives"] == {"code": "440300", "name": "市档案馆"}
    assert data["period"]["from"] == "2026-01-01" and data["period"]["to"] == "2026-12-31"
    assert data["produced_at"] == "2027-01-04T09:00:00+08:00"
    assert data["totals"] == {"items": 3, "files": 3, "bytes": 3 * 48213}
    assert data["check"]["flagged"] == 1
    assert data["check"]["records"][0]["findings"][0]["code"] == "YJ-3-2"
    assert data["dead_letters"]["by_reason"][0]["reason"] == "document-type-invalid"


def test_the_html_register_has_the_figures_and_escapes_the_agencys_text() -> None:
    page = render_html(sample())
    for text in ("电子档案移交与接收登记表", "市住房和城乡建设局", "Z109", "市档案馆", "王档案",
                 "2026-01-01 至 2026-12-31", "2027-01-04 09:00:00", "Z109-WS·2026-D30-GHK-0003",
                 "ZIP 格式不是长期保存格式", "内容数据格式检测", "照片档案", "定期30年",
                 "document-type-invalid", "fmt/43", size_text(3 * 48213), "移交人（签名）",
                 "接收人（签名）"):  # fmt: skip
        assert text in page, text
    assert "<script>" not in page
    assert "关于&lt;script&gt;alert(1)&lt;/script&gt;的报告" in page
    totals = re.search(r"一、接收总量.*?</table>", page, re.S)
    assert totals is not None
    assert re.findall(r'<td class="n">([^<]*)</td>', totals.group()) == [
        "3", "3", size_text(3 * 48213), "1", "0",
    ]  # fmt: skip


def test_size_text_keeps_the_exact_count() -> None:
    assert size_text(0) == "0 B"
    assert size_text(1023) == "1,023 B"
    assert size_text(48213) == "47.1 KiB (48,213 B)"
    assert size_text(5 * 1024**3) == "5.0 GiB (5,368,709,120 B)"


# --- the PDF ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def font() -> RegisterFont:
    return load_font(SETTINGS.report_font_file, SETTINGS.report_font_index)


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_the_pdf_text_is_chinese_characters_not_boxes(font: RegisterFont) -> None:
    pages = pdf_text(render_pdf(sample(), font))
    text = "\n".join(pages)
    # Extraction gives back the characters: the font has the glyphs and a ToUnicode map.
    for expected in ("电子档案移交与接收登记表", "Z109-WS·2026-D30-GHK-0003", "市住房和城乡建设局",
                     "内容数据格式检测", "移交人（签名）", f"第 1 页 共 {len(pages)} 页"):  # fmt: skip
        assert expected in text, expected
    # The agency's text is text, not markup (a title wraps in its cell: lines joined).
    assert "关于<script>alert(1)</script>的报告" in text.replace("\n", "")
    assert "\x00" not in text and "\ufffd" not in text and MISSING_GLYPH not in text


def test_the_pdf_embeds_its_font(font: RegisterFont) -> None:
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(sample(), font)))
    resources: Any = reader.pages[0]["/Resources"]
    fonts = [font.get_object() for font in resources["/Font"].values()]
    descriptors = [found["/FontDescriptor"].get_object() for found in fonts
                   if "/FontDescriptor" in found]  # fmt: skip
    assert descriptors, "no embedded font"
    assert all("/FontFile2" in descriptor for descriptor in descriptors)  # TrueType, embedded
    assert any("WenQuanYi" in str(d["/FontName"]) for d in descriptors)


def test_a_long_register_runs_over_numbered_pages_and_loses_no_row(font: RegisterFont) -> None:
    failing = flagged_check(("YJ-3-2", "报告.zip: ZIP Format is not accepted for preservation"),
                            ("YJ-3-4", "neither the creating application nor a version recorded"))  # fmt: skip
    records = [record(n, check=failing, title="关于申请老旧小区改造专项资金的请示" * (1 + n % 4))
               for n in range(1, 301)]  # fmt: skip
    data = render_pdf(register(records), font)
    pages = pdf_text(data)
    # A row is at least a line (11 pt) and its padding (6 pt): no more than 43 rows to a page of
    # 745 pt, so the 300 failing records alone take at least 7 pages.
    assert len(pages) >= 1 + math.ceil(300 / 43)
    for number, text in enumerate(pages, start=1):
        assert f"第 {number} 页 共 {len(pages)} 页" in text
    everything = "\n".join(pages)
    for n in range(1, 301):  # each record once: rows are neither lost nor repeated across pages
        assert everything.count(f"Z109-WS·2026-D30-GHK-{n:04d}") == 1, n
    assert "移交人（签名）" in pages[-1]
    assert render_pdf(register(records), font) == data  # the same register, the same bytes


def test_a_cell_too_long_for_a_page_is_cut_and_a_glyph_the_font_lacks_is_marked(
    font: RegisterFont,
) -> None:
    endless = "文件格式不在长期保存格式之列；" * 200
    made = register([record(1, check=flagged_check(("YJ-3-2", endless)), title="𠀀字的报告")])
    text = "\n".join(pdf_text(render_pdf(made, font)))
    assert f"{MISSING_GLYPH}字的报告" in text  # U+20000 is beyond the font: marked, not a box
    assert "长期保存格式之列" in text and "…" in text
    sentence = "文件格式不在长期保存格式之列；"
    assert text.count(sentence[:-1]) <= CELL_CHARS // len(sentence) + 1  # of the 200 given


def test_a_missing_or_unusable_font_names_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(FontUnusable, match=f"is missing: apt-get install {FONT_PACKAGE}"):
        load_font(tmp_path / "wqy-zenhei.ttc")
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"OTTO" + bytes(100))  # a CFF font's signature, and nothing else
    with pytest.raises(FontUnusable, match=f"cannot be embedded .*apt-get install {FONT_PACKAGE}"):
        load_font(not_a_font)
