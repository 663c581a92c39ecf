"""Sizes intake checks before an event goes on (streams/intake.py): a record that could never be
published is refused before it takes an item number, and an output too large for its topic is a
dead letter, not a crashed agent."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import fastavro

from avro_schemas.schemas import ARCHIVAL_RECORD, DOCUMENT_LIFECYCLE_EVENT, parsed_schema
from streams.intake import (
    RECORD_BYTES_PER_FILE,
    RECORD_OVERHEAD_BYTES,
    output_size,
    record_too_large,
)
from tests.examples import archival_record, lifecycle_event


def encoded(record_type: str, value: Mapping[str, Any]) -> int:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed_schema(record_type), value)
    return len(out.getvalue()) + 5  # the wire format's magic byte and schema id


def test_a_realistic_record_keeps_within_the_bound_intake_assumes() -> None:
    event, record = lifecycle_event(), archival_record()
    inline = sum(len(c["payload"]["inline_content"] or b"") for c in event["components"])
    bound = (
        encoded(DOCUMENT_LIFECYCLE_EVENT, event) - inline + RECORD_OVERHEAD_BYTES
        + RECORD_BYTES_PER_FILE * len(event["components"])
    )  # fmt: skip
    assert encoded(ARCHIVAL_RECORD, record) <= bound


def test_a_record_is_too_large_only_past_the_topics_limit() -> None:
    event = lifecycle_event()
    size = encoded(DOCUMENT_LIFECYCLE_EVENT, event)
    inline = sum(len(c["payload"]["inline_content"] or b"") for c in event["components"])
    fits = size - inline + RECORD_OVERHEAD_BYTES + RECORD_BYTES_PER_FILE * len(event["components"])
    assert record_too_large(event, size, fits) is None
    refused = record_too_large(event, size, fits - 1)
    assert refused is not None and refused.reason == "record-too-large"
    assert refused.event_id == event["event_id"]


def test_inline_content_does_not_count_against_the_record() -> None:
    event = lifecycle_event()
    event["components"][1]["payload"]["inline_content"] = b"\xff" * 900_000
    size = encoded(DOCUMENT_LIFECYCLE_EVENT, event)
    assert size > 900_000
    assert record_too_large(event, size, 1_048_588) is None


def test_output_size_counts_key_value_headers_and_framing() -> None:
    bare = output_size(b"k", b"v" * 100, [])
    assert bare > 101
    assert output_size(b"k", b"v" * 100, [("recordflow.series", b"x" * 50)]) >= bare + 67
