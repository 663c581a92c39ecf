"""Offline transfer packages written for the tests (archival/packages/), nothing downloaded: a
DA/T 48 EEP signed with a real SM2 key (and locked with an RSA one), a modified (修改型) EEP, an
EEP whose "signature" is only a digest, a 2012 offline carrier (folder and zip), a BagIt bag, and
a hostile package of each kind."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import bagit
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from archival.packages.eep import canonical_chunks
from recordflow.demo.signing import sm2_certificate, sm2_private_key, sm2_sign

PDF = b"%PDF-1.4\n% a notice about flood prevention\n%%EOF\n"
SCAN = b"\x89PNG\r\n\x1a\n a scanned page"
SIGNED_AT = "2026-05-06T10:00:00+08:00"
CERT_FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CERT_TO = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
SM2_KEY = sm2_private_key("tests/packages bgt")
SM2_CERT = sm2_certificate(SM2_KEY, "市人民政府办公厅 OA", "市人民政府办公厅", CERT_FROM, CERT_TO)


def _rsa() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "市档案馆 锁定")])
    certificate = (
        cx509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(CERT_FROM).not_valid_after(CERT_TO)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, certificate.public_bytes(serialization.Encoding.DER)


RSA_KEY, RSA_CERT = _rsa()


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _tree(parent: ET.Element, spec: dict[str, object]) -> None:
    """Child elements from a dict: text for a str, nested elements for a dict."""
    for tag, value in spec.items():
        if isinstance(value, dict):
            _tree(_add(parent, tag), value)
        else:
            _add(parent, tag, str(value))


def eep_record(document_id: str = "BGT-2026-0041", title: str = "关于做好2026年防汛工作的通知",
               files: tuple[tuple[str, bytes], ...] = (("通知.pdf", PDF),)) -> dict[str, object]:  # fmt: skip
    return {
        "聚合层次": "文件",
        "来源": {"档案馆名称": "市档案馆", "立档单位名称": "市人民政府办公厅", "立档单位代码": "bgt"},
        "电子文件号": document_id,
        "档号": {"全宗号": "Z101", "年度": "2026", "保管期限": "永久", "机构或问题": "BGS"},
        "内容描述": {"题名": title, "文件编号": "市府办发〔2026〕41号", "责任者": "市人民政府办公厅",
                     "日期": "20260506", "文种": "通知", "密级": "公开", "关键词": "防汛 值班"},
        "形式特征": {"页数": "2", "稿本": "正本"},
        "files": files,
    }  # fmt: skip


def _record(block: ET.Element, record: dict[str, object]) -> None:
    element = _add(block, "文件实体")
    files = record.get("files", ())
    _tree(element, {k: v for k, v in record.items() if k != "files"})
    assert isinstance(files, tuple)
    for number, (name, data) in enumerate(files, start=1):
        document = _add(element, "文档")
        _add(document, "文档序号", str(number))
        _add(document, "文档主从声明", "正本" if number == 1 else "附件")
        encoding = _add(_add(document, "文档数据"), "编码")
        _tree(_add(encoding, "电子属性"), {
            "格式信息": "application/pdf" if name.endswith(".pdf") else "image/png",
            "计算机文件名": name, "计算机文件大小": str(len(data)),
        })  # fmt: skip
        _add(encoding, "反编码关键字", "base64")
        encoded = base64.b64encode(data).decode()
        _add(
            encoding, "编码数据", "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        )


def eep_package(records: list[dict[str, object]], *, signature: str = "sm2",
                original: ET.Element | None = None) -> ET.Element:  # fmt: skip
    """An EEP root. signature: sm2 (an SM2/SM3 电子签名 and an RSA 锁定签名), digest (an SM3
    digest as the "signature"), or none."""
    root = ET.Element("电子文件封装包")
    _add(root, "封装包格式描述", "本EEP根据中华人民共和国档案行业标准DA/T 48-2009生成")
    _add(root, "版本", "2009")
    signed = _add(root, "被签名对象")
    signed.set("eep版本", "2009")
    _add(signed, "封装包类型", "修改型" if original is not None else "原始型")
    _add(signed, "封装包创建时间", "2026-05-06T09:00:00+08:00")
    _add(signed, "封装包创建单位", "市人民政府办公厅")
    content = _add(signed, "封装内容")
    holder = _add(content, "修改封装内容") if original is not None else content
    block = _add(holder, "文件实体块")
    for record in records:
        _record(block, record)
    business = _add(_add(holder, "业务实体块"), "业务实体")
    _tree(business, {"业务状态": "归档", "业务行为": "归档", "行为时间": "2026-05-06 09:00:00",
                     "行为依据": "市府办归档制度"})  # fmt: skip
    agent = _add(_add(holder, "机构人员实体块"), "机构人员实体")
    _tree(agent, {"机构人员类型": "单位", "机构人员名称": "市人民政府办公厅"})
    if original is not None:
        _add(content, "原封装包").append(original)
    else:  # indented before signing: the canonical bytes keep white space (never re-indent a
        ET.indent(signed, level=1)  # wrapped original: that would break its signatures)
    if signature == "sm2":
        value = sm2_sign(SM2_KEY, list(canonical_chunks(signed)))
        block_element = _add(root, "电子签名块")
        _signature(_add(block_element, "电子签名"), "签名1", value, SM2_CERT, "SM2")
        locked = b"".join(canonical_chunks(signed, block_element))
        lock_value = base64.b64encode(
            RSA_KEY.sign(locked, padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        lock = _add(root, "锁定签名")
        _add(lock, "被锁定签名标识符", "签名1")
        _signature(lock, None, lock_value, RSA_CERT, "SHA256withRSA")
    elif signature == "digest":
        digest = hashlib.new("sm3", b"".join(canonical_chunks(signed))).hexdigest()
        _signature(_add(_add(root, "电子签名块"), "电子签名"), "签名1", digest, None, "SM3")
    return root


def _signature(element: ET.Element, sid: str | None, value: str, certificate: bytes | None,
               algorithm: str) -> None:  # fmt: skip
    if sid:
        _add(element, "签名标识符", sid)
    _add(element, "签名规则", "对被签名对象的C14N 2.0规范化字节签名")
    _add(element, "签名时间", SIGNED_AT)
    _add(element, "签名人", "市人民政府办公厅")
    _add(element, "签名结果", value)
    if certificate is not None:
        _add(_add(element, "证书块"), "证书", base64.b64encode(certificate).decode())
    _add(element, "签名算法标识", algorithm)


def write_xml(root: ET.Element, path: Path) -> Path:
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return path


def signed_eep(path: Path) -> Path:
    return write_xml(eep_package([eep_record()]), path)


def modified_eep(path: Path) -> Path:
    """A 修改型 package: the latest title, wrapping the original (signed) package whole."""
    original = eep_package([eep_record(title="关于做好防汛工作的通知")])
    latest = eep_record(title="关于做好2026年防汛工作的通知（修订）")
    return write_xml(eep_package([latest], original=original), path)


def digest_only_eep(path: Path) -> Path:
    return write_xml(eep_package([eep_record()], signature="digest"), path)


def tampered_eep(path: Path) -> Path:
    """Signed, then its 题名 changed in the file (as a tampering hand would)."""
    signed_eep(path)
    path.write_bytes(path.read_bytes().replace("防汛工作".encode(), "抗旱工作".encode(), 1))
    return path


# --- the 2012 offline carrier ------------------------------------------------------------------
CATALOGUE_ENTRIES: list[dict[str, object]] = [
    {"档号": "Z101-WS·2012-Y-BGS-0001", "题名": "关于2012年度值班安排的通知", "责任者": "市人民政府办公厅",
     "日期": "2012年3月5日", "文号": "市府办〔2012〕5号", "文种": "通知", "密级": "公开",
     "保管期限": "永久", "机构或问题": "BGS", "页数": "1页", "全宗号": "Z101", "载体编号": "GP-01",
     "files": [("值班通知.pdf", PDF), ("附件1.png", SCAN)]},
    {"档号": "Z101-WS·2012-D30-BGS-0002", "题名": "市政府办公厅2012年工作总结", "责任者": "市人民政府办公厅",
     "日期": "2012-12-28", "文种": "报告", "保管期限": "定期30年", "机构或问题": "BGS",
     "files": [("工作总结.pdf", PDF + b"summary")]},
]  # fmt: skip


def carrier_folder(folder: Path, entries: list[dict[str, object]] | None = None,
                   digests: dict[str, str] | None = None) -> Path:  # fmt: skip
    """A carrier folder; `digests` declares an SM3 per file name (else the true one)."""
    entries = CATALOGUE_ENTRIES if entries is None else entries
    (folder / "电子档案").mkdir(parents=True)
    root = ET.Element("文件目录")
    for entry in entries:
        element = _add(root, "文件")
        files = entry.get("files", [])
        _tree(element, {k: v for k, v in entry.items() if k != "files"})
        assert isinstance(files, list)
        for name, data in files:
            if "/" not in name:
                (folder / "电子档案" / name).write_bytes(data)
            named = _add(element, "计算机文件名", name)
            named.set("大小", str(len(data)))
            named.set("SM3", (digests or {}).get(name) or hashlib.new("sm3", data).hexdigest())
    ET.indent(root)
    (folder / "文件目录.XML").write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return folder


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, Path(folder.name) / path.relative_to(folder))
    return archive


# --- BagIt -------------------------------------------------------------------------------------
BAG_METADATA = {"document_id": "ZJJ-2026-0077", "keywords": ["老旧小区", "改造"],
                "source_system": "OA", "archive_box": "B-12"}  # fmt: skip
BAG_INFO = {"Source-Organization": "市住房和城乡建设局", "Title": "关于老旧小区改造的请示",
            "Responsible-Party": "市住房和城乡建设局", "Date": "2026/4/2", "Document-Type": "请示",
            "Unit-Code": "GHK", "Agency": "zjj", "Contact-Name": "张三"}  # fmt: skip


def bag(folder: Path, info: dict[str, str] | None = None) -> Path:
    """A bag; `info` adds to (or replaces) bag-info.txt's labels."""
    folder.mkdir(parents=True)
    (folder / "请示.pdf").write_bytes(PDF)
    (folder / "附件.png").write_bytes(SCAN)
    made = bagit.make_bag(str(folder), {**BAG_INFO, **(info or {})}, checksums=["sha256"])
    (folder / "metadata").mkdir()
    (folder / "metadata" / "metadata.json").write_text(
        json.dumps(BAG_METADATA, ensure_ascii=False), encoding="utf-8"
    )
    made.save()  # the metadata file into the tag manifest
    return folder


def tampered_bag(folder: Path) -> Path:
    """A bag whose payload changed after bagging, at the same size (so Payload-Oxum holds)."""
    bag(folder)
    (folder / "data" / "请示.pdf").write_bytes(PDF.replace(b"flood", b"drown"))
    return folder


# --- hostile -----------------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE 电子文件封装包 [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<电子文件封装包><被签名对象>&lol3;</被签名对象></电子文件封装包>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE 文件目录 [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<文件目录><文件><题名>&secret;</题名></文件></文件目录>
"""


def xml_bomb(path: Path) -> Path:
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    return path


def external_entity_carrier(folder: Path) -> Path:
    (folder / "电子档案").mkdir(parents=True)
    (folder / "文件目录.XML").write_text(EXTERNAL_ENTITY, encoding="utf-8")
    return folder


def path_escape_carrier(folder: Path) -> Path:
    """An entry naming a file outside the package."""
    return carrier_folder(folder, [{**CATALOGUE_ENTRIES[1], "files": [("../../secret.txt", b"")]}])


def path_escape_zip(archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("文件目录.XML", "<文件目录/>")
        bundle.writestr("../../outside.txt", "escaped")
    return archive


def symlink_out_bag(folder: Path, outside: Path) -> Path:
    bag(folder)
    (folder / "data" / "link.txt").symlink_to(outside)
    return folder
