"""Importing one offline transfer package for one agency: read it (archival/packages/), refuse it
whole or record by record, submit the rest through the outbox (connectors/importer.py) and report
what became of every record. What `recordflow import packages` and the drop watcher
(connectors/drops.py) both call."""

from __future__ import annotations

from pathlib import Path

from archival.packages import Limits, load_mapping, read_package
from archival.packages.intake import (
    REJECTED,
    PackageReport,
    RecordLine,
    package_identity,
    package_refusals,
    record_refusals,
    submission_metadata,
)
from connectors.importer import OUTCOME_TIMEOUT_S, ImportItem, import_items
from connectors.outbox import Outbox
from recordflow.agencies import Agency
from recordflow.settings import Settings


def import_package(settings: Settings, source: Path, agency: Agency, outbox: Outbox, *,
                   name: str | None = None, timeout_s: float = OUTCOME_TIMEOUT_S) -> PackageReport:  # fmt: skip
    """Import the package at `source` as `agency`'s; `name` is what the report calls it (the
    drop's name, when `source` is a copy). Never raises on what the package holds."""
    report = PackageReport(package=name or source.name, agency=agency.code)
    limits = Limits(max_file_bytes=settings.max_file_bytes)
    with read_package(source, limits, load_mapping(settings.package_mappings_file)) as package:
        report.kind, report.signature_checks = package.kind, list(package.signature_checks)
        report.problems = package_refusals(package)
        if not report.read:
            return report
        report.identity = package_identity(source)
        items: list[ImportItem] = []
        for record in package.records:
            metadata = submission_metadata(record, report.identity)
            line = RecordLine(record.source_id, REJECTED, metadata["document_id"],
                              record.reference_code)  # fmt: skip
            report.records.append(line)
            if refusals := record_refusals(record, agency.code, agency.fonds_code):
                line.reason, line.detail = (
                    refusals[0].reason,
                    "; ".join(f"{p.reason}: {p.detail}" for p in refusals),
                )
                continue
            files = [file.path for file in record.files]
            items.append(ImportItem(record.source_id, agency.code, metadata, files,
                                    size=sum(file.size for file in record.files)))  # fmt: skip
        if items:  # the files live in the package's workdir: submit before it is closed
            results = {r.key: r for r in import_items(settings, items, outbox, timeout_s=timeout_s)}
            for line in report.records:
                if (result := results.get(line.source_id)) is not None:
                    line.status, line.event_id = result.status, result.event_id
                    line.reason, line.detail = result.reason, result.detail
                    line.reference_code = result.reference_code or line.reference_code
    return report
