"""The Avro schemas as files: the contracts of every record on the topics.

Layout: `<record_type>/v<N>.avsc` per record type and version, `shared/v<N>.avsc` for the named
types they share. A schema refers to a shared type by its full name; `load_schema_json` inlines
the definition at its first use, so every registered schema is self-contained and any Confluent-
compatible consumer (Java, Go, Kafka Connect) can read the data without schema references.
Reading the files needs no registry (avro_schemas/codec.py speaks to it).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent

DOCUMENT_LIFECYCLE_EVENT = "document_lifecycle_event"
ARCHIVAL_RECORD = "archival_record"
DEAD_LETTER = "dead_letter"
RETENTION_REVIEW = "retention_review"
PRESERVATION_ALERT = "preservation_alert"
ARCHIVAL_RECEIPT = "archival_receipt"
AUDIT_EVENT = "audit_event"
VERIFY_RUN = "verify_run"
RECORD_TYPES = (
    DOCUMENT_LIFECYCLE_EVENT,
    ARCHIVAL_RECORD,
    DEAD_LETTER,
    RETENTION_REVIEW,
    PRESERVATION_ALERT,
    ARCHIVAL_RECEIPT,
    AUDIT_EVENT,
    VERIFY_RUN,
)


def versions(record_type: str) -> list[int]:
    """The versions on disk for a record type, ascending."""
    found = sorted(int(path.stem[1:]) for path in (SCHEMA_DIR / record_type).glob("v*.avsc"))
    if not found:
        raise FileNotFoundError(f"no schema files for {record_type!r} in {SCHEMA_DIR}")
    return found


@cache
def shared_types(version: int = 1) -> dict[str, dict[str, Any]]:
    """The shared named types by full name: one parsed copy, read on every event, for reading
    only (_inline copies what it changes)."""
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
