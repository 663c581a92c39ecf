"""`recordflow deadletters list | show | replay` on the real stack: a rejected document is listed
and shown whole, replayed after its cause is fixed and archived, and never sent twice, whoever
replays it and however often; a redelivered event still yields one record."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import DEAD_LETTER
from connectors.deadletters import (
    ALREADY_REPLAYED,
    FAILED,
    REPLAYED,
    REPLAYED_FROM_HEADER,
    Letter,
    Replayer,
    ReplayResult,
    fetch_letter,
    ledger_topic,
    parse_letter_id,
    read_committed,
)
from connectors.readback import read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.errors import RecordRejected
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli
from topics.deadletter import Origin, dead_letter, dead_letter_headers

TIMEOUT_S = 90.0
SECRETS = {
    "RECORDFLOW_S3_SECRET_KEY": "canary-s3-secret-4f1d",
    "RECORDFLOW_KAFKA_SASL_PASSWORD": "canary-sasl-password-9b2e",
}


def metadata(document_id: str) -> dict[str, object]:
    return {
        "document_id": document_id,
        "title": "关于城中村改造项目资金拨付的请示",
        "document_number": f"市建请〔2026〕{document_id[-2:]}号",
        "responsible_party": "市住房和城乡建设局",
        "document_date": "2026-05-06",
        "document_type": "请示",
        "unit_code": "GHK",
    }


def cli_json(settings: Settings, *args: str) -> Any:
    result = run_cli(settings, *args, "--json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS.values())
    return json.loads(result.stdout)


def high_watermarks(settings: Settings, topic: str) -> int:
    """Offsets taken in `topic` so far (messages and transaction markers, committed or not)."""
    consumer = Consumer({**settings.kafka_config(), "group.id": f"hw-{uuid.uuid4().hex}",
                         "isolation.level": "read_uncommitted"})  # fmt: skip
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in partitions
        )
    finally:
        consumer.close()


def archived_for(settings: Settings, codec: Codec, event_id: str, count: int = 1) -> list[Any]:
    """The archival-ready records of an event, once there are `count` (or after the timeout)."""
    records: list[Any] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        records = [
            record
            for _, value in read_topic(settings, settings.archival_ready_topic)
            if (record := codec.decode(value, "archival_record"))["event_id"] == event_id
        ]
        if len(records) >= count:
            break
        time.sleep(0.5)
    return records


def listed_letters(settings: Settings, count: int) -> list[dict[str, Any]]:
    """`deadletters list --json` once it shows `count` letters (or after the timeout)."""
    letters: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and len(letters) < count:
        letters = cli_json(settings, "deadletters", "list")
        time.sleep(0.5)
    return letters


def duplicates_seen(worker: WorkerProcess) -> float:
    return worker.metric(
        "recordflow_events_total", agency="zjj", outcome="duplicate", stage="register"
    )


def test_missing_file_dead_letter_is_replayed_once_after_the_fix(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    settings = pipeline_settings
    codec = Codec.from_url(settings.schema_registry_url)
    ingest = settings.ingest_topic("zjj")

    # Two bad inputs: bytes that are not Avro, and a document whose staged file has gone.
    producer = Producer(settings.producer_config())
    producer.produce(ingest, key=b"garbage-1", value=b"this is not avro")
    producer.flush(10)
    document = tmp_path / "请示.pdf"
    document.write_bytes(b"%PDF-1.4 replay " + os.urandom(2048))
    submitter = Submitter(settings)
    agency = submitter.agency("zjj")
    upload_id = uuid.uuid4().hex
    components = submitter.stage(agency, upload_id, [FileToSubmit(document)])
    staged_key = components[0]["payload"]["key"]
    storage = Storage(settings)
    storage.client.remove_object(settings.staging_bucket, staged_key)
    receipt = submitter.publish(agency, metadata("ZJJ-DL-01"), components, upload_id)
    submitter.close()
    receipt.wait()
    outcome = watch_outcomes(settings, codec, {receipt.event_id}, timeout_s=TIMEOUT_S)
    assert (outcome[receipt.event_id].status, outcome[receipt.event_id].reason) == (
        "rejected",
        "payload-missing",
    )

    # list: both letters, each with an id to type; the filters pick one or none.
    letters = listed_letters(settings, 2)
    assert sorted(letter["reason"] for letter in letters) == ["not-avro", "payload-missing"]
    missing = next(letter for letter in letters if letter["reason"] == "payload-missing")
    garbage = next(letter for letter in letters if letter["reason"] == "not-avro")
    assert {key: missing[key] for key in ("stage", "agency_code", "event_id", "original_topic",
                                          "original_key", "replayed")} == {
        "stage": "store", "agency_code": "zjj", "event_id": receipt.event_id,
        "original_topic": ingest, "original_key": "ZJJ-DL-01", "replayed": None,
    }  # fmt: skip
    assert "original_value" not in missing and missing["original_value_bytes"] > 0
    letter_id = missing["id"]
    assert parse_letter_id(letter_id) and letter_id != garbage["id"]
    only = cli_json(
        settings, "deadletters", "list", "--reason", "payload-missing", "--agency", "zjj"
    )
    assert [letter["id"] for letter in only] == [letter_id]
    assert cli_json(settings, "deadletters", "list", "--agency", "bgt") == []
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert cli_json(settings, "deadletters", "list", "--since", tomorrow) == []
    table = run_cli(settings, "deadletters", "list")
    assert table.returncode == 0, table.stderr
    assert letter_id in table.stdout and "payload-missing" in table.stdout
    assert receipt.event_id[:13] in table.stdout  # folded over lines in its cell, never cut

    # show: the whole letter, the original value decoded (or a preview and why not).
    shown = cli_json(settings, "deadletters", "show", letter_id)
    original = base64.b64decode(shown["original_value_base64"])
    [ingested] = [m for m in read_committed(settings, ingest) if m.key() == b"ZJJ-DL-01"]
    assert original == ingested.value()
    assert shown["decoded"]["event_id"] == receipt.event_id
    assert shown["decoded"]["components"][0]["payload"]["key"] == staged_key
    assert shown["decode_error"] is None
    assert {"key": "recordflow.reason", "value": "payload-missing",
            "value_base64": base64.b64encode(b"payload-missing").decode()} in shown["headers"]  # fmt: skip
    people = run_cli(settings, "deadletters", "show", letter_id, env=SECRETS)
    assert people.returncode == 0, people.stderr
    assert receipt.event_id in people.stdout and staged_key in people.stdout
    assert "\x00" not in people.stdout  # the wire-format bytes are never printed raw
    undecodable = cli_json(settings, "deadletters", "show", garbage["id"])
    assert undecodable["decoded"] is None and undecodable["decode_error"].startswith("not-avro")
    assert base64.b64decode(undecodable["original_value_base64"]) == b"this is not avro"
    preview = run_cli(settings, "deadletters", "show", garbage["id"])
    assert "74 68 69 73 20 69 73" in preview.stdout  # "this is" in hex

    # A dry run sends nothing.
    taken = high_watermarks(settings, ingest)
    [planned] = cli_json(settings, "deadletters", "replay", letter_id, "--dry-run")
    assert planned["status"] == "would-replay"
    assert high_watermarks(settings, ingest) == taken
    assert read_committed(settings, ledger_topic(settings)) == []

    # The fix: the agency uploads the file again. Then the replay archives the document.
    with document.open("rb") as stream:
        storage.stage(staged_key, stream, document.stat().st_size, "application/pdf")
    [replayed] = cli_json(settings, "deadletters", "replay", letter_id, "--by", "王档案")
    assert replayed["status"] == "replayed", replayed
    target = replayed["replay"]["target"]
    assert target["topic"] == ingest
    [record] = archived_for(settings, codec, receipt.event_id)
    assert record["document_id"] == "ZJJ-DL-01"
    [resent] = [m for m in read_committed(settings, ingest)
                if (m.partition(), m.offset()) == (target["partition"], target["offset"])]  # fmt: skip
    assert (resent.key(), resent.value()) == (b"ZJJ-DL-01", original)
    assert (REPLAYED_FROM_HEADER, f"{settings.deadletter_topic}/{letter_id}".encode()) in (
        resent.headers() or []
    )
    assert (
        cli_json(settings, "deadletters", "list", "--reason", "payload-missing")[0]["replayed"][
            "replayed_by"
        ]
        == "王档案"
    )

    # Again, by id or by reason: refused as already replayed, nothing sent, still one record.
    taken = high_watermarks(settings, ingest)
    again = run_cli(settings, "deadletters", "replay", letter_id, env=SECRETS)
    assert again.returncode == 0, again.stderr
    assert "already replayed" in again.stdout and "王档案" in again.stdout
    assert not any(secret in again.stdout + again.stderr for secret in SECRETS.values())
    [by_reason] = cli_json(settings, "deadletters", "replay", "--reason", "payload-missing")
    assert (by_reason["id"], by_reason["status"]) == (letter_id, "already-replayed")
    assert by_reason["replay"] == replayed["replay"]
    assert high_watermarks(settings, ingest) == taken
    assert len(read_committed(settings, ledger_topic(settings))) == 1

    # The pipeline's own guard: the same event delivered once more yields no second record.
    producer.produce(ingest, key=b"ZJJ-DL-01", value=original)
    producer.flush(10)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and duplicates_seen(worker) < 1:
        time.sleep(0.5)
    assert duplicates_seen(worker) == 1
    assert archived_for(settings, codec, receipt.event_id) == [record]


def put_dead_letter(settings: Settings, codec: Codec, key: bytes, value: bytes) -> Letter:
    """A dead letter as intake writes one, for an input on zjj's ingest topic."""
    origin = Origin(settings.ingest_topic("zjj"), 0, 7, None, key, value, [("ce_id", b"x")])
    rejection = RecordRejected("not-avro", "first byte is 116, not the wire-format magic byte 0")
    letter = dead_letter(origin, rejection, agency_code="zjj", event_id=None)
    producer = Producer(settings.producer_config())
    delivered: list[Any] = []
    producer.produce(
        settings.deadletter_topic,
        key=key,
        value=codec.encode(Subject.for_topic(settings.deadletter_topic, DEAD_LETTER), letter),
        headers=list(dead_letter_headers(origin, rejection).items()),
        on_delivery=lambda error, message: delivered.append(message),
    )
    producer.flush(10)
    [message] = delivered
    found = fetch_letter(
        settings, codec, parse_letter_id(f"{message.partition()}-{message.offset()}")
    )
    assert found is not None
    return found


def test_operators_replaying_one_letter_at_once_send_it_once(pipeline_settings: Settings) -> None:
    settings = pipeline_settings
    codec = Codec.from_url(settings.schema_registry_url)
    letter = put_dead_letter(settings, codec, b"race-1", b"this is not avro")
    results: list[ReplayResult] = []
    start = threading.Barrier(4)

    def operator(name: str) -> None:
        replayer = Replayer(settings, by=name)
        try:
            start.wait()
            results.append(replayer.replay(letter))
        finally:
            replayer.close()

    threads = [threading.Thread(target=operator, args=(f"op{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    statuses = sorted(result.status for result in results)
    assert len(statuses) == 4 and statuses.count(REPLAYED) == 1, results
    for result in results:
        assert result.status in (REPLAYED, ALREADY_REPLAYED) or (
            result.status == FAILED and "another operator" in (result.error or "")
        ), result
    sent = [
        message
        for message in read_committed(settings, settings.ingest_topic("zjj"))
        if (REPLAYED_FROM_HEADER, letter.ledger_key.encode()) in (message.headers() or [])
    ]
    assert [(m.key(), m.value()) for m in sent] == [(b"race-1", b"this is not avro")]
    assert dict(sent[0].headers() or [])["ce_id"] == b"x"
    assert len(read_committed(settings, ledger_topic(settings))) == 1
    # A later operator, with a fresh view of the ledger, is told it was done.
    late = Replayer(settings, by="late")
    try:
        assert late.replay(letter).status == ALREADY_REPLAYED
    finally:
        late.close()


def test_bad_arguments_get_one_line_and_a_nonzero_exit(pipeline_settings: Settings) -> None:
    settings = pipeline_settings
    cases = [
        (("show", "1-x"), 2, "malformed dead-letter id"),
        (("show", "0-12345"), 1, "no dead letter 0-12345"),
        (("show", "99-0"), 1, "no dead letter 99-0"),
        (("replay",), 2, "say which letters"),
        (("replay", "0-0", "--reason", "not-avro"), 2, "not both"),
        (("replay", "0-0", "--agency", "zjj"), 2, "--agency narrows --reason"),
        (("replay", "0-0", "garbage"), 2, "malformed dead-letter id 'garbage'"),
        (("replay", "2-40"), 1, "no dead letter 2-40"),
        (("list", "--since", "yesterday"), 2, "is not a date"),
    ]
    for args, code, message in cases:
        result = run_cli(settings, "deadletters", *args, env=SECRETS)
        assert (result.returncode, result.stdout) == (code, ""), (args, result)
        assert result.stderr.strip().count("\n") == 0 and message in result.stderr, (args, result)
    nothing = run_cli(settings, "deadletters", "replay", "--reason", "no-such-reason", "--json")
    assert nothing.returncode == 0 and json.loads(nothing.stdout) == []
