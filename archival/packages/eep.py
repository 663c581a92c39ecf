"""DA/T 48-2009 electronic-record packages (EEP, 电子文件封装包): one XML file holding records'
DA/T 46 metadata and their files as Base64 (编码数据), signed.

    电子文件封装包
      被签名对象            what the signatures cover
        封装包类型          原始型, or 修改型: 封装内容 then holds 修改封装内容 (the latest) and
                            原封装包 (the original package, whole, with its own signatures)
        封装内容 → 文件实体块 / 业务实体块 / 机构人员实体块
      电子签名块 → 电子签名  each over the canonical bytes of 被签名对象
      锁定签名              over the canonical bytes of 被签名对象 then of 电子签名块

The canonical bytes are the element's XML Canonicalization 2.0 (W3C C14N 2.0, without comments),
UTF-8: the standard leaves the form to the signing rule (签名规则), and C14N is the one form that
does not depend on how the file was indented or which encoding it was written in.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archival.checks import FAIL, NOT_CHECKED, SignatureCheck
from archival.filenames import safe_filename
from archival.packages.mapping import PackageMapping, apply
from archival.packages.model import Limits, PackageFile, PackageProblem, PackageRecord, ReadPackage
from archival.packages.safety import file_problems
from archival.signatures import algorithm, check_signature

CST = dt.timezone(dt.timedelta(hours=8), "CST")  # a time without a zone is the archives' own
BASE64_SLICE = 4 * 65536  # characters decoded at a time: a multiple of 4, so slices align
DIGEST_ONLY = {"SM3": "sm3", "SHA256": "sha256", "SHA1": "sha1", "MD5": "md5"}


@dataclass(frozen=True)
class EepNames:
    """The DA/T 48 / DA/T 46 element names the reader looks for, in one place."""

    package: str = "电子文件封装包"
    signed_object: str = "被签名对象"
    package_type: str = "封装包类型"
    modified_type: str = "修改型"
    created: str = "封装包创建时间"
    creator: str = "封装包创建单位"
    content: str = "封装内容"
    modified_content: str = "修改封装内容"
    original_package: str = "原封装包"
    record_block: str = "文件实体块"
    record: str = "文件实体"
    business_block: str = "业务实体块"
    business: str = "业务实体"
    agent_block: str = "机构人员实体块"
    agent: str = "机构人员实体"
    document: str = "文档"
    main_flag: str = "文档主从声明"
    file_name: str = "计算机文件名"
    file_size: str = "计算机文件大小"
    file_format: str = "格式信息"
    encoded_data: str = "编码数据"
    signature_block: str = "电子签名块"
    signature: str = "电子签名"
    lock_signature: str = "锁定签名"
    signature_id: str = "签名标识符"
    locked_id: str = "被锁定签名标识符"
    rule: str = "签名规则"
    time: str = "签名时间"
    signer: str = "签名人"
    result: str = "签名结果"
    certificate: str = "证书"
    certificate_reference: str = "证书引证"
    algorithm: str = "签名算法标识"


NAMES = EepNames()
# 业务实体 and 机构人员实体 elements → the fields of the event's history and agents (DA/T 46).
HISTORY_FIELDS = {"业务行为": "action", "行为时间": "time", "业务状态": "status",
                  "行为依据": "basis", "行为描述": "description"}  # fmt: skip
AGENT_FIELDS = {"机构人员类型": "agent_type", "机构人员名称": "name",
                "组织机构代码": "organisation_code", "个人职位": "position"}  # fmt: skip


def is_eep(root: ET.Element) -> bool:
    return root.tag == NAMES.package


def read_eep(root: ET.Element, package: ReadPackage, mapping: PackageMapping,
             limits: Limits, decode: bool = True) -> None:  # fmt: skip
    """Fill `package` from the EEP `root`: its records (files decoded into package.workdir when
    `decode`), its signature checks and its problems."""
    signed = root.find(NAMES.signed_object)
    content = signed.find(NAMES.content) if signed is not None else None
    if signed is None or content is None:
        package.problems.append(PackageProblem(
            "package-unreadable", f"no {NAMES.signed_object}/{NAMES.content} in the package"
        ))  # fmt: skip
        return
    package.signature_checks.extend(_signature_checks(root, signed, package))
    prefix = ""
    if _text(signed, NAMES.package_type) == NAMES.modified_type:
        original_root = content.find(f"{NAMES.original_package}/{NAMES.package}")
        latest = content.find(NAMES.modified_content)
        if original_root is None or latest is None:
            package.problems.append(PackageProblem("package-unreadable", (
                f"a {NAMES.modified_type} package without {NAMES.modified_content} and "
                f"{NAMES.original_package}/{NAMES.package}"
            )))  # fmt: skip
            return
        package.original = ReadPackage("eep", package.source, workdir=None)
        read_eep(original_root, package.original, mapping, limits, decode=False)
        for problem in package.original.problems:  # the original is part of what was sent
            package.problems.append(PackageProblem(
                problem.reason, f"{NAMES.original_package}: {problem.detail}"
            ))  # fmt: skip
        content, prefix = latest, f"{NAMES.modified_content}/"
    context = _package_context(content, signed)
    records = content.findall(f"{NAMES.record_block}/{NAMES.record}")
    for number, element in enumerate(records, start=1):
        source_id = f"{prefix}{NAMES.record_block}/{NAMES.record}[{number}]"
        package.records.append(_record(element, source_id, package, mapping, limits, decode,
                                       context))  # fmt: skip


def _package_context(content: ET.Element, signed: ET.Element) -> dict[str, Any]:
    """What the package says once for all its records: the history and agents (DA/T 46 业务实体,
    机构人员实体), and the package's own creation, noted with each record."""
    history = []
    for business in content.iterfind(f"{NAMES.business_block}/{NAMES.business}"):
        step = _fields(business, HISTORY_FIELDS)
        if "time" in step:
            step["time"] = _iso_time(step["time"]) or step.pop("time")
        if "action" in step:
            history.append(step)
    agents = [
        agent for element in content.iterfind(f"{NAMES.agent_block}/{NAMES.agent}")
        if {"agent_type", "name"} <= (agent := _fields(element, AGENT_FIELDS)).keys()
    ]  # fmt: skip
    created = " ".join(filter(None, (_text(signed, NAMES.created), _text(signed, NAMES.creator))))
    return {"history": history, "agents": agents, "created": created}


def _fields(element: ET.Element, names: dict[str, str]) -> dict[str, str]:
    return {names[child.tag]: (child.text or "").strip() for child in element
            if child.tag in names and (child.text or "").strip()}  # fmt: skip


def _iso_time(text: str) -> str | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=CST)).isoformat()


def _record(element: ET.Element, source_id: str, package: ReadPackage, mapping: PackageMapping,
            limits: Limits, decode: bool, context: dict[str, Any]) -> PackageRecord:  # fmt: skip
    mapped = apply(mapping, "eep", _leaves(element))
    problems = list(mapped.problems)
    files: list[PackageFile] = []
    for number, document in enumerate(element.iter(NAMES.document), start=1):
        where = f"{source_id}/{NAMES.document}[{number}]"
        if not decode:
            continue
        file, problem = _decode(document, where, package, limits)
        if problem is not None:
            problems.append(problem)
        elif file is not None:
            files.append(file)
            problems.extend(file_problems(file, limits))
    metadata = mapped.metadata
    for name in ("history", "agents"):
        if context[name]:
            metadata[name] = context[name]
    note = mapped.note
    if context["created"]:
        note[NAMES.created] = context["created"]
    if package.original is not None:
        ids = [record.metadata.get("document_id") for record in package.original.records]
        note[NAMES.original_package] = (
            f"修改型: replaces the original package's records {', '.join(map(str, ids))}"
        )
    return PackageRecord(
        source_id=source_id, metadata=metadata, files=tuple(files),
        agency=mapped.record.get("agency"), fonds_code=mapped.record.get("fonds_code"),
        reference_code=mapped.record.get("reference_code"), note=note,
        signature_checks=tuple(package.signature_checks), problems=tuple(problems),
    )  # fmt: skip


def _leaves(record: ET.Element) -> Iterator[tuple[str, str, str]]:
    """(place, name, text) of each element under 文件实体 with text of its own, through the
    DA/T 46 containers; not into 文档 or 电子签名 (read as files and signatures), nor a nested
    文件实体, which is noted as such."""
    stack: list[tuple[str, ET.Element]] = [("", child) for child in reversed(record)]
    while stack:
        parent, element = stack.pop()
        place = f"{parent}{element.tag}"
        if element.tag in (NAMES.document, NAMES.signature):
            continue
        if element.tag == NAMES.record:
            yield place, element.tag, "a nested record, not read on its own"
            continue
        if (element.text or "").strip():
            yield place, element.tag, element.text or ""
        stack.extend((f"{place}/", child) for child in reversed(element))


def _decode(document: ET.Element, where: str, package: ReadPackage,
            limits: Limits) -> tuple[PackageFile | None, PackageProblem | None]:  # fmt: skip
    """The 文档's 编码数据 decoded, slice by slice, into a file of the package's workdir."""
    data = next(document.iter(NAMES.encoded_data), None)
    if data is None or not (data.text or "").strip():
        return None, PackageProblem("package-file-missing", f"{where}: no {NAMES.encoded_data}")
    encoded = "".join((data.text or "").split())
    if len(encoded) // 4 * 3 > limits.max_file_bytes:
        return None, PackageProblem(
            "package-too-large", f"{where}: about {len(encoded) // 4 * 3} bytes decoded, "
            f"over {limits.max_file_bytes}"
        )  # fmt: skip
    name = safe_filename(_deep_text(document, NAMES.file_name) or where.rsplit("/", 1)[-1])
    assert package.workdir is not None, "read_eep decodes only into a package's workdir"
    handle, target = tempfile.mkstemp(dir=package.workdir, suffix=f"-{name}")
    path = Path(target)
    try:
        with open(handle, "wb") as sink:
            for start in range(0, len(encoded), BASE64_SLICE):
                sink.write(base64.b64decode(encoded[start : start + BASE64_SLICE], validate=True))
    except (binascii.Error, ValueError) as exc:
        return None, PackageProblem(
            "package-file-missing", f"{where}: {NAMES.encoded_data} is not Base64 ({exc})"
        )  # fmt: skip
    size = path.stat().st_size
    declared = _deep_text(document, NAMES.file_size)
    if declared and declared.isdigit() and int(declared) != size:
        return None, PackageProblem(
            "checksum-mismatch", f"{where}: {size} bytes decoded, {NAMES.file_size} says {declared}"
        )  # fmt: skip
    declared_format = _deep_text(document, NAMES.file_format)
    return PackageFile(
        name=name, source=where, path=path, size=size,
        media_type=declared_format if declared_format and "/" in declared_format else None,
    ), None  # fmt: skip


# --- signatures ------------------------------------------------------------------------------
def canonical_chunks(*elements: ET.Element) -> Iterator[bytes]:
    """The C14N 2.0 form of each element in turn, UTF-8, in pieces (walked, not re-parsed, and
    without recursion: a deep package cannot exhaust the stack)."""
    out: list[str] = []
    for element in elements:
        target = ET.C14NWriterTarget(out.append)
        stack: list[tuple[ET.Element, bool]] = [(element, False)]
        while stack:
            node, closing = stack.pop()
            if closing:
                target.end(node.tag)
                if node is not element and node.tail:
                    target.data(node.tail)
            else:
                target.start(node.tag, dict(node.attrib))
                if node.text:
                    target.data(node.text)
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node))
            if len(out) > 1024:
                yield "".join(out).encode("utf-8")
                out.clear()
    yield "".join(out).encode("utf-8")


def _signature_checks(root: ET.Element, signed: ET.Element,
                      package: ReadPackage) -> list[SignatureCheck]:  # fmt: skip
    """Verify each 电子签名 over 被签名对象, and the 锁定签名 over 被签名对象 + 电子签名块. A
    failure is also a package problem (package-signature-invalid): the signature covers it all."""
    block = root.find(NAMES.signature_block)
    covered: list[tuple[ET.Element, tuple[ET.Element, ...]]] = [
        (signature, (signed,)) for signature in (block if block is not None else [])
        if signature.tag == NAMES.signature
    ]  # fmt: skip
    lock = root.find(NAMES.lock_signature)
    if lock is not None:
        covered.append((lock, (signed, block) if block is not None else (signed,)))
    checks = []
    for signature, elements in covered:
        check = _check(signature, elements, package)
        checks.append(check)
        if check.result == FAIL:
            package.problems.append(PackageProblem(
                "package-signature-invalid", f"{check.signature_id}: {check.reason}"
            ))  # fmt: skip
    return checks


def _check(signature: ET.Element, elements: tuple[ET.Element, ...],
           package: ReadPackage) -> SignatureCheck:  # fmt: skip
    if signature.tag == NAMES.lock_signature:
        sid = f"{NAMES.lock_signature}:{_text(signature, NAMES.locked_id) or ''}"
    else:
        sid = _text(signature, NAMES.signature_id) or NAMES.signature
    named = _text(signature, NAMES.algorithm)
    value = _text(signature, NAMES.result) or ""
    hash_name = DIGEST_ONLY.get(re.sub(r"[^A-Z0-9]", "", (named or "").upper()))
    if algorithm(named) is None and hash_name is not None:
        return _digest_only(sid, hash_name, value, elements)
    certificate_text = _deep_text(signature, NAMES.certificate)
    try:
        certificate = (
            base64.b64decode(certificate_text, validate=True) if certificate_text else None
        )
    except (binascii.Error, ValueError):
        return SignatureCheck(sid, FAIL, f"{NAMES.certificate} is not Base64")
    time_text = _text(signature, NAMES.time)
    iso = _iso_time(time_text) if time_text else None
    workdir = package.workdir or Path(tempfile.gettempdir())
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".c14n") as canonical:
        for chunk in canonical_chunks(*elements):
            canonical.write(chunk)
        canonical.flush()
        return check_signature({
            "signature_id": sid, "algorithm": named, "certificate": certificate,
            "certificate_reference": _deep_text(signature, NAMES.certificate_reference),
            "result": value, "time": dt.datetime.fromisoformat(iso) if iso else None,
        }, Path(canonical.name))  # fmt: skip


def _digest_only(sid: str, hash_name: str, value: str,
                 elements: tuple[ET.Element, ...]) -> SignatureCheck:  # fmt: skip
    """A "signature" that is only a digest proves no signer: never pass. It is compared all the
    same, and one that does not match is a failure (the signed object changed)."""
    digest = hashlib.new(hash_name)
    for chunk in canonical_chunks(*elements):
        digest.update(chunk)
    given = value.strip()
    matches = (
        given.lower() == digest.hexdigest() or given == base64.b64encode(digest.digest()).decode()
    )
    if not matches:
        return SignatureCheck(sid, FAIL, f"{hash_name.upper()} digest given as the signature "
                              "does not match the signed object 摘要不符")  # fmt: skip
    return SignatureCheck(sid, NOT_CHECKED, (
        f"the package's signature is only an {hash_name.upper()} digest of the signed object "
        "(it matches, but proves no signer) 仅有摘要，无签名"
    ))  # fmt: skip


def _text(element: ET.Element, name: str) -> str | None:
    child = element.find(name)
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _deep_text(element: ET.Element, name: str) -> str | None:
    child = next(element.iter(name), None)
    text = (child.text or "").strip() if child is not None else ""
    return text or None
