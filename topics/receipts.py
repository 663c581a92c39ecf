"""The contract of receipts.<agency>.v1, written once: the archival receipt (归档回执) of each
outcome of an agency's submission, and the message that carries it (key = the agency's document
id, value = ArchivalReceipt). Built here, in pure functions of what each outcome already has in
hand (the record, the review item, the dead letter), because the stream stages
(streams/register.py, streams/intake.py, streams/resilience.py) and archive staff's decisions
(connectors/review.py) all publish them, and the SDK and the gateway read them
(connectors/receipts.py).

A receipt's id is `<event id>:<outcome>` (`<topic>/<partition>/<offset>:<outcome>` when the event
could not be decoded), so an outcome delivered twice (at-least-once, a replay) is recognisably the
same receipt; an appraisal decision adds `:appraisal`, as an event may be decided twice: its
retention period, and later its appraisal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple, cast

from avro_schemas.codec import Codec, Subject
from avro_schemas.records import ArchivalReceipt, ArchivalRecord, RetentionReview
from avro_schemas.schemas import ARCHIVAL_RECEIPT
from recordflow.settings import Settings

Outcome = Literal["ARCHIVED", "REJECTED", "HELD_FOR_REVIEW", "DECIDED", "APPRAISAL_DUE"]
ARCHIVED: Final = "ARCHIVED"
REJECTED: Final = "REJECTED"
HELD_FOR_REVIEW: Final = "HELD_FOR_REVIEW"
DECIDED: Final = "DECIDED"
APPRAISAL_DUE: Final = "APPRAISAL_DUE"
OUTCOMES: tuple[Outcome, ...] = (ARCHIVED, REJECTED, HELD_FOR_REVIEW, DECIDED, APPRAISAL_DUE)
OPTIONAL = ("archival_code", "archived_at", "retention_period", "retention_rule", "retain_until",
            "reason_code", "reason_text", "stage", "decided_by", "decision")  # fmt: skip
REVIEW_REASON = "retention-undecided"  # the reason code of a review item (recordflow/reasons.yaml)


class Encoded(NamedTuple):
    """A receipt as a message: its agency's receipts topic, the document id, the Avro value."""

    topic: str
    key: bytes
    value: bytes


def receipt_id(outcome: str, event_id: str | None, where: tuple[str, int, int] | None = None,
               suffix: str = "") -> str:  # fmt: skip
    """`<event id>:<outcome>`, or `<topic>/<partition>/<offset>:<outcome>` without an event id."""
    if event_id:
        base = event_id
    elif where is not None:
        base = "/".join(str(part) for part in where)
    else:
        raise ValueError("a receipt needs the event id or where the input arrived")
    return f"{base}:{outcome}{suffix}"


def _receipt(outcome: Outcome, event_id: str | None, document_id: str, agency_code: str,
             at: dt.datetime, rid: str, **fields: Any) -> ArchivalReceipt:  # fmt: skip
    """A receipt with every optional field null but those given."""
    empty = dict.fromkeys(OPTIONAL, None)
    unknown = set(fields) - set(empty)
    if unknown:
        raise TypeError(f"not fields of a receipt: {sorted(unknown)}")
    return cast(ArchivalReceipt, {
        "receipt_id": rid, "event_id": event_id, "document_id": document_id,
        "agency_code": agency_code, "outcome": outcome, "occurred_at": at, **empty, **fields,
    })  # fmt: skip


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _archive_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a receipt says of an archived record: its 档号, archive time and retention."""
    return {
        "archival_code": record["reference_code"],
        "archived_at": record["archived_at"],
        "retention_period": record["retention_period"],
        "retention_rule": record["retention_rule_id"],
        "retain_until": _iso(record.get("retain_until")),
    }


def archived(record: ArchivalRecord) -> ArchivalReceipt:
    """ARCHIVED: the record was numbered, stored and published."""
    event_id = record["event_id"]
    return _receipt(ARCHIVED, event_id, record["document_id"], record["agency"]["code"],
                    record["archived_at"], receipt_id(ARCHIVED, event_id), **_archive_fields(record))  # fmt: skip


def appraisal_due(record: ArchivalRecord, item: RetentionReview) -> ArchivalReceipt:
    """APPRAISAL_DUE: archived (the 档号 stands), but its period had ended when it was received,
    so it is held for appraisal; `item` is its appraisal item, whose reason says until when."""
    event_id = record["event_id"]
    return _receipt(APPRAISAL_DUE, event_id, record["document_id"], record["agency"]["code"],
                    record["archived_at"], receipt_id(APPRAISAL_DUE, event_id),
                    **_archive_fields(record), reason_text=item["reason"])  # fmt: skip


def held_for_review(item: RetentionReview) -> ArchivalReceipt:
    """HELD_FOR_REVIEW: no rule decides its retention period; archive staff will."""
    event_id = item["event_id"]
    return _receipt(HELD_FOR_REVIEW, event_id, item["document_id"], item["agency_code"],
                    item["queued_at"], receipt_id(HELD_FOR_REVIEW, event_id),
                    reason_code=REVIEW_REASON, reason_text=item["reason"])  # fmt: skip


def rejected(letter: Mapping[str, Any], agency_code: str, document_id: str) -> ArchivalReceipt:
    """REJECTED: the input became a dead letter (topics/deadletter.py builds `letter`), with its
    reason code, message and stage. `document_id`: the event's, or the input's key when the
    event could not be decoded."""
    event_id = letter["event_id"]
    where = (letter["original_topic"], letter["original_partition"], letter["original_offset"])
    return _receipt(REJECTED, event_id, document_id, agency_code, letter["failed_at"],
                    receipt_id(REJECTED, event_id, where), reason_code=letter["reason"],
                    reason_text=letter["message"], stage=letter["stage"])  # fmt: skip


def decided(item: RetentionReview, rule_id: str | None = None) -> ArchivalReceipt:
    """DECIDED (retention): archive staff gave the period of a DECIDED review item; the document
    goes on to be archived (an ARCHIVED receipt follows). `rule_id`: the decision's rule."""
    event_id = item["event_id"]
    at = item["decided_at"] or dt.datetime.now(dt.UTC)
    return _receipt(DECIDED, event_id, item["document_id"], item["agency_code"], at,
                    receipt_id(DECIDED, event_id), retention_period=item["decided_period"],
                    retention_rule=rule_id, decided_by=item["decided_by"],
                    decision=item["decided_period"], reason_text=item["note"])  # fmt: skip


def appraised(item: RetentionReview, record: Mapping[str, Any]) -> ArchivalReceipt:
    """DECIDED (appraisal, 到期鉴定): `appraisal:destroy` or `appraisal:extend <period>`, with
    the record as the catalog now has it (an extension's new retain_until)."""
    event_id = item["event_id"]
    at = item["decided_at"] or dt.datetime.now(dt.UTC)
    decision = f"appraisal:{item['appraisal_outcome']}"
    if item["decided_period"]:
        decision += f" {item['decided_period']}"
    return _receipt(DECIDED, event_id, item["document_id"], item["agency_code"], at,
                    receipt_id(DECIDED, event_id, suffix=":appraisal"), **_archive_fields(record),
                    decided_by=item["decided_by"], decision=decision, reason_text=item["note"])  # fmt: skip


def subject(settings: Settings, agency_code: str) -> Subject:
    return Subject.for_topic(settings.receipts_topic(agency_code), ARCHIVAL_RECEIPT)


def encode(settings: Settings, codec: Codec, receipt: ArchivalReceipt) -> Encoded:
    """The receipt as a message on its agency's receipts topic, keyed by the document id."""
    agency_code = receipt["agency_code"]
    value = codec.encode(subject(settings, agency_code), receipt)
    return Encoded(settings.receipts_topic(agency_code), receipt["document_id"].encode(), value)
