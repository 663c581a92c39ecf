"""Dead letters (topics/deadletter.py): the record keeps the input whole with its reason, and the
headers use Kafka Connect's names plus `recordflow.reason`."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from recordflow.errors import RecordRejected
from topics.deadletter import REASON_HEADER, Origin, dead_letter, dead_letter_headers

ORIGIN = Origin(
    topic="ingest.bgt.lifecycle.v1",
    partition=1,
    offset=77,
    timestamp_ms=1767225600000,  # 2026-01-01T00:00:00Z
    key=b"BGT-2026-0120",
    value=b"\x00\x00\x00\x00\x03original bytes",
    headers=[("ce_id", b"abc"), ("empty", None)],
)
REJECTION = RecordRejected("missing-title", "required metadata element 'title' is empty")


def test_record_keeps_the_input_whole() -> None:
    before = dt.datetime.now(dt.UTC)
    record = dead_letter(ORIGIN, REJECTION, agency_code="bgt", event_id="e-1")
    assert before <= record.pop("failed_at") <= dt.datetime.now(dt.UTC)
    assert record == {
        "reason": "missing-title",
        "message": "required metadata element 'title' is empty",
        "stage": "validate",
        "exception_class": "RecordRejected",
        "original_topic": "ingest.bgt.lifecycle.v1",
        "original_partition": 1,
        "original_offset": 77,
        "original_timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "original_key": b"BGT-2026-0120",
        "original_value": b"\x00\x00\x00\x00\x03original bytes",
        "original_headers": [{"key": "ce_id", "value": b"abc"}, {"key": "empty", "value": None}],
        "agency_code": "bgt",
        "event_id": "e-1",
    }


def test_the_underlying_exception_is_named() -> None:
    record = dead_letter(
        ORIGIN, REJECTION, agency_code=None, event_id=None, exception=KeyError("title")
    )
    assert record["exception_class"] == "KeyError"
    assert record["reason"] == "missing-title"


def test_missing_timestamp() -> None:
    origin = Origin("t", 0, 0, None, None, None, [])
    assert (
        dead_letter(origin, REJECTION, agency_code=None, event_id=None)["original_timestamp"]
        is None
    )


def test_headers_use_kafka_connect_names() -> None:
    rejection = RecordRejected("checksum-mismatch", "01.pdf: SHA256 differs", "register")
    assert dead_letter_headers(ORIGIN, rejection) == {
        "__connect.errors.topic": b"ingest.bgt.lifecycle.v1",
        "__connect.errors.partition": b"1",
        "__connect.errors.offset": b"77",
        "__connect.errors.stage": b"register",
        "__connect.errors.exception.class.name": b"recordflow.errors.RecordRejected",
        "__connect.errors.exception.message": b"01.pdf: SHA256 differs",
        REASON_HEADER: b"checksum-mismatch",
    }


@given(message=st.text(max_size=3000))
def test_message_header_is_bounded(message: str) -> None:
    headers = dead_letter_headers(ORIGIN, RecordRejected("x", message))
    value = headers["__connect.errors.exception.message"]
    assert len(value) <= 1024
    assert message.encode().startswith(value)


def test_truncated_message_header_is_valid_utf8() -> None:
    message = "题名" + "档" * 600  # 6 + 1800 bytes; byte 1024 falls inside a character
    value = dead_letter_headers(ORIGIN, RecordRejected("x", message))[
        "__connect.errors.exception.message"
    ]
    assert value.decode("utf-8") == message[:341]  # 6 + 339 * 3 = 1023 bytes: all that fits
