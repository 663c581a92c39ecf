"""Register: check, number, store and publish each accepted record.

Input:  recordflow.register.v1, key = fonds·year, value = the original event bytes, the series in
        a header
Output: records.archival-ready.v1 and records.catalog.v1, key = archival reference code, and the
        agency's ARCHIVED receipt on receipts.<agency>.v1 (key = document id), in one transaction;
        records.deadletter.v1 for content that does not match what the agency declared or fails
        the four-property check (or, rarely, for an event whose series has no item number left).
State:  the item-numbers table (changelog recordflow.item-numbers.changelog), co-partitioned with
        the input, so that one worker owns a fonds-year at a time: its series counters, which event
        has which number, and which 文号 + 题名 it already holds (the duplicate check).

Order of work for one event, chosen so that a crash at any point loses nothing and a redelivered
event gets the record it already had:
1. fetch each staged file once into a local copy, hashing it, and compare with the declared size
   and digests; identify its format and scan it (streams/receipt.py);
2. run the DA/T 70 check at receipt: a failure of authenticity or integrity, or an infection,
   rejects the event here, before it takes a number, as does a 文号 + 题名 already archived in
   the fonds and year by another event;
3. take the event's item number from the table, or the series' next one (so rejected input
   leaves no gap), with the archive time that the record and its package will carry;
4. write each file to the archive under object lock (skipped when a redelivery finds it there),
   check again now that the storage location is known, and write the record's BagIt package;
5. publish the record to both topics and wait for the broker;
6. mark the event published, so a later redelivery is recognised as a duplicate;
7. mark its staged files archived, for `recordflow buckets sweep` (connectors/staging_sweep.py).
Once a number is given, steps 4 and 5 are retried until they succeed, whatever the failure (a
failed or unverifiable write, an unforeseen error): the content has verified, so the fault is not
the input's, and dead-lettering the event would leave a gap in the series.

A worker works on several events at once (RECORDFLOW_REGISTER_CONCURRENCY, streams/window.py):
steps 1-2 and 4-6 overlap, while step 3 and the duplicate check take turns in the order the
events arrived within their fonds-year, so numbering does not depend on which fetch ended first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import faust

from archival.checks import (
    FLAG_FAILED_AFTER_STORE,
    FLAG_USABILITY_REVIEW,
    CheckReport,
    check_receipt,
)
from archival.filenames import safe_filename
from archival.formats import spool_suffix
from archival.package import package_record
from archival.persons import named
from archival.reference import category_of, parse
from avro_schemas.codec import CodecError
from avro_schemas.records import (
    ArchivalRecord,
    BusinessActivity,
    Component,
    DocumentLifecycleEvent,
    PayloadReference,
    PreservationEvent,
    RecordDescription,
    RetentionReview,
)
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.failures import ScannerUnavailable, classify
from connectors.staging_sweep import mark_archived
from connectors.storage import Digests, Fetched
from recordflow.errors import RecordRejected
from streams import receipt
from streams.context import TABLE_OPTIONS, PipelineContext
from streams.intake import as_business_activity, origin_of
from streams.publish import Message, Publisher
from streams.resilience import Parked, retry_transient, retry_until_done, send_dead_letter
from streams.window import Turn, handle_concurrently
from topics import receipts
from topics.deadletter import Origin
from topics.register import HISTORY_HEADER, RULE_HEADER, SERIES_HEADER, SOURCE_HEADERS

log = logging.getLogger(__name__)

STAGE = "register"
RETENTION_YEARS = {"D30": 30, "D10": 10}
# The item-numbers table's note of a 档号 a legacy record came with (claim_legacy).
LEGACY_PREFIX = "code:"


# --- item numbers ------------------------------------------------------------------------
@dataclass(frozen=True)
class Allocation:
    item_number: int
    fresh: bool  # False when the event already had this number (a redelivery)
    published: bool
    at: dt.datetime  # when the number was given: the record's archive time, kept for redeliveries
    series: str | None = None  # the series the number was given in (None in entries before it)


def allocate(
    table: MutableMapping[str, Any],
    series: str,
    event_id: str,
    now: dt.datetime | None = None,
    *,
    claim: dict[str, str] | None = None,
) -> Allocation:
    """The event's item number in its series: the one it already has, or the next free one.

    `claim` (see `claim_of`) is kept in the event's entry: what the event id stands for, so that
    another document arriving under the same id is told apart from a redelivery.

    Two table entries change per new number, in this order: the series counter (which also names
    the event it was last given to) and then the event's own entry. The changelog keeps that order,
    so after a crash between the two the counter still says whose number it was.
    """
    known = table.get(f"event:{event_id}")
    if known is not None:
        at = dt.datetime.fromisoformat(known["at"]) if "at" in known else dt.datetime.now(dt.UTC)
        return Allocation(known["n"], fresh=False, published=known["published"], at=at,
                          series=known.get("series"))  # fmt: skip
    now = now or dt.datetime.now(dt.UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Avro keeps milliseconds
    counter = table.get(f"series:{series}") or {"last": 0, "event": None}
    if counter["event"] == event_id:
        number = counter["last"]
        fresh = False
    else:
        number = counter["last"] + 1
        while f"{LEGACY_PREFIX}{series}-{number:04d}" in table:  # a legacy record's: never given
            number += 1
        fresh = True
        table[f"series:{series}"] = {"last": number, "event": event_id}
    table[f"event:{event_id}"] = {
        "n": number, "published": False, "at": now.isoformat(), "series": series, **(claim or {})
    }  # fmt: skip
    return Allocation(number, fresh=fresh, published=False, at=now, series=series)


def claim_legacy(
    table: MutableMapping[str, Any],
    code: str,
    event_id: str,
    now: dt.datetime | None = None,
    *,
    claim: dict[str, str] | None = None,
) -> Allocation:
    """The 档号 a legacy or digitized record came with, kept: never renumbered. It is taken when
    another legacy record holds it, or when the series' counter has passed its number (the
    counter gives numbers in order, so every number up to it is some record's); otherwise it is
    noted under `code:<档号>`, and `allocate` skips it when the counter gets there."""
    known = table.get(f"event:{event_id}")
    if known is not None:  # a redelivery: the number it already has
        return allocate(table, str(parse(code)[0]), event_id, now, claim=claim)
    series, number = parse(code)
    holder = table.get(f"{LEGACY_PREFIX}{code}")
    counter = table.get(f"series:{series}") or {"last": 0, "event": None}
    # Its own note with no entry yet: a crash between the two writes, then a redelivery.
    if (holder is not None and holder != event_id) or (
        holder is None and number <= counter["last"]
    ):
        whose = f"the record of event {holder}" if holder else "a record numbered here"
        raise RecordRejected("reference-code-taken", f"档号 {code} is already {whose}'s", STAGE)
    now = now or dt.datetime.now(dt.UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Avro keeps milliseconds
    table[f"{LEGACY_PREFIX}{code}"] = event_id
    table[f"event:{event_id}"] = {
        "n": number, "published": False, "at": now.isoformat(), "series": str(series), **(claim or {})
    }  # fmt: skip
    return Allocation(number, fresh=True, published=False, at=now, series=str(series))


def claim_of(event: Mapping[str, Any]) -> dict[str, str]:
    """What an event id stands for: the agency, document, action and the files' SHA-256 digests,
    the inputs the SDK derives the id from (connectors.sdk.event_id_for). The same event sent
    again, or resent with corrected metadata, makes the same claim; another document does not."""
    digests = [
        next((c["value"].lower() for c in component["checksums"] if c["algorithm"] == "SHA256"), "")
        for component in sorted(event["components"], key=lambda component: component["sequence"])
    ]
    parts = [event["agency"]["code"], event["document_id"], str(event["action"]), *digests]
    return {
        "claim": hashlib.sha256("|".join(parts).encode()).hexdigest(),
        "document_id": event["document_id"][:200],
    }


def conflicting_claim(
    known: Mapping[str, Any] | None, event: Mapping[str, Any]
) -> RecordRejected | None:
    """A RecordRejected when the event's id already numbers another document (event-id-conflict),
    else None: first come keeps the id; the other is dead-lettered, whole, for its sender to fix.
    Entries written before claims were kept have none and conflict with nothing."""
    if known is None or "claim" not in known or known["claim"] == claim_of(event)["claim"]:
        return None
    return RecordRejected(
        "event-id-conflict",
        f"event id {event['event_id']} already stands for document {known.get('document_id')!r} "
        f"(item {known['n']}); this is document {event['document_id'][:200]!r} or other files",
        STAGE,
        event["event_id"],
    )


def merge_history(
    kept: list[dict[str, Any]], carried: list[BusinessActivity]
) -> list[BusinessActivity]:
    """The record's business history: the steps intake kept before filing (JSON, times as ISO
    text) and those the filing event carried itself, in time order, each once."""
    steps = [as_business_activity(step) for step in kept]
    seen = {(step["action"], step["time"]) for step in steps}
    steps += [step for step in carried if (step["action"], step["time"]) not in seen]
    return sorted(steps, key=lambda step: step["time"])


def duplicate_key(series: str, description: RecordDescription) -> str | None:
    """The table key under which a record's 文号 + 题名 is known within its fonds and year (DA/T 70:
    no duplicates of 文号+题名), or None for a record without a 文号. Every series of a fonds-year
    is in one partition of the register topic, so one worker sees all candidates."""
    number = (description.get("document_number") or "").strip()
    if not number:
        return None
    fonds_code = series.split("-", 1)[0]
    return f"duplicate:{fonds_code}|{description['year']}|{number}|{description['title'].strip()}"


def mark_published(table: MutableMapping[str, Any], event_id: str, allocation: Allocation) -> None:
    known = table.get(f"event:{event_id}") or {}
    table[f"event:{event_id}"] = {
        **known, "n": allocation.item_number, "published": True, "at": allocation.at.isoformat()
    }  # fmt: skip


# --- content -----------------------------------------------------------------------------
def verify(component: Mapping[str, Any], digests: Digests) -> None:
    """The fetched bytes must be what the agency declared: size and every digest it gave."""
    name = component["file_name"]
    if digests.size != component["size_bytes"]:
        raise RecordRejected(
            "size-mismatch",
            f"{name}: declared {component['size_bytes']} bytes, staged {digests.size}",
            STAGE,
        )
    actual = {"SHA256": digests.sha256.hexdigest(), "SM3": digests.sm3.hexdigest()}
    for checksum in component["checksums"]:
        if actual[checksum["algorithm"]] != checksum["value"].lower():
            raise RecordRejected(
                "checksum-mismatch",
                f"{name}: {checksum['algorithm']} declared {checksum['value']}, "
                f"received {actual[checksum['algorithm']]}",
                STAGE,
            )


def fetch_verified(ctx: PipelineContext, component: Component) -> Fetched:
    payload = component["payload"]
    suffix = spool_suffix(component["file_name"])
    if payload["inline_content"] is not None:
        fetched = Fetched.from_bytes(payload["inline_content"], suffix)
    else:
        # validate_event admitted a staged file only with a bucket (the staging one) and a key.
        bucket, key = cast(str, payload["bucket"]), cast(str, payload["key"])
        fetched = ctx.storage.fetch(bucket, key, payload["version_id"],
                                    max_bytes=component["size_bytes"], suffix=suffix)  # fmt: skip
    verify(component, fetched.digests)
    return fetched


def archive_key(reference_code: str, component: Mapping[str, Any], sha256: str) -> str:
    """Content-addressed within the record: `<fonds>/<year>/<code>/<nn>-<sha256><.ext>`."""
    series, _ = parse(reference_code)
    _, dot, extension = safe_filename(component["file_name"]).rpartition(".")
    suffix = f".{extension.lower()}" if dot and extension else ""
    return f"{series.fonds_code}/{series.year}/{reference_code}/{component['sequence']:02d}-{sha256}{suffix}"


def retain_until(period: str, year: int) -> dt.date | None:
    """Retention runs from 1 January after the filing year; None for permanent (legal hold)."""
    years = RETENTION_YEARS.get(period)
    return None if years is None else dt.date(year + 1 + years, 1, 1)


@dataclass(frozen=True)
class Hold:
    """How long the archive's object lock keeps a record: its period's end, or, when that comes
    within the minimum hold of the record's receipt (a 2010 D10 record received in 2026), the end
    of the hold, and the record is due for appraisal (到期待鉴定). None for permanent records."""

    retain_until: dt.date | None
    lock_until: dt.date | None
    appraisal_due: bool


def hold_for(period: str, year: int, received: dt.date, hold_days: int) -> Hold:
    natural = retain_until(period, year)
    earliest = received + dt.timedelta(days=hold_days)
    if natural is not None and natural <= earliest:
        return Hold(natural, earliest, appraisal_due=True)
    return Hold(natural, natural, appraisal_due=False)


def store(ctx: PipelineContext, code: str, until: dt.date | None, event: DocumentLifecycleEvent,
          fetched: list[Fetched], redelivered: bool) -> list[Component]:  # fmt: skip
    """Write each file to the archive, locked until `until` (None: permanent, a legal hold);
    return the components pointing at the archived versions."""
    stored: list[Component] = []
    for component, item in zip(event["components"], fetched, strict=True):
        sha256 = item.digests.sha256.hexdigest()
        key = archive_key(code, component, sha256)
        version_id = ctx.storage.archived_version(key, sha256) if redelivered else None
        if version_id is None:
            item.content.seek(0)  # a retried attempt starts again from the first byte
            version_id = ctx.storage.archive(
                key, item.content, item.digests,
                content_type=component["mime_type"] or "application/octet-stream", retain_until=until,
                source=item.source,
            )  # fmt: skip
        stored.append({
            **component,
            "checksums": [
                {"algorithm": "SHA256", "value": sha256},
                {"algorithm": "SM3", "value": item.digests.sm3.hexdigest()},
            ],
            "payload": {"bucket": ctx.settings.archive_bucket, "key": key,
                        "version_id": version_id, "inline_content": None},
        })  # fmt: skip
    return stored


# The record without what the receipt adds (formats, check, flags, provenance, package): not yet
# an ArchivalRecord, which Registration.store completes.
def build_record(ctx: PipelineContext, code: str, rule_id: str, event: DocumentLifecycleEvent,
                 components: list[Component], archived_at: dt.datetime, hold: Hold) -> dict[str, Any]:  # fmt: skip
    series, item_number = parse(code)
    agency = ctx.agencies.get(event["agency"]["code"])
    assert agency is not None, "intake admits registered agencies only"
    return {
        "reference_code": code,
        "fonds_code": series.fonds_code,
        "fonds_name": agency.fonds_name,
        "category": series.category,
        "year": series.year,
        "retention_period": series.period,
        "retention_rule_id": rule_id,
        "unit_code": series.unit_code,
        "item_number": item_number,
        "agency": event["agency"],
        "archives_code": ctx.agencies.archives.code,
        "event_id": event["event_id"],
        "document_id": event["document_id"],
        "source_system": event["source_system"],
        "description": event["description"],
        "components": components,
        "filed_at": event["event_time"],
        "archived_at": archived_at,
        "retain_until": hold.retain_until,
        # The rest of DA/T 46, as the agency gave it (v2 of the event; defaults for v1 events).
        "supplementary": event.get("supplementary"),
        "file_details": event.get("file_details") or [],
        "history": event.get("history") or [],
        "agents": event.get("agents") or [],
        "relations": event.get("relations") or [],
        # What the agency said about retention and absent elements (v3 of the event).
        "retention_proposal": event.get("retention_proposal"),
        "issuer_relation": event.get("issuer_relation"),
        "business_matter_code": event.get("business_matter_code"),
        "absent_elements": event.get("absent_elements") or [],
        "lock_until": hold.lock_until,
        "appraisal_status": "DUE" if hold.appraisal_due else None,
        "carrier": event.get("carrier"),  # v4 of the event
        "media": event.get("media"),  # v5 of the event
        "media_files": [],  # read from the files at receipt: Registration.store
        # v6 of the event: identity numbers never leave the register stage in clear.
        "persons": named(persons, ctx.person_key) if (persons := event.get("persons")) else [],
    }


def appraisal_item(record: ArchivalRecord, origin: Origin) -> RetentionReview:
    """The PENDING APPRAISAL review item (到期鉴定) of a record whose period had ended, or ends
    within the minimum hold, when it was received: archive staff decide whether it is destroyed
    once the hold ends or kept longer. Keyed, like every review item, by the event id."""
    description = record["description"]
    # Only a record due for appraisal gets an item (hold_for): its period ends, and it is locked.
    ended = cast(dt.date, record["retain_until"])
    locked = cast(dt.date, record["lock_until"])
    tense = "ended" if ended <= record["archived_at"].date() else "ends"
    return {
        "event_id": record["event_id"],
        "status": "PENDING",
        "agency_code": record["agency"]["code"],
        "document_id": record["document_id"],
        "title": description["title"],
        "document_type": description["document_type"],
        "reason": (
            f"保管期限届满待鉴定: the {record['retention_period']} period of {record['year']} {tense} "
            f"{ended.isoformat()}, within the archive's minimum hold; held until "
            f"{locked.isoformat()} for appraisal"
        ),
        "original_topic": origin.topic,
        "original_partition": origin.partition,
        "original_offset": origin.offset,
        "original_value": origin.value or b"",
        "queued_at": record["archived_at"],
        "decided_period": None,
        "decided_by": None,
        "decided_at": None,
        "note": None,
        "history_before_filing": [],  # the record carries its history
        "kind": "APPRAISAL",
        "proposed_period": None,
        "schedule_period": record["retention_period"],
        "schedule_rule_id": record["retention_rule_id"],
        "reference_code": record["reference_code"],
        "retain_until": ended,
        "lock_until": record["lock_until"],
        "appraisal_outcome": None,
    }


def record_messages(ctx: PipelineContext, record: ArchivalRecord, origin: Origin) -> list[Message]:
    """What publishing a record writes: the record on both record topics, keyed by its 档号, its
    ARCHIVED receipt, and its appraisal item and APPRAISAL_DUE receipt when it is due for one."""
    code = record["reference_code"].encode()
    value = ctx.codec.encode(ctx.archival_ready_subject, record)
    messages = [
        Message(ctx.settings.archival_ready_topic, code, value),
        Message(ctx.settings.catalog_topic, code, value),
    ]
    # The agency's receipt in the same transaction: it learns the 档号 exactly when the record is
    # published, and never of a record that was not.
    messages.append(Message(*receipts.encode(ctx.settings, ctx.codec, receipts.archived(record))))
    if record["appraisal_status"] == "DUE":
        item = appraisal_item(record, origin)
        value = ctx.codec.encode(ctx.review_subject, item)
        messages.append(Message(ctx.settings.review_topic, record["event_id"].encode(), value))
        due = receipts.appraisal_due(record, item)  # after ARCHIVED: the document's latest state
        messages.append(Message(*receipts.encode(ctx.settings, ctx.codec, due)))
    return messages


@dataclass(frozen=True)
class Outlet:
    """Where a numbered record goes: its register partition's transactional producer."""

    ctx: PipelineContext
    app: faust.App
    publisher: Publisher

    async def publish(self, partition: int, record: ArchivalRecord, origin: Origin,
                      allocation: Allocation) -> bool:  # fmt: skip
        """Publish the record's messages in one transaction (streams/publish.py), retried until
        the broker takes them; False when the catalog shows it was published before."""
        # The item-number table's changes first, durable in its changelog: a worker that dies
        # after publishing must not leave a record whose number the series has forgotten (the
        # next owner would give it again and, the allocation being fresh, not look back).
        await retry_until_done(self.app.producer.flush, STAGE, self.ctx.metrics)
        messages = await asyncio.to_thread(record_messages, self.ctx, record, origin)
        published = await retry_until_done(
            lambda: asyncio.to_thread(self.publisher.publish, partition, record["reference_code"],
                                      messages, numbered_at=allocation.at, fresh=allocation.fresh),
            STAGE, self.ctx.metrics,
        )  # fmt: skip
        if published and self.ctx.settings.fault_exit_after_publish:
            log.critical("fault injection: exiting between publishing %s and marking it",
                         record["reference_code"])  # fmt: skip
            os._exit(FAULT_EXIT_STATUS)
        return published


Publish = Callable[[ArchivalRecord, Origin, Allocation], Awaitable[bool]]
FAULT_EXIT_STATUS = 86


def origin_from_headers(message: Any) -> Origin:
    """Dead letters name the input's first arrival on its ingest topic, not the internal hop."""
    own = origin_of(message)
    headers = dict(own.headers)
    try:
        return Origin(
            topic=(headers[SOURCE_HEADERS[0]] or b"").decode(),
            partition=int(headers[SOURCE_HEADERS[1]] or b"-1"),
            offset=int(headers[SOURCE_HEADERS[2]] or b"-1"),
            timestamp_ms=own.timestamp_ms,
            key=headers.get(SOURCE_HEADERS[3]) or None,
            value=own.value,
            headers=[(k, v) for k, v in own.headers if not k.startswith("recordflow.")],
        )
    except (KeyError, ValueError):
        return own


def attach(app: faust.App, ctx: PipelineContext, register_topic: faust.TopicT,
           deadletters: faust.TopicT, partitions: int) -> None:  # fmt: skip
    stage = RegisterStage(app, ctx, deadletters, partitions)

    @app.agent(register_topic, name=f"{ctx.settings.app_id}.register")
    async def register(stream: faust.StreamT[bytes]) -> None:
        await handle_concurrently(
            stream,
            stage.handle,
            ctx.settings.register_concurrency,
            progress=ctx.metrics.progress.of(STAGE),
            on_retry=lambda failure: ctx.metrics.retries.labels(
                STAGE, classify(failure).reason
            ).inc(),
        )


class RegisterStage:
    """One worker's register stage: its item-numbers table, its publisher, the events in flight."""

    def __init__(self, app: faust.App, ctx: PipelineContext, deadletters: faust.TopicT,
                 partitions: int) -> None:  # fmt: skip
        self.ctx = ctx
        self.deadletters = deadletters
        self.outlet = Outlet(ctx, app, Publisher(ctx.settings))
        self.numbers = app.Table(
            f"{ctx.settings.topic_prefix}item-numbers",
            default=None,
            options=dict(TABLE_OPTIONS),  # a copy: faust's store takes keys out of it
            partitions=partitions,
            key_type=str,
            value_type=None,  # JSON (faust's default for tables), read back as plain dicts
            changelog_topic=app.topic(
                ctx.settings.item_numbers_changelog_topic,
                partitions=partitions,
                compacting=True,
                key_serializer="json",
                value_serializer="json",
            ),
        )
        # The same event twice in flight (sent twice in quick succession): the second waits for
        # the first and then finds it published, rather than publishing the record a second time.
        self.in_flight: dict[str, asyncio.Event] = {}

    async def handle(self, event: faust.EventT[bytes], turn: Turn) -> None:
        """One message of recordflow.register.v1: registered, or a dead letter."""
        ctx, message = self.ctx, event.message
        origin = origin_from_headers(message)
        agency_code = ctx.settings.ingest_agency(origin.topic) or "unknown"
        with ctx.metrics.stage_duration.labels(agency_code, STAGE).time():
            try:
                await self.register(message, origin, turn)
            except RecordRejected as rejection:
                await send_dead_letter(
                    ctx, self.deadletters, origin, rejection, agency_code, rejection.event_id,
                    reference_code=rejection.reference_code if isinstance(rejection, Parked) else None,
                )  # fmt: skip

    async def register(self, message: Any, origin: Origin, turn: Turn) -> None:
        # Through the registry (a new writer schema): waited out while it is down, like intake's.
        decoded = await retry_transient(partial(_decode, self.ctx, origin.value), STAGE,
                                        self.ctx.metrics)  # fmt: skip
        event_id = decoded["event_id"]
        while (first := self.in_flight.get(event_id)) is not None:
            await first.wait()
        self.in_flight[event_id] = asyncio.Event()
        try:
            registration = Registration(
                self.ctx, self.numbers, decoded, origin, dict(origin_of(message).headers),
                send=partial(self.outlet.publish, message.partition),
            )  # fmt: skip
            await registration.run(turn)
        finally:
            self.in_flight.pop(event_id).set()


@dataclass
class Registration:
    """One event through the register stage: check its files, number it, archive and publish it
    (the order of work in this module's docstring)."""

    ctx: PipelineContext
    numbers: Any  # the item-numbers table
    event: DocumentLifecycleEvent
    origin: Origin  # the input's first arrival, on its ingest topic
    headers: dict[str, Any]  # the hop's: series, retention decision, steps kept before filing
    send: Publish
    files: list[receipt.Inspected] = field(default_factory=list)

    @property
    def agency_code(self) -> str:
        return str(self.event["agency"]["code"])

    @property
    def series(self) -> str:
        return (self.headers.get(SERIES_HEADER) or b"").decode()

    @property
    def authenticated(self) -> bool:
        """Whether it came on the agency's own ingest topic, which only the agency may write."""
        return self.ctx.settings.ingest_agency(self.origin.topic) == self.agency_code

    @property
    def format_categories(self) -> tuple[str, ...]:
        """The kinds of format the record's category takes (metadata_rules.yaml); empty: any."""
        category = self.ctx.metadata_rules.categories.get(category_of(self.event))
        return category.format_categories if category else ()

    async def run(self, turn: Turn) -> None:
        event_id = self.event["event_id"]
        done = self.numbers.get(f"event:{event_id}")
        if conflict := conflicting_claim(done, self.event):
            raise conflict.of_event(self.event)
        if done is not None and done["published"]:
            self.ctx.metrics.events.labels(self.agency_code, STAGE, "duplicate").inc()
            return
        try:
            await self.check()
            code, allocation = await self.number(turn)
            await self.archive(code, allocation)
        except RecordRejected as rejection:
            rejection.of_event(self.event)
            raise
        finally:
            for item in self.files:
                item.fetched.content.close()

    async def check(self) -> None:
        """Fetch, verify and inspect every file, then the DA/T 70 check at receipt: what fails
        here is the input's fault and rejects it before it takes a number."""
        ctx = self.ctx
        for component in self.event["components"]:
            fetched = await retry_transient(
                partial(fetch_verified, ctx, component), STAGE, ctx.metrics
            )
            self.files.append(await _inspect(ctx, self.event, component, fetched))
            refuse_bomb(self.files[-1])
        evidence = receipt.evidence(self.event, self.files, authenticated_source=self.authenticated,
                                    format_categories=self.format_categories)  # fmt: skip
        first = check_receipt(evidence, ctx.check_items)
        if first.rejects or first.quarantines:
            failed = "; ".join(
                f"{item.code} {item.reason}" for item in first.items if item.result == "fail"
            )
            raise RecordRejected(
                "four-property-check-failed", f"DA/T 70 check failed: {failed}", "check"
            )

    async def number(self, turn: Turn) -> tuple[str, Allocation]:
        """The event's 档号: its number given before, or the series' next; a 文号 + 题名 already
        archived in the fonds and year by another event is a duplicate."""
        event, numbers, series = self.event, self.numbers, self.series
        # Numbers, and which of two documents with one 文号 + 题名 is the duplicate, go by the
        # order the events arrived in, not by which of them was fetched and checked first.
        await turn.wait()
        try:
            same = duplicate_key(series, event["description"])
            earlier = numbers.get(same) if same else None
            if earlier is not None and earlier["event"] != event["event_id"]:
                description = event["description"]
                raise RecordRejected(
                    "duplicate-record",
                    f"文号 {description['document_number']} 题名 {description['title']!r} was "
                    f"archived in {series.split('-')[0]} {description['year']} as {earlier['code']}",
                    "check",
                )
            legacy = event.get("reference_code")
            allocation = (
                claim_legacy(numbers, legacy, event["event_id"], claim=claim_of(event))
                if legacy
                else allocate(numbers, series, event["event_id"], claim=claim_of(event))
            )
            # A number given before (a redelivery, a replayed parked record) belongs to the series
            # it was given in, even if the schedule would now decide another period.
            code = f"{allocation.series or series}-{allocation.item_number:04d}"
            if same:
                numbers[same] = {"event": event["event_id"], "code": code}
        finally:
            turn.release()
        try:
            parse(code)
        except ValueError as exc:  # a full series (item 10000): no retry could make it valid
            raise RecordRejected("invalid-reference-code", str(exc), STAGE) from exc
        return code, allocation

    async def archive(self, code: str, allocation: Allocation) -> None:
        """Store, package and publish the numbered record; Parked, keeping its number, when that
        fails in a way no retry can mend."""
        try:
            await self.store_and_publish(code, allocation)
        except Parked as parked:
            parked.reference_code = code
            parked.message += (
                f" — 档号 {code} is kept for this record (暂存 parked): replay this dead letter "
                "once the cause is mended, and the record is archived under it"
            )
            self.ctx.metrics.events.labels(self.agency_code, STAGE, "parked").inc()
            raise

    async def store_and_publish(self, code: str, allocation: Allocation) -> None:
        """The content has verified: a failure now is the archive's or the broker's, retried
        while it can pass (the series keeps no gap), else Parked."""
        record = await self.store(code, allocation)
        published = await self.send(record, self.origin, allocation)
        mark_published(self.numbers, self.event["event_id"], allocation)
        await asyncio.to_thread(mark_archived, self.ctx.storage, self.event, code)
        if not published:  # a worker before this one published it and died before marking it
            self.ctx.metrics.events.labels(self.agency_code, STAGE, "duplicate").inc()
            return
        self.count_archived(record)

    async def store(self, code: str, allocation: Allocation) -> ArchivalRecord:
        """Write the files under object lock, check again now that they are stored, and write
        the record's package and its document note; return the record."""
        ctx, event, files = self.ctx, self.event, self.files
        rule_id = (self.headers.get(RULE_HEADER) or b"").decode()
        fetched = [item.fetched for item in files]
        redelivered = not allocation.fresh
        hold = hold_for(parse(code)[0].period, event["description"]["year"], allocation.at.date(),
                        ctx.settings.appraisal_hold_days)  # fmt: skip
        components = await retry_until_done(
            lambda: asyncio.to_thread(store, ctx, code, hold.lock_until, event, fetched, redelivered),
            STAGE, ctx.metrics,
        )  # fmt: skip
        stored = receipt.evidence(event, files, authenticated_source=self.authenticated,
                                  format_categories=self.format_categories,
                                  reference_code=code, stored=components)  # fmt: skip
        report = check_receipt(stored, ctx.check_items, now=allocation.at)
        flags = [FLAG_USABILITY_REVIEW] if report.flags_for_review else []
        if report.rejects:  # only a storage fault can fail it now; keep the record and say so
            log.error("%s: check failed after storing: %s", code, ", ".join(report.failing_codes))
            flags.append(FLAG_FAILED_AFTER_STORE)
        intake_at = dt.datetime.fromtimestamp((self.origin.timestamp_ms or 0) / 1000, dt.UTC)
        events = receipt.provenance(event, intake_at=intake_at, archived_at=allocation.at,
                                    rule_id=rule_id, code=code, files=files, report=report)  # fmt: skip
        record = build_record(ctx, code, rule_id, event, components, archived_at=allocation.at,
                              hold=hold)  # fmt: skip
        record["history"] = merge_history(
            json.loads(self.headers.get(HISTORY_HEADER) or b"[]"), record["history"]
        )
        record.update(formats=receipt.formats(files), check=receipt.summary(report), flags=flags,
                      provenance=events, media_files=receipt.media_files(files))  # fmt: skip
        record["package"] = await retry_until_done(
            lambda: asyncio.to_thread(store_package, ctx, record, events, report, redelivered),
            STAGE, ctx.metrics,
        )  # fmt: skip
        await retry_until_done(
            lambda: asyncio.to_thread(index_document, ctx, record, redelivered), STAGE, ctx.metrics
        )
        # Complete now: build_record's fields, and the formats, check, flags, provenance, media
        # files and package added above.
        return cast(ArchivalRecord, record)

    def count_archived(self, record: ArchivalRecord) -> None:
        metrics, agency_code, flags = self.ctx.metrics, self.agency_code, record["flags"]
        latency = (dt.datetime.now(dt.UTC) - self.event["event_time"]).total_seconds()
        metrics.latency.labels(agency_code).observe(max(latency, 0.0))
        metrics.archived.labels(agency_code, record["retention_period"]).inc()
        size = sum(item.fetched.digests.size for item in self.files)
        metrics.archived_bytes.labels(agency_code).inc(size)
        metrics.events.labels(agency_code, STAGE, "accepted").inc()
        metrics.receipts.labels(agency_code, receipts.ARCHIVED).inc()
        if record["appraisal_status"] == "DUE":
            metrics.receipts.labels(agency_code, receipts.APPRAISAL_DUE).inc()
        if flags:
            metrics.events.labels(agency_code, STAGE, "flagged").inc()
        log.info("archived %s (event %s)%s", record["reference_code"], self.event["event_id"],
                 f" flagged {flags}" if flags else "")  # fmt: skip


def _decode(ctx: PipelineContext, value: bytes | None) -> DocumentLifecycleEvent:
    try:
        # Read as the latest DocumentLifecycleEvent schema (older writers' events resolved to it).
        return cast(DocumentLifecycleEvent, ctx.codec.decode(value, DOCUMENT_LIFECYCLE_EVENT))
    except CodecError as exc:
        raise RecordRejected(exc.reason, str(exc), "decode") from exc


async def _inspect(ctx: PipelineContext, event: DocumentLifecycleEvent, component: Component,
                   fetched: Fetched) -> receipt.Inspected:  # fmt: skip
    """Format identification, the scan and signatures of one fetched file. A configured scanner
    that is away is waited for (ScannerUnavailable is transient). A failure nobody foresaw (a
    parser's bug on hostile bytes) is the input's dead letter, not a crash of the agent, which
    would stop the partition and meet the same bytes again on restart."""
    category = ctx.metadata_rules.categories.get(category_of(event))
    # A photo's or recording's files: their technical properties go into the record.
    media_kinds = category.format_categories if category and category.describes_media else ()

    def once() -> receipt.Inspected:
        try:
            return receipt.inspect(event, component, fetched, ctx.scanner, ctx.formats,
                                   media_kinds=media_kinds)  # fmt: skip
        except ScannerUnavailable:
            raise
        except Exception as exc:
            log.exception("%s: inspecting %s failed", STAGE, component["file_name"])
            raise RecordRejected(
                "inspection-failed",
                f"{component['file_name']}: format identification or scan failed: "
                f"{type(exc).__name__}: {exc}",
                STAGE,
            ) from exc

    try:
        return await retry_transient(once, STAGE, ctx.metrics)
    except RecordRejected:
        fetched.content.close()
        raise


def refuse_bomb(item: receipt.Inspected) -> None:
    """A compression bomb is refused before anything else reads it (archival/formats.py found it
    from the container's directory, or by inflating a bounded part of it)."""
    if "compression-bomb" in item.format.problems:
        raise RecordRejected(
            "compression-bomb", f"{item.component['file_name']}: {item.format.basis}", STAGE
        )


def index_document(ctx: PipelineContext, record: Mapping[str, Any], redelivered: bool) -> None:
    """Note under the agency's document id which 档号 it holds, as long as the record is locked,
    so that a reply naming its request by document id takes the request's period."""
    body = record["reference_code"].encode()
    digests = Digests()
    digests.update(body)
    key = ctx.storage.document_key(record["agency"]["code"], record["document_id"])
    if redelivered and ctx.storage.archived_version(key, digests.sha256.hexdigest()):
        return
    ctx.storage.archive(key, io.BytesIO(body), digests, content_type="text/plain; charset=utf-8",
                        retain_until=record["lock_until"])  # fmt: skip


def store_package(ctx: PipelineContext, record: Mapping[str, Any], events: list[PreservationEvent],
                  report: CheckReport, redelivered: bool) -> PayloadReference:  # fmt: skip
    """Write the record's BagIt package beside its files, under the same retention."""
    tar = package_record(record, events, report.as_dict())
    digests = Digests()
    digests.update(tar)
    sha256 = digests.sha256.hexdigest()
    key = f"{record['fonds_code']}/{record['year']}/{record['reference_code']}/package-{sha256}.tar"
    version_id = ctx.storage.archived_version(key, sha256) if redelivered else None
    if version_id is None:
        version_id = ctx.storage.archive(key, io.BytesIO(tar), digests, content_type="application/x-tar",
                                         retain_until=record["lock_until"])  # fmt: skip
    return {
        "bucket": ctx.settings.archive_bucket,
        "key": key,
        "version_id": version_id,
        "inline_content": None,
    }
