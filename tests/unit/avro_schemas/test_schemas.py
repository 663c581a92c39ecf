"""The Avro schemas (avro_schemas/*/v*.avsc), checked the way sentry-kafka-schemas checks its own:
every schema parses (fastavro and the reference `avro` library), every record and field is
documented, optional fields and logical types are written the way Avro honours them, versions are
contiguous, no schema file is unreferenced, and each version reads the data of every earlier one.
Plus the codec's wire-format checks that need no registry."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import avro.io
import avro.schema
import fastavro
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError
from hypothesis import given, settings
from hypothesis import strategies as st

from avro_schemas.codec import Codec, CodecError, Subject
from avro_schemas.schemas import (
    ARCHIVAL_RECEIPT,
    ARCHIVAL_RECORD,
    AUDIT_EVENT,
    DEAD_LETTER,
    DOCUMENT_LIFECYCLE_EVENT,
    PRESERVATION_ALERT,
    RECORD_TYPES,
    RETENTION_REVIEW,
    SCHEMA_DIR,
    VERIFY_RUN,
    load_schema_json,
    parsed_schema,
    shared_types,
    versions,
)
from tests.examples import (
    archival_receipt_record,
    archival_record,
    audit_event_record,
    dead_letter_record,
    lifecycle_event,
    preservation_alert_record,
    retention_review_record,
    verify_run_record,
)
from tests.strategies import avro_values
from topics.catalog import default_catalog

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*/v*.avsc"))
SHARED = "shared"
VERSIONED = [
    (record_type, version) for record_type in RECORD_TYPES for version in versions(record_type)
]
NAMED_TYPES = ("record", "enum", "fixed")


def resource(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def raw(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def test_schema_folders_are_the_record_types() -> None:
    assert {path.parent.name for path in SCHEMA_FILES} == {*RECORD_TYPES, SHARED}


# --- every schema parses -----------------------------------------------------------------
@pytest.mark.parametrize("path", SCHEMA_FILES, ids=resource)
def test_file_is_json_with_named_types(path: Path) -> None:
    schema = raw(path)
    items = schema if isinstance(schema, list) else [schema]
    assert items
    for item in items:
        assert item["type"] in NAMED_TYPES
        assert item["namespace"].startswith("recordflow.")


@pytest.mark.parametrize(("record_type", "version"), VERSIONED)
def test_raw_file_parses_with_fastavro_given_the_shared_types(
    record_type: str, version: int
) -> None:
    named: dict[str, Any] = {}
    fastavro.parse_schema(raw(SCHEMA_DIR / SHARED / "v1.avsc"), named_schemas=named)
    document = raw(SCHEMA_DIR / record_type / f"v{version}.avsc")
    parsed = cast(dict[str, Any], fastavro.parse_schema(document, named_schemas=named))
    assert parsed["type"] == "record"
    assert parsed["name"] == f"{document['namespace']}.{document['name']}"


@pytest.mark.parametrize(("record_type", "version"), VERSIONED)
def test_inlined_schema_parses_with_fastavro_and_avro(record_type: str, version: int) -> None:
    text = load_schema_json(record_type, version)
    fast: dict[str, Any] = cast(dict[str, Any], fastavro.parse_schema(json.loads(text)))
    reference = avro.schema.parse(text)
    assert isinstance(reference, avro.schema.RecordSchema)
    assert fast["name"] == reference.fullname
    assert [field["name"] for field in fast["fields"]] == [f.name for f in reference.fields]


def test_shared_types_parse_with_both_libraries() -> None:
    path = SCHEMA_DIR / SHARED / "v1.avsc"
    fastavro.parse_schema(raw(path))
    union = avro.schema.parse(path.read_text("utf-8"))
    assert isinstance(union, avro.schema.UnionSchema)
    assert {schema.fullname for schema in union.schemas} == set(shared_types())


def test_inlined_schema_is_self_contained() -> None:
    """A consumer with only the registered schema text (no references) can parse it."""
    for record_type in RECORD_TYPES:
        text = load_schema_json(record_type)
        defined = set(named_types(json.loads(text)))
        for full_name in shared_types():
            if f'"{full_name}"' in text:
                assert full_name in defined


# --- documentation and Avro idioms -------------------------------------------------------
def named_types(node: Any) -> Iterator[str]:
    for item in walk(node):
        if item.get("type") in NAMED_TYPES and "name" in item:
            yield f"{item.get('namespace', '')}.{item['name']}".lstrip(".")


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a schema document."""
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("default", "doc", "symbols"):
                yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def fields(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in walk(node):
        if item.get("type") == "record":
            for field in item["fields"]:
                yield f"{item['name']}.{field['name']}", field


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=resource)
def test_every_named_type_and_field_has_a_doc(path: Path) -> None:
    schema = raw(path)
    undocumented = [
        item["name"]
        for item in walk(schema)
        if item.get("type") in NAMED_TYPES and not str(item.get("doc") or "").strip()
    ] + [name for name, field in fields(schema) if not str(field.get("doc") or "").strip()]
    assert undocumented == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=resource)
def test_optional_fields_are_null_first_with_null_default(path: Path) -> None:
    unions = 0
    for name, field in fields(raw(path)):
        if isinstance(field["type"], list) and "null" in field["type"]:
            unions += 1
            assert field["type"][0] == "null", name
            assert "default" in field and field["default"] is None, name
    if path.parent.name != DOCUMENT_LIFECYCLE_EVENT:
        assert unions, "each of these files has optional fields; the check must see them"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=resource)
def test_logical_types_sit_inside_a_type_object(path: Path) -> None:
    schema = raw(path)
    for name, field in fields(schema):
        assert "logicalType" not in field, f"{name}: a field-level logicalType is ignored"
    for item in walk(schema):
        if "logicalType" in item:
            assert item["type"] in ("int", "long", "bytes", "fixed", "string"), item
            assert "name" not in item or item["type"] == "fixed", item


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=resource)
def test_defaults_are_valid_for_their_types(path: Path) -> None:
    named: dict[str, Any] = {}
    if path.parent.name != SHARED:
        fastavro.parse_schema(raw(SCHEMA_DIR / SHARED / "v1.avsc"), named_schemas=named)
    fastavro.parse_schema(raw(path), named_schemas=named)  # fastavro checks defaults
    for name, field in fields(raw(path)):
        if "default" in field:
            kind = field["type"]
            first = kind[0] if isinstance(kind, list) else kind
            first_name = first if isinstance(first, str) else first["type"]
            python_types: dict[str, type] = {
                "null": type(None),
                "string": str,
                "array": list,
                "map": dict,
                "boolean": bool,
                "int": int,
                "long": int,
            }
            if first_name == "enum":  # the default must be one of its symbols
                assert field["default"] in first["symbols"], name
                continue
            expected = python_types[first_name]
            assert isinstance(field["default"], expected), name


# --- versions and references -------------------------------------------------------------
@pytest.mark.parametrize("record_type", [*RECORD_TYPES, SHARED])
def test_versions_are_contiguous_from_one(record_type: str) -> None:
    found = sorted(int(path.stem[1:]) for path in (SCHEMA_DIR / record_type).glob("v*.avsc"))
    assert found == list(range(1, len(found) + 1))
    assert all(
        path.name == f"v{n}.avsc"
        for n, path in enumerate(sorted((SCHEMA_DIR / record_type).glob("v*.avsc")), start=1)
    )


def catalog_resources() -> set[str]:
    return {schema.resource for topic in default_catalog().topics for schema in topic.schemas}


def test_every_schema_file_is_referenced_by_a_topic() -> None:
    files = {resource(path) for path in SCHEMA_FILES if path.parent.name != SHARED}
    assert files - catalog_resources() == set()


def test_every_referenced_schema_exists() -> None:
    missing = {name for name in catalog_resources() if not (SCHEMA_DIR / name).is_file()}
    assert catalog_resources() and missing == set()


def test_every_shared_type_is_used() -> None:
    used = {
        name
        for record_type in RECORD_TYPES
        for name in named_types(json.loads(load_schema_json(record_type)))
    }
    assert set(shared_types()) - used == set()


def test_topics_carry_the_record_types_the_design_names() -> None:
    by_topic = {
        topic.topic: {s.record_type for s in topic.schemas} for topic in default_catalog().topics
    }
    assert by_topic["ingest.{agency}.lifecycle.v1"] == {DOCUMENT_LIFECYCLE_EVENT}
    assert by_topic["records.archival-ready.v1"] == {ARCHIVAL_RECORD}
    assert by_topic["records.catalog.v1"] == {ARCHIVAL_RECORD}
    assert by_topic["records.deadletter.v1"] == {DEAD_LETTER}
    assert by_topic["records.retention-review.v1"] == {RETENTION_REVIEW}
    assert by_topic["records.preservation-alert.v1"] == {PRESERVATION_ALERT}
    assert by_topic["receipts.{agency}.v1"] == {ARCHIVAL_RECEIPT}
    assert by_topic["recordflow.audit.v1"] == {AUDIT_EVENT}
    assert by_topic["records.verify-runs.v1"] == {VERIFY_RUN}


# --- data: every version reads every earlier one -------------------------------------------
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
MILLIS = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def data_for(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that fit a (JSON) Avro schema, for the types our schemas use."""
    if isinstance(schema, list):
        return st.one_of([data_for(branch, named) for branch in schema])
    if isinstance(schema, str):
        if schema in named:
            return st.deferred(lambda: data_for(named[schema], named))
        primitives: dict[str, st.SearchStrategy[Any]] = {
            "null": st.none(), "boolean": st.booleans(), "int": INT32, "long": INT64,
            "string": st.text(max_size=20), "bytes": st.binary(max_size=20),
            "double": st.floats(allow_nan=False),  # NaN is not equal to itself
        }  # fmt: skip
        return primitives[schema]
    logical = schema.get("logicalType")
    if logical == "date":
        return st.dates()
    if logical == "timestamp-millis":
        return MILLIS
    kind = schema["type"]
    if kind == "record":
        full = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
        named.setdefault(full, schema)
        return st.fixed_dictionaries(
            {field["name"]: data_for(field["type"], named) for field in schema["fields"]}
        )
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(data_for(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), data_for(schema["values"], named), max_size=3)
    return data_for(kind, named)


def write(schema: Any, value: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, value)
    return buffer.getvalue()


def read(data: bytes, writer: Any, reader: Any | None = None) -> Any:
    body = io.BytesIO(data)
    value = fastavro.schemaless_reader(body, writer, reader)
    assert body.tell() == len(data)
    return value


EVOLUTION = [
    (record_type, old, new)
    for record_type in RECORD_TYPES
    for old in versions(record_type)
    for new in versions(record_type)
    if old <= new
]


@pytest.mark.parametrize(("record_type", "old", "new"), EVOLUTION)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_version_reads_the_data_of_every_earlier_one(
    record_type: str, old: int, new: int, data: st.DataObject
) -> None:
    value = data.draw(data_for(json.loads(load_schema_json(record_type, old)), {}))
    encoded = write(parsed_schema(record_type, old), value)
    decoded = read(encoded, parsed_schema(record_type, old), parsed_schema(record_type, new))
    assert isinstance(decoded, dict)
    if old == new:
        assert decoded == value


REALISTIC = {
    DOCUMENT_LIFECYCLE_EVENT: lifecycle_event,
    ARCHIVAL_RECORD: archival_record,
    DEAD_LETTER: dead_letter_record,
    RETENTION_REVIEW: retention_review_record,
    PRESERVATION_ALERT: preservation_alert_record,
    ARCHIVAL_RECEIPT: archival_receipt_record,
    AUDIT_EVENT: audit_event_record,
    VERIFY_RUN: verify_run_record,
}


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_realistic_record_round_trip(record_type: str) -> None:
    value = REALISTIC[record_type]()
    schema = parsed_schema(record_type)
    encoded = write(schema, value)
    assert read(encoded, schema) == value
    fastavro.validation.validate(value, schema, raise_errors=True)


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_reference_avro_library_reads_what_fastavro_wrote(record_type: str) -> None:
    """What a Java/Go consumer would do: a different Avro implementation decodes our bytes."""
    value = REALISTIC[record_type]()
    encoded = write(parsed_schema(record_type), value)
    schema = avro.schema.parse(load_schema_json(record_type))
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(encoded)))
    assert decoded == value


def test_dead_letter_keeps_the_origin() -> None:
    record = dead_letter_record()
    assert record["reason"] == "checksum-mismatch"
    assert record["stage"] == "register"
    assert record["exception_class"] == "RecordRejected"
    assert record["original_timestamp"] == dt.datetime(2026, 4, 2, 9, 30, 15, 123000, tzinfo=dt.UTC)
    assert record["original_headers"] == [
        {"key": "ce_id", "value": b"5d2b1c7e"},
        {"key": "ce_source", "value": None},
    ]


def test_a_bad_record_does_not_encode() -> None:
    value: dict[str, Any] = dict(lifecycle_event())
    value["action"] = "ARCHIVED"  # not a LifecycleAction symbol
    with pytest.raises(ValueError):
        write(parsed_schema(DOCUMENT_LIFECYCLE_EVENT), value)


# --- the codec's wire format, without a registry ------------------------------------------
class UntouchableRegistry:
    """Fails the test if the codec consults the registry at all."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the codec used registry.{name}")


def codec_without_registry() -> Codec:
    return Codec(cast(Any, UntouchableRegistry()))


@pytest.mark.parametrize(
    "data",
    [None, b"", b"\x00", b"\x00\x00\x00\x01", b"\x01\x00\x00\x00\x01\x02", b"\xff" * 10,
     b"{\"title\": \"json\"}", b"\x02\x00\x00\x00\x07"],
)  # fmt: skip
def test_not_avro(data: bytes | None) -> None:
    with pytest.raises(CodecError) as caught:
        codec_without_registry().decode(data, DOCUMENT_LIFECYCLE_EVENT)
    assert caught.value.reason == "not-avro"


@given(data=st.binary(max_size=64).filter(lambda data: len(data) < 5 or data[0] != 0))
def test_anything_without_the_header_is_not_avro(data: bytes) -> None:
    with pytest.raises(CodecError) as caught:
        codec_without_registry().decode(data, DOCUMENT_LIFECYCLE_EVENT)
    assert caught.value.reason == "not-avro"


class MemoryRegistry:
    """The three registry calls the codec makes, kept in a dict (unit level only; the
    integration tests use the real registry)."""

    def __init__(self) -> None:
        self.schemas: dict[int, Schema] = {}
        self.compatibility: dict[str, str] = {}

    def register_schema(self, subject: str, schema: Schema) -> int:
        for schema_id, known in self.schemas.items():
            if known.schema_str == schema.schema_str:
                return schema_id
        self.schemas[len(self.schemas) + 1] = schema
        return len(self.schemas)

    def set_compatibility(self, subject: str, level: str) -> None:
        self.compatibility[subject] = level

    def get_schema(self, schema_id: int) -> Schema:
        if schema_id not in self.schemas:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        return self.schemas[schema_id]


def memory_codec() -> tuple[Codec, MemoryRegistry]:
    registry = MemoryRegistry()
    return Codec(cast(Any, registry)), registry


def test_wire_format_round_trip() -> None:
    codec, registry = memory_codec()
    subject = Subject.for_topic("ingest.zjj.lifecycle.v1", DOCUMENT_LIFECYCLE_EVENT)
    encoded = codec.encode(subject, lifecycle_event())
    assert encoded[:5] == b"\x00\x00\x00\x00\x01"
    assert registry.compatibility == {"ingest.zjj.lifecycle.v1-value": "BACKWARD_TRANSITIVE"}
    fresh = Codec(cast(Any, registry))  # a consumer that has not seen the schema yet
    assert fresh.decode(encoded, DOCUMENT_LIFECYCLE_EVENT) == lifecycle_event()


def test_unknown_schema_id() -> None:
    codec, _ = memory_codec()
    with pytest.raises(CodecError) as caught:
        codec.decode(b"\x00\x00\x00\x00\x2a" + b"\x00" * 8, DEAD_LETTER)
    assert caught.value.reason == "unknown-schema"


def test_malformed_body_and_trailing_bytes() -> None:
    codec, _ = memory_codec()
    encoded = codec.encode(
        Subject("records.deadletter.v1-value", DEAD_LETTER), dead_letter_record()
    )
    for broken in (encoded[:-3], encoded[:5], encoded + b"\x00"):
        with pytest.raises(CodecError) as caught:
            codec.decode(broken, DEAD_LETTER)
        assert caught.value.reason == "malformed-avro"


def test_a_schema_that_is_not_avro() -> None:
    codec, registry = memory_codec()
    registry.schemas[9] = Schema('{"type": "object"}', "JSON")
    with pytest.raises(CodecError) as caught:
        codec.decode(b"\x00\x00\x00\x00\x09\x00", DEAD_LETTER)
    assert caught.value.reason == "not-avro"


# --- properties of the codec (issue 4: bad input) ------------------------------------------
def registered_event_codec() -> tuple[Codec, bytes]:
    """A codec over an in-memory registry holding the event schema, and one valid message."""
    codec, _ = memory_codec()
    subject = Subject.for_topic("ingest.zjj.lifecycle.v1", DOCUMENT_LIFECYCLE_EVENT)
    return codec, codec.encode(subject, lifecycle_event())


@settings(max_examples=150, deadline=None)
@given(value=avro_values(DOCUMENT_LIFECYCLE_EVENT))
def test_any_valid_event_round_trips_through_the_wire_format(value: dict[str, Any]) -> None:
    codec, _ = memory_codec()
    subject = Subject.for_topic("ingest.zjj.lifecycle.v1", DOCUMENT_LIFECYCLE_EVENT)
    assert codec.decode(codec.encode(subject, value), DOCUMENT_LIFECYCLE_EVENT) == value


CODEC_REASONS = {
    "not-avro",
    "unknown-schema",
    "invalid-schema",
    "schema-mismatch",
    "malformed-avro",
}


def decodes_or_says_why(codec: Codec, data: bytes) -> None:
    """The codec's whole promise for hostile bytes: a record, or CodecError with a known reason."""
    try:
        record = codec.decode(data, DOCUMENT_LIFECYCLE_EVENT)
    except CodecError as error:
        assert error.reason in CODEC_REASONS
        assert str(error)
    else:
        fastavro.validation.validate(
            record, parsed_schema(DOCUMENT_LIFECYCLE_EVENT), raise_errors=True
        )


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512))
def test_any_body_behind_a_known_schema_id_decodes_or_raises_codec_error(body: bytes) -> None:
    codec, valid = registered_event_codec()
    decodes_or_says_why(codec, valid[:5] + body)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_valid_message_mutated_anywhere_decodes_or_raises_codec_error(
    data: st.DataObject,
) -> None:
    codec, valid = registered_event_codec()
    message = bytearray(valid)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        at = data.draw(st.integers(min_value=0, max_value=len(message) - 1))
        message[at] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(message)))
    decodes_or_says_why(codec, bytes(message[:cut] if data.draw(st.booleans()) else message))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64))
def test_any_bytes_at_all_decode_or_raise_codec_error(data: bytes) -> None:
    codec, _ = registered_event_codec()
    decodes_or_says_why(codec, data)


def _rogue(codec: Codec, registry: MemoryRegistry, schema: Any, value: Any) -> bytes:
    registry.schemas[99] = Schema(json.dumps(schema), "AVRO")
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), value)
    return b"\x00\x00\x00\x00\x63" + body.getvalue()


def test_a_writer_schema_missing_required_fields_is_a_schema_mismatch() -> None:
    codec, registry = memory_codec()
    schema = json.loads(load_schema_json(DOCUMENT_LIFECYCLE_EVENT))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "description"]
    event: dict[str, Any] = dict(lifecycle_event())
    del event["description"]
    with pytest.raises(CodecError) as caught:
        codec.decode(_rogue(codec, registry, schema, event), DOCUMENT_LIFECYCLE_EVENT)
    assert caught.value.reason == "schema-mismatch"


@pytest.mark.parametrize(
    ("logical", "path", "value"),
    [('{"type": "int", "logicalType": "date"}', ("description", "document_date"), 2**31 - 1),
     ('{"type": "long", "logicalType": "timestamp-millis"}', ("event_time",), 2**62),
     ('{"type": "long", "logicalType": "timestamp-millis"}', ("event_time",), -(2**62))],
)  # fmt: skip
def test_a_date_no_calendar_has_is_malformed_not_a_number(
    logical: str, path: tuple[str, ...], value: int
) -> None:
    """A writer schema that declares dates as plain numbers: fastavro hands back the number, which
    would fail validation with a TypeError or, archived, every consumer of the record."""
    codec, registry = memory_codec()
    plain = "int" if "date" in logical else "long"
    # The first use only: the event's own date or time (a shared type, defined once, is inlined
    # at its first use), leaving the other timestamps (history, signatures) as they are.
    schema = json.loads(
        load_schema_json(DOCUMENT_LIFECYCLE_EVENT).replace(logical, f'"{plain}"', 1)
    )
    event: dict[str, Any] = dict(lifecycle_event())
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CodecError) as caught:
        codec.decode(_rogue(codec, registry, schema, event), DOCUMENT_LIFECYCLE_EVENT)
    assert caught.value.reason == "malformed-avro"


def test_plain_number_dates_in_range_become_dates() -> None:
    codec, registry = memory_codec()
    schema = json.loads(
        load_schema_json(DOCUMENT_LIFECYCLE_EVENT).replace(
            '{"type": "int", "logicalType": "date"}', '"int"'
        )
    )
    event: dict[str, Any] = dict(lifecycle_event())
    expected = event["description"]["document_date"]
    event["description"]["document_date"] = (expected - dt.date(1970, 1, 1)).days
    decoded = codec.decode(_rogue(codec, registry, schema, event), DOCUMENT_LIFECYCLE_EVENT)
    assert decoded["description"]["document_date"] == expected


def test_a_registered_schema_that_does_not_parse_is_invalid_schema() -> None:
    codec, registry = memory_codec()
    registry.schemas[7] = Schema('{"type": "record", "name": "X"', "AVRO")
    with pytest.raises(CodecError) as caught:
        codec.decode(b"\x00\x00\x00\x00\x07\x00", DOCUMENT_LIFECYCLE_EVENT)
    assert caught.value.reason == "invalid-schema"
