"""Review by archive staff (`recordflow review list | decide | appraise`): the items waiting in
records.retention-review.v1 (compacted, keyed by event id), of two kinds.

- RETENTION: a document no retention rule decides, or whose proposed period disputes its
  schedule. `decide` gives it a period and sends the original event on to recordflow.register.v1,
  with the steps intake kept before filing, to be numbered and archived.
- APPRAISAL (到期鉴定): an archived record whose period had already ended when it was received,
  held by the archive's object lock until `lock_until`. `appraise` decides `destroy` (nothing
  changes in storage: the lock expires at lock_until, and destruction is a separate act later) or
  `extend` to D30 or Y: the lock of every object of the record (its files and its package) is
  lengthened to the new period's end first, then the catalog gets the record with its new dates.
  The 档号 never changes, nor does retention_period: appraisal_status says what was decided.

Each decision is one Kafka transaction: the DECIDED item, what it sends on (the event for the
register stage, or the record's new state on records.catalog.v1) and the agency's DECIDED
receipt on receipts.<agency>.v1 (topics/receipts.py), all or none. Its
transactional id is derived from the item (`<group>.review.<event id>`): Kafka lets one producer
per id work at a time, so of two staff deciding the same item at once the later fences the earlier
(whose transaction is aborted). Only once it holds the id does a decision read the item, up to the
high watermark of that moment, waiting for transactions open before it (read_committed): a
decision committed before is always seen, and a second one is refused with the first shown.

What remains is outside the transaction's reach and is the pipeline's to absorb: the workers read
recordflow.register.v1 with read_uncommitted, so a decision whose transaction aborts (a fenced
reviewer, a crash before commit) may still reach the register stage once; the register stage
gives a redelivered event the record it already has.

The principal that decides needs write access to the review, register, catalog and receipts
topics, and
`TransactionalId` write on the `<group>.review.` prefix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from archival.reference import Series, category_of
from archival.retention import PERIODS, Decision, Period
from avro_schemas.codec import Codec, Subject
from avro_schemas.records import DocumentLifecycleEvent, RetentionReview
from avro_schemas.schemas import ARCHIVAL_RECORD, DOCUMENT_LIFECYCLE_EVENT, RETENTION_REVIEW
from connectors.agency_registry import current_registry
from connectors.readback import latest_message, quiet_logger, read_latest
from connectors.storage import PERMANENT_UNTIL, Storage
from connectors.transactions import commit
from recordflow.agencies import AgencyRegistry
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S, STAFF_TRANSACTION_TIMEOUT_MS
from topics import receipts
from topics.acls import review_transactional_prefix
from topics.deadletter import Origin
from topics.register import partition_key, register_headers

# What an appraisal may extend a record to, and how many years from 1 January after its year.
EXTEND_PERIODS = ("D30", "Y")
EXTEND_YEARS = {"D30": 30}
DESTROY, EXTEND = "destroy", "extend"
OUTCOMES = (DESTROY, EXTEND)
RETENTION, APPRAISAL = "RETENTION", "APPRAISAL"
PENDING: Final = "PENDING"
DECIDED: Final = "DECIDED"
# The record's appraisal_status once appraised.
EXTENDED, DESTROY_AFTER_HOLD = "EXTENDED", "DESTROY-AFTER-HOLD"
STAFF_AGENT = "archive-staff"
UNASSIGNED = -1  # librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses


class ReviewError(Exception):
    """A decision that cannot be made or recorded; the message says why, in one line."""


class AlreadyDecided(ReviewError):
    """The item was decided before: `item` is it, with the first decision."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        super().__init__(f"event {item['event_id']} was already decided: {decision_text(item)}")
        self.item = item


class DecisionRace(ReviewError):
    """Another reviewer took the item's transactional id while this decision was being made."""


def decision_text(item: Mapping[str, Any]) -> str:
    """An item's decision in a line: what, by whom, when, and the note."""
    if item.get("kind") == APPRAISAL:
        what = str(item["appraisal_outcome"])
        if item["appraisal_outcome"] == EXTEND:
            what += f" to {item['decided_period']}"
    else:
        what = str(item["decided_period"])
    at = item["decided_at"]
    when = at.astimezone().strftime("%Y-%m-%d %H:%M:%S %z") if at is not None else "an unknown time"
    note = f"; note: {item['note']}" if item.get("note") else ""
    return f"{what} by {item['decided_by']} at {when}{note}"


def review_items(settings: Settings, codec: Codec) -> dict[str, RetentionReview]:
    """The latest committed state of every review item, by event id."""
    return {
        # Read as the latest RetentionReview schema (older items resolved to it).
        key.decode(): cast(RetentionReview, codec.decode(message.value(), RETENTION_REVIEW))
        for key, message in read_latest(settings, settings.review_topic).items()
        if message.value() is not None
    }


def transactional_id(settings: Settings, event_id: str) -> str:
    return f"{review_transactional_prefix(settings)}{event_id}"


@dataclass(frozen=True)
class Outgoing:
    """One message of a decision's transaction; `partition`: where the key's state is (a new
    state of a key in a compacted topic goes where the old one is), else the partitioner's."""

    topic: str
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, str | bytes | None]] = ()
    partition: int | None = None


class ReviewTransaction:
    """The sole right to decide one item, from `init_transactions` under the item's
    transactional id until `commit` (or until a later reviewer of the same item fences it).
    `item` is the item's state as committed when the right was taken (None: no such item)."""

    def __init__(self, settings: Settings, codec: Codec, event_id: str) -> None:
        self.settings = settings
        self.codec = codec
        self.event_id = event_id
        self.producer = Producer({
            **settings.producer_config(),
            "transactional.id": transactional_id(settings, event_id),
            "transaction.timeout.ms": STAFF_TRANSACTION_TIMEOUT_MS,
            "message.timeout.ms": STAFF_TRANSACTION_TIMEOUT_MS - 1000,
            "logger": quiet_logger(),
        })  # fmt: skip
        try:
            # From here on no other reviewer can decide this item until we are done; whatever
            # one committed before is in the topic up to its end now.
            self.producer.init_transactions(KAFKA_TIMEOUT_S)
        except KafkaException as exc:
            raise ReviewError(
                f"Kafka at {settings.kafka_bootstrap} did not let the decision begin: "
                f"{_kafka_text(exc)}"
            ) from exc
        found = latest_message(settings, settings.review_topic, event_id.encode())
        value = None if found is None else found.value()
        # Read as the latest RetentionReview schema (older items resolved to it).
        self.item: RetentionReview | None = (
            None if value is None else cast(RetentionReview, codec.decode(value, RETENTION_REVIEW))
        )
        self.item_partition = None if found is None else found.partition()

    def pending(self, kind: str) -> RetentionReview:
        """The item, PENDING and of `kind`; ReviewError (AlreadyDecided) otherwise."""
        item = self.item
        if item is None:
            raise ReviewError(f"no review item for event {self.event_id}")
        if item["kind"] != kind:
            waits, verb = (
                ("for appraisal (到期鉴定)", "appraise")
                if item["kind"] == APPRAISAL
                else ("for a retention decision", "decide")
            )
            raise ReviewError(
                f"event {self.event_id} waits {waits}; use `recordflow review {verb}`"
            )
        if item["status"] == DECIDED:
            raise AlreadyDecided(item)
        return item

    def commit(self, messages: Sequence[Outgoing]) -> None:
        """Write `messages` in one transaction: all of them or none."""
        errors: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                errors.append(error)

        try:
            self.producer.begin_transaction()
            for message in messages:
                self.producer.produce(message.topic, key=message.key, value=message.value,
                                      headers=list(message.headers), on_delivery=on_delivery,
                                      partition=UNASSIGNED if message.partition is None
                                      else message.partition)  # fmt: skip
            left = self.producer.flush(KAFKA_TIMEOUT_S)
            if errors or left:
                reason = (
                    errors[0].str() if errors else f"no delivery report in {KAFKA_TIMEOUT_S:g} s"
                )
                raise ReviewError(f"Kafka did not take the decision: {reason}")
            commit(self.producer)
        # confluent-kafka raises a fatal error (fenced) met while serving delivery reports as a
        # SystemError whose cause is the KafkaException.
        except (KafkaException, ReviewError, SystemError) as exc:
            _abort(self.producer)
            if _fenced(exc):
                raise DecisionRace(
                    f"another reviewer is deciding event {self.event_id} right now; nothing was "
                    "recorded for this decision (see `recordflow review list --all` in a moment)"
                ) from exc
            if isinstance(exc, ReviewError):
                raise
            raise ReviewError(f"Kafka did not take the decision: {_kafka_text(exc)}") from exc

    def close(self) -> None:
        self.producer.flush(0)


@contextmanager
def review_transaction(
    settings: Settings, codec: Codec, event_id: str
) -> Iterator[ReviewTransaction]:
    transaction = ReviewTransaction(settings, codec, event_id)
    try:
        yield transaction
    finally:
        transaction.close()


def _abort(producer: Producer) -> None:
    """Abort the open transaction if the producer still can (a fenced one cannot, and need not:
    the broker aborted it when it fenced it)."""
    # KafkaException: fenced, or no transaction began; either way nothing of ours is left open.
    with suppress(KafkaException):
        producer.abort_transaction(KAFKA_TIMEOUT_S)


def _kafka_error(exc: BaseException) -> KafkaError | None:
    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, KafkaException) and candidate.args:
            error = candidate.args[0]
            if isinstance(error, KafkaError):
                return error
    return None


def _fenced(exc: BaseException) -> bool:
    error = _kafka_error(exc)
    return error is not None and error.code() in (
        KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
    )  # fmt: skip


def _kafka_text(exc: BaseException) -> str:
    error = _kafka_error(exc)
    return str(error.str()) if error is not None else str(exc)


# --- retention decisions ---------------------------------------------------------------------
def decide(settings: Settings, codec: Codec, event_id: str, period: str, by: str,
           note: str | None, now: dt.datetime | None = None) -> RetentionReview:  # fmt: skip
    """Decide a pending RETENTION item's period and send the document on to be archived, in one
    transaction; AlreadyDecided when it was decided before."""
    if period not in PERIODS:
        raise ReviewError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    by = by.strip()
    if not by:
        raise ReviewError(
            "say who decides (--by): the decision is recorded with the reviewer's name"
        )
    with review_transaction(settings, codec, event_id) as transaction:
        item = transaction.pending(RETENTION)
        decided, messages = decision_messages(settings, codec, item, period, by, note, now,
                                              partition=transaction.item_partition)  # fmt: skip
        transaction.commit(messages)
    return decided


def decision_messages(settings: Settings, codec: Codec, item: RetentionReview, period: str,
                      by: str, note: str | None, now: dt.datetime | None = None, *,
                      partition: int | None = None, registry: AgencyRegistry | None = None,
                      ) -> tuple[RetentionReview, list[Outgoing]]:  # fmt: skip
    """The DECIDED item, and the messages that record it: the original event for the register
    stage (with the decided period and the steps kept before filing) and the item itself (to
    `partition`, where the pending item is, when given). `registry`: the agencies as they stand
    (read from the registry topic when not given)."""
    # Read as the latest DocumentLifecycleEvent schema (older writers' events resolved to it).
    event = cast(
        DocumentLifecycleEvent, codec.decode(item["original_value"], DOCUMENT_LIFECYCLE_EVENT)
    )
    agency = (registry or current_registry(settings)).get(event["agency"]["code"])
    if agency is None:
        raise ReviewError(f"agency {event['agency']['code']!r} is no longer registered")
    now = now or dt.datetime.now(dt.UTC)
    decision = Decision(cast(Period, period), f"retention-review@{now.date().isoformat()}/{by}")
    description = event["description"]
    series = Series(agency.fonds_code, description["year"], period, description["unit_code"],
                    category_of(event))  # fmt: skip
    origin = Origin(item["original_topic"], item["original_partition"], item["original_offset"], None,
                    event["document_id"].encode(), item["original_value"], [])  # fmt: skip
    decided: RetentionReview = {**item, "status": DECIDED, "decided_period": period,
                                "decided_by": by, "decided_at": now, "note": note}  # fmt: skip
    headers = register_headers(series, decision, origin, item["history_before_filing"])
    subject = Subject.for_topic(settings.review_topic, RETENTION_REVIEW)
    receipt = receipts.encode(settings, codec, receipts.decided(decided, decision.rule_id))
    return decided, [
        Outgoing(settings.register_topic, partition_key(series), item["original_value"], headers),
        Outgoing(
            settings.review_topic,
            item["event_id"].encode(),
            codec.encode(subject, decided),
            partition=partition,
        ),
        Outgoing(receipt.topic, receipt.key, receipt.value),
    ]


# --- appraisal (到期鉴定) ----------------------------------------------------------------------
@dataclass(frozen=True)
class Extension:
    """What `extend` gives a record: its new retention end (None: permanent) and the date the
    lock of its objects holds to, never earlier than before (for Y, storage.PERMANENT_UNTIL,
    with a legal hold: what `Storage.archive` gives a permanent record, and what `verify` then
    finds, as the record's retention_period stays what it was)."""

    period: str
    retain_until: dt.date | None
    lock_until: dt.date

    @property
    def permanent(self) -> bool:
        return self.retain_until is None


def extension_for(record: dict[str, Any], period: str, today: dt.date) -> Extension:
    """The new ends of a record extended to `period`: D30 runs from 1 January after its year,
    like any period, and must end after today (an extension that is already over extends
    nothing); Y is permanent."""
    if period not in EXTEND_PERIODS:
        raise ReviewError(f"an appraisal extends to {' or '.join(EXTEND_PERIODS)}, not {period!r}")
    if period == "Y":
        return Extension(period, None, PERMANENT_UNTIL.date())
    end = dt.date(record["year"] + 1 + EXTEND_YEARS[period], 1, 1)
    if end <= today:
        raise ReviewError(
            f"{record['reference_code']} ({record['year']}): a {period} period would have ended on "
            f"{end.isoformat()}, which is past; extend it to Y, or decide destroy"
        )
    held = record.get("lock_until")
    return Extension(period, end, end if held is None else max(end, held))


def record_objects(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object version of a record: its files, then its package."""
    objects = [component["payload"] for component in record["components"]]
    if record.get("package"):
        objects.append(record["package"])
    for payload in objects:
        if not (payload.get("bucket") and payload.get("key") and payload.get("version_id")):
            raise ReviewError(
                f"{record['reference_code']} names an object without bucket, key and version "
                f"({payload.get('bucket')}/{payload.get('key')}); its lock cannot be extended"
            )
    return objects


def lock_objects(storage: Storage, record: dict[str, Any], extension: Extension) -> int:
    """Lengthen the lock of every object of the record to the extension's end (a legal hold and
    retention until storage.PERMANENT_UNTIL for Y). Idempotent: S3 never shortens a COMPLIANCE
    retention, and an object already locked that long is left as it is. Returns how many
    objects changed."""
    changed = 0
    for payload in record_objects(record):
        bucket, key, version = payload["bucket"], payload["key"], payload["version_id"]
        if extension.permanent:
            changed += storage.hold_permanently(bucket, key, version)
        else:
            changed += storage.extend_retention(bucket, key, version, extension.lock_until)
    return changed


@dataclass(frozen=True)
class Appraisal:
    """A recorded appraisal: the DECIDED item, the record as the catalog now has it, and how
    many of its objects had their lock lengthened (0 for destroy, and for a repeated extend)."""

    item: RetentionReview
    record: dict[str, Any]
    objects_locked: int


def appraise(settings: Settings, codec: Codec, storage: Storage, event_id: str, outcome: str,
             period: str | None, by: str, note: str | None,
             now: dt.datetime | None = None) -> Appraisal:  # fmt: skip
    """Decide a pending APPRAISAL item: `destroy` once the hold ends, or `extend` to `period`.
    An extension lengthens the objects' locks before anything is written; then the DECIDED item
    and the record's new state go to Kafka in one transaction."""
    if outcome not in OUTCOMES:
        raise ReviewError(f"outcome must be {' or '.join(OUTCOMES)}, not {outcome!r}")
    if outcome == EXTEND and period not in EXTEND_PERIODS:
        raise ReviewError(f"extend needs --period {' or '.join(EXTEND_PERIODS)}")
    if outcome == DESTROY and period is not None:
        raise ReviewError("destroy takes no --period: the record goes once its hold ends")
    by = by.strip()
    if not by:
        raise ReviewError("say who appraises (--by): the decision is recorded with the name")
    now = now or dt.datetime.now(dt.UTC)
    with review_transaction(settings, codec, event_id) as transaction:
        item = transaction.pending(APPRAISAL)
        code = item["reference_code"]
        if not code:
            raise ReviewError(f"the appraisal item of event {event_id} names no record (档号)")
        found = latest_message(settings, settings.catalog_topic, code.encode())
        value = None if found is None else found.value()
        if found is None or value is None:
            raise ReviewError(f"{code} is not in {settings.catalog_topic}")
        record = codec.decode(value, ARCHIVAL_RECORD)
        locked = 0
        if outcome == EXTEND:
            assert period is not None
            extension = extension_for(record, period, now.date())
            locked = lock_objects(storage, record, extension)  # before the decision is written
            updated = appraised_record(record, EXTENDED, by, now, note, extension)
        else:
            updated = appraised_record(record, DESTROY_AFTER_HOLD, by, now, note)
        decided: RetentionReview = {**item, "status": DECIDED, "appraisal_outcome": outcome,
                                    "decided_period": period if outcome == EXTEND else None,
                                    "decided_by": by, "decided_at": now, "note": note}  # fmt: skip
        review = Subject.for_topic(settings.review_topic, RETENTION_REVIEW)
        catalog = Subject.for_topic(settings.catalog_topic, ARCHIVAL_RECORD)
        receipt = receipts.encode(settings, codec, receipts.appraised(decided, updated))
        transaction.commit([
            Outgoing(settings.catalog_topic, code.encode(), codec.encode(catalog, updated),
                     partition=found.partition()),
            Outgoing(settings.review_topic, event_id.encode(), codec.encode(review, decided),
                     partition=transaction.item_partition),
            Outgoing(receipt.topic, receipt.key, receipt.value),
        ])  # fmt: skip
    return Appraisal(decided, updated, locked)


def appraised_record(record: dict[str, Any], status: str, by: str, now: dt.datetime,
                     note: str | None, extension: Extension | None = None) -> dict[str, Any]:  # fmt: skip
    """The record after its appraisal: same 档号 and retention_period, the new appraisal_status,
    new dates for an extension, and the appraisal among its preservation events."""
    if extension is not None:
        until = extension.retain_until.isoformat() if extension.retain_until else "permanent"
        held = extension.lock_until.isoformat() + (
            " and a legal hold" if extension.permanent else ""
        )
        detail = (
            f"到期鉴定: extend to {extension.period} (retention {until}; objects locked: {held})"
        )
        dates = {"retain_until": extension.retain_until, "lock_until": extension.lock_until}
    else:
        held = record["lock_until"].isoformat() if record.get("lock_until") else "-"
        detail = f"到期鉴定: destroy once the hold ends ({held}); nothing changed in storage"
        dates = {}
    if note:
        detail += f"; {note}"
    step = {"type": "appraisal", "time": now, "agent": f"{STAFF_AGENT}:{by}", "outcome": "success",
            "detail": detail}  # fmt: skip
    return {**record, **dates, "appraisal_status": status,
            "provenance": [*record.get("provenance", []), step]}  # fmt: skip
