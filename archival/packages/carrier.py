"""The 2012 offline-carrier layout (离线存储载体): a folder, or a zip of one, holding the catalogue
`文件目录.XML` (one entry per record, its columns as child elements) and the folder `电子档案/`
with the files each entry names.

    文件目录
      文件                 one record: 档号, 题名, 责任者, 日期 … (package_mappings.yaml)
        计算机文件名        a file under 电子档案/, once per file; optional attributes 大小 (bytes),
                           格式 (media type), SM3 and SHA256 (lower-case hex digests)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archival.filenames import safe_filename
from archival.packages.mapping import PackageMapping, apply
from archival.packages.model import Limits, PackageFile, PackageProblem, PackageRecord, ReadPackage
from archival.packages.safety import file_problems, inside, parse_xml


@dataclass(frozen=True)
class CarrierNames:
    """The names of the layout, in one place."""

    catalogue: str = "文件目录.XML"  # matched without regard to case: carriers write .xml too
    files_folder: str = "电子档案"
    entry: str = "文件"
    file_name: str = "计算机文件名"
    size: str = "大小"
    media_type: str = "格式"
    digests: tuple[str, ...] = ("SM3", "SHA256")


NAMES = CarrierNames()


def find_catalogue(folder: Path) -> Path | None:
    wanted = NAMES.catalogue.lower()
    return next((path for path in sorted(folder.iterdir())
                 if path.is_file() and path.name.lower() == wanted), None)  # fmt: skip


def read_carrier(folder: Path, catalogue: Path, package: ReadPackage, mapping: PackageMapping,
                 limits: Limits) -> None:  # fmt: skip
    """Fill `package` with a record per catalogue entry; a named file escaping the folder is
    refused (Refused from `inside`), a missing one is a problem of its record."""
    root = parse_xml(catalogue, limits)
    for number, entry in enumerate(root.iterfind(NAMES.entry), start=1):
        source_id = f"{catalogue.name}/{NAMES.entry}[{number}]"
        columns = [(child.tag, child.tag, child.text or "") for child in entry
                   if child.tag != NAMES.file_name]  # fmt: skip
        mapped = apply(mapping, "carrier-2012", columns)
        problems = list(mapped.problems)
        files = []
        for element in entry.iterfind(NAMES.file_name):
            named = (element.text or "").strip()
            where = f"{NAMES.files_folder}/{named}"
            path = inside(folder, where)
            if not named or not path.is_file():
                problems.append(PackageProblem("package-file-missing", f"{source_id}: {where}"))
                continue
            file = PackageFile(
                name=safe_filename(named), source=where, path=path, size=path.stat().st_size,
                media_type=element.get(NAMES.media_type),
                digests={name: element.get(name, "") for name in NAMES.digests if element.get(name)},
            )  # fmt: skip
            declared_size = element.get(NAMES.size)
            if declared_size is not None and declared_size != str(file.size):
                problems.append(PackageProblem(
                    "checksum-mismatch", f"{where}: {file.size} bytes, the catalogue says "
                    f"{declared_size}"
                ))  # fmt: skip
            problems.extend(file_problems(file, limits))
            files.append(file)
        package.records.append(PackageRecord(
            source_id=source_id, metadata=mapped.metadata, files=tuple(files),
            agency=mapped.record.get("agency"), fonds_code=mapped.record.get("fonds_code"),
            reference_code=mapped.record.get("reference_code"), note=mapped.note,
            problems=tuple(problems),
        ))  # fmt: skip
    if not package.records:
        package.problems.append(
            PackageProblem("package-unreadable", f"{catalogue.name} has no {NAMES.entry} entry")
        )
