"""Python types for the records on the topics, generated from the .avsc files, so that code that
passes an event or a record around can say which (`avro_schemas/records.py`, never edited by
hand). `python -m avro_schemas.typing_gen` rewrites it; tests/unit/avro_schemas/test_records.py
fails when it is not what the schemas say.

A record becomes a TypedDict (every field present, as the codec decodes it), an enum a Literal
of its symbols, a union with null an optional, dates and timestamps datetime types.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from avro_schemas.schemas import RECORD_TYPES, load_schema_json

TARGET = Path(__file__).resolve().parent / "records.py"
PRIMITIVES = {"string": "str", "int": "int", "long": "int", "boolean": "bool", "bytes": "bytes",
              "float": "float", "double": "float", "null": "None"}  # fmt: skip
LOGICAL = {"date": "dt.date", "timestamp-millis": "dt.datetime", "timestamp-micros": "dt.datetime"}
HEADER = '''"""TypedDicts of the records on the topics, generated from avro_schemas/*/v<N>.avsc (latest
versions) by `python -m avro_schemas.typing_gen`. Do not edit by hand."""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypedDict

'''


def source() -> str:
    """The text of records.py for the schemas on disk."""
    classes: dict[str, str] = {}
    for record_type in RECORD_TYPES:
        _type_of(json.loads(load_schema_json(record_type)), classes)
    return HEADER + "\n" + "\n\n\n".join(classes.values()) + "\n"


def _type_of(node: Any, classes: dict[str, str]) -> str:
    if isinstance(node, str):
        return PRIMITIVES.get(node) or node.rsplit(".", 1)[-1]  # a named type defined earlier
    if isinstance(node, list):  # a union: null last, as `str | None`
        branches = [_type_of(branch, classes) for branch in node]
        return " | ".join(sorted(branches, key=lambda branch: branch == "None"))
    if node.get("logicalType") in LOGICAL:
        return LOGICAL[node["logicalType"]]
    kind = node["type"]
    if kind == "record":
        name = node["name"]
        if name not in classes:
            classes[name] = ""  # claimed first: a recursive reference finds it
            fields = [f"    {f['name']}: {_type_of(f['type'], classes)}" for f in node["fields"]]
            doc = textwrap.fill((node.get("doc") or name).replace('"', "'"), width=92,
                                subsequent_indent="    ")  # fmt: skip
            classes[name] = f'class {name}(TypedDict):\n    """{doc}"""\n\n' + "\n".join(fields)
            classes[name] = classes.pop(name)  # after the types it uses
        return str(name)
    if kind == "enum":
        return "Literal[" + ", ".join(json.dumps(symbol) for symbol in node["symbols"]) + "]"
    if kind == "array":
        return f"list[{_type_of(node['items'], classes)}]"
    if kind == "map":
        return f"dict[str, {_type_of(node['values'], classes)}]"
    if kind == "fixed":
        return "bytes"
    return _type_of(kind, classes)


if __name__ == "__main__":
    TARGET.write_text(source(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
