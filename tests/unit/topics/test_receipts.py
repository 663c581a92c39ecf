"""Archival receipts (topics/receipts.py), without Kafka: what each outcome tells its agency,
that every receipt fits the ArchivalReceipt schema, and that its id is the same whenever the
same outcome is told again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import fastavro
import pytest

from avro_schemas.codec import Codec
from avro_schemas.records import ArchivalReceipt, ArchivalRecord
from avro_schemas.schemas import ARCHIVAL_RECEIPT, parsed_schema
from recordflow.errors import RecordRejected
from recordflow.settings import Settings
from streams.register import appraisal_item
from tests.examples import archival_record, dead_letter_record, retention_review_record
from topics import receipts
from topics.deadletter import Origin, dead_letter

AT = dt.datetime(2026, 12, 6, 2, 30, tzinfo=dt.UTC)
ORIGIN = Origin("t.ingest.zjj.lifecycle.v1", 2, 1041, None, b"ZJJ-2026-0099", b"junk", [])


def valid(receipt: ArchivalReceipt) -> ArchivalReceipt:
    fastavro.validation.validate(receipt, parsed_schema(ARCHIVAL_RECEIPT), raise_errors=True)
    return receipt


def test_archived_tells_the_code_the_archive_time_and_the_retention() -> None:
    record = archival_record()
    receipt = valid(receipts.archived(record))
    assert receipt["outcome"] == "ARCHIVED"
    assert receipt["receipt_id"] == f"{record['event_id']}:ARCHIVED"
    assert (receipt["document_id"], receipt["agency_code"]) == (record["document_id"], "zjj")
    assert receipt["archival_code"] == record["reference_code"]
    assert receipt["archived_at"] == receipt["occurred_at"] == record["archived_at"]
    assert receipt["retention_period"] == record["retention_period"]
    assert receipt["retention_rule"] == record["retention_rule_id"]
    assert receipt["retain_until"] == cast(dt.date, record["retain_until"]).isoformat()
    assert receipt["reason_code"] is None and receipt["decision"] is None


def test_a_permanent_record_has_no_retain_until() -> None:
    record = cast(ArchivalRecord, {**archival_record(), "retention_period": "Y",
                                   "retain_until": None})  # fmt: skip
    assert valid(receipts.archived(record))["retain_until"] is None


def test_appraisal_due_keeps_the_code_and_says_until_when() -> None:
    record = cast(ArchivalRecord, {**archival_record(), "appraisal_status": "DUE",
                                   "retain_until": dt.date(2021, 1, 1),
                                   "lock_until": dt.date(2027, 12, 6)})  # fmt: skip
    item = appraisal_item(record, ORIGIN)
    receipt = valid(receipts.appraisal_due(record, item))
    assert receipt["outcome"] == "APPRAISAL_DUE"
    assert receipt["receipt_id"] == f"{record['event_id']}:APPRAISAL_DUE"
    assert receipt["archival_code"] == record["reference_code"]
    assert receipt["retain_until"] == "2021-01-01"
    assert receipt["reason_text"] == item["reason"] and "2027-12-06" in item["reason"]


def test_held_for_review_says_why() -> None:
    item = retention_review_record()
    receipt = valid(receipts.held_for_review(item))
    assert (receipt["outcome"], receipt["reason_code"]) == (
        "HELD_FOR_REVIEW",
        "retention-undecided",
    )
    assert receipt["reason_text"] == item["reason"]
    assert receipt["occurred_at"] == item["queued_at"]
    assert (receipt["event_id"], receipt["document_id"]) == (item["event_id"], item["document_id"])
    assert receipt["archival_code"] is None


def test_rejected_tells_the_reason_code_text_and_stage() -> None:
    letter = dead_letter_record()
    receipt = valid(receipts.rejected(letter, "zjj", "ZJJ-2026-0099"))
    assert receipt["outcome"] == "REJECTED"
    assert receipt["receipt_id"] == "5d2b1c7e:REJECTED"
    assert (receipt["reason_code"], receipt["stage"]) == ("checksum-mismatch", "register")
    assert receipt["reason_text"] == letter["message"]
    assert receipt["occurred_at"] == letter["failed_at"]


def test_an_event_that_could_not_be_decoded_is_known_by_where_it_arrived() -> None:
    rejection = RecordRejected("not-avro", "no magic byte", "decode")
    letter = dead_letter(ORIGIN, rejection, agency_code="zjj", event_id=None)
    receipt = valid(receipts.rejected(letter, "zjj", ORIGIN.key.decode()))  # type: ignore[union-attr]
    assert receipt["event_id"] is None
    assert receipt["receipt_id"] == "t.ingest.zjj.lifecycle.v1/2/1041:REJECTED"
    assert receipt["document_id"] == "ZJJ-2026-0099"
    with pytest.raises(ValueError, match="event id or where"):
        receipts.receipt_id("REJECTED", None)


def test_the_same_outcome_told_again_is_the_same_receipt() -> None:
    record = archival_record()
    assert receipts.archived(record) == receipts.archived(record)
    letter = dead_letter_record()
    again = {**letter, "failed_at": letter["failed_at"] + dt.timedelta(seconds=5)}
    first, second = receipts.rejected(letter, "zjj", "d"), receipts.rejected(again, "zjj", "d")
    assert first["receipt_id"] == second["receipt_id"]
    ids = {receipts.receipt_id(outcome, "e1") for outcome in receipts.OUTCOMES}
    assert len(ids) == len(receipts.OUTCOMES)  # each outcome of one event is a receipt of its own


def test_a_retention_decision_tells_the_period_and_who_gave_it() -> None:
    item = {**retention_review_record(), "status": "DECIDED", "decided_period": "D10",
            "decided_by": "王档案", "decided_at": AT, "note": "窗口日常事务"}  # fmt: skip
    receipt = valid(receipts.decided(cast(Any, item), "retention-review@2026-12-06/王档案"))
    assert (receipt["outcome"], receipt["decision"], receipt["decided_by"]) == (
        "DECIDED", "D10", "王档案",
    )  # fmt: skip
    assert receipt["retention_period"] == "D10" and receipt["occurred_at"] == AT
    assert receipt["retention_rule"] == "retention-review@2026-12-06/王档案"
    assert receipt["receipt_id"] == f"{item['event_id']}:DECIDED"


def test_an_appraisal_decision_is_a_receipt_apart_from_the_retention_decision() -> None:
    record = {**archival_record(), "retain_until": dt.date(2041, 1, 1)}
    item = {**retention_review_record(), "kind": "APPRAISAL", "status": "DECIDED",
            "appraisal_outcome": "extend", "decided_period": "D30", "decided_by": "李档案",
            "decided_at": AT, "note": None}  # fmt: skip
    receipt = valid(receipts.appraised(cast(Any, item), record))
    assert receipt["decision"] == "appraisal:extend D30"
    assert receipt["archival_code"] == record["reference_code"]
    assert receipt["retain_until"] == "2041-01-01"
    assert receipt["receipt_id"] == f"{item['event_id']}:DECIDED:appraisal"
    destroy = {**item, "appraisal_outcome": "destroy", "decided_period": None}
    assert valid(receipts.appraised(cast(Any, destroy), record))["decision"] == "appraisal:destroy"


def test_a_receipt_goes_to_its_agencys_topic_keyed_by_the_document_id() -> None:
    class SubjectCodec:
        def encode(self, subject: Any, value: dict[str, Any]) -> bytes:
            return json.dumps({"subject": subject.name, "id": value["receipt_id"]}).encode()

    settings = Settings(topic_prefix="t.")
    receipt = receipts.archived(archival_record())
    encoded = receipts.encode(settings, cast(Codec, SubjectCodec()), receipt)
    assert (encoded.topic, encoded.key) == ("t.receipts.zjj.v1", b"ZJJ-2026-0041")
    assert json.loads(encoded.value)["subject"] == "t.receipts.zjj.v1-value"


def test_a_receipt_takes_no_field_the_schema_lacks() -> None:
    with pytest.raises(TypeError, match="not fields of a receipt"):
        receipts._receipt("ARCHIVED", "e", "d", "zjj", AT, "e:ARCHIVED", colour="red")
