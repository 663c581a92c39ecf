"""Intake's use of retention classification (streams/intake.py): accept() turns the classifier's
answer into Accepted or Undecided, and review_item() carries a disputed proposal's two periods and
the schedule's rule into the RetentionReview (v3) that archive staff decide."""

from __future__ import annotations

import copy
import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import fastavro

from archival.metadata import load_metadata_rules
from archival.retention import Decision, load_schedules
from archival.retention import Undecided as RetentionUndecided
from avro_schemas.schemas import RETENTION_REVIEW, parsed_schema
from recordflow.agencies import load_registry
from recordflow.settings import PACKAGE_DIR, Settings
from streams.context import PipelineContext
from streams.intake import Accepted, Undecided, accept, review_item
from tests.examples import lifecycle_event
from topics.deadletter import Origin

TODAY = dt.date(2026, 12, 1)
SETTINGS = Settings()
ORIGIN = Origin(
    "ingest.zjj.lifecycle.v1", 0, 7, None, b"ZJJ-2026-0041", b"\x00\x00\x00\x00\x01", []
)


class FakeCodec:
    """Decodes to a prepared event: accept() is tested without a schema registry."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event

    def decode(self, value: bytes | None, record_type: str) -> dict[str, Any]:
        return copy.deepcopy(self.event)


def context(event: dict[str, Any]) -> PipelineContext:
    return cast(PipelineContext, SimpleNamespace(
        settings=SETTINGS,
        agencies=load_registry(PACKAGE_DIR / "agencies.yaml"),
        schedules=load_schedules(PACKAGE_DIR / "retention"),
        metadata_rules=load_metadata_rules(PACKAGE_DIR / "metadata_rules.yaml"),
        codec=FakeCodec(event),
        # An archive that holds no document yet (a reply's request is looked up there).
        storage=SimpleNamespace(reference_code_of=lambda agency_code, document_id: None),
    ))  # fmt: skip


def accepted(**changes: Any) -> Accepted | Undecided:
    event = {**lifecycle_event(), **changes}
    outcome = accept(context(event), SETTINGS.ingest_topic("zjj"), b"...", today=TODAY)
    assert isinstance(outcome, Accepted | Undecided), outcome
    return outcome


def test_a_proposal_the_schedule_gives_is_accepted_and_said() -> None:
    # 关于申请老旧小区改造专项资金的请示, proposed D30: zjj's schedule gives D30.
    outcome = accepted()
    assert isinstance(outcome, Accepted)
    assert outcome.decision == Decision("D30", "zjj-schedule@2026.2/D30-special-funds", "D30")
    assert str(outcome.series) == "Z109-WS·2026-D30-GHK"


def test_a_disputed_proposal_becomes_a_review_item_with_both_periods() -> None:
    outcome = accepted(retention_proposal="D10")
    assert isinstance(outcome, Undecided)
    item = review_item(outcome.event, outcome.reason, ORIGIN, [])
    assert (item["proposed_period"], item["schedule_period"], item["schedule_rule_id"]) == (
        "D10",
        "D30",
        "zjj-schedule@2026.2/D30-special-funds",
    )
    assert "proposes D10" in item["reason"] and item["kind"] == "RETENTION"
    item["queued_at"] = item["queued_at"].replace(microsecond=0)
    fastavro.validation.validate(item, parsed_schema(RETENTION_REVIEW), raise_errors=True)


def test_no_rule_and_a_proposal_shows_the_proposal_only() -> None:
    description = {**lifecycle_event()["description"], "document_type": "备忘录",
                   "title": "窗口服务工作备忘录", "document_number": None}  # fmt: skip
    outcome = accepted(description=description, retention_proposal="Y", business_matter_code=None)
    assert isinstance(outcome, Undecided)
    item = review_item(outcome.event, outcome.reason, ORIGIN, [])
    assert (item["proposed_period"], item["schedule_period"], item["schedule_rule_id"]) == (
        "Y",
        None,
        None,
    )
    assert item["reason"].startswith("no rule of zjj-schedule@2026.2 or city-default@2026.3")


def test_a_reason_given_as_text_fills_no_periods() -> None:
    item = review_item(lifecycle_event(), "no rule decides a 备忘录", ORIGIN, [])
    assert item["reason"] == "no rule decides a 备忘录"
    assert (item["proposed_period"], item["schedule_period"], item["schedule_rule_id"]) == (
        None,
        None,
        None,
    )
    same = review_item(
        lifecycle_event(), RetentionUndecided("no rule decides a 备忘录"), ORIGIN, []
    )
    assert {**same, "queued_at": None} == {**item, "queued_at": None}
