"""BagIt bags (RFC 8493) as transfer packages: one bag is one record. Its payload files are the
record's files, its manifests are verified (a digest that does not match: checksum-mismatch),
and its metadata comes from bag-info.txt (labels in package_mappings.yaml) and, over those, from
`metadata/metadata.json` when the bag has it (already in the `recordflow submit` form)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit

from archival.filenames import safe_filename
from archival.packages.mapping import METADATA_FIELDS, RECORD_FIELDS, PackageMapping, apply
from archival.packages.model import Limits, PackageFile, PackageProblem, PackageRecord, ReadPackage
from archival.packages.safety import Refused, file_problems, inside

# The structured DA/T 46 fields of the submit form, taken from the metadata file as they are.
STRUCTURED_FIELDS = frozenset({"supplementary", "file_details", "history", "agents", "relations",
                               "absent_elements"})  # fmt: skip
SOURCE_ID = "bag"  # the one record is the whole bag


@dataclass(frozen=True)
class BagNames:
    declaration: str = "bagit.txt"
    info: str = "bag-info.txt"
    metadata_file: str = "metadata/metadata.json"


NAMES = BagNames()


def is_bag(folder: Path) -> bool:
    return (folder / NAMES.declaration).is_file()


def read_bag(folder: Path, package: ReadPackage, mapping: PackageMapping, limits: Limits) -> None:
    bag = bagit.Bag(str(folder))
    problems = _validation_problems(bag)
    found = [
        (f"{NAMES.info}/{label}" + (f"[{n}]" if n else ""), label, str(value))
        for label, values in sorted(bag.info.items())
        for n, value in enumerate(values if isinstance(values, list) else [values])
    ]  # fmt: skip
    mapped = apply(mapping, "bagit", found)
    metadata, record, note = mapped.metadata, mapped.record, mapped.note
    problems.extend(mapped.problems)
    given = _metadata_file(folder, limits)
    for name, value in given.items():
        if name in METADATA_FIELDS or name in STRUCTURED_FIELDS:
            metadata[name] = value
        elif name in RECORD_FIELDS and isinstance(value, str):
            record[name] = value
        else:
            note[f"{NAMES.metadata_file}/{name}"] = json.dumps(value, ensure_ascii=False)
    files = []
    for relative in sorted(bag.payload_files()):
        path = inside(folder, relative)
        digests = {algorithm.upper(): value for algorithm, value in bag.entries[relative].items()}
        file = PackageFile(name=safe_filename(relative), source=relative, path=path,
                           size=path.stat().st_size, digests=digests)  # fmt: skip
        problems.extend(problem for problem in file_problems(file, limits)
                        if problem.reason != "checksum-mismatch")  # bagit's own says it  # fmt: skip
        files.append(file)
    package.records.append(PackageRecord(
        source_id=SOURCE_ID, metadata=metadata, files=tuple(files), agency=record.get("agency"),
        fonds_code=record.get("fonds_code"), reference_code=record.get("reference_code"),
        note=note, problems=tuple(problems),
    ))  # fmt: skip


def _validation_problems(bag: bagit.Bag) -> list[PackageProblem]:
    """The bag's manifests against its payload: a mismatched digest or size is checksum-mismatch,
    a file the manifest names and the bag lacks is package-file-missing."""
    try:
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        details = exc.details or []
        problems = [
            PackageProblem("package-file-missing", str(detail))
            if isinstance(detail, bagit.FileMissing)
            else PackageProblem("checksum-mismatch", str(detail))
            for detail in details
        ]  # fmt: skip
        return problems or [PackageProblem("checksum-mismatch", str(exc))]
    return []


def _metadata_file(folder: Path, limits: Limits) -> dict[str, Any]:
    path = inside(folder, NAMES.metadata_file)
    if not path.is_file():
        return {}
    if path.stat().st_size > limits.max_file_bytes:
        raise Refused(PackageProblem(
            "package-too-large", f"{NAMES.metadata_file}: over {limits.max_file_bytes} bytes"
        ))  # fmt: skip
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(PackageProblem(
            "package-unreadable", f"{NAMES.metadata_file} is not JSON: {exc}"
        )) from exc  # fmt: skip
    if not isinstance(data, dict):
        raise Refused(
            PackageProblem("package-unreadable", f"{NAMES.metadata_file} is not a JSON object")
        )
    return data
