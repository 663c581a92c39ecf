"""What review decisions write (connectors/review.py), without Kafka or S3: the messages of a
retention decision, an appraisal's new dates and record, and how a first decision is shown when a
second is refused. tests/integration/test_review_transactions.py and test_appraisal.py run them on
the real stack."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import pytest

from archival.reference import Series
from avro_schemas.codec import Codec
from avro_schemas.records import RetentionReview
from connectors.review import (
    DESTROY_AFTER_HOLD,
    EXTENDED,
    AlreadyDecided,
    Extension,
    ReviewError,
    appraised_record,
    decision_messages,
    decision_text,
    extension_for,
    transactional_id,
)
from connectors.storage import PERMANENT_UNTIL
from recordflow.agencies import load_registry
from recordflow.settings import Settings
from tests.examples import retention_review_record
from topics.register import HISTORY_HEADER, RETENTION_HEADER, SERIES_HEADER, partition_key

TODAY = dt.date(2026, 12, 6)
AT = dt.datetime(2026, 12, 6, 2, 30, tzinfo=dt.UTC)


def record(year: int = 2010, lock_until: dt.date | None = dt.date(2027, 12, 6)) -> dict[str, Any]:
    return {"reference_code": f"Z215-WS·{year}-D10-BGS-0001", "year": year,
            "retention_period": "D10", "retain_until": dt.date(year + 11, 1, 1),
            "lock_until": lock_until, "appraisal_status": "DUE", "provenance": []}  # fmt: skip


def test_d30_runs_from_1_january_after_the_year_and_never_shortens_the_lock() -> None:
    assert extension_for(record(2010), "D30", TODAY) == Extension(
        "D30", dt.date(2041, 1, 1), dt.date(2041, 1, 1)
    )
    held_longer = record(2010, lock_until=dt.date(2045, 1, 1))
    assert extension_for(held_longer, "D30", TODAY).lock_until == dt.date(2045, 1, 1)
    permanent = extension_for(record(2010), "Y", TODAY)
    assert permanent == Extension("Y", None, PERMANENT_UNTIL.date()) and permanent.permanent


def test_an_extension_already_over_or_to_another_period_is_refused() -> None:
    with pytest.raises(ReviewError, match="would have ended on 2021-01-01, which is past"):
        extension_for(record(1990), "D30", TODAY)
    with pytest.raises(ReviewError, match="extends to D30 or Y"):
        extension_for(record(2010), "D10", TODAY)


def test_the_appraised_record_keeps_its_code_and_period_and_records_the_appraisal() -> None:
    before = record()
    extended = appraised_record(before, EXTENDED, "王档案", AT, "涉及产权",
                                Extension("D30", dt.date(2041, 1, 1), dt.date(2041, 1, 1)))  # fmt: skip
    assert (extended["reference_code"], extended["retention_period"]) == (
        before["reference_code"], "D10",
    )  # fmt: skip
    assert (extended["retain_until"], extended["lock_until"], extended["appraisal_status"]) == (
        dt.date(2041, 1, 1), dt.date(2041, 1, 1), "EXTENDED",
    )  # fmt: skip
    (step,) = extended["provenance"]
    assert (step["type"], step["agent"], step["time"]) == ("appraisal", "archive-staff:王档案", AT)
    assert "extend to D30" in step["detail"] and step["detail"].endswith("; 涉及产权")
    destroyed = appraised_record(before, DESTROY_AFTER_HOLD, "王档案", AT, None)
    assert (destroyed["retain_until"], destroyed["lock_until"]) == (
        before["retain_until"], before["lock_until"],
    )  # fmt: skip
    assert "destroy once the hold ends (2027-12-06)" in destroyed["provenance"][0]["detail"]
    assert before["provenance"] == []  # the record read is not changed in place


def test_a_refusal_shows_the_first_decision() -> None:
    decided = {"event_id": "e1", "kind": "APPRAISAL", "appraisal_outcome": "extend",
               "decided_period": "D30", "decided_by": "王档案", "decided_at": AT,
               "note": "涉及产权"}  # fmt: skip
    text = str(AlreadyDecided(decided))
    assert text.startswith("event e1 was already decided: extend to D30 by 王档案 at 2026-12-06 ")
    assert text.endswith("; note: 涉及产权")
    retention = {"kind": "RETENTION", "decided_period": "D10", "decided_by": "李档案",
                 "decided_at": AT, "note": None}  # fmt: skip
    assert decision_text(retention).startswith("D10 by 李档案 at ")


class EventCodec:
    """Reads any bytes as a bdc filing event; writes JSON."""

    def decode(self, data: bytes, record_type: str) -> dict[str, Any]:
        return {"agency": {"code": "bdc"}, "document_id": "BDC-1",
                "description": {"year": 2026, "unit_code": "BGS"}}  # fmt: skip

    def encode(self, subject: Any, value: dict[str, Any]) -> bytes:
        return json.dumps({"subject": subject.name, "status": value.get("status")}).encode()


def test_a_retention_decision_is_the_event_sent_on_the_decided_item_and_its_receipt() -> None:
    settings = Settings(topic_prefix="t.")
    item: RetentionReview = {
        **retention_review_record(), "event_id": "e1", "status": "PENDING",
        "original_topic": "t.ingest.bdc.lifecycle.v1", "original_partition": 0,
        "original_offset": 5, "original_value": b"event bytes", "history_before_filing": [],
        "kind": "RETENTION",
    }  # fmt: skip
    decided, messages = decision_messages(settings, cast(Codec, EventCodec()), item, "D30",
                                          "王档案", "note", AT,
                                          registry=load_registry(settings.agencies_file))  # fmt: skip
    assert (decided["status"], decided["decided_period"], decided["decided_at"]) == (
        "DECIDED", "D30", AT,
    )  # fmt: skip
    register, review, receipt = messages
    series = Series("Z215", 2026, "D30", "BGS")
    assert (register.topic, register.key, register.value) == (
        "t.recordflow.register.v1", partition_key(series), b"event bytes",
    )  # fmt: skip
    headers = dict(register.headers)
    assert headers[RETENTION_HEADER] == b"D30" and headers[SERIES_HEADER] == str(series).encode()
    assert json.loads(headers[HISTORY_HEADER] or b"[]") == []
    assert (review.topic, review.key) == ("t.records.retention-review.v1", b"e1")
    assert json.loads(review.value)["status"] == "DECIDED"
    # The agency's receipt, in the same transaction, keyed by its document id.
    own = f"t.receipts.{item['agency_code']}.v1"
    assert (receipt.topic, receipt.key) == (own, item["document_id"].encode())
    assert json.loads(receipt.value)["subject"] == f"{own}-value"
    assert transactional_id(settings, "e1") == "t.recordflow.review.e1"
