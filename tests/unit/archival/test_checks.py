"""The four-property check at receipt (archival/checks.py, recordflow/checks.yaml): every item has
evidence that passes it and evidence that fails it (or leaves it not-checked, where that is the
designed outcome), with the reason; the report's verdicts; and the items in the YAML and the
checkers in the code name the same codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from archival.checks import (
    CHECKERS,
    DEFAULT_ITEMS_FILE,
    FAIL,
    NOT_CHECKED,
    PASS,
    CheckReport,
    ComponentEvidence,
    Evidence,
    FormatLike,
    ItemResult,
    ScanResult,
    check_receipt,
    load_items,
    mojibake,
)
from archival.metadata import load_metadata_rules, validate_description
from recordflow.agencies import load_registry
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR

RULES = load_metadata_rules(PACKAGE_DIR / "metadata_rules.yaml")
ITEMS = load_items(metadata_rules=RULES)
MAX_TITLE_CHARS = RULES.max_chars("title") or 0
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
CONTENT = b"%PDF-1.7 the record's main document"
SHA256 = hashlib.sha256(CONTENT).hexdigest()
OTHER_SHA256 = hashlib.sha256(b"something else").hexdigest()
CODE = "Z101-WS·2026-Y-BGS-0001"
STORED_KEY = f"Z101/2026/{CODE}/01-{SHA256}.pdf"


@dataclass(frozen=True)
class Format:
    """Format identification's answer, shaped like archival.formats.FormatInfo."""

    puid: str | None = "fmt/354"
    name: str | None = "Acrobat PDF/A - Portable Document Format"
    version: str | None = "1b"
    mime_type: str | None = "application/pdf"
    accepted: bool = True
    category: str | None = "fixed-layout"
    technical: dict[str, str] = field(default_factory=lambda: {"producer": "WPS Office"})
    problems: tuple[str, ...] = ()


def description(**changes: Any) -> dict[str, Any]:
    return {
        "title": "关于做好2026年春节期间值班工作的通知",
        "document_number": "市府办发〔2026〕3号",
        "responsible_party": "市人民政府办公厅",
        "document_date": dt.date(2026, 1, 20),
        "document_type": "通知",
        "security_classification": "公开",
        "urgency": None,
        "keywords": ["值班", "春节"],
        "abstract": None,
        "unit_code": "BGS",
        "year": 2026,
        "page_count": 1,
        "language": "zh",
        **changes,
    }


def component(**changes: Any) -> ComponentEvidence:
    base = ComponentEvidence(
        file_name="通知.pdf",
        declared_size=len(CONTENT),
        actual_size=len(CONTENT),
        declared_sha256=SHA256,
        actual_sha256=SHA256,
        format=Format(),
        scan=ScanResult("clean", "clamd: OK"),
        stored_key=STORED_KEY,
        stored_sha256=SHA256,
    )
    return dataclasses.replace(base, **changes)


def evidence(*components: ComponentEvidence, **changes: Any) -> Evidence:
    base = Evidence(
        description=description(),
        reference_code=CODE,
        item_number_follows_series=True,
        components=list(components) or [component()],
        authenticated_source=True,
    )
    return dataclasses.replace(base, **changes)


def with_description(**changes: Any) -> Evidence:
    return evidence(description=description(**changes))


def with_format(**changes: Any) -> Evidence:
    return evidence(component(format=Format(**changes)))


def check(ev: Evidence) -> CheckReport:
    return check_receipt(ev, ITEMS, now=NOW)


def test_complete_evidence_passes_every_item() -> None:
    report = check(evidence())
    assert [item.code for item in report.items] == [item.code for item in ITEMS.items]
    assert {item.code: item.result for item in report.items if item.result != PASS} == {}
    assert report.properties == {1: PASS, 2: PASS, 3: PASS, 4: PASS}
    assert not (report.rejects or report.flags_for_review or report.quarantines)
    assert report.failing_codes == ()


# --- every item: evidence that passes it, and evidence that does not ---------------------
Case = tuple[str, Callable[[], Evidence], str, str]
CASES: list[Case] = [
    # YJ-1-1 fixity
    ("YJ-1-1", evidence, PASS, "SHA-256 matches the producer's digest"),
    ("YJ-1-1", lambda: evidence(component(declared_sha256=SHA256.upper())), PASS, "matches"),
    ("YJ-1-1", lambda: evidence(component(actual_sha256=OTHER_SHA256)), FAIL, "固定性信息不符"),
    ("YJ-1-1", lambda: evidence(component(declared_sha256=None)), FAIL, "no SHA-256 digest"),
    ("YJ-1-1", lambda: evidence(component(actual_sha256=None, actual_size=None)), NOT_CHECKED,
     "not received"),
    # YJ-1-2 metadata accurate
    ("YJ-1-2", evidence, PASS, "元数据准确"),
    ("YJ-1-2", lambda: with_description(title="题" * (MAX_TITLE_CHARS + 1)), FAIL,
     f"more than {MAX_TITLE_CHARS}"),
    ("YJ-1-2", lambda: with_description(security_classification="保密"), FAIL, "not one of"),
    ("YJ-1-2", lambda: with_description(urgency="很急"), FAIL, "urgency 紧急程度 '很急'"),
    ("YJ-1-2", lambda: with_description(urgency="特急"), PASS, "元数据准确"),
    ("YJ-1-2", lambda: with_description(document_type="tongzhi"), FAIL,
     "文种 'tongzhi' is not one of the 40 values of its domain"),
    ("YJ-1-2", lambda: with_description(document_date=dt.date(1949, 9, 30), year=1949), FAIL,
     "is before 1949-10-01"),
    ("YJ-1-2", lambda: with_description(page_count=10_001), FAIL, "页数 10001 is not a whole number 1..10000"),
    ("YJ-1-2", lambda: with_description(keywords=[f"词{n}" for n in range(21)]), FAIL, "21, more than 20"),
    ("YJ-1-2", lambda: with_description(language="zh-CN"), FAIL, "语种 'zh-CN'"),
    ("YJ-1-2", lambda: with_description(document_date=dt.date(2026, 7, 1)), FAIL, "in the future"),
    ("YJ-1-2", lambda: with_description(document_date="2026-01-20"), FAIL, "is not a date"),
    ("YJ-1-2", lambda: with_description(year=2025), FAIL, "before the document date"),
    ("YJ-1-2", lambda: with_description(year="2026"), FAIL, "not a whole number"),
    ("YJ-1-2", lambda: with_description(year=1900), FAIL, "outside 1949..2026"),
    ("YJ-1-2", lambda: with_description(page_count=0), FAIL, "页数 0"),
    ("YJ-1-2", lambda: with_description(unit_code="bgs"), FAIL, "capital letters"),
    ("YJ-1-2", lambda: with_description(document_number="市府办发\x08〔2026〕3号"), FAIL,
     "control or replacement characters"),
    ("YJ-1-2", lambda: with_description(title=unicodedata.normalize("NFD", "Café 通知")), FAIL,
     "NFC"),
    ("YJ-1-2", lambda: with_description(keywords=["值班", "值班"]), FAIL, "repeat a keyword"),
    ("YJ-1-2", lambda: with_description(responsible_party=12), FAIL, "is a int, not text"),
    # YJ-1-3 档号
    ("YJ-1-3", evidence, PASS, f"档号 {CODE} is well-formed"),
    ("YJ-1-3", lambda: evidence(reference_code=None), NOT_CHECKED, "not assigned yet"),
    ("YJ-1-3", lambda: evidence(reference_code="Z101-WS-2026-Y-BGS-1"), FAIL, "DA/T 22"),
    ("YJ-1-3", lambda: evidence(reference_code="Z101-WS·2026-Y-BGS-0000"), FAIL, "DA/T 22"),
    ("YJ-1-3", lambda: evidence(reference_code="Z101-WS·2025-Y-BGS-0001"), FAIL, "year 2025"),
    ("YJ-1-3", lambda: evidence(reference_code="Z101-WS·2026-Y-MSK-0001"), FAIL, "unit MSK"),
    ("YJ-1-3", lambda: evidence(category="ZP"), FAIL, "category WS, the record ZP"),
    ("YJ-1-3", lambda: evidence(category="ZP", reference_code=CODE.replace("WS", "ZP")), PASS,
     "well-formed"),
    # YJ-1-4 content attributes
    ("YJ-1-4", evidence, PASS, "agree with the metadata"),
    ("YJ-1-4", lambda: evidence(component(actual_size=len(CONTENT) - 1)), FAIL,
     "计算机文件大小不符"),
    ("YJ-1-4", lambda: with_format(problems=("extension-mismatch",)), FAIL,
     "found Acrobat PDF/A - Portable Document Format 1b (fmt/354): extension-mismatch"),
    ("YJ-1-4", lambda: with_format(problems=("declared-type-mismatch", "not-accepted")), FAIL,
     ": declared-type-mismatch 格式与元数据不符"),
    ("YJ-1-4", lambda: with_format(problems=("not-accepted",)), PASS, "agree"),
    ("YJ-1-4", lambda: evidence(component(file_name="../通知.pdf")), FAIL, "not a plain file name"),
    ("YJ-1-4", lambda: evidence(category="ZP", format_categories=("image",)), FAIL,
     "fixed-layout format; a ZP record's files are image 格式与门类不符"),
    ("YJ-1-4", lambda: evidence(component(format=Format(category=None, accepted=False)),
                                category="LY", format_categories=("audio", "video")), FAIL,
     "no accepted format"),
    ("YJ-1-4", lambda: evidence(component(format=Format(category="video")), category="LY",
                                format_categories=("audio", "video")), PASS, "agree"),
    ("YJ-1-4", lambda: evidence(component(file_name="a\tb.pdf")), FAIL, "not a plain file name"),
    ("YJ-1-4", lambda: evidence(component(format=None)), NOT_CHECKED, "format not identified"),
    ("YJ-1-4", lambda: evidence(component(actual_size=None, actual_sha256=None)), NOT_CHECKED,
     "not received"),
    # YJ-1-5 storage location
    ("YJ-1-5", evidence, PASS, f"read back from {STORED_KEY}"),
    ("YJ-1-5", lambda: evidence(component(stored_key=None, stored_sha256=None)), NOT_CHECKED,
     "尚未存储"),
    ("YJ-1-5", lambda: evidence(component(stored_sha256=None)), NOT_CHECKED, "not read back"),
    ("YJ-1-5", lambda: evidence(component(stored_sha256=OTHER_SHA256)), FAIL, "存储位置不符"),
    ("YJ-1-5", lambda: evidence(component(stored_key=f"Z101/2026/{CODE}/01.pdf")), FAIL,
     "does not hold the content hash"),
    ("YJ-1-5", lambda: evidence(component(stored_key=f"Z101/2026/other/01-{SHA256}.pdf")), FAIL,
     "not under the record's 档号"),
    # YJ-2-1 required metadata
    ("YJ-2-1", evidence, PASS, "required metadata elements present"),
    ("YJ-2-1", lambda: with_description(title="  "), FAIL, "missing: title 题名"),
    ("YJ-2-1", lambda: with_description(responsible_party=None, document_type=""), FAIL,
     "responsible_party 责任者, document_type 文种"),
    ("YJ-2-1", lambda: with_description(document_type="请示", document_number=None), FAIL,
     "missing: document_number 文件编号"),
    ("YJ-2-1", lambda: with_description(document_type="会议纪要", document_number=None), PASS,
     "all 8 required metadata elements present"),
    ("YJ-2-1", lambda: evidence(description=description(document_type="请示", document_number=None),
                                absent_elements=("document_number",)), PASS,
     "declared absent by the agency 声明无此项: document_number 文件编号"),
    # YJ-2-2 content present
    ("YJ-2-2", evidence, PASS, "all 1 declared files received"),
    ("YJ-2-2", lambda: evidence(components=[]), FAIL, "no computer files"),
    ("YJ-2-2", lambda: evidence(component(), component(file_name="附件.pdf", actual_size=None,
                                                       actual_sha256=None)), FAIL,
     "文件缺失: 附件.pdf"),
    ("YJ-2-2", lambda: evidence(component(declared_size=0, actual_size=0)), FAIL, "空文件"),
    # YJ-2-3 item numbers
    ("YJ-2-3", evidence, PASS, "件号连续"),
    ("YJ-2-3", lambda: evidence(item_number_follows_series=False), FAIL, "件号不连续"),
    ("YJ-2-3", lambda: evidence(item_number_follows_series=None), NOT_CHECKED, "not assigned"),
    # YJ-3-1 metadata readable
    ("YJ-3-1", evidence, PASS, "元数据可读"),
    ("YJ-3-1", lambda: with_title("关于\ufffd\ufffd的通知"), FAIL, "U+FFFD"),
    ("YJ-3-1", lambda: with_title("å…³äºŽåšå¥½å€¼ç­çš„é€šçŸ¥"), FAIL,
     "UTF-8 read as Latin-1/Windows-1252"),
    ("YJ-3-1", lambda: with_title("æ–‡ä»¶"), FAIL, "'æ–‡ä»¶' is '文件'"),
    ("YJ-3-1", lambda: with_title("Ã©tÃ©"), FAIL, "UTF-8 read as Latin-1"),
    ("YJ-3-1", lambda: with_title("ÎÄ¼þ"), FAIL, "GBK read as Latin-1/Windows-1252"),
    ("YJ-3-1", lambda: with_title("鏂囦欢"), FAIL, "UTF-8 read as GBK"),
    ("YJ-3-1", lambda: with_title("锟斤拷锟斤拷"), FAIL, "marker '锟斤拷'"),
    ("YJ-3-1", lambda: with_title("关于\x85值班"), FAIL, "C1 control"),
    ("YJ-3-1", lambda: with_description(keywords=["Ã©tÃ©"]), FAIL, "keywords 关键词"),
    ("YJ-3-1", lambda: evidence(component(file_name="鏂囦欢.pdf")), FAIL, "计算机文件名"),
    ("YJ-3-1", lambda: with_title("Café Müller, résumé «naïve» — 通知"), PASS, "元数据可读"),
    # YJ-3-2 format accepted
    ("YJ-3-2", evidence, PASS, "(fmt/354) is accepted for long-term preservation"),
    ("YJ-3-2", lambda: with_format(puid="x-fmt/430", name="Microsoft Outlook Email Message",
                                   version=None, accepted=False), FAIL,
     "Microsoft Outlook Email Message (x-fmt/430): not-accepted 内容数据不可用或非长期保存格式"),
    ("YJ-3-2", lambda: with_format(problems=("unreadable",)), FAIL, "(fmt/354): unreadable"),
    ("YJ-3-2", lambda: with_format(problems=("some-new-problem",)), FAIL, "some-new-problem"),
    ("YJ-3-2", lambda: with_format(problems=("encrypted", "extension-mismatch")), PASS, "accepted"),
    ("YJ-3-2", lambda: evidence(component(format=None)), NOT_CHECKED, "格式未识别"),
    # YJ-3-3 encryption and compression
    ("YJ-3-3", evidence, PASS, "not encrypted 无加密及非公开压缩"),
    ("YJ-3-3", lambda: with_format(technical={"compression": "LZW, CCITT Group 4"}), PASS,
     "public compression LZW, CCITT Group 4"),
    ("YJ-3-3", lambda: with_format(puid="fmt/494", problems=("not-accepted", "encrypted")), FAIL,
     "format identification found encrypted 文件加密"),
    ("YJ-3-3", lambda: with_format(technical={"compression": "tiff_thunderscan"}), FAIL,
     "tiff_thunderscan is not a public scheme"),
    ("YJ-3-3", lambda: evidence(component(format=None)), NOT_CHECKED, "格式未识别"),
    # YJ-3-4 environment metadata
    ("YJ-3-4", evidence, PASS, "creating application 'WPS Office' and format version 1b"),
    ("YJ-3-4", lambda: with_format(technical={}, version="1.7"), PASS, "format version 1.7"),
    ("YJ-3-4", lambda: with_format(technical={}, version=None), NOT_CHECKED, "环境元数据未著录"),
    ("YJ-3-4", lambda: evidence(component(format=None)), NOT_CHECKED, "格式未识别"),
    # YJ-4-1 virus scan
    ("YJ-4-1", evidence, PASS, "未发现病毒"),
    ("YJ-4-1", lambda: evidence(component(scan=None)), NOT_CHECKED,
     "扫描未执行 no virus scanner configured"),
    ("YJ-4-1", lambda: evidence(component(scan=ScanResult.not_checked("file too large to scan"))),
     NOT_CHECKED, "扫描未执行 file too large"),
    ("YJ-4-1", lambda: evidence(component(scan=ScanResult("infected", "Eicar-Test-Signature"))),
     FAIL, "发现病毒 malware found: Eicar-Test-Signature"),
    # YJ-4-2 authenticated source
    ("YJ-4-2", evidence, PASS, "来源可信"),
    ("YJ-4-2", lambda: evidence(authenticated_source=False), FAIL, "来源不可信"),
]  # fmt: skip


def with_title(title: str) -> Evidence:
    return with_description(title=title)


@pytest.mark.parametrize(
    ("code", "build", "expected", "reason"),
    CASES,
    ids=[f"{code}-{expected}-{n}" for n, (code, _, expected, _) in enumerate(CASES)],
)
def test_item(code: str, build: Callable[[], Evidence], expected: str, reason: str) -> None:
    item = check(build()).item(code)
    assert (item.code, item.result) == (code, expected), item.reason
    assert reason in item.reason
    assert item.property == int(code.split("-")[1])


def test_every_item_has_a_passing_and_a_non_passing_case() -> None:
    passing = {code for code, _, expected, _ in CASES if expected == PASS}
    other = {code for code, _, expected, _ in CASES if expected != PASS}
    codes = {item.code for item in ITEMS.items}
    assert passing == codes
    assert other == codes


# --- several files -----------------------------------------------------------------------
def test_one_bad_file_fails_the_item_and_is_named() -> None:
    report = check(
        evidence(component(), component(file_name="附件.pdf", actual_sha256=OTHER_SHA256))
    )
    item = report.item("YJ-1-1")
    assert item.result == FAIL
    assert item.reason.startswith("附件.pdf: SHA-256")
    assert "通知.pdf" not in item.reason


def test_a_failure_outweighs_a_file_not_checked() -> None:
    infected = component(file_name="a.pdf", scan=ScanResult("infected", "Eicar-Test-Signature"))
    unscanned = component(file_name="b.pdf", scan=None)
    item = check(evidence(unscanned, infected)).item("YJ-4-1")
    assert item.result == FAIL
    assert "a.pdf" in item.reason
    assert "b.pdf" not in item.reason


def test_one_file_not_scanned_leaves_the_item_not_checked() -> None:
    item = check(evidence(component(), component(file_name="b.pdf", scan=None))).item("YJ-4-1")
    assert item.result == NOT_CHECKED
    assert item.reason == "b.pdf: 扫描未执行 no virus scanner configured"


def test_the_same_pass_reason_for_every_file_is_said_once() -> None:
    item = check(evidence(component(), component(file_name="附件.pdf"))).item("YJ-1-1")
    assert item.reason == "all 2 files: SHA-256 matches the producer's digest 固定性信息有效"


def test_no_files_leaves_per_file_items_not_checked() -> None:
    report = check(evidence(components=[]))
    assert report.item("YJ-4-1").result == NOT_CHECKED
    assert report.item("YJ-2-2").result == FAIL


# --- the report --------------------------------------------------------------------------
def test_an_authenticity_failure_rejects() -> None:
    report = check(evidence(component(actual_sha256=OTHER_SHA256)))
    assert report.rejects
    assert report.properties[1] == FAIL
    assert "YJ-1-1" in report.failing_codes


def test_an_integrity_failure_rejects() -> None:
    report = check(evidence(item_number_follows_series=False))
    assert report.rejects
    assert report.properties == {1: PASS, 2: FAIL, 3: PASS, 4: PASS}
    assert report.failing_codes == ("YJ-2-3",)


def test_a_usability_failure_flags_for_review_without_rejecting() -> None:
    report = check(with_format(accepted=False, problems=("not-accepted",)))
    assert report.flags_for_review
    assert not report.rejects
    assert not report.quarantines
    assert report.failing_codes == ("YJ-3-2",)


def test_a_security_failure_quarantines_without_rejecting() -> None:
    report = check(evidence(component(scan=ScanResult("infected", "Eicar-Test-Signature"))))
    assert report.quarantines
    assert not report.rejects
    assert report.properties[4] == FAIL


def test_a_property_with_an_item_not_checked_is_not_a_pass() -> None:
    report = check(evidence(component(scan=None)))
    assert report.properties[4] == NOT_CHECKED
    assert not (report.rejects or report.flags_for_review or report.quarantines)


def test_before_numbering_and_storing_only_those_items_are_not_checked() -> None:
    """What the register stage sees before it gives an item number: nothing fails for it."""
    unstored = component(stored_key=None, stored_sha256=None)
    report = check(evidence(unstored, reference_code=None, item_number_follows_series=None))
    assert {i.code for i in report.items if i.result != PASS} == {"YJ-1-3", "YJ-1-5", "YJ-2-3"}
    assert not report.rejects
    assert report.properties == {1: NOT_CHECKED, 2: NOT_CHECKED, 3: PASS, 4: PASS}


def test_report_as_dict_is_json() -> None:
    report = check(evidence(component(scan=None), item_number_follows_series=False))
    data = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert data["stage"] == "YJ"
    assert data["checked_at"] == "2026-06-30T12:00:00+00:00"
    assert data["properties"] == {"1": PASS, "2": FAIL, "3": PASS, "4": NOT_CHECKED}
    assert (data["rejects"], data["flags_for_review"], data["quarantines"]) == (True, False, False)
    assert data["failing_codes"] == ["YJ-2-3"]
    assert data["items"][0] == {
        "code": "YJ-1-1", "property": 1, "result": PASS,
        "reason": "通知.pdf: SHA-256 matches the producer's digest 固定性信息有效",
        "sub_results": [],
    }  # fmt: skip
    assert len(data["items"]) == len(ITEMS.items)


def test_report_is_built_from_item_results() -> None:
    report = CheckReport(
        "YJ",
        (ItemResult("YJ-1-1", 1, PASS, ""), ItemResult("YJ-3-1", 3, FAIL, "")),
        NOW,
    )
    assert report.properties == {1: PASS, 2: NOT_CHECKED, 3: FAIL, 4: NOT_CHECKED}
    assert report.flags_for_review
    assert not report.rejects


def test_format_identification_answers_fit_the_check() -> None:
    from archival.formats import PROBLEMS, FormatInfo

    info: FormatLike = FormatInfo(
        puid="fmt/354", name="Acrobat PDF/A - Portable Document Format", version="1b",
        mime_type="application/pdf", basis="signature", category="fixed-layout", accepted=True,
        technical={"producer": "WPS Office", "encrypted": "false"},
    )  # fmt: skip
    report = check(evidence(component(format=info)))
    assert report.properties[3] == PASS
    assert set(ITEMS.formats.problem_items) <= set(PROBLEMS)


# --- the items as data -------------------------------------------------------------------
def test_every_yaml_item_has_a_checker_and_every_checker_an_item() -> None:
    assert [item.code for item in ITEMS.items] == sorted(CHECKERS)
    assert set(ITEMS.formats.problem_items.values()) <= set(CHECKERS)
    for item in ITEMS.items:
        assert item.zh and item.en and item.checks
        assert item.property in ITEMS.properties


def _write_items(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(DEFAULT_ITEMS_FILE.read_text("utf-8"))
    change(data)
    path = tmp_path / "checks.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def test_an_item_without_a_checker_is_refused(tmp_path: Path) -> None:
    extra = {"code": "YJ-1-9", "zh": "新", "en": "new", "checks": "something new"}
    path = _write_items(tmp_path, lambda data: data["items"].append(extra))
    with pytest.raises(ValueError, match=r"no checker for items \['YJ-1-9'\]"):
        load_items(path, metadata_rules=RULES)


def test_a_badly_coded_item_is_refused(tmp_path: Path) -> None:
    def recode(data: dict[str, Any]) -> None:
        data["items"][0]["code"] = "GD-1-1"

    with pytest.raises(ValueError, match="not YJ-<property 1-4>-<n>"):
        load_items(_write_items(tmp_path, recode), metadata_rules=RULES)


def test_a_format_problem_for_an_unlisted_item_is_refused(tmp_path: Path) -> None:
    def claim(data: dict[str, Any]) -> None:
        data["formats"]["problem_items"]["unreadable"] = "YJ-3-9"

    with pytest.raises(ValueError, match=r"names items \['YJ-3-9'\]"):
        load_items(_write_items(tmp_path, claim), metadata_rules=RULES)


def test_a_duplicate_item_is_refused(tmp_path: Path) -> None:
    path = _write_items(tmp_path, lambda data: data["items"].append(data["items"][0]))
    with pytest.raises(ValueError, match="duplicate item codes"):
        load_items(path, metadata_rules=RULES)


def test_the_shipped_items_load_unchanged_through_a_round_trip(tmp_path: Path) -> None:
    assert load_items(_write_items(tmp_path, lambda data: None), metadata_rules=RULES) == ITEMS


def test_metadata_rules_in_the_check_items_are_refused(tmp_path: Path) -> None:
    """The value lists the metadata items check against are intake's, never a copy."""

    def copy_rules(data: dict[str, Any]) -> None:
        data["metadata"] = {"value_domains": {"urgency": ["特急"]}}

    with pytest.raises(ValueError, match=r"metadata rules live in metadata_rules\.yaml"):
        load_items(_write_items(tmp_path, copy_rules), metadata_rules=RULES)


# --- the metadata items and intake agree -------------------------------------------------
REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")
BGT = REGISTRY.get("bgt")


def _intake_accepts(**changes: Any) -> bool:
    assert BGT is not None
    try:
        validate_description(description(**changes), BGT, RULES, today=NOW.date())
    except RecordRejected:
        return False
    return True


def _receipt_passes(**changes: Any) -> bool:
    report = check(with_description(**changes))
    return report.item("YJ-1-2").result == PASS and report.item("YJ-2-1").result == PASS


def test_the_metadata_items_read_intakes_rules() -> None:
    assert ITEMS.metadata is RULES


# Description changes both judge; the classified 密级 are left out on purpose: they are accurate
# metadata (YJ-1-2 passes them) that intake refuses outright (classified-not-accepted).
AGREEMENT: list[dict[str, Any]] = [
    *({element: value} for element, domain in RULES.value_domains.items()
      for value in domain.values if value not in ("秘密", "机密", "绝密")),
    *({element: value + "?"} for element, domain in RULES.value_domains.items()
      for value in domain.values[:2]),
    {"urgency": None},
    *({rule.element: "题" * rule.chars} for rule in RULES.max_length),
    *({rule.element: "题" * (rule.chars + 1)} for rule in RULES.max_length),
    *({rule.element: None if rule.element != "title" else " "} for rule in RULES.required
      if rule.element not in ("document_date", "year")),
    {"document_type": "函", "document_number": None},
    {"document_type": "纪要", "document_number": None},
    {"keywords": [f"词{n}" for n in range(RULES.keywords.max_count)]},
    {"keywords": [str(n) for n in range(RULES.keywords.max_count + 1)]},
    {"keywords": ["词" * RULES.keywords.max_chars]},
    {"keywords": ["词" * (RULES.keywords.max_chars + 1)]},
    {"page_count": RULES.page_count.min}, {"page_count": RULES.page_count.min - 1},
    {"page_count": RULES.page_count.max}, {"page_count": RULES.page_count.max + 1},
    {"document_date": RULES.dates.earliest, "year": RULES.dates.earliest.year},
    {"document_date": RULES.dates.earliest - dt.timedelta(days=1),
     "year": RULES.dates.earliest.year},
    {"document_date": NOW.date() + dt.timedelta(days=1), "year": NOW.year},
    {"year": RULES.dates.earliest.year - 1}, {"year": NOW.year + 1},
    {"title": "通知\x0b"}, {"title": "Cafe\u0301"}, {"abstract": "摘要\ufffd"},
]  # fmt: skip


@pytest.mark.parametrize("changes", AGREEMENT, ids=lambda changes: repr(changes)[:60])
def test_intake_and_the_receipt_check_agree(changes: dict[str, Any]) -> None:
    """What intake accepts, the metadata items pass; what it rejects, one of them fails."""
    assert _intake_accepts(**changes) == _receipt_passes(**changes)


# --- mojibake, over many inputs ----------------------------------------------------------
def _gb2312_level_1() -> list[str]:
    """The 3755 most common Chinese characters (GB2312 level 1, rows 0xB0-0xD7)."""
    found = []
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                found.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


HANZI = _gb2312_level_1()
chinese = st.text(st.sampled_from(HANZI), min_size=1, max_size=30)
mixed = st.text(
    st.sampled_from([*HANZI, *"0123456789 -〔〕《》“”‘’…—（）、，。ABCxyz"]), max_size=60
)


@pytest.mark.parametrize("text", ["““一网通办””", "有关事项……", "——以上", "‘’“”…—"])
def test_chinese_punctuation_alone_is_not_mojibake(text: str) -> None:
    # Each is a run of Windows-1252 characters whose bytes happen to decode as GBK (…… → 厖).
    assert mojibake(text, ITEMS.mojibake_markers) is None


@given(mixed)
def test_clean_chinese_text_reads_clean(text: str) -> None:
    assert mojibake(text, ITEMS.mojibake_markers) is None


@given(chinese)
def test_utf8_read_as_latin1_is_found(text: str) -> None:
    assert mojibake(text.encode("utf-8").decode("latin-1")) is not None


@given(chinese)
def test_utf8_read_as_windows_1252_is_found(text: str) -> None:
    garbled = text.encode("utf-8").decode("cp1252", errors="replace")
    assert mojibake(garbled) is not None


@given(chinese)
def test_gbk_read_as_latin1_is_found(text: str) -> None:
    assert mojibake(text.encode("gbk").decode("latin-1")) is not None


@given(chinese)
def test_utf8_read_as_gbk_is_found(text: str) -> None:
    assert mojibake(text.encode("utf-8").decode("gbk", errors="replace")) is not None
