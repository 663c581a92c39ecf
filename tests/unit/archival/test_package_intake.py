"""What importing a package decides before sending (archival/packages/intake.py): derived
document ids, whole-package and per-record refusals, the metadata submitted, and the report."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from archival.checks import SignatureCheck
from archival.packages import PackageProblem, PackageRecord, ReadPackage, read_package
from archival.packages.intake import (
    PackageReport,
    RecordLine,
    document_id_for,
    package_identity,
    package_refusals,
    record_refusals,
    submission_metadata,
)
from tests import packages


@given(st.text(min_size=1), st.text(min_size=1), st.text(min_size=1))
def test_a_derived_document_id_is_stable_and_tells_records_apart(
    identity: str, source: str, other: str
) -> None:
    assert document_id_for(identity, source) == document_id_for(identity, source)
    assert document_id_for(identity, source).startswith("PKG-")
    if other != source:
        assert document_id_for(identity, source) != document_id_for(identity, other)


def test_a_package_keeps_its_identity_wherever_it_lies_and_loses_it_when_changed(
    tmp_path: Path,
) -> None:
    first = packages.carrier_folder(tmp_path / "a")
    moved = packages.carrier_folder(tmp_path / "in-progress" / "a")
    assert package_identity(first) == package_identity(moved)
    (moved / "电子档案" / "工作总结.pdf").write_bytes(b"changed")
    assert package_identity(first) != package_identity(moved)
    eep = packages.signed_eep(tmp_path / "p.xml")
    assert package_identity(eep) == package_identity(packages.signed_eep(tmp_path / "q.xml"))


def test_a_failed_signature_refuses_the_package_and_a_digest_only_one_does_not(
    tmp_path: Path,
) -> None:
    failing = ReadPackage(kind="eep", source=tmp_path)
    failing.signature_checks.append(SignatureCheck("签名1", "fail", "签名验证失败"))
    assert [p.reason for p in package_refusals(failing)] == ["package-signature-invalid"]
    with read_package(packages.tampered_eep(tmp_path / "t.xml")) as tampered:
        assert {p.reason for p in package_refusals(tampered)} == {"package-signature-invalid"}
    with read_package(packages.digest_only_eep(tmp_path / "d.xml")) as digest:
        assert package_refusals(digest) == []
        assert [c.result for c in digest.signature_checks] == ["not-checked"]


def test_a_record_of_another_agency_or_fonds_is_refused() -> None:
    record = PackageRecord("r", {"title": "t"}, agency="bgt", fonds_code="Z101")
    assert record_refusals(record, "bgt", "Z101") == []
    assert [p.reason for p in record_refusals(record, "zjj", "Z109")] == [
        "package-agency-mismatch",
        "package-agency-mismatch",
    ]
    by_code = PackageRecord("r", {}, reference_code="Z101-WS·2012-Y-BGS-0001")
    assert record_refusals(by_code, "bgt", "Z101") == []
    assert "Z101" in record_refusals(by_code, "zjj", "Z109")[0].detail
    broken = PackageRecord("r", {}, problems=(PackageProblem("checksum-mismatch", "x"),))
    assert [p.reason for p in record_refusals(broken, "bgt", "Z101")] == ["checksum-mismatch"]


def test_the_metadata_keeps_the_legacy_code_and_an_own_document_id() -> None:
    legacy = PackageRecord("文件目录.XML/文件[1]", {"title": "t"},
                           reference_code="Z101-WS·2012-Y-BGS-0001")  # fmt: skip
    metadata = submission_metadata(legacy, "abc")
    assert metadata["reference_code"] == "Z101-WS·2012-Y-BGS-0001"
    assert metadata["carrier"] == {"medium": "electronic"}
    assert metadata["document_id"] == document_id_for("abc", "文件目录.XML/文件[1]")
    own = PackageRecord("x", {"document_id": "BGT-2026-0041"})
    assert submission_metadata(own, "abc")["document_id"] == "BGT-2026-0041"
    assert "reference_code" not in submission_metadata(own, "abc")
    assert legacy.metadata == {"title": "t"}  # the record is not changed


def test_the_report_says_each_record_and_the_package_problems(tmp_path: Path) -> None:
    report = PackageReport("p.zip", "bgt", kind="carrier-2012", identity="abc")
    report.signature_checks.append(SignatureCheck("签名1", "not-checked", "仅有摘要"))
    report.records += [
        RecordLine("r1", "archived", "PKG-1", "Z101-WS·2012-Y-BGS-0001", "e1"),
        RecordLine("r2", "rejected", "PKG-2", reason="package-agency-mismatch", detail="zjj"),
    ]
    json_path, text_path = report.write(tmp_path, "p.zip")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["read"] is True
    assert data["counts"] == {"archived": 1, "rejected": 1}
    assert data["signature_checks"][0]["result"] == "not-checked"
    assert [r["reason"] for r in data["records"]] == [None, "package-agency-mismatch"]
    text = text_path.read_text(encoding="utf-8")
    assert "record r1 [PKG-1] 档号 Z101-WS·2012-Y-BGS-0001: archived" in text
    assert "record r2 [PKG-2]: rejected package-agency-mismatch: zjj" in text
    assert "signature 签名1: not-checked" in text

    refused = PackageReport(
        "bomb.xml", "bgt", problems=[PackageProblem("package-hostile-xml", "x")]
    )
    assert not refused.read
    assert "package problem: package-hostile-xml: x" in refused.render_text()
    assert refused.as_json()["read"] is False
