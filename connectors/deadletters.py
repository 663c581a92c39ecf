"""Working the dead-letter topic: read letters, and replay them after a fix
(`recordflow deadletters list | show | replay`).

A letter's id is its place in records.deadletter.v1, `<partition>-<offset>` (e.g. `1-42`): stable
for as long as the letter is kept, short enough to type, and enough to read the letter back with
one fetch.

Replay sends the letter's original key, value and headers back to its original topic (an ingest
topic), plus a `recordflow.replayed-from` header naming the letter, so that the pipeline takes
the input again from the start. A letter is replayed at most once. Why the bookkeeping looks as
it does:

- The replay ledger is a compacted topic in the catalog, recordflow.deadletter-replays.v1, keyed
  by the letter's coordinates (`<dead-letter topic>/<partition>-<offset>`), JSON values. A topic
  and not a file or a database: it survives restarts, every operator's CLI sees the same one
  wherever it runs, it needs nothing the pipeline does not already have, and it is kept as long
  as we like (compaction, not retention). Each entry names the SHA-256 of the letter it records,
  so a letter at the same coordinates of a re-created dead-letter topic is not mistaken for it.
- The replayed message and its ledger entry are written in one Kafka transaction: both or
  neither. Without it a crash between the two would leave a replay that the ledger does not know
  of (sent again next time), or an entry for a replay that never happened (never sent).
- The transactional id is derived from the letter (`<group>.deadletter-replay.<letter>`). Kafka
  lets one producer per transactional id work at a time: a second operator replaying the same
  letter fences the first (whose transaction is aborted), and only after that reads the ledger.
  After `init_transactions` the ledger is read up to its high watermark at that moment (waiting
  for any open transaction before it to end), so an entry another operator committed before is
  always seen. Two operators can therefore not both send the same letter.
- What remains is outside the ledger's reach and is the pipeline's to absorb: the workers read
  with read_uncommitted, so a replay whose transaction aborts (a fenced operator, a crash before
  commit) may still reach them once, and a letter of an event that was resubmitted meanwhile
  sends an event the archive already has. Both are harmless because the pipeline dedupes by
  event id: a redelivered event yields the record it already has.

The principal that replays needs write access to the ingest topics and the ledger, and
`TransactionalId` write on the `<group>.deadletter-replay.` prefix.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.schema_registry.error import SchemaRegistryError

from avro_schemas.codec import Codec, CodecError
from avro_schemas.schemas import DEAD_LETTER
from connectors.readback import (
    ReadError,
    TopicMissing,
    TopicReader,
    Watch,
    partitions,
    quiet_logger,
    reader_consumer,
    watermarks,
)
from connectors.transactions import commit
from recordflow.settings import Settings
from recordflow.timeouts import (
    KAFKA_TIMEOUT_S,
    LEDGER_WAIT_S,
    METADATA_TIMEOUT_S,
    POLL_TIMEOUT_S,
    READ_TIMEOUT_S,
    STAFF_TRANSACTION_TIMEOUT_MS,
)
from topics.acls import replay_transactional_prefix
from topics.catalog import UnknownTopic, value_schema_for
from topics.deadletter import REASON_HEADER

log = logging.getLogger(__name__)

REPLAYED_FROM_HEADER = "recordflow.replayed-from"
LETTER_ID = re.compile(r"^(?P<partition>0|[1-9][0-9]{0,8})-(?P<offset>0|[1-9][0-9]{0,18})$")


class DeadLetterError(Exception):
    """The dead-letter topic or the replay ledger could not be read or written."""


class MissingTopic(DeadLetterError):
    """A topic that is not on the cluster."""


# --- ids -------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class LetterId:
    """A letter's place in the dead-letter topic."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}-{self.offset}"


def parse_letter_id(text: str) -> LetterId:
    """`1-42` → LetterId(1, 42); ValueError, with what an id looks like, for anything else."""
    match = LETTER_ID.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"malformed dead-letter id {text!r}: expected PARTITION-OFFSET, e.g. 0-42 "
            "(see `recordflow deadletters list`)"
        )
    return LetterId(int(match["partition"]), int(match["offset"]))


# --- letters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Letter:
    """One message of the dead-letter topic: where it is, its bytes, and the DeadLetter in it
    (`record`), or why that cannot be read (`problem`)."""

    topic: str
    id: LetterId
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes | None]]
    timestamp_ms: int | None
    record: dict[str, Any] | None
    problem: str | None = None

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the letter as stored: what the replay ledger records it by."""
        return hashlib.sha256(self.value).hexdigest()

    @property
    def ledger_key(self) -> str:
        return f"{self.topic}/{self.id}"

    @property
    def reason(self) -> str:
        if self.record is not None:
            return str(self.record["reason"])
        header = dict(self.headers).get(REASON_HEADER)
        return header.decode(errors="replace") if header else "unreadable"

    @property
    def agency_code(self) -> str | None:
        return None if self.record is None else self.record["agency_code"]

    @property
    def failed_at(self) -> dt.datetime:
        if self.record is not None:
            failed: dt.datetime = self.record["failed_at"]
            return failed
        return dt.datetime.fromtimestamp((self.timestamp_ms or 0) / 1000, dt.UTC)


def letter_from_message(message: Message, codec: Codec) -> Letter | None:
    """The Letter in a consumed message; None for a tombstone (nothing to read or replay)."""
    value = message.value()
    if value is None:
        return None
    record, problem = None, None
    try:
        record = codec.decode(value, DEAD_LETTER)
    except CodecError as exc:
        problem = f"{exc.reason}: {exc}"
    return Letter(
        topic=message.topic() or "",
        id=LetterId(message.partition() or 0, message.offset() or 0),
        key=message.key(),
        value=value,
        headers=message_headers(message),
        timestamp_ms=message.timestamp()[1] if message.timestamp()[1] > 0 else None,
        record=record,
        problem=problem,
    )


def message_headers(message: Message) -> list[tuple[str, bytes | None]]:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(key, value.encode() if isinstance(value, str) else value) for key, value in pairs]


def select(
    letters: Iterable[Letter],
    *,
    agency: str | None = None,
    reason: str | None = None,
    since: dt.datetime | None = None,
) -> list[Letter]:
    """The letters of `agency`, with `reason`, that failed at or after `since` (each filter only
    when given), oldest first."""
    chosen = [
        letter
        for letter in letters
        if (agency is None or letter.agency_code == agency)
        and (reason is None or letter.reason == reason)
        and (since is None or letter.failed_at >= since)
    ]
    return sorted(chosen, key=lambda letter: (letter.failed_at, letter.id))


# --- reading Kafka ---------------------------------------------------------------------------
# The reading itself is connectors/readback.py's (read_committed, the read deadline); here its
# failures become DeadLetterErrors, which the CLI prints as its one line.
def _quiet_logger() -> logging.LoggerAdapter[logging.Logger]:
    return quiet_logger()


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    except KafkaException as exc:
        raise DeadLetterError(f"cannot reach Kafka for {topic}: {exc}") from exc
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        raise MissingTopic(f"topic {topic} does not exist; run `recordflow topics apply`")
    return sorted(info.partitions)


def _is_eof(message: Message) -> bool:
    error = message.error()
    return error is not None and error.code() == KafkaError._PARTITION_EOF


@contextmanager
def _as_dead_letter_errors() -> Iterator[None]:
    try:
        yield
    except TopicMissing as exc:
        raise MissingTopic(str(exc)) from exc
    except ReadError as exc:
        raise DeadLetterError(str(exc)) from exc


class _TopicReader:
    """Reads a topic from the beginning and keeps reading: `until_end()` returns what arrived up
    to the end as it stands when called, waiting for transactions open before it to end (a
    readback.TopicReader that waits for transactions)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        with _as_dead_letter_errors():
            self.reader = TopicReader(settings, topic, wait_for_transactions=True)
        self.consumer = self.reader.consumer

    def until_end(self, timeout_s: float = READ_TIMEOUT_S) -> list[Message]:
        """The messages that arrived since the last call, up to each partition's high watermark
        now; that waits for transactions open before it to end, at most `timeout_s` while Kafka
        answers, and at most the read deadline while it does not."""
        self.reader.transaction_wait_s = timeout_s
        with _as_dead_letter_errors():
            return self.reader.until_end()

    def close(self) -> None:
        self.reader.close()


def read_committed(settings: Settings, topic: str) -> list[Message]:
    """Every committed message now in `topic` (one that replays were written to, say, whose
    transaction markers a read up to the high watermark would wait for forever)."""
    reader = _TopicReader(settings, topic)
    try:
        return reader.until_end()
    finally:
        reader.close()


def read_letters(settings: Settings, codec: Codec) -> list[Letter]:
    """Every letter now in the dead-letter topic, by id."""
    reader = _TopicReader(settings, settings.deadletter_topic)
    try:
        letters = [letter_from_message(message, codec) for message in reader.until_end()]
    finally:
        reader.close()
    return sorted((letter for letter in letters if letter is not None), key=lambda x: x.id)


def fetch_letter(settings: Settings, codec: Codec, letter_id: LetterId) -> Letter | None:
    """The letter with this id, or None when there is none (never was, or expired)."""
    topic = settings.deadletter_topic
    consumer = reader_consumer(settings)
    try:
        with _as_dead_letter_errors():
            if letter_id.partition not in partitions(consumer, settings, topic):
                return None
            low, high = watermarks(consumer, settings, topic, letter_id.partition)
            if not low <= letter_id.offset < high:
                return None
            consumer.assign([TopicPartition(topic, letter_id.partition, letter_id.offset)])
            watch = Watch(consumer, settings, topic)
            while True:
                message = consumer.poll(POLL_TIMEOUT_S)
                if message is None:
                    watch.quiet()
                    continue
                if _is_eof(message):
                    return None
                if message.error():
                    raise DeadLetterError(f"cannot read {topic}: {message.error()}")
                if message.offset() != letter_id.offset:
                    return None  # not a message there (a transaction marker, say)
                return letter_from_message(message, codec)
    finally:
        consumer.close()


# --- the replay ledger -----------------------------------------------------------------------
def ledger_topic(settings: Settings) -> str:
    return settings.replay_ledger_topic


@dataclass(frozen=True)
class Replay:
    """A ledger entry: letter `letter_id` (with SHA-256 `fingerprint`) of `dead_letter_topic`
    was sent back to `topic`, landing at `partition`/`offset`, at `replayed_at` by `replayed_by`."""

    dead_letter_topic: str
    letter_id: str
    fingerprint: str
    event_id: str | None
    reason: str
    topic: str
    partition: int
    offset: int
    replayed_at: dt.datetime
    replayed_by: str

    @property
    def ledger_key(self) -> str:
        return f"{self.dead_letter_topic}/{self.letter_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "dead_letter": {"topic": self.dead_letter_topic, "id": self.letter_id,
                            "sha256": self.fingerprint},
            "event_id": self.event_id,
            "reason": self.reason,
            "target": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
            "replayed_at": self.replayed_at.isoformat(),
            "replayed_by": self.replayed_by,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Replay:
        letter, target = data["dead_letter"], data["target"]
        return cls(
            dead_letter_topic=letter["topic"], letter_id=letter["id"], fingerprint=letter["sha256"],
            event_id=data.get("event_id"), reason=data["reason"], topic=target["topic"],
            partition=int(target["partition"]), offset=int(target["offset"]),
            replayed_at=dt.datetime.fromisoformat(data["replayed_at"]),
            replayed_by=data["replayed_by"],
        )  # fmt: skip


def ledger_entry(data: bytes | None) -> Replay | None:
    """A ledger message's value as a Replay; None for a tombstone or an entry this code cannot
    read (logged: it is not taken as a replay)."""
    if data is None:
        return None
    try:
        return Replay.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring an unreadable replay ledger entry: %s", exc)
        return None


class Ledger:
    """The replay ledger as read so far; `catch_up()` reads on to its end."""

    def __init__(self, settings: Settings) -> None:
        self.topic = ledger_topic(settings)
        self.reader = _TopicReader(settings, self.topic)
        self.entries: dict[str, Replay] = {}

    def catch_up(self, timeout_s: float = LEDGER_WAIT_S) -> None:
        for message in self.reader.until_end(timeout_s):
            key = (message.key() or b"").decode(errors="replace")
            entry = ledger_entry(message.value())
            if entry is None:
                self.entries.pop(key, None)
            else:
                self.entries[key] = entry

    def replay_of(self, letter: Letter) -> Replay | None:
        return recorded_replay(self.entries, letter)

    def close(self) -> None:
        self.reader.close()


def recorded_replay(entries: dict[str, Replay], letter: Letter) -> Replay | None:
    """The recorded replay of this very letter (same place, same bytes), if any."""
    entry = entries.get(letter.ledger_key)
    return entry if entry is not None and entry.fingerprint == letter.fingerprint else None


def read_replays(settings: Settings) -> dict[str, Replay]:
    """The ledger's entries now, by key. Empty when the ledger topic does not exist: a replay
    cannot happen without it, so nothing was replayed."""
    try:
        ledger = Ledger(settings)
    except MissingTopic:
        return {}
    try:
        ledger.catch_up()
        return ledger.entries
    finally:
        ledger.close()


# --- replay ----------------------------------------------------------------------------------
REPLAYED = "replayed"
ALREADY_REPLAYED = "already-replayed"
WOULD_REPLAY = "would-replay"
FAILED = "failed"


@dataclass
class ReplayResult:
    letter: Letter
    status: str  # REPLAYED, ALREADY_REPLAYED, WOULD_REPLAY or FAILED
    replay: Replay | None = None  # this replay, or the earlier one
    error: str | None = None


def replay_headers(letter: Letter) -> list[tuple[str, str | bytes | None]]:
    """The original headers, then one naming the letter (replacing the one a letter that was
    itself a replay carries)."""
    assert letter.record is not None
    original: list[tuple[str, str | bytes | None]] = [
        (header["key"], header["value"])
        for header in letter.record["original_headers"]
        if header["key"] != REPLAYED_FROM_HEADER
    ]
    return [*original, (REPLAYED_FROM_HEADER, letter.ledger_key.encode())]


def replay_target(settings: Settings, letter: Letter) -> str:
    """The topic to replay a letter to: its original topic, which must be one the catalog
    describes (an ingest topic); ValueError when the letter cannot be replayed."""
    if letter.record is None:
        raise ValueError(f"the letter cannot be read ({letter.problem}); nothing to replay")
    topic = str(letter.record["original_topic"])
    if topic in (settings.deadletter_topic, ledger_topic(settings)):
        raise ValueError(f"the letter names {topic} as its origin; refusing to replay into it")
    try:
        value_schema_for(topic, topic_prefix=settings.topic_prefix)
    except UnknownTopic as exc:
        raise ValueError(f"its original topic {topic} is not in the topic catalog") from exc
    return topic


def transactional_id(settings: Settings, letter: Letter) -> str:
    return f"{replay_transactional_prefix(settings)}{letter.ledger_key}"


class Replayer:
    """Replays letters, each at most once (see the module docstring). Close it when done."""

    def __init__(
        self, settings: Settings, by: str, now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.settings = settings
        self.by = by
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.ledger = Ledger(settings)
        self.ledger.catch_up()
        self._existing_topics: set[str] = set()

    def close(self) -> None:
        self.ledger.close()

    def replay_all(self, letters: Sequence[Letter], *, dry_run: bool = False) -> list[ReplayResult]:
        return [self.replay(letter, dry_run=dry_run) for letter in letters]

    def replay(self, letter: Letter, *, dry_run: bool = False) -> ReplayResult:
        try:
            topic = replay_target(self.settings, letter)
        except ValueError as exc:
            return ReplayResult(letter, FAILED, error=str(exc))
        earlier = self.ledger.replay_of(letter)
        if earlier is not None:
            return ReplayResult(letter, ALREADY_REPLAYED, earlier)
        if dry_run:
            return ReplayResult(letter, WOULD_REPLAY)
        try:
            self._check_topic(topic)
            return self._replay_once(letter, topic)
        except (KafkaException, DeadLetterError) as exc:
            return ReplayResult(letter, FAILED, error=_kafka_message(exc))

    def _check_topic(self, topic: str) -> None:
        """A missing topic would make the producer wait out its whole message timeout."""
        if topic not in self._existing_topics:
            _partitions(self.ledger.reader.consumer, topic)
            self._existing_topics.add(topic)

    def _replay_once(self, letter: Letter, topic: str) -> ReplayResult:
        assert letter.record is not None
        producer = Producer({
            **self.settings.producer_config(),
            "transactional.id": transactional_id(self.settings, letter),
            "transaction.timeout.ms": STAFF_TRANSACTION_TIMEOUT_MS,
            "message.timeout.ms": STAFF_TRANSACTION_TIMEOUT_MS - 1000,
            "logger": _quiet_logger(),
        })  # fmt: skip
        # From here on no other producer can replay this letter until we are done; whatever
        # another one committed before is in the ledger up to its end now.
        producer.init_transactions(KAFKA_TIMEOUT_S)
        self.ledger.catch_up()
        earlier = self.ledger.replay_of(letter)
        if earlier is not None:
            return ReplayResult(letter, ALREADY_REPLAYED, earlier)
        delivered: list[Message] = []
        errors: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(error)
            else:
                delivered.append(message)

        producer.begin_transaction()
        try:
            producer.produce(topic, key=letter.record["original_key"],
                             value=letter.record["original_value"], headers=replay_headers(letter),
                             on_delivery=on_delivery)  # fmt: skip
            producer.flush(KAFKA_TIMEOUT_S)
            if errors or not delivered:
                reason = errors[0].str() if errors else "no delivery report in time"
                raise DeadLetterError(f"{topic} did not take the replay: {reason}")
            sent = delivered[0]
            entry = Replay(
                dead_letter_topic=letter.topic, letter_id=str(letter.id),
                fingerprint=letter.fingerprint, event_id=letter.record["event_id"],
                reason=letter.reason, topic=topic, partition=sent.partition() or 0,
                offset=sent.offset() or 0, replayed_at=self.now(), replayed_by=self.by,
            )  # fmt: skip
            producer.produce(self.ledger.topic, key=entry.ledger_key.encode(),
                             value=json.dumps(entry.as_json(), ensure_ascii=False).encode())  # fmt: skip
            commit(producer)
        # confluent-kafka raises a fatal error (fenced) met while serving delivery reports as a
        # SystemError whose cause is the KafkaException.
        except (KafkaException, DeadLetterError, SystemError) as exc:
            _abort(producer)
            if _fenced(exc):
                raise DeadLetterError(
                    "another operator is replaying this letter right now; see "
                    "`recordflow deadletters show` in a moment"
                ) from exc
            if isinstance(exc, SystemError):
                raise _kafka_cause(exc) from exc
            raise
        self.ledger.entries[entry.ledger_key] = entry
        return ReplayResult(letter, REPLAYED, entry)


def _kafka_cause(exc: BaseException) -> KafkaException | DeadLetterError:
    """The KafkaException behind `exc` (itself, or its cause), else a DeadLetterError saying it."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, KafkaException | DeadLetterError):
            return candidate
    return DeadLetterError(f"the Kafka client failed: {exc}")


def _fenced(exc: BaseException) -> bool:
    cause = _kafka_cause(exc)
    if not isinstance(cause, KafkaException) or not cause.args:
        return False
    error = cause.args[0]
    return isinstance(error, KafkaError) and error.code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )


def _abort(producer: Producer) -> None:
    """Abort the open transaction if the producer still can (a fenced one cannot, and need not:
    the broker aborted it when it fenced it)."""
    try:
        producer.abort_transaction(KAFKA_TIMEOUT_S)
    except KafkaException as exc:
        log.debug("abort after a failed replay: %s", exc)


def _kafka_message(exc: Exception) -> str:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc)


# --- for people and programs -----------------------------------------------------------------
def decode_original(letter: Letter, codec: Codec, topic_prefix: str) -> tuple[Any, str | None]:
    """The original value decoded with its topic's schema, or None and why it does not decode."""
    if letter.record is None:
        return None, f"the dead letter itself cannot be read: {letter.problem}"
    value = letter.record["original_value"]
    if value is None:
        return None, "the original message had no value (null)"
    topic = letter.record["original_topic"]
    try:
        resource = value_schema_for(topic, topic_prefix=topic_prefix)
    except UnknownTopic:
        resource = None
    if resource is None:
        return None, f"{topic} has no Avro schema in the topic catalog"
    try:
        return codec.decode(value, resource.split("/")[0]), None
    except CodecError as exc:
        return None, f"{exc.reason}: {exc}"
    except SchemaRegistryError as exc:
        return None, f"the schema registry could not be asked: {exc}"


def text_or_none(data: bytes | None) -> str | None:
    """`data` as text when it is UTF-8 without control characters (safe to print), else None."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def hex_preview(data: bytes, limit: int = 64) -> str:
    """The first `limit` bytes as hex pairs, with an ellipsis when there are more."""
    shown = data[:limit].hex(" ")
    return f"{shown} … ({len(data)} bytes)" if len(data) > limit else shown
