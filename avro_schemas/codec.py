"""Avro schemas as files, and the one codec that reads and writes them in the Confluent wire format.

Layout: `<record_type>/v<N>.avsc` per record type and version, `shared/v<N>.avsc` for the named
types they share. A schema refers to a shared type by its full name; `load_schema` inlines the
definition at its first use, so every registered schema is self-contained and any Confluent-
compatible consumer (Java, Go, Kafka Connect) can read the data without schema references.

Wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the Avro binary body.
"""

from __future__ import annotations

import copy
import io
import json
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException

SCHEMA_DIR = Path(__file__).resolve().parent
MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
COMPATIBILITY = "BACKWARD_TRANSITIVE"

DOCUMENT_LIFECYCLE_EVENT = "document_lifecycle_event"
ARCHIVAL_RECORD = "archival_record"
DEAD_LETTER = "dead_letter"
RETENTION_REVIEW = "retention_review"
PRESERVATION_ALERT = "preservation_alert"
RECORD_TYPES = (
    DOCUMENT_LIFECYCLE_EVENT,
    ARCHIVAL_RECORD,
    DEAD_LETTER,
    RETENTION_REVIEW,
    PRESERVATION_ALERT,
)


class CodecError(Exception):
    """Bytes that cannot be read as one of our records. `reason` is a stable reason code:

    not-avro         not the Confluent wire format (empty, short, wrong magic byte, a schema
                     that is not Avro)
    unknown-schema   a schema id the registry does not know
    invalid-schema   the registry's schema for the id does not parse as Avro
    schema-mismatch  written with a schema our record type cannot read (a required field missing,
                     a field of another type: not BACKWARD compatible with ours)
    malformed-avro   the body does not decode: truncated, trailing bytes, values out of range
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def versions(record_type: str) -> list[int]:
    """The versions on disk for a record type, ascending."""
    found = sorted(int(path.stem[1:]) for path in (SCHEMA_DIR / record_type).glob("v*.avsc"))
    if not found:
        raise FileNotFoundError(f"no schema files for {record_type!r} in {SCHEMA_DIR}")
    return found


def shared_types(version: int = 1) -> dict[str, dict[str, Any]]:
    """The shared named types by full name."""
    definitions = json.loads((SCHEMA_DIR / "shared" / f"v{version}.avsc").read_text("utf-8"))
    return {f"{item['namespace']}.{item['name']}": item for item in definitions}


@cache
def load_schema_json(record_type: str, version: int | None = None) -> str:
    """The self-contained schema (shared types inlined) as JSON text, latest version by default."""
    version = version or versions(record_type)[-1]
    schema = json.loads((SCHEMA_DIR / record_type / f"v{version}.avsc").read_text("utf-8"))
    return json.dumps(_inline(schema, shared_types(), set()), ensure_ascii=False)


def _inline(node: Any, shared: dict[str, dict[str, Any]], defined: set[str]) -> Any:
    """Replace the first reference to each shared type by its definition (Avro forbids redefining)."""
    if isinstance(node, str):
        if node in shared and node not in defined:
            defined.add(node)
            return _inline(copy.deepcopy(shared[node]), shared, defined)
        return node
    if isinstance(node, list):
        return [_inline(item, shared, defined) for item in node]
    if isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed") and "name" in node:
            namespace = node.get("namespace", "")
            defined.add(f"{namespace}.{node['name']}" if namespace else node["name"])
        return {
            key: (
                value
                if key in ("name", "namespace", "doc", "symbols", "default")
                else _inline(value, shared, defined)
            )
            for key, value in node.items()
        }
    return node


@cache
def parsed_schema(record_type: str, version: int | None = None) -> Any:
    return fastavro.parse_schema(json.loads(load_schema_json(record_type, version)))


@dataclass(frozen=True)
class Subject:
    """A registry subject (TopicNameStrategy: `<topic>-value`) and the record type it carries."""

    name: str
    record_type: str

    @classmethod
    def for_topic(cls, topic: str, record_type: str) -> Subject:
        return cls(f"{topic}-value", record_type)


class Codec:
    """Encodes and decodes records in the Confluent wire format, with schemas from the registry.

    Thread-safe enough for our use: caches only grow, and a race at worst fetches a schema twice.
    """

    def __init__(self, registry: SchemaRegistryClient) -> None:
        self.registry = registry
        self._writer_ids: dict[str, int] = {}
        self._writer_schemas: dict[int, Any] = {}
        self._writer_json: dict[int, Any] = {}  # as registered, to tell our own schemas apart
        self._ours: dict[tuple[int, str], bool] = {}  # (schema id, record type): our latest?

    @classmethod
    def from_url(cls, url: str) -> Codec:
        return cls(SchemaRegistryClient({"url": url}))

    def register(self, subject: Subject) -> int:
        """Register the latest local schema under `subject` with BACKWARD_TRANSITIVE compatibility.

        Idempotent: registering the same schema again returns its existing id.
        """
        schema_id = self.registry.register_schema(
            subject.name, Schema(load_schema_json(subject.record_type), "AVRO")
        )
        self.registry.set_compatibility(subject.name, COMPATIBILITY)
        self._writer_ids[subject.name] = schema_id
        return schema_id

    def encode(self, subject: Subject, value: dict[str, Any]) -> bytes:
        schema_id = self._writer_ids.get(subject.name)
        if schema_id is None:
            schema_id = self.register(subject)
        buffer = io.BytesIO()
        buffer.write(HEADER.pack(MAGIC_BYTE, schema_id))
        fastavro.schemaless_writer(buffer, parsed_schema(subject.record_type), value)
        return buffer.getvalue()

    def decode(self, data: bytes | None, record_type: str) -> dict[str, Any]:
        """Read `data` written with any registered version, as the latest local version.

        Raises CodecError, with a reason code, for anything that is not such a record: never
        another exception (a property test and the fuzz harness in tests/fuzz hold it to that),
        except the registry's own failures (unreachable, 5xx), which are worth retrying.
        """
        if data is None or len(data) < HEADER.size:
            raise CodecError("not-avro", "message is empty or shorter than the wire-format header")
        magic, schema_id = HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise CodecError("not-avro", f"first byte is {magic}, not the wire-format magic byte 0")
        writer = self._writer_schema(schema_id)
        reader = parsed_schema(record_type)
        ours = self._ours.get((schema_id, record_type))
        if ours is None:
            ours = self._writer_json.get(schema_id) == _local_json(record_type)
            self._ours[schema_id, record_type] = ours
        body = io.BytesIO(data[HEADER.size :])
        try:
            # Written with our own latest schema: read it with that alone. Given two equal but
            # distinct schemas, fastavro compares them whole on every call (half a decode's time).
            record = fastavro.schemaless_reader(body, reader if ours else writer,
                                                None if ours else reader)  # fmt: skip
        except SchemaResolutionError as exc:
            raise CodecError(
                "schema-mismatch", f"schema {schema_id} cannot be read as {record_type}: {exc}"
            ) from exc
        except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError, KeyError,
                OverflowError, MemoryError, RecursionError) as exc:  # fmt: skip
            raise CodecError(
                "malformed-avro", f"cannot read body with schema {schema_id}: {exc}"
            ) from exc
        if body.tell() != len(data) - HEADER.size:
            raise CodecError("malformed-avro", "trailing bytes after the Avro body")
        if not isinstance(record, dict):
            raise CodecError("malformed-avro", f"schema {schema_id} does not describe a record")
        if ours:  # fastavro applied our logical types already
            return record
        return _conformed(record, reader, schema_id)

    def _writer_schema(self, schema_id: int) -> Any:
        cached = self._writer_schemas.get(schema_id)
        if cached is not None:
            return cached
        try:
            registered = self.registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise CodecError(
                    "unknown-schema", f"schema id {schema_id} is not in the registry"
                ) from exc
            raise
        if registered.schema_type not in (None, "AVRO"):
            raise CodecError(
                "not-avro", f"schema {schema_id} is {registered.schema_type}, not Avro"
            )
        try:
            as_json = json.loads(registered.schema_str or "null")
            writer = fastavro.parse_schema(as_json)
        except (ValueError, TypeError, KeyError, AttributeError, SchemaParseException) as exc:
            raise CodecError(
                "invalid-schema", f"schema {schema_id} in the registry is not valid Avro: {exc}"
            ) from exc
        self._writer_json[schema_id] = as_json
        self._writer_schemas[schema_id] = writer
        return writer


@cache
def _local_json(record_type: str) -> Any:
    return json.loads(load_schema_json(record_type))


def _conformed(record: dict[str, Any], reader: Any, schema_id: int) -> dict[str, Any]:
    """The record as our own schema types it. fastavro applies the *writer's* logical types, so a
    writer schema that declares a date or a timestamp as a plain int or long hands back numbers
    where our schema has dates, numbers that may lie outside any calendar: written again with our
    schema and read back, they become dates or the input is refused, here, rather than failing in
    validation or, worse, in every consumer of the record we would publish from it."""
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, reader, record)
        buffer.seek(0)
        conformed = fastavro.schemaless_reader(buffer, reader, reader)
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
        raise CodecError(
            "malformed-avro", f"body of schema {schema_id} holds a value out of range: {exc}"
        ) from exc
    assert isinstance(conformed, dict)
    return conformed
