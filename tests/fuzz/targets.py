"""What the fuzzer drives: the bytes of an ingest message through the codec and, when they decode,
intake's validation, exactly as streams/intake.py's `accept` does, against an in-memory registry
that holds the event schema's versions and a few schemas a broken producer could have registered.
The promise under test: a CodecError or a RecordRejected with a known reason code, or a pass;
never another exception."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, cast

from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from archival.metadata import load_metadata_rules, validate_event
from avro_schemas.codec import Codec, CodecError
from avro_schemas.schemas import DEAD_LETTER, DOCUMENT_LIFECYCLE_EVENT, load_schema_json, versions
from recordflow.agencies import load_registry
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR

CODEC_REASONS = {
    "not-avro",
    "unknown-schema",
    "invalid-schema",
    "schema-mismatch",
    "malformed-avro",
}
VALIDATION_REASONS = {
    "classified-not-accepted", "missing-title", "missing-responsible-party",
    "missing-document-type", "missing-unit", "missing-document-date", "missing-year",
    "missing-security-class", "missing-language", "stray-characters", "not-normalized",
    "title-too-long", "value-too-long", "too-many-keywords", "unknown-document-type",
    "unknown-security-class", "unknown-urgency", "unknown-language", "missing-document-number",
    "unknown-unit", "future-date", "date-too-early", "invalid-year", "page-count-out-of-range",
    "unknown-agency", "agency-mismatch", "invalid-document-id", "unknown-relation-type",
    "unknown-agent-type", "no-content", "main-document", "component-sequence",
    "unsafe-file-name", "size-limit", "empty-file", "missing-checksum", "payload-outside-staging",
    "unsafe-staged-key", "invalid-absent-declaration", "unknown-retention-period",
    "unknown-issuer-relation",
}  # fmt: skip
TODAY = dt.date(2026, 6, 30)
STAGING = "staging"
MAX_FILE_BYTES = 512 * 1024 * 1024

# Schema ids the fuzzer can reach in the 4 bytes after the magic byte: each event version, then
# another record type, a schema that does not parse, and one that is not Avro.
LATEST_ID = len(versions(DOCUMENT_LIFECYCLE_EVENT))
SCHEMAS = {
    **{
        number: Schema(load_schema_json(DOCUMENT_LIFECYCLE_EVENT, version), "AVRO")
        for number, version in enumerate(versions(DOCUMENT_LIFECYCLE_EVENT), start=1)
    },
    LATEST_ID + 1: Schema(load_schema_json(DEAD_LETTER), "AVRO"),
    LATEST_ID + 2: Schema('{"type": "record", "name": "Broken", "fields": [', "AVRO"),
    LATEST_ID + 3: Schema('{"type": "object"}', "JSON"),
}


class FixedRegistry:
    """The one registry call decoding makes, answered from SCHEMAS (404 for any other id)."""

    def get_schema(self, schema_id: int) -> Schema:
        if schema_id not in SCHEMAS:
            raise SchemaRegistryError(404, 40403, f"Schema {schema_id} not found")
        return SCHEMAS[schema_id]


CODEC = Codec(cast(Any, FixedRegistry()))
AGENCIES = load_registry(PACKAGE_DIR / "agencies.yaml")
RULES = load_metadata_rules(PACKAGE_DIR / "metadata_rules.yaml")
OWNER = AGENCIES.get("bgt")


def decode_and_validate(data: bytes) -> str:
    """'valid', or the reason code the input is refused with. Raises anything else."""
    assert OWNER is not None
    try:
        event = CODEC.decode(data, DOCUMENT_LIFECYCLE_EVENT)
    except CodecError as error:
        if error.reason not in CODEC_REASONS:
            raise AssertionError(f"unknown codec reason {error.reason!r}") from error
        return error.reason
    try:
        validate_event(event, OWNER, AGENCIES, RULES, max_file_bytes=MAX_FILE_BYTES,
                       staging_bucket=STAGING, today=TODAY)  # fmt: skip
    except RecordRejected as rejection:
        if rejection.reason not in VALIDATION_REASONS:
            raise AssertionError(f"unknown validation reason {rejection.reason!r}") from rejection
        return rejection.reason
    return "valid"


def encode(value: Mapping[str, Any], schema_id: int = LATEST_ID) -> bytes:
    """A message as a producer writes it, for the seeds."""
    import io

    import fastavro

    schema = fastavro.parse_schema(json.loads(SCHEMAS[schema_id].schema_str or "null"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, value)
    return b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()
