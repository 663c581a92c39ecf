"""Working the dead-letter topic without Kafka (connectors/deadletters.py and
recordflow/cli/deadletters.py): letter ids, filters, the replay ledger's entries, what a
replay sends, and how letters are shown to people and programs — never raw bytes, never secrets."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from typer.testing import CliRunner

from avro_schemas.codec import CodecError
from connectors.deadletters import (
    LETTER_ID,
    REPLAYED_FROM_HEADER,
    Letter,
    LetterId,
    Replay,
    b64,
    decode_original,
    hex_preview,
    ledger_entry,
    ledger_topic,
    parse_letter_id,
    recorded_replay,
    replay_headers,
    replay_target,
    select,
    text_or_none,
    transactional_id,
)
from recordflow.cli import deadletters as cli
from recordflow.errors import RecordRejected
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings
from topics.deadletter import Origin, dead_letter, dead_letter_headers

SETTINGS = Settings(topic_prefix="t1.")
FAILED_AT = dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.UTC)
VALUE = b"\x00\x00\x00\x00\x07original event bytes"


def letter(
    partition: int = 1,
    offset: int = 42,
    *,
    reason: str = "payload-missing",
    agency: str | None = "zjj",
    failed_at: dt.datetime = FAILED_AT,
    value: bytes | None = VALUE,
    headers: list[tuple[str, bytes | None]] | None = None,
    message: str = "staging/zjj/u1/01-请示.pdf does not exist",
) -> Letter:
    """A letter as the pipeline writes one, for an input on zjj's ingest topic."""
    origin = Origin(SETTINGS.ingest_topic("zjj"), 2, 9, 1778032800000, b"ZJJ-2026-0041", value,
                    headers if headers is not None else [("ce_id", b"e-1"), ("empty", None)])  # fmt: skip
    rejection = RecordRejected(reason, message, "store")
    record = dead_letter(origin, rejection, agency_code=agency, event_id="e-1")
    record["failed_at"] = failed_at
    return Letter(
        topic=SETTINGS.deadletter_topic,
        id=LetterId(partition, offset),
        key=b"ZJJ-2026-0041",
        value=b"letter bytes " + str((partition, offset, reason, agency)).encode(),
        headers=list(dead_letter_headers(origin, rejection).items()),
        timestamp_ms=None,
        record=record,
    )


def unreadable(partition: int = 0, offset: int = 3) -> Letter:
    an_hour_before = int(FAILED_AT.timestamp() * 1000) - 3_600_000
    return Letter(SETTINGS.deadletter_topic, LetterId(partition, offset), b"k", b"junk",
                  [("recordflow.reason", b"checksum-mismatch")], an_hour_before, None,
                  "not-avro: first byte is 106")  # fmt: skip


def replay_of(target: Letter, **changes: Any) -> Replay:
    fields: dict[str, Any] = {
        "dead_letter_topic": target.topic, "letter_id": str(target.id),
        "fingerprint": target.fingerprint, "event_id": "e-1", "reason": target.reason,
        "topic": SETTINGS.ingest_topic("zjj"), "partition": 2, "offset": 10,
        "replayed_at": dt.datetime(2026, 5, 7, 1, 2, 3, tzinfo=dt.UTC), "replayed_by": "王档案",
    }  # fmt: skip
    return Replay(**{**fields, **changes})


# --- ids -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("0-0", LetterId(0, 0)), ("2-1234", LetterId(2, 1234)),
                                                (" 1-7 ", LetterId(1, 7))])  # fmt: skip
def test_letter_ids_parse(text: str, expected: LetterId) -> None:
    assert parse_letter_id(text) == expected


@pytest.mark.parametrize("text", ["", "1", "1-", "-1", "1--2", "a-1", "1-2-3", "01-2", "1-02",
                                  "1:2", "１-２", "1-99999999999999999999"])  # fmt: skip
def test_malformed_ids_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected PARTITION-OFFSET, e\.g\. 0-42"):
        parse_letter_id(text)


@given(partition=st.integers(0, 10**9 - 1), offset=st.integers(0, 2**62))
def test_an_id_reads_back_as_printed(partition: int, offset: int) -> None:
    letter_id = LetterId(partition, offset)
    assert parse_letter_id(str(letter_id)) == letter_id


@given(text=st.text(max_size=12))
def test_anything_else_is_malformed(text: str) -> None:
    if LETTER_ID.fullmatch(text.strip()):
        assert str(parse_letter_id(text)) == text.strip()
    else:
        with pytest.raises(ValueError):
            parse_letter_id(text)


# --- filters ---------------------------------------------------------------------------------
def test_select_filters_by_agency_reason_and_time_oldest_first() -> None:
    early = letter(0, 1, reason="missing-title", agency="bgt", failed_at=FAILED_AT)
    late = letter(1, 5, reason="payload-missing", failed_at=FAILED_AT + dt.timedelta(hours=3))
    middle = letter(2, 0, reason="payload-missing", failed_at=FAILED_AT + dt.timedelta(hours=1))
    broken = unreadable()
    everything = [late, broken, early, middle]
    assert select(everything) == [broken, early, middle, late]  # broken: its Kafka time is older
    assert select(everything, reason="payload-missing") == [middle, late]
    assert select(everything, agency="bgt") == [early]
    assert select(everything, reason="checksum-mismatch") == [broken]  # from its header
    assert select(everything, agency="zjj", since=FAILED_AT + dt.timedelta(hours=2)) == [late]
    assert select(everything, agency="nobody") == []


def test_since_parses_dates_in_china_standard_time() -> None:
    from connectors.verify import parse_since

    since = parse_since("2026-05-06")
    assert since == dt.datetime(2026, 5, 5, 16, 0, tzinfo=dt.UTC)
    assert select([letter(failed_at=since - dt.timedelta(seconds=1))], since=since) == []


# --- the replay ledger -----------------------------------------------------------------------
def test_ledger_entries_read_back_and_match_only_the_same_letter() -> None:
    target = letter()
    entry = replay_of(target)
    assert ledger_entry(json.dumps(entry.as_json()).encode()) == entry
    assert entry.ledger_key == target.ledger_key == f"t1.records.deadletter.v1/{target.id}"
    entries = {entry.ledger_key: entry}
    assert recorded_replay(entries, target) == entry
    # Same place, other bytes: a letter of a re-created dead-letter topic was never replayed.
    other = letter(reason="checksum-mismatch")
    assert other.ledger_key == target.ledger_key and other.fingerprint != target.fingerprint
    assert recorded_replay(entries, other) is None
    assert recorded_replay(entries, letter(1, 43)) is None


@pytest.mark.parametrize("data", [None, b"not json", b"{}", b'{"dead_letter": {}}', b"[1]"])
def test_unreadable_ledger_entries_are_not_replays(data: bytes | None) -> None:
    assert ledger_entry(data) is None


def test_ledger_and_transaction_names_follow_the_prefix() -> None:
    assert ledger_topic(SETTINGS) == "t1.recordflow.deadletter-replays.v1"
    assert transactional_id(SETTINGS, letter(1, 42)) == (
        "t1.recordflow.deadletter-replay.t1.records.deadletter.v1/1-42"
    )


# --- what a replay sends ---------------------------------------------------------------------
def test_replay_sends_the_original_headers_and_names_the_letter_once() -> None:
    first = letter(headers=[("ce_id", b"e-1"), ("empty", None)])
    assert replay_headers(first) == [
        ("ce_id", b"e-1"),
        ("empty", None),
        (REPLAYED_FROM_HEADER, b"t1.records.deadletter.v1/1-42"),
    ]
    # A letter of an input that was itself a replay: the header is replaced, not repeated.
    again = letter(2, 7, headers=[(REPLAYED_FROM_HEADER, b"t1.records.deadletter.v1/1-42")])
    assert replay_headers(again) == [(REPLAYED_FROM_HEADER, b"t1.records.deadletter.v1/2-7")]


def test_replay_goes_back_to_the_original_ingest_topic_only() -> None:
    assert replay_target(SETTINGS, letter()) == "t1.ingest.zjj.lifecycle.v1"
    with pytest.raises(ValueError, match="cannot be read"):
        replay_target(SETTINGS, unreadable())
    for topic, message in [
        (SETTINGS.deadletter_topic, "refusing to replay into it"),
        ("t1.recordflow.deadletter-replays.v1", "refusing to replay into it"),
        ("t1.some.other.topic", "not in the topic catalog"),
        ("ingest.zjj.lifecycle.v1", "not in the topic catalog"),  # another pipeline's (no prefix)
    ]:
        odd = letter()
        assert odd.record is not None
        odd.record["original_topic"] = topic
        with pytest.raises(ValueError, match=message):
            replay_target(SETTINGS, odd)


# --- for people and programs -----------------------------------------------------------------
@pytest.mark.parametrize(("data", "expected"), [
    (b"ZJJ-2026-0041", "ZJJ-2026-0041"), ("请示".encode(), "请示"), (None, None), (b"", ""),
    (b"\x00\x00\x00\x00\x07", None), (b"\x1b[31mred", None), (b"line\nbreak", None),
    (b"\xff\xfe", None),
])  # fmt: skip
def test_only_printable_utf8_is_shown_as_text(data: bytes | None, expected: str | None) -> None:
    assert text_or_none(data) == expected


def test_previews_and_base64() -> None:
    assert hex_preview(b"this") == "74 68 69 73"
    assert hex_preview(bytes(100), limit=4) == "00 00 00 00 … (100 bytes)"
    assert b64(b"\x00\xff") == "AP8=" and b64(None) is None
    assert cli.bytes_for_people(b"\x00\x01") == "hex 00 01"
    assert cli.bytes_for_people(b"ZJJ-1") == "ZJJ-1"
    assert cli.bytes_for_people(None) == "（无 none）"


def test_json_ready_turns_bytes_and_times_into_text() -> None:
    value = {"a": [b"\x00\x01", dt.date(2026, 5, 6)], "b": {"at": FAILED_AT}, "n": 3, "s": None}
    assert json_ready(value) == {
        "a": ["AAE=", "2026-05-06"], "b": {"at": "2026-05-06T02:00:00+00:00"}, "n": 3, "s": None,
    }  # fmt: skip
    json.dumps(json_ready(letter().record))


def test_summary_names_everything_but_the_value() -> None:
    target = letter()
    row = cli.summary(target, replay_of(target))
    assert "original_value" not in row and row["original_value_bytes"] == len(VALUE)
    assert row["id"] == "1-42" and row["reason"] == "payload-missing" and row["stage"] == "store"
    assert (row["original_key"], row["original_key_base64"]) == (
        "ZJJ-2026-0041",
        base64.b64encode(b"ZJJ-2026-0041").decode(),
    )
    assert row["original_topic"] == "t1.ingest.zjj.lifecycle.v1" and row["original_offset"] == 9
    assert row["replayed"]["replayed_by"] == "王档案"
    assert row["failed_at"] == "2026-05-06T02:00:00+00:00"
    assert cli.summary(target, None)["replayed"] is None
    assert cli.summary(unreadable(), None)["problem"] == "not-avro: first byte is 106"
    json.dumps(row)


def test_detail_gives_every_field_with_bytes_as_base64() -> None:
    target = letter()
    shown = cli.detail(target, None, {"event_id": "e-1", "content": b"\x01"}, None)
    assert base64.b64decode(shown["original_value_base64"]) == VALUE
    assert shown["original_headers"] == [
        {"key": "ce_id", "value": "e-1", "value_base64": "ZS0x"},
        {"key": "empty", "value": None, "value_base64": None},
    ]
    assert {"key": "recordflow.reason", "value": "payload-missing",
            "value_base64": base64.b64encode(b"payload-missing").decode()} in shown["headers"]  # fmt: skip
    assert shown["decoded"] == {"event_id": "e-1", "content": "AQ=="}
    assert shown["exception_class"] == "RecordRejected"
    assert shown["original_timestamp"] == "2026-05-06T02:00:00+00:00"
    text = json.dumps(shown)
    assert "original bytes" not in text  # only as base64


class FailingCodec:
    def decode(self, data: bytes | None, record_type: str) -> dict[str, Any]:
        raise CodecError("not-avro", "first byte is 116, not the wire-format magic byte 0")


def test_why_an_original_value_does_not_decode() -> None:
    codec: Any = FailingCodec()
    assert decode_original(letter(), codec, "t1.") == (
        None,
        "not-avro: first byte is 116, not the wire-format magic byte 0",
    )
    assert decode_original(letter(value=None), codec, "t1.")[1] == (
        "the original message had no value (null)"
    )
    elsewhere = letter()
    assert elsewhere.record is not None
    elsewhere.record["original_topic"] = "t1.recordflow.item-numbers.changelog"
    assert decode_original(elsewhere, codec, "t1.")[1] == (
        "t1.recordflow.item-numbers.changelog has no Avro schema in the topic catalog"
    )
    assert "cannot be read" in (decode_original(unreadable(), codec, "t1.")[1] or "")


def test_shorten_and_local_time() -> None:
    assert cli.shorten("one\ntwo   three") == "one two three"
    assert cli.shorten("x" * 100, 10) == "x" * 9 + "…"
    assert cli.local_time(None) == ""


# --- secrets and markup ----------------------------------------------------------------------
def test_secrets_are_the_settings_secrets() -> None:
    settings = Settings(s3_secret_key=SecretStr("s3-secret-value"),
                        kafka_sasl_password=SecretStr("sasl-pass"))  # fmt: skip
    assert cli.secrets(settings) == ["s3-secret-value", "sasl-pass"]
    assert cli.secrets(Settings(s3_secret_key=SecretStr("abc"))) == []  # too short to redact


def test_redact_finds_secrets_also_inside_json_strings() -> None:
    hidden = ['pa"ss\\word', "s3-secret-value"]
    text = json.dumps({"error": 'auth failed for pa"ss\\word', "url": "x?key=s3-secret-value"})
    redacted = cli.redact(text, hidden)
    assert "s3-secret-value" not in redacted and "ss" not in redacted.replace("ssage", "")
    assert json.loads(redacted) == {"error": "auth failed for ***", "url": "x?key=***"}


def test_output_cells_escape_markup_and_redact() -> None:
    out = cli.Output(Settings(s3_secret_key=SecretStr("s3-secret-value")))
    assert out.cell("[red]boom[/] s3-secret-value") == "\\[red]boom\\[/] ***"
    assert out.cell(None) == ""


# --- usage errors, before any server is asked ---------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["replay"], "say which letters to replay"),
    (["replay", "0-1", "--reason", "not-avro"], "not both"),
    (["replay", "0-1", "--agency", "zjj"], "--agency narrows --reason"),
    (["replay", "0-1", "x-2"], "malformed dead-letter id 'x-2'"),
    (["show", "42"], "malformed dead-letter id '42'"),
    (["list", "--since", "last week"], "is not a date"),
])  # fmt: skip
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORDFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # would fail if asked
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert result.output.strip().count("\n") == 0
