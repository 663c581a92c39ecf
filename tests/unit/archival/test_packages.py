"""archival/packages/: each generated package (tests/packages.py) read, and exactly what comes out
of it: metadata in the submit form, files and their bytes, signature checks, problems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archival.packages import Limits, ReadPackage, read_package
from archival.packages.mapping import METADATA_FIELDS, normalise_date
from connectors import sdk
from tests import packages as build

HISTORY = [{"status": "归档", "action": "归档", "time": "2026-05-06T09:00:00+08:00",
            "basis": "市府办归档制度"}]  # fmt: skip
AGENTS = [{"agent_type": "单位", "name": "市人民政府办公厅"}]
EEP_METADATA = {
    "document_id": "BGT-2026-0041", "year": 2026, "retention_proposal": "Y", "unit_code": "BGS",
    "title": "关于做好2026年防汛工作的通知", "document_number": "市府办发〔2026〕41号",
    "responsible_party": "市人民政府办公厅", "document_date": "2026-05-06", "document_type": "通知",
    "security_classification": "公开", "keywords": ["防汛", "值班"], "page_count": 2,
    "history": HISTORY, "agents": AGENTS,
}  # fmt: skip


def read(path: Path, **limits: int) -> ReadPackage:
    return read_package(path, Limits(**limits) if limits else None)


def submittable(metadata: dict[str, object]) -> None:
    """The metadata is what `recordflow submit --metadata` takes: the SDK converts it."""
    sdk.description_from_metadata(dict(metadata))
    sdk.retention_fields_from_metadata(dict(metadata))
    sdk.da_t_46_from_metadata(dict(metadata))


def codes(package: ReadPackage) -> list[str]:
    return [problem.reason for problem in package.problems]


def test_signed_eep(tmp_path: Path) -> None:
    with read(build.signed_eep(tmp_path / "eep.xml")) as package:
        assert package.kind == "eep" and package.ok
        [record] = package.records
        assert record.source_id == "文件实体块/文件实体[1]"
        assert record.metadata == EEP_METADATA
        submittable(record.metadata)
        assert (record.agency, record.fonds_code, record.reference_code) == ("bgt", "Z101", None)
        assert record.note == {
            "聚合层次": "文件", "来源/档案馆名称": "市档案馆", "来源/立档单位名称": "市人民政府办公厅",
            "形式特征/稿本": "正本", "封装包创建时间": "2026-05-06T09:00:00+08:00 市人民政府办公厅",
        }  # fmt: skip
        [file] = record.files
        assert (file.name, file.size, file.media_type) == ("通知.pdf", len(build.PDF),
                                                           "application/pdf")  # fmt: skip
        with file.open() as handle:
            assert handle.read() == build.PDF
        results = [(check.signature_id, check.result) for check in record.signature_checks]
        assert results == [("签名1", "pass"), ("锁定签名:签名1", "pass")]
        assert "SM2 with SM3" in record.signature_checks[0].reason
        assert "RSA with SHA256" in record.signature_checks[1].reason
        workdir = package.workdir
        assert workdir is not None and file.path.is_relative_to(workdir)
    assert not workdir.exists()  # closing removes the decoded files


def test_modified_eep_keeps_the_latest_and_notes_the_original(tmp_path: Path) -> None:
    with read(build.modified_eep(tmp_path / "eep.xml")) as package:
        assert package.ok
        [record] = package.records
        assert record.source_id == "修改封装内容/文件实体块/文件实体[1]"
        assert record.metadata["title"] == "关于做好2026年防汛工作的通知（修订）"
        assert (
            record.note["原封装包"]
            == "修改型: replaces the original package's records BGT-2026-0041"
        )
        assert package.original is not None
        assert [r.metadata["title"] for r in package.original.records] == ["关于做好防汛工作的通知"]
        assert package.original.records[0].files == ()  # the original's files are not decoded
        assert [c.result for c in package.original.signature_checks] == ["pass", "pass"]
        assert [c.result for c in package.signature_checks] == ["pass", "pass"]


def test_digest_only_signature_is_not_checked_never_pass(tmp_path: Path) -> None:
    with read(build.digest_only_eep(tmp_path / "eep.xml")) as package:
        assert package.ok
        [check] = package.records[0].signature_checks
        assert check.result == "not-checked"
        assert "only an SM3 digest" in check.reason and "proves no signer" in check.reason


def test_tampered_signed_object_fails_the_package(tmp_path: Path) -> None:
    with read(build.tampered_eep(tmp_path / "eep.xml")) as package:
        assert codes(package) == ["package-signature-invalid", "package-signature-invalid"]
        assert [c.result for c in package.signature_checks] == ["fail", "fail"]


@pytest.mark.parametrize("zipped", [False, True])
def test_carrier(tmp_path: Path, zipped: bool) -> None:
    source = build.carrier_folder(tmp_path / "光盘01")
    if zipped:
        source = build.zip_folder(source, tmp_path / "光盘01.zip")
    with read(source) as package:
        assert package.kind == "carrier-2012" and package.ok
        first, second = package.records
        assert first.source_id == "文件目录.XML/文件[1]"
        assert first.metadata == {
            "title": "关于2012年度值班安排的通知", "responsible_party": "市人民政府办公厅",
            "document_date": "2012-03-05", "document_number": "市府办〔2012〕5号",
            "document_type": "通知", "security_classification": "公开", "retention_proposal": "Y",
            "unit_code": "BGS", "page_count": 1,
        }  # fmt: skip
        assert first.reference_code == "Z101-WS·2012-Y-BGS-0001" and first.fonds_code == "Z101"
        assert first.note == {"载体编号": "GP-01"}
        assert [(f.name, f.path.read_bytes()) for f in first.files] == [
            ("值班通知.pdf", build.PDF), ("附件1.png", build.SCAN)]  # fmt: skip
        assert second.metadata["retention_proposal"] == "D30"
        assert second.reference_code == "Z101-WS·2012-D30-BGS-0002"
        for record in package.records:
            submittable({"document_id": "X-1", **record.metadata})


def test_carrier_digest_mismatch_fails_that_record_only(tmp_path: Path) -> None:
    source = build.carrier_folder(tmp_path / "c", digests={"工作总结.pdf": "00" * 32})
    with read(source) as package:
        assert package.ok
        first, second = package.records
        assert first.ok
        assert [p.reason for p in second.problems] == ["checksum-mismatch"]
        assert "电子档案/工作总结.pdf: SM3 is" in second.problems[0].detail


def test_bag(tmp_path: Path) -> None:
    with read(build.bag(tmp_path / "bag")) as package:
        assert package.kind == "bagit" and package.ok
        [record] = package.records
        assert record.metadata == {
            "document_id": "ZJJ-2026-0077", "title": "关于老旧小区改造的请示",
            "responsible_party": "市住房和城乡建设局", "document_date": "2026-04-02",
            "document_type": "请示", "unit_code": "GHK", "keywords": ["老旧小区", "改造"],
            "source_system": "OA",
        }  # fmt: skip
        submittable(record.metadata)
        assert record.agency == "zjj"
        assert record.note["bag-info.txt/Contact-Name"] == "张三"
        assert record.note["metadata/metadata.json/archive_box"] == '"B-12"'
        assert [(f.name, f.source, f.path.read_bytes()) for f in record.files] == [
            ("请示.pdf", "data/请示.pdf", build.PDF), ("附件.png", "data/附件.png", build.SCAN)]  # fmt: skip
        assert set(record.files[0].digests) == {"SHA256"}


def test_tampered_bag_is_a_checksum_mismatch(tmp_path: Path) -> None:
    with read(build.tampered_bag(tmp_path / "bag")) as package:
        assert package.ok
        [problem] = package.records[0].problems
        assert problem.reason == "checksum-mismatch" and "data/请示.pdf" in problem.detail


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: build.xml_bomb(d / "bomb.xml"), "package-hostile-xml"),
        (lambda d: build.external_entity_carrier(d / "xxe"), "package-hostile-xml"),
        (lambda d: build.path_escape_carrier(d / "escape"), "package-path-escape"),
        (lambda d: build.path_escape_zip(d / "escape.zip"), "package-path-escape"),
        (lambda d: build.symlink_out_bag(d / "bag", Path("/etc/passwd")), "package-path-escape"),
        (lambda d: d / "nothing-here", "package-unreadable"),
    ],
)
def test_hostile_packages_are_refused_with_a_reason(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    with read(make(tmp_path)) as package:
        assert codes(package) == [reason]
        assert not package.ok


def test_oversized_file_fails_its_record(tmp_path: Path) -> None:
    with read(build.carrier_folder(tmp_path / "c"), max_file_bytes=50) as package:
        assert package.ok
        assert package.records[0].ok  # 49 and 23 bytes
        [problem] = package.records[1].problems  # 56 bytes
        assert problem.reason == "package-too-large" and "工作总结.pdf: 56 bytes" in problem.detail


def test_oversized_package_is_refused(tmp_path: Path) -> None:
    with read(build.signed_eep(tmp_path / "eep.xml"), max_package_bytes=1000) as package:
        assert codes(package) == ["package-too-large"]
    with read(build.carrier_folder(tmp_path / "c"), max_package_bytes=100) as package:
        assert codes(package) == ["package-too-large"]


def test_unreadable_value_fails_the_record(tmp_path: Path) -> None:
    entries = [{**build.CATALOGUE_ENTRIES[1], "日期": "去年冬天"}]
    with read(build.carrier_folder(tmp_path / "c", entries)) as package:
        [problem] = package.records[0].problems
        assert problem.reason == "package-value-unreadable" and "去年冬天" in problem.detail


@pytest.mark.parametrize(
    ("given", "date"),
    [("20260506", "2026-05-06"), ("2026-5-6", "2026-05-06"), ("2026/05/06", "2026-05-06"),
     ("2026.05.06", "2026-05-06"), ("2026年5月6日", "2026-05-06"),
     ("2026-05-06 10:30:00", "2026-05-06"), ("2026-02-30", None), ("五月", None)],
)  # fmt: skip
def test_dates_are_normalised(given: str, date: str | None) -> None:
    assert normalise_date(given) == date


def test_metadata_fields_are_the_sdks() -> None:
    assert (
        sdk.DESCRIPTION_FIELDS | sdk.EVENT_FIELDS - {"action"} | set(sdk.RETENTION_FIELDS)
    ) == METADATA_FIELDS
