"""A store that follows topics: the console's and the lookup service's stores are SQLite files
kept current from the topics by a `Follower` on a daemon thread, and rebuilt from them at will.

The follower reads like every reader here (read_committed, partitions assigned, no consumer
group) and hands the store each batch of messages **with the offsets it read up to**; the store
writes both in one transaction, so a process that stops goes on where its store stops, and a
store deleted is rebuilt from the beginning of the topics. Kafka or the registry away: it waits
and goes on from the offsets the store holds. A value that cannot be decoded is logged and
skipped, never fatal to the store.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from prometheus_client import Gauge

from avro_schemas.codec import CodecError
from connectors.readback import UNREACHABLE, ReadError, partitions, reader_consumer, watermarks
from recordflow.settings import Settings

log = logging.getLogger(__name__)

BATCH = 500
LAG_EVERY_S = 5.0
RETRY_S = 5.0

# What a topic's value becomes in the store (None: as a tombstone).
Decoder = Callable[[Message, bytes], dict[str, Any] | None]


@dataclass
class Batch:
    """What one read brought: (topic, partition, offset, Kafka timestamp, key, decoded value or
    None for a tombstone) per message, and the offset each partition was read up to."""

    messages: list[tuple[str, int, int, int, str, dict[str, Any] | None]] = field(
        default_factory=list
    )
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)


OFFSETS_TABLE = """
CREATE TABLE offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition))"""


class TopicStore:
    """A SQLite file kept from topics: `schema` (statements separated by `;`, no `;` in a
    comment) with an `offsets` table (OFFSETS_TABLE), rebuilt empty when the file was written with
    another `version` (PRAGMA user_version). A subclass says what each message becomes (`write`)."""

    name = "store"

    def __init__(self, path: Path, schema: str, version: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # For the service's own user only (SQLite gives its -wal and -shm files the file's mode).
        path.touch(mode=0o600, exist_ok=True)
        with contextlib.closing(connect(path)) as db:
            if db.execute("PRAGMA user_version").fetchone()[0] != version:
                log.info("%s store %s: (re)built from the topics", self.name, path)
                self._rebuild(db, schema, version)

    @staticmethod
    def _rebuild(db: sqlite3.Connection, schema: str, version: int) -> None:
        db.execute("BEGIN")
        # Virtual tables first: dropping one drops its shadow tables with it.
        for kind in ("virtual", "table"):
            tables = [row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND (sql LIKE 'CREATE VIRTUAL%')"
                + (" = 1" if kind == "virtual" else " = 0")
            )]  # fmt: skip
            for table in tables:
                db.execute(f'DROP TABLE IF EXISTS "{table}"')
        for statement in schema.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")
        db.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        db = connect(self.path)
        try:
            yield db
        finally:
            db.close()

    def offsets(self) -> dict[tuple[str, int], int]:
        with self.reading() as db:
            return {(r["topic"], r["partition"]): r["next_offset"]
                    for r in db.execute("SELECT * FROM offsets")}  # fmt: skip

    def apply(self, batch: Batch, db: sqlite3.Connection | None = None) -> None:
        """Write a batch's messages and the offsets it was read up to, in one transaction."""
        with contextlib.ExitStack() as stack:
            if db is None:
                db = stack.enter_context(self.reading())
            db.execute("BEGIN IMMEDIATE")
            try:
                for message in batch.messages:
                    self.write(db, *message)
                db.executemany(
                    "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET next_offset = excluded.next_offset",
                    [(topic, part, offset) for (topic, part), offset in batch.offsets.items()],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def write(self, db: sqlite3.Connection, topic: str, partition: int, offset: int,
              timestamp: int, key: str, value: dict[str, Any] | None) -> None:  # fmt: skip
        """What one message (a decoded value, or None for a tombstone) becomes in the store."""
        raise NotImplementedError


class Follower:
    """Keeps a store current from `topics` (name → decoder); `caught_up` is set once every
    partition was read to its end. `lag` gets, per topic, the messages Kafka has that the store
    has not read, every LAG_EVERY_S."""

    def __init__(self, name: str, store: TopicStore, settings: Settings,
                 topics: Mapping[str, Decoder], lag: Gauge) -> None:  # fmt: skip
        self.name = name
        self.store = store
        self.settings = settings
        self.topics = dict(topics)
        self.lag = lag
        self.caught_up = threading.Event()
        self.last_lag: dict[str, int] = {}  # per topic, as last measured (what pages show)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-store", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def measured(self, lowest: dict[tuple[str, int], int]) -> None:
        """Called with each partition's low watermark after the lag was measured (a store that
        keeps a copy of a topic with a retention time forgets what Kafka deleted)."""

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow()
            except Exception as exc:  # Kafka or the registry away, a topic not created yet
                log.warning("%s store: %s; trying again in %.0f s", self.name, exc, RETRY_S)
                self._stopped.wait(RETRY_S)

    def _follow(self) -> None:
        consumer = reader_consumer(self.settings, group=self.settings.reader_group(self.name))
        try:
            assigned = self._assign(consumer)
            pending_eof = set(assigned)
            lag_at = 0.0
            with self.store.reading() as db:
                while not self._stopped.is_set():
                    batch = self._read(consumer, pending_eof)
                    if batch.messages or batch.offsets:
                        self.store.apply(batch, db)
                    just_caught_up = not pending_eof and not self.caught_up.is_set()
                    if not pending_eof:
                        self.caught_up.set()
                    if just_caught_up or time.monotonic() - lag_at >= LAG_EVERY_S:
                        self._measure_lag(consumer, assigned)
                        lag_at = time.monotonic()
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> list[tuple[str, int]]:
        stored = self.store.offsets()
        assigned = [(topic, p) for topic in self.topics
                    for p in partitions(consumer, self.settings, topic)]  # fmt: skip
        consumer.assign([TopicPartition(topic, p, stored.get((topic, p), OFFSET_BEGINNING))
                         for topic, p in assigned])  # fmt: skip
        return assigned

    def _read(self, consumer: Consumer, pending_eof: set[tuple[str, int]]) -> Batch:
        batch = Batch()
        for message in consumer.consume(BATCH, timeout=0.5):
            topic, partition = message.topic() or "", message.partition() or 0
            offset = message.offset() or 0
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    # The end, past any transaction marker: where a restart goes on from.
                    batch.offsets[topic, partition] = offset
                    pending_eof.discard((topic, partition))
                    continue
                if error.code() in UNREACHABLE:
                    continue  # librdkafka reconnects; the store waits
                raise ReadError(f"cannot read {topic}: {error.str()}")
            batch.offsets[topic, partition] = offset + 1
            raw = message.value()
            value = None  # a tombstone
            if raw is not None:
                # A bad entry is skipped, never fatal to the store (a registry entry pydantic
                # refuses raises ValidationError, a ValueError).
                try:
                    value = self.topics[topic](message, raw)
                except (CodecError, ValueError) as exc:
                    log.warning("%s store: skipped %s/%s@%s: %s", self.name, topic, partition,
                                offset, exc)  # fmt: skip
                    continue
            key = (message.key() or b"").decode("utf-8", "replace")
            batch.messages.append((topic, partition, offset, message.timestamp()[1], key, value))
        return batch

    def _measure_lag(self, consumer: Consumer, assigned: Sequence[tuple[str, int]]) -> None:
        stored = self.store.offsets()
        behind: dict[str, int] = dict.fromkeys(self.topics, 0)
        lowest: dict[tuple[str, int], int] = {}
        for topic, partition in assigned:
            low, high = watermarks(consumer, self.settings, topic, partition)
            behind[topic] += max(0, high - max(low, stored.get((topic, partition), low)))
            lowest[topic, partition] = low
        self.measured(lowest)
        for topic, count in behind.items():
            self.lag.labels(topic=topic).set(count)
        self.last_lag = behind


def connect(path: Any) -> sqlite3.Connection:
    """A connection to a followed store: WAL (pages read while the follower writes) and
    synchronous NORMAL (durable enough for a store that can always be rebuilt from the topics)."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db
