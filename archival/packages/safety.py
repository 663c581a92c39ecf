"""Reading what an agency's system wrote without trusting it: XML without entities (no billion
laughs, no external entities: defusedxml), paths that stay inside the package, members and files
within the size limits, digests computed while copying. Each refusal is a PackageProblem."""

from __future__ import annotations

import hashlib
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

import defusedxml
import defusedxml.ElementTree as SafeET

from archival.packages.model import Limits, PackageFile, PackageProblem

CHUNK = 1 << 20
DIGESTS = ("SHA256", "SM3")  # what a declared digest may be, by hashlib name in capitals
HASHLIB_NAMES = {"SHA256": "sha256", "SM3": "sm3"}
# expat reads these itself; any other declared encoding (GB2312, GBK, GB18030, which the 2012
# carriers' catalogues use) is decoded by Python first, as expat reads no multi-byte codec.
EXPAT_ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii",
                             "iso-8859-1", "latin-1", "latin1"})  # fmt: skip
DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)[\"'][^>]*\?>")
S_IFLNK_BITS = 16  # a zip member's Unix mode sits in the high 16 bits of external_attr


class Refused(Exception):
    """Internal: a check refused the package; carries the problem. Never leaves the reader."""

    def __init__(self, problem: PackageProblem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def parse_xml(path: Path, limits: Limits) -> ET.Element:
    """The root element of the XML file at `path`. Refused: larger than the package limit
    (package-too-large), a DTD entity or external reference (package-hostile-xml), not
    well-formed or not decodable (package-unreadable)."""
    size = path.stat().st_size
    if size > limits.max_package_bytes:
        raise Refused(PackageProblem(
            "package-too-large", f"{path.name}: {size} bytes, over {limits.max_package_bytes}"
        ))  # fmt: skip
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
        declared = DECLARATION.match(head)
        encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
        if encoding in EXPAT_ENCODINGS:
            return SafeET.parse(str(path)).getroot()
        text = path.read_bytes()[declared.end() if declared else 0 :].decode(encoding)
        return SafeET.fromstring(text)
    except defusedxml.DefusedXmlException as exc:
        raise Refused(PackageProblem(
            "package-hostile-xml", f"{path.name}: {type(exc).__name__}: {exc}"
        )) from exc  # fmt: skip
    except (ET.ParseError, LookupError, UnicodeDecodeError) as exc:
        raise Refused(
            PackageProblem("package-unreadable", f"{path.name} is not readable XML: {exc}")
        ) from exc


def inside(root: Path, relative: str) -> Path:
    """`relative` (as a package names it) under `root`; refused (package-path-escape) when it is
    absolute, climbs out with `..`, or resolves outside through a symbolic link."""
    parts = PurePosixPath(relative.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or re.match(r"^[A-Za-z]:", relative):
        raise Refused(PackageProblem("package-path-escape", f"{relative!r} leaves the package"))
    path = root / parts
    if not path.resolve().is_relative_to(root.resolve()):
        raise Refused(PackageProblem(
            "package-path-escape", f"{relative!r} leads outside the package through a link"
        ))  # fmt: skip
    return path


def check_tree(root: Path, limits: Limits) -> None:
    """Every file under the folder `root` stays inside it and the whole is within the package
    limit (links pointing outside are refused, whatever names them)."""
    total = 0
    for path in sorted(root.rglob("*")):
        inside(root, path.relative_to(root).as_posix())
        if path.is_file():
            total += path.stat().st_size
    if total > limits.max_package_bytes:
        raise Refused(PackageProblem(
            "package-too-large", f"{total} bytes, over {limits.max_package_bytes}"
        ))  # fmt: skip


def unpack_zip(archive: Path, into: Path, limits: Limits) -> None:
    """Unpack `archive` into the empty folder `into`, refusing members that would land outside
    it or are links, and counting the bytes written (a member's declared size can lie)."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:
                inside(into, member.filename)
                if stat.S_ISLNK(member.external_attr >> S_IFLNK_BITS):
                    raise Refused(PackageProblem(
                        "package-path-escape", f"{member.filename!r} is a symbolic link"
                    ))  # fmt: skip
            total = 0
            for member in members:
                target = into / member.filename
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, target.open("wb") as sink:
                    total += _copy_limited(source, sink, member.filename, limits, total)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise Refused(
            PackageProblem("package-unreadable", f"{archive.name} is not a readable zip: {exc}")
        ) from exc


def _copy_limited(source: IO[bytes], sink: IO[bytes], name: str, limits: Limits,
                  before: int) -> int:  # fmt: skip
    written = 0
    while chunk := source.read(CHUNK):
        written += len(chunk)
        if written > limits.max_file_bytes or before + written > limits.max_package_bytes:
            raise Refused(PackageProblem(
                "package-too-large", f"{name}: unpacked, over the limits "
                f"({limits.max_file_bytes} a file, {limits.max_package_bytes} the package)"
            ))  # fmt: skip
        sink.write(chunk)
    return written


def digests_of(path: Path, algorithms: Iterable[str] = DIGESTS) -> dict[str, str]:
    """The file's digests (lower hex), streamed, by algorithm name in capitals."""
    hashers = {name: hashlib.new(HASHLIB_NAMES[name]) for name in algorithms}
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def file_problems(file: PackageFile, limits: Limits) -> list[PackageProblem]:
    """A record's file over the file limit (package-too-large), or not the bytes its declared
    digests say (checksum-mismatch): problems of that record only."""
    if file.size > limits.max_file_bytes:
        return [PackageProblem(
            "package-too-large", f"{file.source}: {file.size} bytes, over {limits.max_file_bytes}"
        )]  # fmt: skip
    declared = {name.upper(): value.lower() for name, value in file.digests.items()}
    known = [name for name in declared if name in HASHLIB_NAMES]
    actual = digests_of(file.path, known) if known else {}
    return [
        PackageProblem("checksum-mismatch", f"{file.source}: {name} is {actual[name]}, "
                       f"the package declares {declared[name]}")
        for name in known if actual[name] != declared[name]
    ]  # fmt: skip
