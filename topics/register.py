"""The contract of recordflow.register.v1, intake's hop to the register stage, written once:
the key (fonds and year, so that numbering sees a whole series in one partition), the value (the
original event's bytes, unchanged) and the headers that carry what intake decided. Intake writes
it (streams/intake.py), archive staff's review decisions write it too (connectors/review.py), the
register stage reads it (streams/register.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from archival.reference import Series
from archival.retention import Decision
from recordflow.jsonvalues import json_ready
from topics.deadletter import Origin

SERIES_HEADER = "recordflow.series"
HISTORY_HEADER = "recordflow.history"  # JSON: the lifecycle steps intake kept before filing
RETENTION_HEADER = "recordflow.retention"
RULE_HEADER = "recordflow.retention-rule"
SOURCE_HEADERS = (
    "recordflow.source.topic",
    "recordflow.source.partition",
    "recordflow.source.offset",
    "recordflow.source.key",
)


def partition_key(series: Series) -> bytes:
    """The register topic's key: the fonds and year. The item-number table and the duplicate
    check are then co-partitioned with every record they must see together."""
    return f"{series.fonds_code}·{series.year}".encode()


def history_header(steps: Sequence[Mapping[str, Any]]) -> bytes:
    """The HISTORY_HEADER value: the steps as JSON, times as ISO text, whether they come from the
    lifecycle-history table (text already) or from a review item (datetimes)."""
    return json.dumps(json_ready(steps), ensure_ascii=False).encode()


def register_headers(
    series: Series, decision: Decision, origin: Origin, kept: Sequence[Mapping[str, Any]]
) -> list[tuple[str, bytes]]:
    """What the register stage needs beside the event: its series, the retention decision, the
    steps kept before filing and the origin, after the input's own headers (CloudEvents ce_* …),
    so that a dead letter from the register stage still carries those."""
    own = [
        (key, value or b"") for key, value in origin.headers if not key.startswith("recordflow.")
    ]
    return [
        *own,
        (SERIES_HEADER, str(series).encode()),
        (RETENTION_HEADER, decision.period.encode()),
        (RULE_HEADER, decision.rule_id.encode()),
        (HISTORY_HEADER, history_header(kept)),
        (SOURCE_HEADERS[0], origin.topic.encode()),
        (SOURCE_HEADERS[1], str(origin.partition).encode()),
        (SOURCE_HEADERS[2], str(origin.offset).encode()),
        (SOURCE_HEADERS[3], origin.key or b""),
    ]
