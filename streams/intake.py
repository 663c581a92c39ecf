"""Intake: decode, validate and classify each agency's lifecycle events.

Input:  ingest.<agency>.lifecycle.v1 (every registered agency), key = document id
Output: recordflow.register.v1, key = fonds and year (every series of a fonds-year, and every
        document that could duplicate another, in one partition), value = the original event
        bytes, unchanged, with the series, the retention decision and the origin in headers;
        records.retention-review.v1 for what no retention rule decides, or whose proposed
        period the schedule does not allow (archive staff decide), with the steps kept before
        filing, which the decision sends on, and its HELD_FOR_REVIEW receipt on
        receipts.<agency>.v1;
        records.deadletter.v1 for anything rejected, including an event whose outputs could not
        fit their topics (output-too-large, record-too-large: checked before anything is sent,
        so the event never takes an item number).

Only FILED events become archival records. The lifecycle steps before filing (created, approved,
issued …) are kept in the lifecycle-history table, keyed like the ingest topics by agency and
document id, and travel with the filing event (a header) to become the record's business-entity
history (业务实体). A filing event no rule decides carries them in its review item instead, and
`recordflow review decide` puts them back in the header.

Order and repetition, as they arrive on one ingest partition (a document's events share its key,
so they keep the order its system sent them in):
- steps may arrive in any order before the filing: the history is kept in time order;
- a step sent again (the same event id) is kept once;
- the filing closes the document's history (the table keeps `filed|<agency>|<document>`): a step
  that arrives after it, not seen before, cannot join the archived record and is dead-lettered as
  lifecycle-after-filing, whole, so that nothing sent is dropped silently;
- the same filing event again is the same record (the register stage knows it by its event id);
  another document under an event id already archived is dead-lettered there (event-id-conflict).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import faust

from archival.metadata import agency_for_topic, validate_event
from archival.reference import Series, category_of, parse
from archival.retention import Decision, classify
from archival.retention import Undecided as RetentionUndecided
from avro_schemas.codec import CodecError
from avro_schemas.records import BusinessActivity, DocumentLifecycleEvent, RetentionReview
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from recordflow.agencies import Agency
from recordflow.errors import RecordRejected
from streams.context import TABLE_OPTIONS, PipelineContext
from streams.resilience import (
    retry_sending,
    retry_transient,
    send_dead_letter,
    send_receipt,
)
from topics import receipts
from topics.deadletter import Origin
from topics.register import partition_key, register_headers

log = logging.getLogger(__name__)

STAGE = "intake"
FILED = "FILED"


@dataclass(frozen=True)
class Accepted:
    event: DocumentLifecycleEvent
    agency: Agency
    decision: Decision
    series: Series


@dataclass(frozen=True)
class Noted:
    """A lifecycle step before filing (created, approved …): kept until the document is filed."""

    event: DocumentLifecycleEvent
    agency: Agency


@dataclass(frozen=True)
class Undecided:
    """Valid, but its retention is not decided — no rule decides it, or the agency's proposed period
    disagrees with its schedule: archive staff must (records.retention-review.v1). `reason` is the
    classifier's Undecided value: its text and, for a disagreement, both periods and the rule."""

    event: DocumentLifecycleEvent
    agency: Agency
    reason: RetentionUndecided


def accept(
    ctx: PipelineContext, topic: str, value: bytes | None, today: dt.date | None = None
) -> Accepted | Undecided | Noted:
    """Decide what becomes of one input: Accepted, Undecided (to review), Noted for a lifecycle
    step before filing, or RecordRejected (to the dead-letter topic)."""
    agency = agency_for_topic(topic, ctx.agencies, ctx.settings.topic_prefix)
    try:
        # Read as the latest DocumentLifecycleEvent schema (older writers' events resolved to it).
        event = cast(DocumentLifecycleEvent, ctx.codec.decode(value, DOCUMENT_LIFECYCLE_EVENT))
    except CodecError as exc:
        raise RecordRejected(exc.reason, str(exc), "decode") from exc
    try:
        validate_event(
            event,
            agency,
            ctx.agencies,
            ctx.metadata_rules,
            max_file_bytes=ctx.settings.max_file_bytes,
            staging_bucket=ctx.settings.staging_bucket,
            today=today,
        )
        if event["action"] != FILED:
            return Noted(event, agency)
    except RecordRejected as rejection:
        rejection.of_event(event)
        raise
    decision = classify(event, agency, ctx.schedules, ctx.storage.reference_code_of)
    if isinstance(decision, RetentionUndecided):
        return Undecided(event, agency, decision)
    description = event["description"]
    legacy = event.get("reference_code")
    # A legacy record's 档号 gives its series (year, unit, category), as it gives its number.
    series = (
        parse(legacy)[0]
        if legacy
        else Series(
            agency.fonds_code,
            description["year"],
            decision.period,
            description["unit_code"],
            category_of(event),
        )
    )
    return Accepted(event, agency, decision, series)


def history_key(event: Mapping[str, Any]) -> str:
    return f"{event['agency']['code']}|{event['document_id']}"


def filed_key(event: Mapping[str, Any]) -> str:
    """The lifecycle-history table's note that the document was filed: [event id, event time]."""
    return f"filed|{history_key(event)}"


def filed_note(event: Mapping[str, Any]) -> list[str]:
    return [event["event_id"], event["event_time"].isoformat()]


def late_step(
    event: Mapping[str, Any], kept: list[dict[str, Any]], filed: list[str] | None
) -> RecordRejected | None:
    """A RecordRejected for a step that arrives once its document was filed, else None. A step
    already kept (a redelivery after a crash) is no news, however late it comes again."""
    if filed is None or any(step["event_id"] == event["event_id"] for step in kept):
        return None
    filing_id, filed_at = filed
    return RecordRejected(
        "lifecycle-after-filing",
        f"{event['action']} step of {event['document_id']!r} ({event['event_time'].isoformat()}) "
        f"arrived after the document was filed by event {filing_id} ({filed_at}): the archived "
        "record's history is closed",
        STAGE,
        event["event_id"],
    )


def activity(event: Mapping[str, Any], agency: Agency) -> dict[str, Any]:
    """A lifecycle event as a BusinessActivity (业务实体), JSON-ready (the time as ISO text)."""
    return {
        "event_id": event["event_id"],
        "action": str(event["action"]).lower(),
        "time": event["event_time"].isoformat(),
        "actor": event["actor"],
        "organisation": agency.name,
        "status": None,
        "basis": None,
        "description": f"{event['action']} in {event['source_system'] or 'the agency system'}",
    }


def remember(
    steps: list[dict[str, Any]], event: Mapping[str, Any], agency: Agency
) -> list[dict[str, Any]]:
    """The document's steps so far with this one added once (a redelivery adds nothing), by time."""
    if any(step["event_id"] == event["event_id"] for step in steps):
        return steps
    return sorted([*steps, activity(event, agency)], key=lambda step: step["time"])


def as_business_activity(step: Mapping[str, Any]) -> BusinessActivity:
    """A kept step as Avro writes a BusinessActivity: the time a datetime, and no event id (it only
    keeps a redelivered step from being kept twice)."""
    # A step of the lifecycle-history table (JSON, as `activity` wrote it) has the other fields.
    return cast(
        BusinessActivity,
        {
            **{key: value for key, value in step.items() if key != "event_id"},
            "time": dt.datetime.fromisoformat(step["time"]),
        },
    )


def review_item(
    event: Mapping[str, Any],
    reason: str | RetentionUndecided,
    origin: Origin,
    kept: list[dict[str, Any]],
) -> RetentionReview:
    """A PENDING RetentionReview for an event whose retention is not decided, with the steps kept
    before filing: only the review item can carry them on to the register stage. `reason`: the
    classifier's Undecided value (a disputed proposal fills proposed_period, schedule_period and
    schedule_rule_id), or just its text."""
    undecided = reason if isinstance(reason, RetentionUndecided) else RetentionUndecided(reason)
    return {
        "event_id": event["event_id"],
        "status": "PENDING",
        "agency_code": event["agency"]["code"],
        "document_id": event["document_id"],
        "title": event["description"]["title"],
        "document_type": event["description"]["document_type"],
        "reason": undecided.reason,
        "original_topic": origin.topic,
        "original_partition": origin.partition,
        "original_offset": origin.offset,
        "original_value": origin.value or b"",
        "queued_at": dt.datetime.now(dt.UTC),
        "decided_period": None,
        "decided_by": None,
        "decided_at": None,
        "note": None,
        "history_before_filing": [as_business_activity(step) for step in kept],
        "kind": "RETENTION",
        "proposed_period": undecided.proposed_period,
        "schedule_period": undecided.schedule_period,
        "schedule_rule_id": undecided.schedule_rule_id,
        "reference_code": None,
        "retain_until": None,
        "lock_until": None,
        "appraisal_outcome": None,
    }


# What an archival record adds to its event at most: beyond the event's own fields, the record's
# codes, dates, package pointer and the check summary, and per file its archive location, format,
# provenance events and check results (tests/unit/streams/test_intake_sizes.py holds a realistic record
# to these bounds).
RECORD_OVERHEAD_BYTES = 16 * 1024
RECORD_BYTES_PER_FILE = 4 * 1024


def record_too_large(
    event: Mapping[str, Any], event_bytes: int, limit: int
) -> RecordRejected | None:
    """A RecordRejected (record-too-large) for an event whose archival record could not be
    published to records.archival-ready.v1 (`limit` bytes), else None. Decided here, before the
    event takes an item number, so that a record that can never be published never holds one.
    Inline file content is not part of the record: the archive holds it."""
    inline = sum(len(c["payload"]["inline_content"] or b"") for c in event["components"])
    files = len(event["components"])
    estimate = event_bytes - inline + RECORD_OVERHEAD_BYTES + RECORD_BYTES_PER_FILE * files
    if estimate <= limit:
        return None
    return RecordRejected(
        "record-too-large",
        f"its archival record would come to about {estimate} bytes, more than the {limit} that "
        "records.archival-ready.v1 takes: send less history or metadata in the event",
        STAGE,
        event["event_id"],
    )


def output_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """What a message costs against a topic's max.message.bytes: its key, value and headers and
    a record batch's framing around them (generously, for one record)."""
    framing = 128 + 16 * len(headers)
    return (
        framing
        + len(key or b"")
        + len(value or b"")
        + sum(len(name.encode()) + len(content) for name, content in headers)
    )


def origin_of(message: Any) -> Origin:
    headers = (
        message.headers.items() if isinstance(message.headers, dict) else (message.headers or [])
    )
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        key=message.key,
        value=message.value,
        headers=[(key, value) for key, value in headers],
    )


def attach(
    app: faust.App,
    ctx: PipelineContext,
    ingest: faust.TopicT,
    register_topic: faust.TopicT,
    deadletters: faust.TopicT,
    history_partitions: int,
    max_bytes: Callable[[str], int],
) -> None:
    """Intake reads `ingest`, the ingest topics of every registered agency (streams/app.py keeps
    it current as agencies are onboarded)."""
    stage = IntakeStage(app, ctx, register_topic, deadletters, history_partitions, max_bytes)

    @app.agent(ingest, name=f"{ctx.settings.app_id}.intake")
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for event in ctx.metrics.progress.track(STAGE, stream.events()):
            await stage.handle(origin_of(event.message))


class IntakeStage:
    """One worker's intake: its lifecycle-history table and the topics it sends on to."""

    def __init__(self, app: faust.App, ctx: PipelineContext, register_topic: faust.TopicT,
                 deadletters: faust.TopicT, history_partitions: int,
                 max_bytes: Callable[[str], int]) -> None:  # fmt: skip
        self.ctx = ctx
        self.app = app
        self.register_topic = register_topic
        self.deadletters = deadletters
        self.max_bytes = max_bytes
        self.review = app.topic(
            ctx.settings.review_topic, key_serializer="raw", value_serializer="raw"
        )
        changelog = ctx.settings.lifecycle_history_changelog_topic
        self.history = app.Table(
            f"{ctx.settings.topic_prefix}lifecycle-history",
            default=None,
            options=dict(TABLE_OPTIONS),  # a copy: faust's store takes keys out of it
            partitions=history_partitions,
            key_type=str,
            value_type=None,  # JSON (faust's default for tables), read back as plain lists
            changelog_topic=app.topic(changelog, partitions=history_partitions, compacting=True),
        )

    async def handle(self, origin: Origin) -> None:
        """One input: noted, sent on (register or review), or a dead letter."""
        ctx = self.ctx
        agency_code = ctx.settings.ingest_agency(origin.topic) or "unknown"
        with ctx.metrics.stage_duration.labels(agency_code, STAGE).time():
            try:
                accepted = await retry_transient(
                    partial(accept, ctx, origin.topic, origin.value), STAGE, ctx.metrics
                )
                if isinstance(accepted, Noted):
                    outcome = self.note(accepted)
                else:
                    outcome = await self.send_on(accepted, origin)
            except RecordRejected as rejection:
                await send_dead_letter(
                    ctx, self.deadletters, origin, rejection, agency_code, rejection.event_id
                )
                return
            ctx.metrics.events.labels(agency_code, STAGE, outcome).inc()

    def note(self, noted: Noted) -> str:
        """Keep a lifecycle step before filing; one after filing is refused (late_step)."""
        key = history_key(noted.event)
        kept = self.history.get(key) or []
        late = late_step(noted.event, kept, self.history.get(filed_key(noted.event)))
        if late is not None:
            raise late.of_event(noted.event)
        self.history[key] = remember(kept, noted.event, noted.agency)
        return "history"

    async def send_on(self, accepted: Accepted | Undecided, origin: Origin) -> str:
        """To the register stage, or to archive staff's review; a dead letter when it cannot be
        sent on (too large, refused)."""
        ctx, event = self.ctx, accepted.event
        kept = self.history.get(history_key(event)) or []
        try:
            limit = self.max_bytes(ctx.settings.archival_ready_topic)
            if problem := record_too_large(event, len(origin.value or b""), limit):
                raise problem
            if isinstance(accepted, Undecided):
                item = review_item(event, accepted.reason, origin, kept)
                value = await retry_transient(
                    partial(ctx.codec.encode, ctx.review_subject, item), STAGE, ctx.metrics
                )
                await self.deliver(self.review, item["event_id"].encode(), value, [])
                # The agency learns that its document waits for archive staff (归档回执).
                await send_receipt(ctx, self.app, receipts.held_for_review(item))
                outcome = "review"
            else:
                headers = register_headers(accepted.series, accepted.decision, origin, kept)
                key = partition_key(accepted.series)
                await self.deliver(self.register_topic, key, origin.value, headers)
                outcome = "accepted"
        except RecordRejected as rejection:
            rejection.of_event(event)
            raise
        self.history[filed_key(event)] = filed_note(event)
        return outcome

    async def deliver(
        self, topic: faust.TopicT, key: bytes, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Send one output and wait until the broker has it (durable before the input's offset
        may be committed); a transient failure is waited out, any other is RecordRejected."""
        size = output_size(key, value, headers)
        limit = self.max_bytes(str(topic.get_topic_name()))
        if size > limit:
            raise RecordRejected(
                "output-too-large",
                f"the event and what intake adds to it come to {size} bytes, more than the "
                f"{limit} that {topic.get_topic_name()} takes",
                STAGE,
            )

        async def send() -> None:
            await (await topic.send(key=key, value=value, headers=headers))

        await retry_sending(send, STAGE, self.ctx.metrics)
