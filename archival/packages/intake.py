"""What importing a read package decides before anything is sent, and the report it leaves: the
package refused whole or not, each record refused or made into a submission (its document id,
its metadata), and the report rendered as JSON and as text. Pure: no Kafka, S3 or SDK; the
importer (connectors/package_import.py) fills in the outcomes. docs/design.md, "Package import".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archival.checks import SignatureCheck
from archival.packages.model import PackageProblem, PackageRecord, ReadPackage
from archival.reference import parse

CHUNK = 1 << 20
# An electronic record from a package is its own original: no paper twin.
ELECTRONIC = {"medium": "electronic"}
REJECTED = "rejected"  # a record refused here, before any submission


def package_identity(source: Path) -> str:
    """The SHA-256 of a package's content: a file's bytes, or a folder's files by their relative
    paths. Where the package lies does not count, so a package moved to in-progress/ or dropped
    again keeps its identity (and its records their derived document ids)."""
    digest = hashlib.sha256()
    if source.is_file():
        _hash_file(source, digest)
        return digest.hexdigest()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        _hash_file(path, digest)
    return digest.hexdigest()


def _hash_file(path: Path, digest: Any) -> None:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)


def document_id_for(identity: str, source_id: str) -> str:
    """A document id for a record that has none: the same package gives the same ids, so the SDK
    derives the same event ids and a re-import is the same submission."""
    return "PKG-" + hashlib.sha256(f"{identity}|{source_id}".encode()).hexdigest()[:24].upper()


def package_refusals(package: ReadPackage) -> list[PackageProblem]:
    """Why the whole package is refused: the reader's problems, and any signature that failed (the
    reader reports those too; checked again here because a package with one bad signature must
    never be half-imported). A digest-only signature is `not-checked`, not a failure."""
    problems = list(package.problems)
    failed = [check for check in package.signature_checks if check.result == "fail"]
    if failed and not any(p.reason == "package-signature-invalid" for p in problems):
        problems += [PackageProblem("package-signature-invalid", f"{c.signature_id}: {c.reason}")
                     for c in failed]  # fmt: skip
    return problems


def record_refusals(record: PackageRecord, agency: str, fonds_code: str) -> list[PackageProblem]:
    """Why one record is refused: the reader's problems, or a record that names another agency or
    fonds than the one importing it (its 立档单位代码, 全宗号 or the fonds of its 档号)."""
    problems = list(record.problems)
    if record.agency is not None and record.agency != agency:
        problems.append(PackageProblem(
            "package-agency-mismatch", f"the record names agency {record.agency}, not {agency}"
        ))  # fmt: skip
    fonds = {record.fonds_code} if record.fonds_code else set()
    if record.reference_code:
        # An unusual 档号 is the pipeline's to judge (it keeps legacy codes as given).
        with contextlib.suppress(ValueError):
            fonds.add(parse(record.reference_code)[0].fonds_code)
    for other in sorted(fonds - {fonds_code}):
        problems.append(PackageProblem(
            "package-agency-mismatch", f"the record is of fonds {other}, not {agency}'s {fonds_code}"
        ))  # fmt: skip
    return problems


def submission_metadata(record: PackageRecord, identity: str) -> dict[str, Any]:
    """The metadata the SDK takes for a record: the package's, a document id (its own, else
    derived), its legacy 档号 kept as `reference_code`, and its carrier."""
    metadata = dict(record.metadata)
    metadata.setdefault("document_id", document_id_for(identity, record.source_id))
    if record.reference_code:
        metadata["reference_code"] = record.reference_code
    metadata["carrier"] = dict(ELECTRONIC)
    return metadata


@dataclass
class RecordLine:
    """One record of the report: what became of it (an importer status, or rejected here)."""

    source_id: str
    status: str
    document_id: str | None = None
    reference_code: str | None = None
    event_id: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass
class PackageReport:
    package: str
    agency: str
    kind: str | None = None
    identity: str | None = None
    problems: list[PackageProblem] = field(default_factory=list)
    signature_checks: list[SignatureCheck] = field(default_factory=list)
    records: list[RecordLine] = field(default_factory=list)

    @property
    def read(self) -> bool:
        """The package was read and not refused whole (its records may still be refused)."""
        return not self.problems

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in self.records:
            counts[line.status] = counts.get(line.status, 0) + 1
        return dict(sorted(counts.items()))

    def as_json(self) -> dict[str, Any]:
        return {"package": self.package, "agency": self.agency, "kind": self.kind,
                "identity": self.identity, "read": self.read, "counts": self.counts(),
                "problems": [asdict(p) for p in self.problems],
                "signature_checks": [asdict(c) for c in self.signature_checks],
                "records": [asdict(line) for line in self.records]}  # fmt: skip

    def render_text(self) -> str:
        verdict = "read 已读取" if self.read else "refused 拒收"
        lines = [f"移交包 Package {self.package} ({self.kind or 'unknown kind'}), agency "
                 f"{self.agency}: {verdict}"]  # fmt: skip
        for problem in self.problems:
            lines.append(f"  package problem: {problem.reason}: {problem.detail}")
        for check in self.signature_checks:
            lines.append(f"  signature {check.signature_id}: {check.result}: {check.reason}")
        for line in self.records:
            said = f" {line.reason}" if line.reason else ""
            said += f": {line.detail}" if line.detail else ""
            code = f" 档号 {line.reference_code}" if line.reference_code else ""
            lines.append(f"  record {line.source_id} [{line.document_id or '-'}]{code}: "
                         f"{line.status}{said}")  # fmt: skip
        if self.records:
            lines.append("  " + ", ".join(f"{k}: {n}" for k, n in self.counts().items()))
        return "\n".join(lines) + "\n"

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """`<stem>.report.json` and `<stem>.report.txt` in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        as_json, as_text = folder / f"{stem}.report.json", folder / f"{stem}.report.txt"
        as_json.write_text(json.dumps(self.as_json(), ensure_ascii=False, indent=2) + "\n",
                           encoding="utf-8")  # fmt: skip
        as_text.write_text(self.render_text(), encoding="utf-8")
        return as_json, as_text
