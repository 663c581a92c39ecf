"""Validation of a decoded DocumentLifecycleEvent: pure functions, no I/O.

The agency is the owner of the topic the event arrived on, never a field of the payload: the
payload's agency must agree with it. The producer SDK runs the same checks before it sends, so an
agency system hears about a bad submission at once rather than from the dead-letter topic.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from recordflow.agencies import Agency, AgencyRegistry
from recordflow.errors import RecordRejected

# Control characters other than tab and newline have no place in archival metadata (DA/T 70 1-2).
STRAY_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
MAX_TITLE_CHARS = 500
EARLIEST_YEAR = 1949


def agency_for_topic(topic: str, registry: AgencyRegistry, topic_prefix: str = "") -> Agency:
    """The registered agency that owns an ingest topic `ingest.<code>.lifecycle.v1`."""
    name = topic.removeprefix(topic_prefix)
    match = re.fullmatch(r"ingest\.([a-z0-9-]+)\.lifecycle\.v1", name)
    agency = registry.get(match.group(1)) if match else None
    if agency is None:
        raise RecordRejected(
            "unknown-topic", f"{topic} is not the ingest topic of a registered agency"
        )
    return agency


def validate_event(
    event: dict[str, Any],
    owner: Agency,
    registry: AgencyRegistry,
    *,
    max_file_bytes: int,
    staging_bucket: str,
    today: dt.date | None = None,
) -> None:
    """Raise RecordRejected with a reason code for the first rule the event breaks."""
    claimed = event["agency"]["code"]
    if registry.get(claimed) is None:
        raise RecordRejected("unknown-agency", f"agency {claimed!r} is not in the agency registry")
    if claimed != owner.code:
        raise RecordRejected(
            "agency-mismatch",
            f"event names agency {claimed!r} but arrived on {owner.code!r}'s topic",
        )
    validate_description(event["description"], owner, today=today)
    validate_components(
        event["components"], owner, max_file_bytes=max_file_bytes, staging_bucket=staging_bucket
    )


def validate_description(
    description: dict[str, Any], agency: Agency, *, today: dt.date | None = None
) -> None:
    today = today or dt.date.today()
    for field, reason in (
        ("title", "missing-title"),
        ("responsible_party", "missing-responsible-party"),
        ("document_type", "missing-document-type"),
        ("unit_code", "missing-unit"),
    ):
        if not str(description.get(field) or "").strip():
            raise RecordRejected(reason, f"required metadata element {field!r} is empty")
    for field in ("title", "responsible_party", "document_number", "abstract"):
        value = description.get(field)
        if value and STRAY_CHARACTERS.search(value):
            raise RecordRejected(
                "stray-characters", f"{field!r} contains control or replacement characters"
            )
        if value and unicodedata.normalize("NFC", value) != value:
            raise RecordRejected("not-normalized", f"{field!r} is not in Unicode NFC form")
    if len(description["title"]) > MAX_TITLE_CHARS:
        raise RecordRejected("title-too-long", f"title is longer than {MAX_TITLE_CHARS} characters")
    if agency.unit(description["unit_code"]) is None:
        raise RecordRejected(
            "unknown-unit", f"unit {description['unit_code']!r} is not one of {agency.code}'s units"
        )
    document_date: dt.date = description["document_date"]
    if document_date > today:
        raise RecordRejected("future-date", f"document date {document_date} is in the future")
    year = description["year"]
    if not EARLIEST_YEAR <= year <= today.year:
        raise RecordRejected(
            "invalid-year", f"filing year {year} is outside {EARLIEST_YEAR}..{today.year}"
        )
    if document_date.year > year:
        raise RecordRejected(
            "invalid-year", f"filing year {year} is before the document date {document_date}"
        )


def validate_components(
    components: list[dict[str, Any]], agency: Agency, *, max_file_bytes: int, staging_bucket: str
) -> None:
    if not components:
        raise RecordRejected("no-content", "the record has no computer files")
    mains = [component for component in components if component["is_main"]]
    if len(mains) != 1:
        raise RecordRejected("main-document", f"expected one main document, found {len(mains)}")
    sequences = sorted(component["sequence"] for component in components)
    if sequences != list(range(1, len(components) + 1)):
        raise RecordRejected(
            "component-sequence", f"file sequence numbers {sequences} are not 1..n"
        )
    for component in components:
        name = component["file_name"]
        if component["size_bytes"] < 0 or component["size_bytes"] > max_file_bytes:
            raise RecordRejected(
                "size-limit",
                f"{name}: size {component['size_bytes']} is outside 0..{max_file_bytes}",
            )
        if not any(checksum["algorithm"] == "SHA256" for checksum in component["checksums"]):
            raise RecordRejected("missing-checksum", f"{name}: no SHA-256 digest")
        payload = component["payload"]
        if payload["inline_content"] is None:
            where = f"{payload['bucket']}/{payload['key']}"
            if payload["bucket"] != staging_bucket or not (payload["key"] or "").startswith(
                f"{agency.code}/"
            ):
                raise RecordRejected(
                    "payload-outside-staging",
                    f"{name}: {where} is outside {staging_bucket}/{agency.code}/",
                )
