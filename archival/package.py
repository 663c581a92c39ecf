"""One BagIt (RFC 8493) package per archived record, stored beside its content objects.

The package is a serialized bag: an uncompressed tar holding the tag files only. Its `fetch.txt`
points at the record's content objects in the archive bucket (one S3 URL per object version),
so a record costs its content objects plus one package object, never one object per tag file
(docs/design.md, "Storage"). Inside the tar, under a top folder named for the archival reference code:

    bagit.txt, bag-info.txt          BagIt 1.0, UTF-8; External-Identifier is the 档号
    fetch.txt                        `s3://<bucket>/<key>?versionId=<v>  <size>  data/<nn>-<name>`
    manifest-sha256.txt              the payload's SHA-256 digests
    metadata/record.xml              DA/T 46 metadata (Chinese element names)
    metadata/record.json             the ArchivalRecord as JSON
    metadata/premis.xml              PREMIS 3.0 events (what happened to the record)
    metadata/check-report.json       the four-property check (DA/T 70), when there is one
    tagmanifest-sha256.txt           SHA-256 of every tag file above

Packages are deterministic: the same inputs give byte-identical tars (fixed member order, owners,
modes and mtimes; no wall-clock values), so a redelivered event writes the same package.

connectors/package.py turns a package back into a complete bag on disk (`export_record`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from archival.filenames import safe_filename
from recordflow.errors import ReasonedError
from recordflow.jsonvalues import json_ready

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
RESERVED_TAG_FILES = ("bagit.txt", "bag-info.txt", "fetch.txt")
RESERVED_TAG_PREFIXES = ("manifest-", "tagmanifest-")
# bag-info.txt elements package_tar writes itself, in this order; the caller's others follow.
COMPUTED_BAG_INFO = ("External-Identifier", "Payload-Oxum", "Bag-Size")
REQUIRED_BAG_INFO = ("Source-Organization", "Bagging-Date")
FILE_MODE = 0o644
DIR_MODE = 0o755
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Characters RFC 8493 would have us percent-encode in a manifest path (CR, LF, %): the bagit
# library decodes only CR and LF, so bag paths never contain any of them and need no encoding.
UNENCODABLE_IN_PATHS = re.compile(r"[\r\n%]")
LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")  # a bag-info value stays on one line
SIZE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
SIZE_STEP = 1000  # SI units in Bag-Size: "1.2 MB" is 1.2 million bytes
# China Standard Time, the archives' own clock; China keeps no daylight saving time.
CST = dt.timezone(dt.timedelta(hours=8), "CST")
PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAIN_FLAG = {True: "正本", False: "附件"}
DIGEST_NAMES = {"SHA256": "SHA-256", "SM3": "SM3"}


class PackageError(ReasonedError):
    """A package that cannot be built or exported as it is: missing objects, a digest that does
    not match the manifest, a malformed package. `reason` is a stable code for logs and metrics."""


@dataclass(frozen=True)
class PackagedFile:
    """One payload file of a bag, fetched from its content object version."""

    bag_path: str  # data/<nn>-<safe file name>
    size: int
    sha256: str
    url: str  # s3://<bucket>/<key>?versionId=<version>


# --- names and URLs --------------------------------------------------------------------------
def bag_path(sequence: int, file_name: str) -> str:
    """`data/<nn>-<safe file name>`: the component's place in the bag.

    Besides what `safe_filename` drops, `%` and whitespace other than a plain space become `_`,
    so the path needs no escaping in a manifest and survives the whitespace-splitting readers.
    """
    name = re.sub(r"%|[^\S ]", "_", safe_filename(file_name))
    return f"data/{sequence:02d}-{name}"


def s3_url(bucket: str, key: str, version_id: str) -> str:
    """`s3://<bucket>/<key>?versionId=<v>`, percent-encoded (RFC 3986) so it has no whitespace."""
    return f"s3://{bucket}/{quote(key, safe='/')}?versionId={quote(version_id, safe='')}"


def parse_s3_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of an `s3_url`."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.path in ("", "/"):
        raise PackageError("bad-package", f"not an s3://bucket/key URL: {url}")
    versions = parse_qs(parts.query).get("versionId")
    return parts.netloc, unquote(parts.path[1:]), versions[0] if versions else None


# --- the serialized bag ----------------------------------------------------------------------
def package_tar(
    reference_code: str,
    files: list[PackagedFile],
    tag_files: dict[str, bytes],
    bag_info: dict[str, str],
) -> bytes:
    """A serialized bag for one record: tag files only, the payload listed in `fetch.txt`.

    `bag_info` must give Source-Organization and Bagging-Date (YYYY-MM-DD; nothing here reads the
    clock, so the same inputs give the same bytes); External-Identifier (the 档号), Payload-Oxum
    and Bag-Size are computed. `tag_files` maps paths inside the bag (e.g. `metadata/record.xml`)
    to their bytes.
    """
    root = bag_root(reference_code)
    _check_payload(files)
    for path in tag_files:
        _check_tag_path(path)
    info = _bag_info(reference_code, files, bag_info)
    members: dict[str, bytes] = {
        "bagit.txt": BAGIT_TXT,
        "bag-info.txt": info,
        "fetch.txt": "".join(
            f"{f.url} {f.size} {f.bag_path}\n" for f in sorted(files, key=_by_path)
        ).encode(),
        "manifest-sha256.txt": "".join(
            f"{f.sha256}  {f.bag_path}\n" for f in sorted(files, key=_by_path)
        ).encode(),
        **tag_files,
    }
    members["tagmanifest-sha256.txt"] = "".join(
        f"{hashlib.sha256(content).hexdigest()}  {path}\n"
        for path, content in sorted(members.items())
    ).encode()
    folders = {"data"} | {str(parent) for path in members for parent in _parents(path)}
    mtime = _midnight_utc(bag_info["Bagging-Date"])
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        tar.addfile(_tar_entry(root, tarfile.DIRTYPE, 0, mtime))
        entries = [(f, None) for f in folders] + list(members.items())
        for path, content in sorted(entries, key=lambda entry: entry[0]):
            if content is None:
                tar.addfile(_tar_entry(f"{root}/{path}", tarfile.DIRTYPE, 0, mtime))
            else:
                entry = _tar_entry(f"{root}/{path}", tarfile.REGTYPE, len(content), mtime)
                tar.addfile(entry, io.BytesIO(content))
    return out.getvalue()


def _midnight_utc(date: str) -> int:
    """Every member's mtime: the bagging date, so unpacked files show when they were bagged."""
    return int(dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.UTC).timestamp())


def _by_path(file: PackagedFile) -> str:
    return file.bag_path


def bag_root(reference_code: str) -> str:
    root = safe_filename(reference_code)
    if root != reference_code.strip():
        raise ValueError(f"reference code {reference_code!r} cannot name a folder as it is")
    return root


def _check_payload(files: list[PackagedFile]) -> None:
    seen: set[str] = set()
    for f in files:
        check_relative(f.bag_path)
        if not f.bag_path.startswith("data/") or UNENCODABLE_IN_PATHS.search(f.bag_path):
            raise ValueError(f"payload path {f.bag_path!r} must be data/… without CR, LF or %")
        if f.bag_path in seen:
            raise ValueError(f"payload path {f.bag_path!r} appears twice")
        seen.add(f.bag_path)
        if f.size < 0 or not SHA256_HEX.fullmatch(f.sha256):
            raise ValueError(f"{f.bag_path}: bad size {f.size} or SHA-256 {f.sha256!r}")
        if urlsplit(f.url).scheme != "s3" or any(c.isspace() for c in f.url):
            raise ValueError(f"{f.bag_path}: fetch URL {f.url!r} is not an encoded s3:// URL")


def _check_tag_path(path: str) -> None:
    check_relative(path)
    if (
        path in RESERVED_TAG_FILES
        or path.startswith(RESERVED_TAG_PREFIXES)
        or path.split("/")[0] == "data"
        or UNENCODABLE_IN_PATHS.search(path)
    ):
        raise ValueError(f"tag file path {path!r} is reserved or unsafe")


def check_relative(path: str) -> None:
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
        or path != path.strip()
    ):
        raise ValueError(f"{path!r} is not a relative path inside the bag")


def _parents(path: str) -> list[PurePosixPath]:
    return [p for p in PurePosixPath(path).parents if str(p) != "."]


def _bag_info(reference_code: str, files: list[PackagedFile], given: dict[str, str]) -> bytes:
    missing = [label for label in REQUIRED_BAG_INFO if not given.get(label)]
    if missing:
        raise ValueError(f"bag-info needs {', '.join(missing)}")
    dt.date.fromisoformat(given["Bagging-Date"])  # RFC 8493: YYYY-MM-DD
    total = sum(f.size for f in files)
    computed = {
        "External-Identifier": reference_code,
        "Payload-Oxum": f"{total}.{len(files)}",
        "Bag-Size": _human_size(total),
    }
    clash = set(computed) & set(given)
    if clash:
        raise ValueError(f"bag-info elements {sorted(clash)} are computed, not given")
    first = [(label, given[label]) for label in REQUIRED_BAG_INFO]
    rest = sorted(
        (label, value) for label, value in given.items() if label not in REQUIRED_BAG_INFO
    )
    lines = []
    for label, value in [*first, *computed.items(), *rest]:
        if not label or label != label.strip() or ":" in label or any(c.isspace() for c in label):
            raise ValueError(f"bag-info label {label!r} is not a BagIt label")
        lines.append(f"{label}: {LINE_BREAKS.sub(' ', str(value)).strip()}\n")
    return "".join(lines).encode()


def _human_size(size: int) -> str:
    value = float(size)
    for unit in SIZE_UNITS:
        if value < SIZE_STEP or unit == SIZE_UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= SIZE_STEP
    raise AssertionError("unreachable")


def _tar_entry(name: str, kind: bytes, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mtime = mtime
    info.mode = DIR_MODE if kind == tarfile.DIRTYPE else FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# --- DA/T 46 metadata ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    """An element holding the value at `path` (a dotted path; a missing mapping on the way reads
    as empty), passed through `form`."""

    tag: str
    path: str
    form: Callable[[Any], Any] = lambda value: value

    def write(self, parent: ET.Element, source: Mapping[str, Any]) -> None:
        _add(parent, self.tag, self.form(_lookup(source, self.path)))


@dataclass(frozen=True)
class _Each:
    """One element per item of the list at `path`, each passed through `form`."""

    tag: str
    path: str
    form: Callable[[Any], Any] = lambda value: value

    def write(self, parent: ET.Element, source: Mapping[str, Any]) -> None:
        for item in _lookup(source, self.path) or []:
            _add(parent, self.tag, self.form(item))


@dataclass(frozen=True)
class _Fixed:
    """An element whose text is the same for every record."""

    tag: str
    value: Any

    def write(self, parent: ET.Element, source: Mapping[str, Any]) -> None:
        _add(parent, self.tag, self.value)


@dataclass(frozen=True)
class _Attribute:
    """An attribute of the enclosing element, set unless the value is None."""

    name: str
    path: str

    def write(self, parent: ET.Element, source: Mapping[str, Any]) -> None:
        value = _lookup(source, self.path)
        if value is not None:
            parent.set(self.name, _text(value))


@dataclass(frozen=True)
class _Group:
    """A container element whose `rows` read the same source; with `each` (the path of a list,
    or a function of the source), one container per item, whose rows read that item."""

    tag: str
    rows: tuple[_Row, ...]
    each: str | Callable[[Mapping[str, Any]], Iterable[Mapping[str, Any]]] | None = None

    def write(self, parent: ET.Element, source: Mapping[str, Any]) -> None:
        if self.each is None:
            items: Iterable[Mapping[str, Any]] = (source,)
        elif isinstance(self.each, str):
            items = _lookup(source, self.each) or []
        else:
            items = self.each(source)
        for item in items:
            _write(ET.SubElement(parent, self.tag), self.rows, item)


_Row = _Field | _Each | _Fixed | _Attribute | _Group
# Where record_xml puts the file details by sequence, beside the record's own fields (none is
# named so), for _documents to pair each component with its details.
_DETAILS = "file_details_by_sequence"


def _write(parent: ET.Element, rows: Iterable[_Row], source: Mapping[str, Any]) -> None:
    for row in rows:
        row.write(parent, source)


def _lookup(source: Mapping[str, Any], path: str) -> Any:
    *outer, name = path.split(".")
    for key in outer:
        source = source.get(key) or {}
    return source.get(name)


def _documents(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Each component (in sequence order) with the file details and technical properties (a
    photo's or recording's) of the same sequence."""
    media = {found["sequence"]: found for found in record.get("media_files") or []}
    for component in record["components"]:
        detail = record[_DETAILS].get(component.get("sequence")) or {}
        yield {"component": component, "detail": detail,
               "media": media.get(component.get("sequence")) or {}}  # fmt: skip


def _agents(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The producing agency, then the other agents it named."""
    if agency := record.get("agency"):
        name, code = agency.get("name"), agency.get("code")
        yield {"agent_type": "单位", "name": name, "organisation_code": code}
    yield from record.get("agents") or []


def _steps(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The agency's history of the record, then its 归档 by the agency and 接收 by the archive."""
    yield from record.get("history") or []
    for action, time in (("归档", record.get("filed_at")), ("接收", record.get("archived_at"))):
        if time is not None:
            yield {"action": action, "time": time}


def _location(component: Mapping[str, Any]) -> str | None:
    return _payload_url(component.get("payload") or {})


def _main_flag(is_main: Any) -> str | None:
    return None if is_main is None else MAIN_FLAG[bool(is_main)]


def _digest_name(algorithm: Any) -> Any:
    return DIGEST_NAMES.get(algorithm, algorithm)


def _payload_url(payload: Mapping[str, Any]) -> str | None:
    if not payload.get("bucket") or not payload.get("key"):
        return None
    if payload.get("version_id"):
        return s3_url(payload["bucket"], payload["key"], payload["version_id"])
    return f"s3://{payload['bucket']}/{quote(payload['key'], safe='/')}"


def _seconds(milliseconds: int | None) -> str | None:
    return None if milliseconds is None else f"{milliseconds / 1000:.3f}"


def _item_number(number: int | None) -> str | None:
    return None if number is None else f"{number:04d}"


_DOCUMENT: tuple[_Row, ...] = (
    _Field("文档序号", "component.sequence"),
    _Field("文档主从声明", "component.is_main", _main_flag),
    _Field("题名", "component.title"),
    _Group("电子属性", (
        _Field("格式信息", "component.mime_type"),
        _Field("计算机文件名", "component.file_name"),
        _Field("计算机文件大小", "component.size_bytes"),
        _Field("文档创建程序", "detail.creating_application"),
    )),
    _Group("数字化属性", (
        _Field("数字化对象形态", "detail.digitization.form"),
        _Field("扫描分辨率", "detail.digitization.resolution_dpi"),
        _Field("扫描色彩模式", "detail.digitization.colour_mode"),
        _Field("图像压缩方案", "detail.digitization.compression"),
        _Field("数字化设备信息", "detail.digitization.device"),
    )),
    _Group("技术参数", (  # DA/T 54 and DA/T 63: what a photo or recording file says of itself
        _Field("类型", "media.kind"),
        _Field("水平像素", "media.width"),
        _Field("垂直像素", "media.height"),
        _Field("分辨率", "media.resolution_dpi"),
        _Field("色彩空间", "media.colour_mode"),
        _Field("时长", "media.duration_ms", _seconds),
        _Field("视频编码", "media.video_codec"),
        _Field("音频编码", "media.audio_codec"),
        _Field("帧率", "media.frame_rate"),
        _Field("采样率", "media.sample_rate_hz"),
        _Field("声道数", "media.channels"),
        _Field("比特率", "media.bit_rate"),
        _Field("设备", "media.device"),
        _Field("拍摄时间", "media.captured_at"),
    )),
    _Group("固定性信息", (
        _Field("摘要算法", "algorithm", _digest_name),
        _Field("摘要值", "value"),
    ), each="component.checksums"),
    _Group("电子签名", (  # the certificate's bytes stay out; its reference is enough to find it
        _Field("签名标识符", "signature_id"),
        _Field("签名规则", "rule"),
        _Field("签名时间", "time"),
        _Field("签名人", "signer"),
        _Field("签名结果", "result"),
        _Field("证书引证", "certificate_reference"),
        _Field("签名算法标识", "algorithm"),
    ), each="detail.signatures"),
)  # fmt: skip

_RECORD: tuple[_Row, ...] = (
    _Group("文件实体", (
        _Fixed("聚合层次", "文件"),
        _Group("来源", (
            _Field("档案馆代码", "archives_code"),
            _Field("全宗名称", "fonds_name"),
            _Field("立档单位名称", "agency.name"),
        )),
        _Field("电子文件号", "document_id"),
        _Group("档号", (
            _Attribute("值", "reference_code"),
            _Field("全宗号", "fonds_code"),
            _Field("门类代码", "category"),
            _Field("年度", "year"),
            _Field("保管期限", "retention_period"),
            _Field("机构或问题", "unit_code"),
            _Field("件号", "item_number", _item_number),
        )),
        _Group("内容描述", (
            _Field("题名", "description.title"),
            _Field("并列题名", "supplementary.parallel_title"),
            _Field("副题名", "supplementary.subtitle"),
            _Each("主题词", "supplementary.subject_terms"),
            _Each("关键词", "description.keywords"),
            _Field("摘要", "description.abstract"),
            _Field("分类号", "supplementary.classification_code"),
            _Field("文件编号", "description.document_number"),
            _Field("责任者", "description.responsible_party"),
            _Field("日期", "description.document_date"),
            _Field("文种", "description.document_type"),
            _Field("紧急程度", "description.urgency"),
            _Each("主送", "supplementary.primary_recipients"),
            _Each("抄送", "supplementary.copy_recipients"),
            _Field("密级", "description.security_classification"),
            _Field("保密期限", "supplementary.secrecy_term"),
            # 照片 (DA/T 54) and 录音录像 (DA/T 63) records' own elements
            _Field("摄影者", "media.creator"),
            _Field("拍摄时间", "media.captured_at"),
            _Field("拍摄地点", "media.place"),
            _Each("人物", "media.persons"),
            _Field("背景", "media.background"),
            _Field("照片号", "media.photo_number"),
            _Field("底片号", "media.negative_number"),
        )),
        _Group("形式特征", (
            _Fixed("件数", 1),  # a record is one 件 (item); its computer files are its 文档
            _Field("页数", "description.page_count"),
            _Field("语种", "description.language"),
            _Field("稿本", "supplementary.draft_state"),
        )),
        _Group("存储位置", (_Each("当前位置", "components", _location),)),
        _Group("权限管理", (
            _Field("权限声明", "supplementary.rights_statement"),
            _Each("控制标识", "supplementary.control_marks"),
        )),
        _Group("文档", _DOCUMENT, each=_documents),
    )),
    _Group("机构人员实体", (
        _Field("机构人员类型", "agent_type"),
        _Field("机构人员名称", "name"),
        _Field("组织机构代码", "organisation_code"),
        _Field("个人职位", "position"),
    ), each=_agents),
    _Group("业务实体", (
        _Field("业务状态", "status"),
        _Field("业务行为", "action"),
        _Field("行为时间", "time"),
        _Field("行为依据", "basis"),
        _Field("行为描述", "description"),
    ), each=_steps),
    _Group("实体关系", (
        _Field("关联标识", "related_id"),
        _Field("关系类型", "relation_type"),
        _Field("关系描述", "description"),
    ), each="relations"),
)  # fmt: skip


def record_xml(record: Mapping[str, Any]) -> bytes:
    """The record's metadata as XML with DA/T 46 element names, UTF-8, in a fixed order.

    `<电子文件>` holds the record entity `<文件实体>` (来源, 电子文件号, 档号 — its parts as child
    elements, the whole code in its `值` attribute —, 内容描述, 形式特征, 存储位置, one `<文档>` per
    component with 电子属性, 数字化属性, 固定性信息 and 电子签名), the agent entity `<机构人员实体>`
    (the producing agency, then any others the agency named), a business entity `<业务实体>` per
    step (the agency's history, then 归档 by the agency and 接收 by the archive) and an
    `<实体关系>` per relation to another record. Missing or None fields are left out; times are
    ISO 8601 in China Standard Time. The elements and their order are the table `_RECORD`.
    """
    # Settled before any element is written, so malformed file details or components fail first;
    # the table then reads the components in sequence order.
    details = {detail["sequence"]: detail for detail in record.get("file_details") or []}
    components = sorted(record.get("components") or [], key=lambda c: c["sequence"])
    root = ET.Element("电子文件")
    _write(root, _RECORD, {**record, "components": components, _DETAILS: details})
    _prune(root)
    return _serialize(root)


def _add(parent: ET.Element, tag: str, value: Any) -> None:
    if value is None or value == "":
        return
    ET.SubElement(parent, tag).text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _iso_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return XML_ILLEGAL.sub("\ufffd", str(value))


def _iso_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: archival times must carry their zone")
    return value.astimezone(CST).isoformat(timespec="milliseconds")


def _prune(element: ET.Element) -> None:
    """Drop containers left empty because everything in them was unknown."""
    for child in list(element):
        _prune(child)
        if len(child) == 0 and not child.text and not child.attrib:
            element.remove(child)


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# --- PREMIS events ---------------------------------------------------------------------------
def premis_xml(events: Iterable[Mapping[str, Any]], *, subject: str | None = None) -> bytes:
    """PREMIS 3.0 events from dicts `{"type", "time", "agent", "outcome", "detail"}`.

    `time` is an aware datetime (or an ISO 8601 string); `detail` and `agent` may be missing. An
    optional `id` names the event; otherwise events are numbered in the order given. With
    `subject` (the 档号) the document also describes the record as an intellectual entity, which
    every event links to, as the PREMIS schema wants at least one object.
    """
    ET.register_namespace("premis", PREMIS_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(_p("premis"), {"version": "3.0"})
    if subject is not None:
        entity = ET.SubElement(
            root, _p("object"), {f"{{{XSI_NS}}}type": "premis:intellectualEntity"}
        )
        _identifier(entity, "object", "档号", subject)
    for number, event in enumerate(events, start=1):
        element = ET.SubElement(root, _p("event"))
        _identifier(element, "event", "local", event.get("id") or f"event-{number:04d}")
        ET.SubElement(element, _p("eventType")).text = _text(event["type"])
        time = event["time"]
        ET.SubElement(element, _p("eventDateTime")).text = (
            _iso_time(time) if isinstance(time, dt.datetime) else _text(time)
        )
        if event.get("detail"):
            info = ET.SubElement(element, _p("eventDetailInformation"))
            ET.SubElement(info, _p("eventDetail")).text = _text(event["detail"])
        if event.get("outcome"):
            outcome = ET.SubElement(element, _p("eventOutcomeInformation"))
            ET.SubElement(outcome, _p("eventOutcome")).text = _text(event["outcome"])
        if event.get("agent"):
            _identifier(element, "linkingAgent", "local", event["agent"])
        if subject is not None:
            _identifier(element, "linkingObject", "档号", subject)
    return _serialize(root)


def _p(tag: str) -> str:
    return f"{{{PREMIS_NS}}}{tag}"


def _identifier(parent: ET.Element, kind: str, id_type: str, value: str) -> None:
    identifier = ET.SubElement(parent, _p(f"{kind}Identifier"))
    ET.SubElement(identifier, _p(f"{kind}IdentifierType")).text = _text(id_type)
    ET.SubElement(identifier, _p(f"{kind}IdentifierValue")).text = _text(value)


# --- a record's package ----------------------------------------------------------------------
def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, UTF-8 text, dates ISO 8601 (CST for times), bytes in base64."""
    text = json.dumps(
        json_ready(value, time=_iso_time), ensure_ascii=False, sort_keys=True, indent=2
    )
    return (text + "\n").encode()


def packaged_files(record: Mapping[str, Any]) -> list[PackagedFile]:
    """The bag's payload: one file per component, fetched from its archived object version."""
    files = []
    for component in sorted(record["components"], key=lambda c: c["sequence"]):
        payload = component["payload"]
        sha256 = next(
            (c["value"].lower() for c in component["checksums"] if c["algorithm"] == "SHA256"), None
        )
        if sha256 is None or not (payload.get("bucket") and payload.get("key")):
            raise ValueError(f"{component['file_name']}: needs a SHA-256 and an archived object")
        if not payload.get("version_id"):
            raise ValueError(f"{component['file_name']}: the archived object has no version id")
        files.append(PackagedFile(
            bag_path(component["sequence"], component["file_name"]),
            component["size_bytes"],
            sha256,
            s3_url(payload["bucket"], payload["key"], payload["version_id"]),
        ))  # fmt: skip
    return files


def package_record(
    record: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    check_report: Mapping[str, Any] | None = None,
) -> bytes:
    """The record's package: `package_tar` with the record's metadata as tag files.

    Deterministic in its arguments: Bagging-Date is the day of `archived_at` in China Standard
    Time, so the same record (including its `archived_at`) gives the same bytes.
    """
    code = record["reference_code"]
    tag_files = {
        "metadata/record.xml": record_xml(record),
        "metadata/record.json": canonical_json(record),
        "metadata/premis.xml": premis_xml(events, subject=code),
    }
    if check_report is not None:
        tag_files["metadata/check-report.json"] = canonical_json(check_report)
    bag_info = {
        "Source-Organization": record["agency"]["name"],
        "Bagging-Date": record["archived_at"].astimezone(CST).date().isoformat(),
        "External-Description": record["description"]["title"],
        "Internal-Sender-Identifier": record["document_id"],
    }
    return package_tar(code, packaged_files(record), tag_files, bag_info)
