"""Decoded Avro values (dicts, lists, bytes, dates, times) made ready for JSON, the one way every
output does it: `--json` on the CLI, dead letters shown, the register hop's history header, a
record's package. Dates and times in ISO 8601; bytes as base64 text, or left out where a file's
content must not be printed (the record points at the stored object instead)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal


def json_ready(
    value: Any,
    *,
    content: Literal["base64", "omit"] = "base64",
    time: Callable[[dt.datetime], str] = dt.datetime.isoformat,
) -> Any:
    """`value` with every bytes, date and time inside it turned to text (`time` formats times)."""
    if isinstance(value, dict):
        return {key: json_ready(item, content=content, time=time) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item, content=content, time=time) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii") if content == "base64" else None
    if isinstance(value, dt.datetime):
        return time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
