"""Lifecycle steps before filing become the record's business history (业务实体): intake keeps
them once each, in time order; register merges them with what the filing event carries. A
document no rule decides carries them in its review item, and the decision sends them on."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any, cast

import fastavro

from avro_schemas.records import BusinessActivity
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, RETENTION_REVIEW, parsed_schema
from connectors import review
from recordflow.agencies import load_registry
from recordflow.settings import PACKAGE_DIR, Settings
from streams.intake import (
    activity,
    filed_key,
    filed_note,
    history_key,
    late_step,
    remember,
    review_item,
)
from streams.register import merge_history
from tests.examples import request_description
from topics.deadletter import Origin
from topics.register import HISTORY_HEADER, history_header

AGENCY = load_registry(PACKAGE_DIR / "agencies.yaml").get("zjj")
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def event(event_id: str, action: str, minutes: int) -> dict[str, Any]:
    return {"event_id": event_id, "action": action, "event_time": T0 + dt.timedelta(minutes=minutes),
            "actor": "张三", "source_system": "OA", "document_id": "ZJJ-1",
            "agency": {"code": "zjj", "name": "市住房和城乡建设局"}}  # fmt: skip


def test_steps_are_kept_once_each_in_time_order() -> None:
    assert AGENCY is not None
    steps = remember([], event("b", "APPROVED", 30), AGENCY)
    steps = remember(steps, event("a", "CREATED", 0), AGENCY)
    again = remember(steps, event("a", "CREATED", 0), AGENCY)  # a redelivery
    assert again == steps
    assert [(s["action"], s["event_id"]) for s in steps] == [("created", "a"), ("approved", "b")]
    assert steps[0]["organisation"] == "市住房和城乡建设局" and steps[0]["actor"] == "张三"
    assert history_key(event("a", "CREATED", 0)) == "zjj|ZJJ-1"


def test_merge_keeps_order_and_drops_what_the_filing_event_repeats() -> None:
    assert AGENCY is not None
    kept = [
        activity(event("a", "CREATED", 0), AGENCY),
        activity(event("b", "APPROVED", 30), AGENCY),
    ]
    carried: list[BusinessActivity] = [
        {"action": "approved", "time": T0 + dt.timedelta(minutes=30), "actor": None, "organisation": None,
         "status": None, "basis": None, "description": "also in the filing event"},
        {"action": "issued", "time": T0 + dt.timedelta(minutes=60), "actor": None, "organisation": None,
         "status": None, "basis": "《条例》", "description": None},
    ]  # fmt: skip
    merged = merge_history(kept, carried)
    minutes = [(s["action"], int((s["time"] - T0).total_seconds() // 60)) for s in merged]
    assert minutes == [("created", 0), ("approved", 30), ("issued", 60)]
    assert all("event_id" not in step for step in merged)
    assert merge_history([], carried) == carried


# --- a document no rule decides: the steps travel in its review item -----------------------
def kept_steps() -> list[dict[str, Any]]:
    """Two steps as intake's lifecycle-history table holds them (JSON, times as ISO text)."""
    assert AGENCY is not None
    return remember(
        remember([], event("a", "CREATED", 0), AGENCY), event("b", "APPROVED", 30), AGENCY
    )


def filed() -> dict[str, Any]:
    return {**event("f", "FILED", 90), "description": request_description()}


def origin() -> Origin:
    return Origin("ingest.zjj.lifecycle.v1", 0, 7, None, b"ZJJ-1", b"\x00\x00\x00\x00\x01", [])


def test_review_item_holds_the_kept_steps_as_business_activities() -> None:
    item = review_item(filed(), "no rule decides a 请示", origin(), kept_steps())
    history = item["history_before_filing"]
    assert [(s["action"], s["time"]) for s in history] == [
        ("created", T0), ("approved", T0 + dt.timedelta(minutes=30))
    ]  # fmt: skip
    assert all("event_id" not in step for step in history)
    schema = parsed_schema(RETENTION_REVIEW, 2)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, item)
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, schema, schema)
    assert isinstance(read, dict) and read["history_before_filing"] == history
    assert review_item(filed(), "no rule", origin(), [])["history_before_filing"] == []


def test_a_v1_review_item_reads_with_no_kept_steps() -> None:
    """Items queued before v2 still decide; their documents simply had no steps to carry."""
    item: dict[str, Any] = dict(review_item(filed(), "no rule decides a 请示", origin(), []))
    del item["history_before_filing"]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed_schema(RETENTION_REVIEW, 1), item)
    buffer.seek(0)
    read = fastavro.schemaless_reader(
        buffer, parsed_schema(RETENTION_REVIEW, 1), parsed_schema(RETENTION_REVIEW, 2)
    )
    assert isinstance(read, dict) and read["history_before_filing"] == []


def test_the_header_reads_the_same_from_the_table_and_from_a_review_item() -> None:
    """Register merges what `review decide` sends exactly as what intake sends directly."""
    item = review_item(filed(), "no rule decides a 请示", origin(), kept_steps())
    direct = json.loads(history_header(kept_steps()))
    decided = json.loads(history_header(item["history_before_filing"]))
    assert direct == kept_steps()
    assert merge_history(decided, []) == merge_history(direct, []) == item["history_before_filing"]


class EventCodec:
    """Reads any bytes as the filing event; writes a placeholder."""

    def decode(self, data: bytes, record_type: str) -> dict[str, Any]:
        assert record_type == DOCUMENT_LIFECYCLE_EVENT
        return filed()

    def encode(self, subject: Any, value: dict[str, Any]) -> bytes:
        return b"decided"


def test_the_decision_sends_the_kept_steps_on_as_the_history_header() -> None:
    settings = Settings()
    item = review_item(filed(), "no rule decides a 请示", origin(), kept_steps())
    _, messages = review.decision_messages(
        settings,
        cast(Any, EventCodec()),
        item,
        "D10",
        "王档案",
        None,
        registry=load_registry(settings.agencies_file),
    )
    (message,) = [m for m in messages if m.topic == settings.register_topic]
    sent_on = merge_history(json.loads(dict(message.headers)[HISTORY_HEADER] or b"[]"), [])
    assert sent_on == merge_history(kept_steps(), [])
    assert [step["action"] for step in sent_on] == ["created", "approved"]


# --- a step after filing (issue 4) -------------------------------------------------------------
def test_a_step_that_arrives_after_filing_is_refused_with_the_filing_named() -> None:
    assert AGENCY is not None
    filed = event("f", "FILED", 60)
    note = filed_note(filed)
    assert filed_key(filed) == "filed|zjj|ZJJ-1"
    late = late_step(event("c", "CREATED", 0), [], note)
    assert late is not None and late.reason == "lifecycle-after-filing" and late.event_id == "c"
    assert "filed by event f" in late.message and late.stage == "intake"


def test_a_step_before_filing_or_redelivered_after_it_is_no_news() -> None:
    assert AGENCY is not None
    kept = remember([], event("c", "CREATED", 0), AGENCY)
    assert late_step(event("a", "APPROVED", 30), kept, None) is None  # not filed yet
    filed = filed_note(event("f", "FILED", 60))
    assert late_step(event("c", "CREATED", 0), kept, filed) is None  # kept before: a redelivery
