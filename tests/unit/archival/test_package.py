"""The record package (connectors/package.py): deterministic serialized bags whose fetch.txt points
at the content objects, DA/T 46 metadata as XML, PREMIS events, and bags that the `bagit` library
validates once the payload is in place. No S3 server involved (export: tests/integration)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import bagit
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archival.package import (
    PREMIS_NS,
    PackagedFile,
    bag_path,
    package_record,
    package_tar,
    packaged_files,
    parse_s3_url,
    premis_xml,
    record_xml,
    s3_url,
)
from tests.examples import request_description

CODE = "Z109-WS·2026-D30-GHK-0007"
MAIN = "关于申请老旧小区改造专项资金的请示（定稿）.pdf".encode() * 40  # stand-in bytes
PHOTO = b"\xff\xd8\xff\xe0 site photo \xff\xd9"
FILED_AT = dt.datetime(2026, 4, 2, 9, 30, 15, 123000, tzinfo=dt.UTC)
BAG_INFO = {"Source-Organization": "市住房和城乡建设局", "Bagging-Date": "2026-04-02"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sm3(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def component(sequence: int, name: str, data: bytes, mime: str, bucket: str) -> dict[str, Any]:
    key = f"Z109/2026/{CODE}/{sequence:02d}-{sha256(data)}.{name.rsplit('.', 1)[-1]}"
    return {
        "sequence": sequence,
        "is_main": sequence == 1,
        "title": None if sequence == 1 else "现场照片",
        "file_name": name,
        "mime_type": mime,
        "size_bytes": len(data),
        "checksums": [
            {"algorithm": "SHA256", "value": sha256(data)},
            {"algorithm": "SM3", "value": sm3(data)},
        ],
        "payload": {"bucket": bucket, "key": key, "version_id": f"v{sequence}-3HL4kq+t/J",
                    "inline_content": None},
    }  # fmt: skip


def archival_record(bucket: str = "archive") -> dict[str, Any]:
    """A record shaped like avro_schemas/archival_record/v1.avsc, as the codec decodes it."""
    return {
        "reference_code": CODE,
        "fonds_code": "Z109",
        "fonds_name": "市住房和城乡建设局",
        "category": "WS",
        "year": 2026,
        "retention_period": "D30",
        "retention_rule_id": "city-default@2026.1/D30-request-reply",
        "unit_code": "GHK",
        "item_number": 7,
        "agency": {"code": "zjj", "name": "市住房和城乡建设局"},
        "archives_code": "440300",
        "event_id": "5d2b1c7e-8f3a-5b6c-9d0e-1f2a3b4c5d6e",
        "document_id": "ZJJ-2026-0041",
        "source_system": "OA",
        "description": request_description(),
        "components": [
            component(2, "现场 照片.jpg", PHOTO, "image/jpeg", bucket),  # out of order on purpose
            component(1, "关于申请老旧小区改造专项资金的请示.pdf", MAIN, "application/pdf", bucket),
        ],
        "filed_at": FILED_AT,
        # 16:30 UTC, but already the next day (00:30) in Beijing
        "archived_at": FILED_AT + dt.timedelta(hours=7, seconds=2),
        "retain_until": dt.date(2057, 1, 1),
    }


EVENTS = [
    {"type": "ingestion", "time": FILED_AT, "agent": "zjj/OA", "outcome": "success",
     "detail": "归档 by the agency"},
    {"type": "fixity check", "time": FILED_AT + dt.timedelta(seconds=1), "agent": "recordflow",
     "outcome": "success", "detail": "SHA-256 and SM3 match the declared digests"},
    {"type": "accession", "time": FILED_AT + dt.timedelta(seconds=2), "agent": "recordflow",
     "outcome": "success"},
]  # fmt: skip
PAYLOAD = {1: MAIN, 2: PHOTO}


def members(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {member.name: member for member in tar}


def read(tar_bytes: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        extracted = tar.extractfile(f"{CODE}/{name}")
        assert extracted is not None
        return extracted.read()


def tags(text: bytes) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.decode().splitlines())


def manifest_entries(text: bytes) -> dict[str, str]:
    """path → digest, from `<digest>  <path>` lines."""
    entries = {}
    for line in text.decode().splitlines():
        digest, path = line.split("  ", 1)
        entries[path] = digest
    return entries


def bag_on_disk(tar_bytes: bytes, where: Path, payload: dict[str, bytes]) -> Path:
    """The package's tag files unpacked, plus the payload written where fetch.txt says."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        tar.extractall(where, filter="data")
    bag = where / CODE
    for path, data in payload.items():
        (bag / path).write_bytes(data)
    return bag


def simple_files() -> list[PackagedFile]:
    return [
        PackagedFile(f"data/{n:02d}-file{n}.bin", len(PAYLOAD[n]), sha256(PAYLOAD[n]),
                     s3_url("archive", f"Z109/2026/{CODE}/{n:02d}-x.bin", f"ver{n}"))
        for n in (1, 2)
    ]  # fmt: skip


# --- package_tar -----------------------------------------------------------------------------
def test_package_tar_is_deterministic() -> None:
    files = simple_files()
    tag_files = {"metadata/record.xml": b"<a/>\n", "metadata/premis.xml": b"<b/>\n"}
    bag_info = {**BAG_INFO, "Internal-Sender-Identifier": "ZJJ-2026-0041", "Contact-Name": "张三"}
    first = package_tar(CODE, files, tag_files, bag_info)
    # Same content, other order of files, tag files and bag-info elements: same bytes.
    again = package_tar(
        CODE, list(reversed(files)), dict(reversed(tag_files.items())),
        dict(reversed(bag_info.items())),
    )  # fmt: skip
    assert again == first
    assert package_tar(CODE, files, tag_files, bag_info) == first
    # And a change anywhere shows.
    changed = {**tag_files, "metadata/record.xml": b"<a />\n"}
    assert package_tar(CODE, files, changed, bag_info) != first


def test_package_tar_members_and_manifests() -> None:
    files = simple_files()
    tag_files = {"metadata/record.xml": "<电子文件/>\n".encode(), "metadata/x/deep.json": b"{}\n"}
    tar_bytes = package_tar(CODE, files, tag_files, {**BAG_INFO, "External-Description": "题名"})
    entries = members(tar_bytes)
    files_in_tar = {name for name, m in entries.items() if m.isfile()}
    assert files_in_tar == {
        f"{CODE}/{name}"
        for name in ("bagit.txt", "bag-info.txt", "fetch.txt", "manifest-sha256.txt",
                     "tagmanifest-sha256.txt", "metadata/record.xml", "metadata/x/deep.json")
    }  # fmt: skip
    assert {name for name, m in entries.items() if m.isdir()} == {
        CODE,
        f"{CODE}/data",
        f"{CODE}/metadata",
        f"{CODE}/metadata/x",
    }
    for member in entries.values():
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == dt.datetime(2026, 4, 2, tzinfo=dt.UTC).timestamp()
    assert not any("/data/" in name for name in files_in_tar), "the payload is fetched, not packed"

    assert (
        read(tar_bytes, "bagit.txt") == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    info = tags(read(tar_bytes, "bag-info.txt"))
    total = len(MAIN) + len(PHOTO)
    assert info == {
        "Source-Organization": "市住房和城乡建设局",
        "Bagging-Date": "2026-04-02",
        "External-Identifier": CODE,
        "Payload-Oxum": f"{total}.2",
        "Bag-Size": f"{total / 1000:.1f} KB",
        "External-Description": "题名",
    }
    fetch = [line.split(" ", 2) for line in read(tar_bytes, "fetch.txt").decode().splitlines()]
    assert fetch == [[f.url, str(f.size), f.bag_path] for f in files]
    manifest = manifest_entries(read(tar_bytes, "manifest-sha256.txt"))
    assert manifest == {f.bag_path: sha256(PAYLOAD[n]) for n, f in enumerate(files, start=1)}
    tag_manifest = manifest_entries(read(tar_bytes, "tagmanifest-sha256.txt"))
    assert set(tag_manifest) == {
        "bagit.txt", "bag-info.txt", "fetch.txt", "manifest-sha256.txt", *tag_files
    }  # fmt: skip
    for path, digest in tag_manifest.items():
        assert digest == sha256(read(tar_bytes, path)), path


@pytest.mark.parametrize(
    ("tag_path", "why"),
    [("bagit.txt", "reserved"), ("manifest-md5.txt", "reserved"), ("data/x.xml", "payload"),
     ("../x.xml", "escape"), ("/etc/x", "absolute"), ("metadata//x", "empty part"),
     ("metadata/50%.json", "percent")],
)  # fmt: skip
def test_package_tar_refuses_unsafe_tag_paths(tag_path: str, why: str) -> None:
    with pytest.raises(ValueError, match="path"):
        package_tar(CODE, simple_files(), {tag_path: b"x"}, BAG_INFO)


def test_package_tar_refuses_bad_payload_and_bag_info() -> None:
    one = simple_files()[0]
    with pytest.raises(ValueError, match="twice"):
        package_tar(CODE, [one, one], {}, BAG_INFO)
    for bad_path in ("data/../x", "other/x", "data/a%20b", "data/a\nb"):
        with pytest.raises(ValueError):
            package_tar(CODE, [PackagedFile(bad_path, 1, one.sha256, one.url)], {}, BAG_INFO)
    with pytest.raises(ValueError, match="SHA-256"):
        package_tar(CODE, [PackagedFile(one.bag_path, 1, "ABC", one.url)], {}, BAG_INFO)
    with pytest.raises(ValueError, match="URL"):
        package_tar(CODE, [PackagedFile(one.bag_path, 1, one.sha256, "s3://b/a b")], {}, BAG_INFO)
    with pytest.raises(ValueError, match="Bagging-Date"):
        package_tar(CODE, [one], {}, {"Source-Organization": "x"})
    with pytest.raises(ValueError):
        package_tar(CODE, [one], {}, {**BAG_INFO, "Bagging-Date": "2 April 2026"})
    with pytest.raises(ValueError, match="computed"):
        package_tar(CODE, [one], {}, {**BAG_INFO, "Payload-Oxum": "1.1"})


def test_bag_info_values_stay_on_one_line() -> None:
    tar_bytes = package_tar(CODE, [], {}, {**BAG_INFO, "External-Description": "第一行\r\n第二行 "})
    assert tags(read(tar_bytes, "bag-info.txt"))["External-Description"] == "第一行 第二行"
    assert tags(read(tar_bytes, "bag-info.txt"))["Payload-Oxum"] == "0.0"


# --- bags the bagit library accepts ----------------------------------------------------------
def test_bag_validates_with_bagit_and_catches_a_changed_byte(tmp_path: Path) -> None:
    record = archival_record()
    files = packaged_files(record)
    tar_bytes = package_record(record, EVENTS, {"result": "pass"})
    payload = {f.bag_path: PAYLOAD[int(f.bag_path[5:7])] for f in files}
    bag_dir = bag_on_disk(tar_bytes, tmp_path, payload)

    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises on any problem
    assert bag.info["External-Identifier"] == CODE
    assert sorted(bag.files_to_be_fetched()) == sorted(payload)

    photo = bag_dir / files[1].bag_path
    changed = bytearray(photo.read_bytes())
    changed[3] ^= 0x01  # same size, so only the digest can tell
    photo.write_bytes(bytes(changed))
    with pytest.raises(bagit.BagValidationError) as failure:
        bagit.Bag(str(bag_dir)).validate()
    assert any(isinstance(d, bagit.ChecksumMismatch) for d in failure.value.details)


def test_bag_catches_a_changed_tag_file_and_a_missing_payload_file(tmp_path: Path) -> None:
    record = archival_record()
    files = packaged_files(record)
    tar_bytes = package_record(record, EVENTS)
    payload = {f.bag_path: PAYLOAD[int(f.bag_path[5:7])] for f in files}

    bag_dir = bag_on_disk(tar_bytes, tmp_path / "tag", payload)
    xml_path = bag_dir / "metadata" / "record.xml"
    xml_path.write_bytes(xml_path.read_bytes().replace("公开".encode(), "秘密".encode()))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()

    bag_dir = bag_on_disk(tar_bytes, tmp_path / "missing", dict(list(payload.items())[:1]))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()


# --- a record's package ----------------------------------------------------------------------
def test_package_record_is_deterministic_and_complete() -> None:
    record = archival_record()
    first = package_record(record, EVENTS, {"result": "pass", "items": ["GD-1-1"]})
    assert (
        package_record(archival_record(), EVENTS, {"items": ["GD-1-1"], "result": "pass"}) == first
    )
    info = tags(read(first, "bag-info.txt"))
    assert info["Source-Organization"] == "市住房和城乡建设局"
    assert info["Bagging-Date"] == "2026-04-03", "the archive's day, in China Standard Time"
    assert info["Internal-Sender-Identifier"] == "ZJJ-2026-0041"
    assert info["Payload-Oxum"] == f"{len(MAIN) + len(PHOTO)}.2"
    assert read(first, "metadata/record.xml") == record_xml(record)
    assert json.loads(read(first, "metadata/check-report.json")) == {
        "items": ["GD-1-1"], "result": "pass"
    }  # fmt: skip
    as_json = json.loads(read(first, "metadata/record.json"))
    assert as_json["reference_code"] == CODE
    assert as_json["description"]["document_date"] == "2026-04-02"
    assert as_json["filed_at"] == "2026-04-02T17:30:15.123+08:00"
    fetch = read(first, "fetch.txt").decode().splitlines()
    assert [line.split(" ", 2)[2] for line in fetch] == [
        "data/01-关于申请老旧小区改造专项资金的请示.pdf", "data/02-现场 照片.jpg"
    ]  # fmt: skip
    later = {**record, "archived_at": record["archived_at"] + dt.timedelta(days=1)}
    assert package_record(later, EVENTS) != package_record(record, EVENTS)


def test_packaged_files_point_at_the_archived_versions() -> None:
    record = archival_record()
    files = packaged_files(record)
    assert [f.bag_path for f in files] == [
        "data/01-关于申请老旧小区改造专项资金的请示.pdf", "data/02-现场 照片.jpg"
    ]  # fmt: skip
    main = next(c for c in record["components"] if c["sequence"] == 1)
    assert files[0].size == len(MAIN) and files[0].sha256 == sha256(MAIN)
    assert parse_s3_url(files[0].url) == (
        "archive", main["payload"]["key"], main["payload"]["version_id"]
    )  # fmt: skip
    unversioned = archival_record()
    unversioned["components"][0]["payload"]["version_id"] = None
    with pytest.raises(ValueError, match="version"):
        packaged_files(unversioned)


@pytest.mark.parametrize(
    ("name", "path"),
    [("报告.pdf", "data/03-报告.pdf"), ("50%完成.docx", "data/03-50_完成.docx"),
     ("a\u3000b.txt", "data/03-a_b.txt"), ("../../etc/passwd", "data/03-passwd"),
     ("two  spaces.pdf", "data/03-two  spaces.pdf")],
)  # fmt: skip
def test_bag_path(name: str, path: str) -> None:
    assert bag_path(3, name) == path


@given(
    key=st.text(st.characters(codec="utf-8"), min_size=1).map(lambda k: "k/" + k),
    version=st.text(st.characters(codec="utf-8"), min_size=1),
)
def test_s3_urls_round_trip_without_whitespace(key: str, version: str) -> None:
    url = s3_url("t1-archive", key, version)
    assert not any(c.isspace() for c in url)
    assert parse_s3_url(url) == ("t1-archive", key, version)


# --- DA/T 46 XML -----------------------------------------------------------------------------
def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path)
    return None if found is None else found.text


def test_record_xml_carries_da_t_46_elements() -> None:
    record = archival_record()
    xml = record_xml(record)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(xml)
    assert root.tag == "电子文件"
    entity = root.find("文件实体")
    assert entity is not None
    expected = {
        "聚合层次": "文件",
        "来源/档案馆代码": "440300",
        "来源/全宗名称": "市住房和城乡建设局",
        "来源/立档单位名称": "市住房和城乡建设局",
        "电子文件号": "ZJJ-2026-0041",
        "档号/全宗号": "Z109",
        "档号/门类代码": "WS",
        "档号/年度": "2026",
        "档号/保管期限": "D30",
        "档号/机构或问题": "GHK",
        "档号/件号": "0007",
        "内容描述/题名": "关于申请老旧小区改造专项资金的请示",
        "内容描述/文件编号": "市建请〔2026〕41号",
        "内容描述/责任者": "市住房和城乡建设局",
        "内容描述/日期": "2026-04-02",
        "内容描述/文种": "请示",
        "内容描述/紧急程度": "加急",
        "内容描述/密级": "公开",
        "形式特征/件数": "1",
        "形式特征/页数": "3",
        "形式特征/语种": "zh",
    }
    assert {path: text(entity, path) for path in expected} == expected
    code = entity.find("档号")
    assert code is not None and code.get("值") == CODE
    assert [k.text for k in entity.findall("内容描述/关键词")] == ["老旧小区", "专项资金"]
    assert entity.find("内容描述/摘要") is None, "None fields are left out"

    main, photo = (record["components"][1], record["components"][0])
    locations = [e.text for e in entity.findall("存储位置/当前位置")]
    assert locations == [
        s3_url("archive", c["payload"]["key"], c["payload"]["version_id"]) for c in (main, photo)
    ]
    documents = entity.findall("文档")
    assert [text(d, "文档序号") for d in documents] == ["1", "2"]
    assert [text(d, "文档主从声明") for d in documents] == ["正本", "附件"]
    assert text(documents[0], "题名") is None and text(documents[1], "题名") == "现场照片"
    assert text(documents[0], "电子属性/计算机文件名") == main["file_name"]
    assert text(documents[0], "电子属性/计算机文件大小") == str(len(MAIN))
    assert text(documents[1], "电子属性/格式信息") == "image/jpeg"
    fixity = {
        text(f, "摘要算法"): text(f, "摘要值") for f in documents[0].findall("固定性信息")
    }  # fmt: skip
    assert fixity == {"SHA-256": sha256(MAIN), "SM3": sm3(MAIN)}

    assert text(root, "机构人员实体/机构人员名称") == "市住房和城乡建设局"
    assert text(root, "机构人员实体/组织机构代码") == "zjj"
    steps = {text(b, "业务行为"): text(b, "行为时间") for b in root.findall("业务实体")}
    assert steps == {
        "归档": "2026-04-02T17:30:15.123+08:00",
        "接收": "2026-04-03T00:30:17.123+08:00",
    }
    assert record_xml(archival_record()) == xml


def test_record_xml_leaves_out_what_is_unknown_and_stays_well_formed() -> None:
    record = archival_record()
    record["description"] = {**record["description"], "keywords": [], "urgency": None,
                             "page_count": None, "title": "标题\x01含控制字符 <&>"}  # fmt: skip
    del record["agency"]
    root = ET.fromstring(record_xml(record))
    assert text(root, "文件实体/内容描述/题名") == "标题\ufffd含控制字符 <&>"
    for gone in ("内容描述/关键词", "内容描述/紧急程度", "形式特征/页数", "来源/立档单位名称"):
        assert root.find(f"文件实体/{gone}") is None, gone
    assert root.find("机构人员实体") is None


def test_record_xml_wants_aware_times() -> None:
    record = {**archival_record(), "archived_at": dt.datetime(2026, 4, 2, 9, 30)}
    with pytest.raises(ValueError, match="naive"):
        record_xml(record)


# --- PREMIS ----------------------------------------------------------------------------------
def test_premis_xml_events() -> None:
    xml = premis_xml(EVENTS, subject=CODE)
    root = ET.fromstring(xml)
    p = f"{{{PREMIS_NS}}}"
    assert root.tag == f"{p}premis" and root.get("version") == "3.0"
    assert b'xmlns:premis="http://www.loc.gov/premis/v3"' in xml
    assert root.findtext(f"{p}object/{p}objectIdentifier/{p}objectIdentifierValue") == CODE
    events = root.findall(f"{p}event")
    assert [e.findtext(f"{p}eventType") for e in events] == [e["type"] for e in EVENTS]
    assert [e.findtext(f"{p}eventDateTime") for e in events] == [
        "2026-04-02T17:30:15.123+08:00", "2026-04-02T17:30:16.123+08:00",
        "2026-04-02T17:30:17.123+08:00",
    ]  # fmt: skip
    assert [e.findtext(f"{p}eventOutcomeInformation/{p}eventOutcome") for e in events] == [
        "success"
    ] * 3
    assert [
        e.findtext(f"{p}linkingAgentIdentifier/{p}linkingAgentIdentifierValue") for e in events
    ] == ["zjj/OA", "recordflow", "recordflow"]
    assert events[0].findtext(f"{p}eventDetailInformation/{p}eventDetail") == "归档 by the agency"
    assert events[2].find(f"{p}eventDetailInformation") is None
    ids = [e.findtext(f"{p}eventIdentifier/{p}eventIdentifierValue") for e in events]
    assert len(set(ids)) == len(ids)
    assert all(
        e.findtext(f"{p}linkingObjectIdentifier/{p}linkingObjectIdentifierValue") == CODE
        for e in events
    )
    assert premis_xml(EVENTS, subject=CODE) == xml


def test_premis_xml_without_subject_or_events() -> None:
    root = ET.fromstring(premis_xml([]))
    assert root.tag == f"{{{PREMIS_NS}}}premis" and len(root) == 0


def children(parent: ET.Element, path: str) -> dict[str, str | None]:
    found = parent.find(path)
    assert found is not None, path
    return {child.tag: child.text for child in found}


def test_record_xml_carries_the_rest_of_da_t_46() -> None:
    record = {
        **archival_record(),
        "supplementary": {
            "parallel_title": "Request for renovation funds", "subtitle": "2026年度",
            "subject_terms": ["城市更新"], "classification_code": "F299.27",
            "primary_recipients": ["市人民政府"], "copy_recipients": ["市财政局", "市发展改革委"],
            "secrecy_term": None, "draft_state": "正本", "rights_statement": "依申请公开",
            "control_marks": ["限制利用"],
        },
        "file_details": [
            {"sequence": 2, "creating_application": None, "signatures": [],
             "digitization": {"form": "扫描件", "resolution_dpi": 300, "colour_mode": "灰度",
                              "compression": "JPEG", "device": None}},
            {"sequence": 1, "creating_application": "WPS Office 12", "digitization": None,
             "signatures": [{"signature_id": "sig-1", "rule": "GB/T 38540", "time": FILED_AT,
                             "signer": "市住房和城乡建设局", "result": "MEUCIQ", "certificate": b"\x30",
                             "certificate_reference": "https://ca.example.cn/zjj.cer",
                             "algorithm": "SM2"}]},
        ],
        "history": [
            {"action": "approved", "time": FILED_AT - dt.timedelta(days=1), "actor": "李四",
             "organisation": "市住房和城乡建设局", "status": "已签发", "basis": "局长办公会议决定",
             "description": "同意上报"},
        ],
        "agents": [{"agent_type": "个人", "name": "李四", "organisation_code": None,
                    "position": "局长"}],
        "relations": [{"related_id": "ZJJ-2026-0040", "relation_type": "references",
                       "description": "依据上年度调查报告"}],
    }  # fmt: skip
    root = ET.fromstring(record_xml(record))
    content = "文件实体/内容描述"
    assert text(root, f"{content}/并列题名") == "Request for renovation funds"
    assert text(root, f"{content}/副题名") == "2026年度"
    assert text(root, f"{content}/主题词") == "城市更新"
    assert text(root, f"{content}/分类号") == "F299.27"
    assert text(root, f"{content}/主送") == "市人民政府"
    assert [e.text for e in root.findall(f"{content}/抄送")] == ["市财政局", "市发展改革委"]
    assert root.find(f"{content}/保密期限") is None  # absent: left out
    assert text(root, "文件实体/形式特征/稿本") == "正本"
    assert text(root, "文件实体/权限管理/权限声明") == "依申请公开"
    assert text(root, "文件实体/权限管理/控制标识") == "限制利用"
    main, photo = root.findall("文件实体/文档")  # in sequence order, details matched by sequence
    assert text(main, "电子属性/文档创建程序") == "WPS Office 12"
    assert main.find("数字化属性") is None
    assert children(main, "电子签名") == {
        "签名标识符": "sig-1",
        "签名规则": "GB/T 38540",
        "签名时间": "2026-04-02T17:30:15.123+08:00",
        "签名人": "市住房和城乡建设局",
        "签名结果": "MEUCIQ",
        "证书引证": "https://ca.example.cn/zjj.cer",
        "签名算法标识": "SM2",
    }  # fmt: skip  (the certificate's bytes are not written)
    assert children(photo, "数字化属性") == {
        "数字化对象形态": "扫描件", "扫描分辨率": "300", "扫描色彩模式": "灰度", "图像压缩方案": "JPEG",
    }  # fmt: skip
    assert photo.find("电子签名") is None and photo.find("电子属性/文档创建程序") is None
    agents = root.findall("机构人员实体")
    assert [(text(a, "机构人员类型"), text(a, "机构人员名称")) for a in agents] == [
        ("单位", "市住房和城乡建设局"), ("个人", "李四")]  # fmt: skip
    assert text(agents[1], "个人职位") == "局长" and agents[1].find("组织机构代码") is None
    steps = root.findall("业务实体")
    assert [text(step, "业务行为") for step in steps] == ["approved", "归档", "接收"]
    assert {child.tag: child.text for child in steps[0]} == {
        "业务状态": "已签发", "业务行为": "approved", "行为时间": "2026-04-01T17:30:15.123+08:00",
        "行为依据": "局长办公会议决定", "行为描述": "同意上报",
    }  # fmt: skip
    assert [{child.tag: child.text for child in r} for r in root.findall("实体关系")] == [
        {"关联标识": "ZJJ-2026-0040", "关系类型": "references", "关系描述": "依据上年度调查报告"}]  # fmt: skip


def test_record_xml_of_a_v2_record_is_unchanged_by_empty_da_t_46_fields() -> None:
    empty: dict[str, Any] = {"supplementary": None, "file_details": [], "history": [], "agents": [],
             "relations": []}  # fmt: skip
    assert record_xml({**archival_record(), **empty}) == record_xml(archival_record())
    root = ET.fromstring(record_xml(archival_record()))
    assert root.find("文件实体/权限管理") is None and root.find("实体关系") is None


def test_record_xml_of_a_photo_carries_its_description_and_technical_properties() -> None:
    photo = {
        "creator": "李摄影", "captured_at": "1986-05-01", "place": "罗湖口岸",
        "persons": ["王市长", "李主任"], "background": None, "photo_number": "ZP-1986-001",
        "negative_number": None,
    }  # fmt: skip
    technical = {
        "sequence": 1, "kind": "image", "width": 640, "height": 480, "resolution_dpi": 300,
        "colour_mode": "彩色", "duration_ms": None, "video_codec": None, "audio_codec": None,
        "frame_rate": None, "sample_rate_hz": None, "channels": None, "bit_rate": None,
        "device": "Nikon D850", "captured_at": "1986-05-01T10:00:00",
    }  # fmt: skip
    record = {**archival_record(), "category": "ZP", "media": photo, "media_files": [technical]}
    root = ET.fromstring(record_xml(record))
    assert text(root, "文件实体/内容描述/摄影者") == "李摄影"
    assert text(root, "文件实体/内容描述/拍摄地点") == "罗湖口岸"
    assert [p.text for p in root.findall("文件实体/内容描述/人物")] == ["王市长", "李主任"]
    assert root.find("文件实体/内容描述/背景") is None
    assert text(root, "文件实体/档号/门类代码") == "ZP"
    first, *_ = root.findall("文件实体/文档")
    assert text(first, "技术参数/设备") == "Nikon D850"
    assert (text(first, "技术参数/水平像素"), text(first, "技术参数/分辨率")) == ("640", "300")
    assert first.find("技术参数/时长") is None
    assert ET.fromstring(record_xml(archival_record())).find("文件实体/文档/技术参数") is None
