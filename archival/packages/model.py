"""What reading an offline transfer package gives: a neutral model of its records, whatever the
format (DA/T 48 EEP, the 2012 offline-carrier layout, a BagIt bag), for the SDK to submit.

A package-level problem (unreadable, hostile, a broken package signature) fails the whole
package: `ReadPackage.ok` is false and nothing of it should be submitted. A record-level problem
fails that record only (`PackageRecord.ok`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from archival.checks import SignatureCheck

Kind = Literal["eep", "carrier-2012", "bagit"]

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Sizes a package may not exceed (package-too-large): per file, and for the whole package
    (its XML, its members unpacked, its payload)."""

    max_file_bytes: int = 512 * MIB
    max_package_bytes: int = 2048 * MIB


@dataclass(frozen=True)
class PackageProblem:
    """Why a package, or one record of it, cannot be submitted: a reason code of
    recordflow/reasons.yaml (stage `import`) and what was found, for the report."""

    reason: str
    detail: str


@dataclass(frozen=True)
class PackageFile:
    """One computer file of a record. `path` is on disk for the whole life of the ReadPackage:
    the package's own file for a folder, else a file unpacked (zip) or decoded (EEP's Base64)
    into the ReadPackage's working directory, so no file is ever held in memory."""

    name: str  # made safe with archival/filenames.py
    source: str  # where the package keeps it (a member path, or the EEP element), for reports
    path: Path
    size: int
    media_type: str | None = None  # as the package declares it (格式信息, a catalogue column …)
    digests: dict[str, str] = field(default_factory=dict)  # declared: SM3/SHA256 → lower hex

    def open(self) -> BinaryIO:
        return self.path.open("rb")


@dataclass(frozen=True)
class PackageRecord:
    """One record of a package, ready for `Submitter.submit(metadata, files)`."""

    source_id: str  # its place in the package, stable across readings of the same package
    metadata: dict[str, Any]  # exactly what `recordflow submit --metadata` takes
    files: tuple[PackageFile, ...] = ()
    agency: str | None = None  # the agency code, when the package says it
    fonds_code: str | None = None  # 全宗号, when the package says it
    reference_code: str | None = None  # 档号 as given (a legacy record keeps its own)
    note: dict[str, str] = field(default_factory=dict)  # elements nothing maps: path → value
    signature_checks: tuple[SignatureCheck, ...] = ()  # the package's, which cover this record
    problems: tuple[PackageProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ReadPackage:
    """One package as read. Use it as a context manager (or call `close`): the files unpacked or
    decoded for it live in `workdir` until then."""

    kind: Kind | None  # None: not even the kind could be told
    source: Path
    records: list[PackageRecord] = field(default_factory=list)
    problems: list[PackageProblem] = field(default_factory=list)
    signature_checks: list[SignatureCheck] = field(default_factory=list)
    # A modified EEP (修改型): the original package it wraps, read but never submitted.
    original: ReadPackage | None = None
    workdir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def close(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> ReadPackage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
