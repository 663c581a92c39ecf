"""Read one offline transfer package, whatever its format: tell the kind, unpack a zip, refuse
what is hostile, and hand the folder or file to the format's reader."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import bagit

from archival.packages.bag import is_bag, read_bag
from archival.packages.carrier import find_catalogue, read_carrier
from archival.packages.eep import is_eep, read_eep
from archival.packages.mapping import PackageMapping, default_mapping
from archival.packages.model import Limits, PackageProblem, ReadPackage
from archival.packages.safety import Refused, check_tree, parse_xml, unpack_zip

WORKDIR_PREFIX = "recordflow-package-"


def read_package(source: Path, limits: Limits | None = None,
                 mapping: PackageMapping | None = None,
                 temp_root: Path | None = None) -> ReadPackage:  # fmt: skip
    """The package at `source`: a DA/T 48 EEP (an .xml file), a 2012 offline carrier or a BagIt
    bag (a folder, or a zip of one). Never raises on what the package holds: whatever is wrong is
    in `problems` (the package's, or a record's). Close the result (it is a context manager):
    files unpacked or decoded for it live under `temp_root` (the system's temp folder) until
    then."""
    limits = limits or Limits()
    mapping = mapping or default_mapping()
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=temp_root))
    package = ReadPackage(kind=None, source=source, workdir=workdir)
    try:
        _read(source, package, mapping, limits)
    except Refused as exc:
        package.problems.append(exc.problem)
    except (OSError, bagit.BagError) as exc:
        package.problems.append(
            PackageProblem("package-unreadable", f"{type(exc).__name__}: {exc}")
        )
    return package


def _read(source: Path, package: ReadPackage, mapping: PackageMapping, limits: Limits) -> None:
    if source.is_symlink():
        raise Refused(PackageProblem("package-path-escape", f"{source} is a symbolic link"))
    if source.is_file() and zipfile.is_zipfile(source):
        assert package.workdir is not None
        unpacked = package.workdir / "unpacked"
        unpacked.mkdir()
        unpack_zip(source, unpacked, limits)
        _read_folder(_top_folder(unpacked), package, mapping, limits)
    elif source.is_file():
        root = parse_xml(source, limits)
        if not is_eep(root):
            raise Refused(PackageProblem(
                "package-unreadable", f"{source.name}: an XML file, but not a DA/T 48 package "
                f"(its root is {root.tag!r})"
            ))  # fmt: skip
        package.kind = "eep"
        read_eep(root, package, mapping, limits)
    elif source.is_dir():
        _read_folder(source, package, mapping, limits)
    else:
        raise Refused(PackageProblem("package-unreadable", f"{source}: no such file or folder"))


def _read_folder(folder: Path, package: ReadPackage, mapping: PackageMapping,
                 limits: Limits) -> None:  # fmt: skip
    check_tree(folder, limits)
    if is_bag(folder):
        package.kind = "bagit"
        read_bag(folder, package, mapping, limits)
    elif (catalogue := find_catalogue(folder)) is not None:
        package.kind = "carrier-2012"
        read_carrier(folder, catalogue, package, mapping, limits)
    else:
        raise Refused(PackageProblem(
            "package-unreadable", f"{folder.name}: neither a bag (bagit.txt) nor a carrier "
            "(文件目录.XML)"
        ))  # fmt: skip


def _top_folder(unpacked: Path) -> Path:
    """A zip often holds the package's folder rather than its contents: go into a lone folder."""
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked
