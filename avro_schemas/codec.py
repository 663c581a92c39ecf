"""The one codec that reads and writes our records in the Confluent wire format, with the schemas
of avro_schemas/schemas.py registered in the schema registry.

Wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the Avro binary body.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException

from avro_schemas.schemas import load_schema_json, parsed_schema

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
COMPATIBILITY = "BACKWARD_TRANSITIVE"


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

    def encode(self, subject: Subject, value: Mapping[str, Any]) -> bytes:
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
