"""Dead letters: an input the pipeline rejects, kept whole with the reason, ready to replay.

Headers reuse Kafka Connect's names (`__connect.errors.*`) so Connect tooling can read them, plus
our own `recordflow.reason`. The original bytes travel in the value, untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from recordflow.errors import RecordRejected

REASON_HEADER = "recordflow.reason"
MAX_MESSAGE_BYTES = 1024  # of the exception message header


@dataclass(frozen=True)
class Origin:
    """Where an input first arrived: the ingest topic coordinates and its bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def dead_letter(
    origin: Origin,
    rejection: RecordRejected,
    *,
    agency_code: str | None,
    event_id: str | None,
    exception: BaseException | None = None,
) -> dict[str, Any]:
    """The DeadLetter record for a rejected input."""
    cause = exception or rejection
    return {
        "reason": rejection.reason,
        "message": rejection.message,
        "stage": rejection.stage,
        "exception_class": type(cause).__name__,
        "original_topic": origin.topic,
        "original_partition": origin.partition,
        "original_offset": origin.offset,
        "original_timestamp": (
            None if origin.timestamp_ms is None
            else dt.datetime.fromtimestamp(origin.timestamp_ms / 1000, dt.UTC)
        ),
        "original_key": origin.key,
        "original_value": origin.value,
        "original_headers": [{"key": key, "value": value} for key, value in origin.headers],
        "agency_code": agency_code,
        "event_id": event_id,
        "failed_at": dt.datetime.now(dt.UTC),
    }  # fmt: skip


def utf8_prefix(text: str, limit: int) -> bytes:
    """`text` as UTF-8, cut to at most `limit` bytes without splitting a character."""
    return text.encode()[:limit].decode(errors="ignore").encode()


def dead_letter_headers(origin: Origin, rejection: RecordRejected) -> dict[str, bytes]:
    return {
        "__connect.errors.topic": origin.topic.encode(),
        "__connect.errors.partition": str(origin.partition).encode(),
        "__connect.errors.offset": str(origin.offset).encode(),
        "__connect.errors.stage": rejection.stage.encode(),
        "__connect.errors.exception.class.name": b"recordflow.errors.RecordRejected",
        "__connect.errors.exception.message": utf8_prefix(rejection.message, MAX_MESSAGE_BYTES),
        REASON_HEADER: rejection.reason.encode(),
    }
