"""What the register stage learns about a received record before and after storing it: each file's
format and virus scan, the four-property check (DA/T 70, stage YJ), and the provenance events
(PREMIS) that go into the record and its package. Pure functions over what was fetched, except
`inspect`, which reads the local copy of a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from archival.checks import (
    PASS,
    VERDICT_FLAGGED,
    CheckReport,
    ComponentEvidence,
    Evidence,
    ScanResult,
    SignatureCheck,
)
from archival.formats import FormatInfo, FormatRegistry, identify
from archival.media import MEDIA_KINDS, MediaUnreadable, read_media
from archival.reference import category_of
from archival.signatures import check_signature
from avro_schemas.records import (
    CheckSummary,
    Component,
    ComponentFormat,
    DocumentLifecycleEvent,
    ElectronicSignature,
    MediaFile,
    PreservationEvent,
)
from connectors.clamd import ClamdClient
from connectors.failures import ScannerUnavailable
from connectors.storage import Fetched

UNREADABLE = "unreadable"  # archival.formats' problem code for content that does not open
REGISTER_AGENT = "recordflow.register"
INTAKE_AGENT = "recordflow.intake"


@dataclass(frozen=True)
class Inspected:
    """One received file: its bytes (spooled locally, digests known), format, scan and the
    verification of the signatures on it."""

    component: Component
    fetched: Fetched
    format: FormatInfo
    scan: ScanResult | None
    signatures: tuple[SignatureCheck, ...] = ()
    media: MediaFile | None = None  # a photo's or recording's technical properties


def inspect(event: DocumentLifecycleEvent, component: Component, fetched: Fetched,
            scanner: ClamdClient | None, formats: FormatRegistry, *,
            media_kinds: tuple[str, ...] = ()) -> Inspected:  # fmt: skip
    """Identify the file's format, scan it and verify its signatures, from the local copy made
    while fetching; for a file of one of `media_kinds` (image, audio, video: a photo's or
    recording's), read its technical properties too."""
    info = identify(fetched.path, component["file_name"], component["mime_type"], registry=formats)
    if "compression-bomb" in info.problems:
        return Inspected(component, fetched, info, None)  # refused: nothing else may expand it
    media = None
    if info.category in media_kinds and info.category in MEDIA_KINDS:
        try:
            media = read_media(fetched.path, info.category, component["sequence"])
        except MediaUnreadable as exc:  # fails DA/T 70 YJ-3-2 (content opens), with the reason
            info = replace(info, problems=(*info.problems, UNREADABLE),
                           technical={**info.technical, UNREADABLE: str(exc)})  # fmt: skip
    scan = None
    if scanner is not None:
        with fetched.path.open("rb") as content:
            scan = scanner.scan(content, fetched.digests.size)
        if scan.unavailable:  # configured, so never archived unscanned: waited out instead
            raise ScannerUnavailable(scan.detail)
    details = event.get("file_details") or []
    signed: list[ElectronicSignature] = next(
        (d["signatures"] for d in details if d["sequence"] == component["sequence"]), []
    )
    checks = tuple(check_signature(signature, fetched.path) for signature in signed)
    return Inspected(component, fetched, info, scan, checks, media)


def evidence(event: DocumentLifecycleEvent, files: Sequence[Inspected], *,
             authenticated_source: bool, format_categories: tuple[str, ...] = (),
             reference_code: str | None = None,
             stored: Sequence[Component] | None = None) -> Evidence:  # fmt: skip
    """The check's input: before numbering (no code, nothing stored) or after storing.
    `format_categories`: the kinds of format the record's category takes (empty: any)."""
    components = []
    for index, item in enumerate(files):
        declared = {c["algorithm"]: c["value"] for c in item.component["checksums"]}
        stored_component = stored[index] if stored else None
        components.append(
            ComponentEvidence(
                file_name=item.component["file_name"],
                declared_size=item.component["size_bytes"],
                actual_size=item.fetched.digests.size,
                declared_sha256=declared.get("SHA256"),
                actual_sha256=item.fetched.digests.sha256.hexdigest(),
                format=item.format,
                scan=item.scan,
                stored_key=stored_component["payload"]["key"] if stored_component else None,
                # Storage.archive verified the write by its ETag against these very bytes.
                stored_sha256=item.fetched.digests.sha256.hexdigest() if stored_component else None,
                signatures=item.signatures,
            )
        )
    return Evidence(
        description=event["description"],
        reference_code=reference_code,
        item_number_follows_series=True if reference_code else None,  # allocate() gives last + 1
        components=components,
        authenticated_source=authenticated_source,
        absent_elements=tuple(event.get("absent_elements") or ()),
        category=category_of(event),
        format_categories=format_categories,
    )


def formats(files: Sequence[Inspected]) -> list[ComponentFormat]:
    """The ArchivalRecord `formats` field."""
    return [
        {
            "sequence": item.component["sequence"],
            "puid": item.format.puid,
            "name": item.format.name,
            "version": item.format.version,
            "mime_type": item.format.mime_type,
            "basis": item.format.basis,
            "accepted": item.format.accepted,
            "technical": dict(item.format.technical),
            "problems": list(item.format.problems),
        }
        for item in files
    ]


def media_files(files: Sequence[Inspected]) -> list[MediaFile]:
    """The ArchivalRecord `media_files` field: what each photo or recording file says of itself."""
    return [item.media for item in files if item.media is not None]


def summary(report: CheckReport) -> CheckSummary:
    """The ArchivalRecord `check` field; the full report goes into the package."""
    return {
        "stage": report.stage,
        "checked_at": report.checked_at,
        "verdict": VERDICT_FLAGGED if report.flags_for_review else PASS,
        "items": [{"code": i.code, "result": i.result, "reason": i.reason} for i in report.items],
    }


def provenance(event: DocumentLifecycleEvent, *, intake_at: dt.datetime,
               archived_at: dt.datetime, rule_id: str, code: str, files: Sequence[Inspected],
               report: CheckReport) -> list[PreservationEvent]:  # fmt: skip
    """One PREMIS-style event per action on the record, in order, with stable times (the event's,
    intake's and the archive time kept in the item-number table) so a redelivery repeats them."""
    source = f"agency:{event['agency']['code']}/{event['source_system'] or 'sdk'}"
    identified = "; ".join(
        f"{item.component['file_name']}: {item.format.puid or '-'} {item.format.name or 'unidentified'}"
        for item in files
    )
    scans = [item.scan for item in files]
    if all(scan is not None and scan.result == "clean" for scan in scans):
        virus = ("success", "clamd: no virus found")
    else:
        virus = ("warning", "not checked: " + "; ".join(scan.detail if scan else "no scanner configured"
                                                       for scan in scans))  # fmt: skip
    verdict = "flagged for usability review" if report.flags_for_review else "passed"
    signatures = [
        (item.component["file_name"], check) for item in files for check in item.signatures
    ]

    def step(
        kind: str, time: dt.datetime, agent: str, outcome: str, detail: str
    ) -> PreservationEvent:
        return {"type": kind, "time": time, "agent": agent, "outcome": outcome, "detail": detail}

    steps = [
        step("ingestion", event["event_time"], source, "success", f"filed by the agency ({event['action']})"),
        step("validation", intake_at, INTAKE_AGENT, "success", "DA/T 46 metadata valid; agency = topic owner"),
        step("appraisal", intake_at, INTAKE_AGENT, "success", f"retention decided by {rule_id}"),
        step("fixity check", archived_at, REGISTER_AGENT, "success", "SHA-256 and SM3 match the producer's"),
        step("format identification", archived_at, REGISTER_AGENT, "success", identified),
        step("virus check", archived_at, REGISTER_AGENT, *virus),
        step("validation", archived_at, REGISTER_AGENT, "success", f"four-property check (DA/T 70, YJ) {verdict}"),
        step("replication", archived_at, REGISTER_AGENT, "success", "stored under object lock in the archive"),
        step("accession", archived_at, REGISTER_AGENT, "success", f"registered as {code}"),
    ]  # fmt: skip
    if signatures:  # after the fixity check: verifying a signature is part of YJ-1-1
        everyone_passed = all(check.result == "pass" for _, check in signatures)
        steps.insert(4, step(
            "digital signature validation", archived_at, REGISTER_AGENT,
            "success" if everyone_passed else "warning",
            "; ".join(f"{name} {check.signature_id}: {check.result}" for name, check in signatures),
        ))  # fmt: skip
    return steps
