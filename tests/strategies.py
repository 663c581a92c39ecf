"""Hypothesis strategies for our Avro records, built from the schema files themselves: any value
they generate is one the schema admits, so the codec must round-trip it and the validators must
either pass it or reject it with a known reason code."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import strategies as st

from avro_schemas.schemas import load_schema_json

# Text as agency systems send it, and as broken ones do: any code point but surrogates (which
# UTF-8, and so Avro, cannot carry), weighted towards CJK and the characters the rules care about.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=["Cs"]),
        st.sampled_from(
            "关于做好年度工作的通知市人民政府办公厅请示批复〔〕号\ufffd\x00\x1f\x7f Ã©æ–‡"
        ),
    ),
    max_size=40,
)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
MILLIS = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def avro_values(record_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """Any value of the latest schema of `record_type`."""
    return _strategy(json.loads(load_schema_json(record_type)), {})


def avro_field_values(schema: Any) -> st.SearchStrategy[Any]:
    """Any value of a field's type (named types inlined, as in the shared schema file)."""
    return _strategy(schema, {})


def _strategy(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, str):
        if schema in named:
            return st.deferred(lambda: _strategy(named[schema], named))
        return _primitive(schema)
    if isinstance(schema, list):
        return st.one_of(*(_strategy(branch, named) for branch in schema))
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "date":
        return st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
    if logical == "timestamp-millis":
        return MILLIS
    if kind == "record":
        full = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
        named[full] = named[schema["name"]] = schema
        fields = {field["name"]: _strategy(field["type"], named) for field in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        full = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
        named[full] = named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(_strategy(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(TEXT, _strategy(schema["values"], named), max_size=3)
    return _strategy(kind, named)


def _primitive(name: str) -> st.SearchStrategy[Any]:
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": INT32,
        "long": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "string": TEXT,
        "bytes": st.binary(max_size=64),
    }[name]
