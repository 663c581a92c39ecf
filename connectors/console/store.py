"""The console's own store: a SQLite file that follows the topics its pages read, rebuilt from them.

No page reads a topic: a page asks this store, and a background thread (`StoreFollower`) keeps it
current. The follower reads `records.catalog.v1` (the latest state of every record, for 档案) and
`recordflow.audit.v1` (for 审计日志, and the sessions that were signed out) like every reader here
(read_committed, partitions assigned, no consumer group), and writes each batch of messages **and
the offsets it read up to in the same SQLite transaction**: a console that stops continues where
its store stops, and a store deleted (or written by an older version of this module: `VERSION`) is
rebuilt from the beginning of the topics. Replicas share nothing; each has its own file.

`recordflow_console_store_lag_messages{topic}` says how far the store is behind each topic
(offsets Kafka has that the store has not read); pages say so while the store catches up.

Titles are found by words: a word of three or more characters through SQLite's FTS5 trigram index,
a shorter one (many Chinese words have two characters, and trigrams cannot find them) by LIKE over
the titles. Both find the word anywhere in the title.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from avro_schemas.codec import Codec, CodecError
from avro_schemas.schemas import ARCHIVAL_RECORD, AUDIT_EVENT
from connectors.readback import UNREACHABLE, ReadError, partitions, reader_consumer, watermarks
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings

log = logging.getLogger(__name__)

VERSION = 1  # PRAGMA user_version: a store written by another version is rebuilt
PAGE_SIZE = 20
TRIGRAM = 3  # the shortest word the trigram index can find
BATCH = 500
LAG_EVERY_S = 5.0
RETRY_S = 5.0

SCHEMA = """
CREATE TABLE offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE records (
    code TEXT PRIMARY KEY, agency_code TEXT NOT NULL, agency_name TEXT NOT NULL,
    title TEXT NOT NULL, document_number TEXT, year INTEGER NOT NULL,
    retention_period TEXT NOT NULL, category TEXT NOT NULL, document_date TEXT,
    archived_at TEXT NOT NULL, partition INTEGER NOT NULL, kafka_ts INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX records_agency ON records (agency_code, year);
CREATE INDEX records_archived ON records (archived_at);
CREATE VIRTUAL TABLE titles USING fts5 (code UNINDEXED, title, tokenize = 'trigram');
CREATE TABLE audit (
    partition INTEGER NOT NULL, offset INTEGER NOT NULL, event_id TEXT NOT NULL,
    actor TEXT NOT NULL, role TEXT, action TEXT NOT NULL, target TEXT,
    occurred_ms INTEGER NOT NULL, outcome TEXT NOT NULL, client_address TEXT, detail TEXT,
    PRIMARY KEY (partition, offset));
CREATE INDEX audit_time ON audit (occurred_ms);
CREATE TABLE ended_sessions (sid TEXT PRIMARY KEY, ended_ms INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class RecordQuery:
    """A search of the records; empty fields do not restrict it."""

    code: str = ""  # 档号, exact
    words: str = ""  # 题名: every word must be in the title
    document_number: str = ""  # 文号: a part of it
    agency: str = ""
    year: int | None = None
    retention: str = ""
    category: str = ""
    page: int = 1


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""
    action: str = ""
    day: dt.date | None = None  # in the console's time zone
    page: int = 1


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class Batch:
    """What one read brought: (topic, partition, offset, Kafka timestamp, key, decoded value or
    None for a tombstone) per message, and the offset each partition was read up to."""

    messages: list[tuple[str, int, int, int, str, dict[str, Any] | None]] = field(
        default_factory=list
    )
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)


class Store:
    def __init__(self, path: Path, *, catalog_topic: str, audit_topic: str,
                 timezone: str = "Asia/Shanghai") -> None:  # fmt: skip
        self.path = path
        self.catalog_topic = catalog_topic
        self.audit_topic = audit_topic
        self.zone = ZoneInfo(timezone)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The audit trail's copy is in it: for the console's own user only (SQLite gives its
        # -wal and -shm files the database file's mode).
        path.touch(mode=0o600, exist_ok=True)
        with contextlib.closing(self._connect()) as db, db:
            if db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
                self._rebuild(db)

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        return cls(settings.console_path / "store.sqlite3", catalog_topic=settings.catalog_topic,
                   audit_topic=settings.audit_topic, timezone=settings.console_timezone)  # fmt: skip

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        # WAL: pages read while the follower writes; NORMAL is durable enough for a store that
        # can always be rebuilt from the topics.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _rebuild(self, db: sqlite3.Connection) -> None:
        log.info("console store %s: (re)built from the topics", self.path)
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'titles_%'"
        )]  # fmt: skip
        db.execute("BEGIN")
        for table in tables:
            db.execute(f'DROP TABLE IF EXISTS "{table}"')
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # --- written by the follower ---------------------------------------------------------
    def offsets(self) -> dict[tuple[str, int], int]:
        with self.reading() as db:
            return {(r["topic"], r["partition"]): r["next_offset"]
                    for r in db.execute("SELECT * FROM offsets")}  # fmt: skip

    def apply(self, batch: Batch, db: sqlite3.Connection | None = None) -> None:
        """Write a batch's messages and offsets in one transaction."""
        with contextlib.ExitStack() as stack:
            if db is None:
                db = stack.enter_context(self.reading())
            db.execute("BEGIN IMMEDIATE")
            try:
                for topic, partition, offset, timestamp, key, value in batch.messages:
                    if topic == self.catalog_topic:
                        self._record(db, partition, timestamp, key, value)
                    elif topic == self.audit_topic and value is not None:
                        self._audit(db, partition, offset, value)
                db.executemany(
                    "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET next_offset = excluded.next_offset",
                    [
                        (topic, partition, offset)
                        for (topic, partition), offset in batch.offsets.items()
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _record(self, db: sqlite3.Connection, partition: int, timestamp: int, code: str,
                record: dict[str, Any] | None) -> None:  # fmt: skip
        current = db.execute(
            "SELECT partition, kafka_ts FROM records WHERE code = ?", (code,)
        ).fetchone()
        # As connectors/readback.py's `supersedes`: later in the same partition, or newer by Kafka
        # timestamp in another one (producers with different partitioners).
        if (
            current is not None
            and current["partition"] != partition
            and (timestamp < current["kafka_ts"])
        ):
            return
        db.execute("DELETE FROM records WHERE code = ?", (code,))
        db.execute("DELETE FROM titles WHERE code = ?", (code,))
        if record is None:  # a tombstone
            return
        description = record["description"]
        db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, record["agency"]["code"], record["agency"]["name"], description["title"],
             description.get("document_number"), record["year"], record["retention_period"],
             record.get("category") or "WS", description.get("document_date"),
             record["archived_at"], partition, timestamp,
             json.dumps(record, ensure_ascii=False)),
        )  # fmt: skip
        db.execute("INSERT INTO titles VALUES (?, ?)", (code, description["title"]))

    def _audit(self, db: sqlite3.Connection, partition: int, offset: int,
               event: dict[str, Any]) -> None:  # fmt: skip
        at = dt.datetime.fromisoformat(event["occurred_at"])
        db.execute(
            "INSERT OR IGNORE INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (partition, offset, event["event_id"], event["actor"], event.get("role"),
             event["action"], event.get("target"), int(at.timestamp() * 1000),
             event["outcome"], event.get("client_address"), event.get("detail")),
        )  # fmt: skip
        target = event.get("target") or ""
        if event["action"] == "logout" and target.startswith("session:"):
            self._end_session(db, target.removeprefix("session:"), at)

    @staticmethod
    def _end_session(db: sqlite3.Connection, sid: str, at: dt.datetime) -> None:
        db.execute("INSERT OR IGNORE INTO ended_sessions VALUES (?, ?)",
                   (sid, int(at.timestamp() * 1000)))  # fmt: skip

    # --- sessions ----------------------------------------------------------------------------
    def end_session(self, sid: str) -> None:
        """A sign-out seen here first: refused at once, before its audit event comes back."""
        with self.reading() as db:
            self._end_session(db, sid, dt.datetime.now(dt.UTC))

    def session_ended(self, sid: str) -> bool:
        with self.reading() as db:
            found = db.execute("SELECT 1 FROM ended_sessions WHERE sid = ?", (sid,)).fetchone()
            return found is not None

    # --- read by the pages ---------------------------------------------------------------
    def search(self, query: RecordQuery) -> Page:
        where: list[str] = []
        params: list[object] = []
        if query.code:
            where.append("code = ?")
            params.append(query.code.strip())
        for word in query.words.split():
            if len(word) >= TRIGRAM:
                where.append("code IN (SELECT code FROM titles WHERE titles MATCH ?)")
                params.append('"' + word.replace('"', '""') + '"')
            else:
                where.append("title LIKE ? ESCAPE '\\'")
                params.append(f"%{_like(word)}%")
        if query.document_number.strip():
            where.append("document_number LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(query.document_number.strip())}%")
        for column, value in (("agency_code", query.agency), ("retention_period", query.retention),
                              ("category", query.category)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.year is not None:
            where.append("year = ?")
            params.append(query.year)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        page = max(1, query.page)
        with self.reading() as db:
            total = db.execute(f"SELECT count(*) FROM records {clause}", params).fetchone()[0]
            rows = db.execute(
                "SELECT code, agency_code, agency_name, title, document_number, year, "
                "retention_period, category, document_date, archived_at FROM records "
                f"{clause} ORDER BY archived_at DESC, code LIMIT ? OFFSET ?",
                [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
            ).fetchall()
        return Page([dict(row) for row in rows], total, page)

    def record(self, code: str) -> dict[str, Any] | None:
        with self.reading() as db:
            row = db.execute("SELECT body FROM records WHERE code = ?", (code,)).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    def agencies(self) -> list[dict[str, Any]]:
        """Per agency: its records and the latest archive time (the overview)."""
        with self.reading() as db:
            return [dict(row) for row in db.execute(
                "SELECT agency_code, agency_name, count(*) AS records, "
                "max(archived_at) AS last_archived FROM records "
                "GROUP BY agency_code ORDER BY agency_code"
            )]  # fmt: skip

    def facets(self) -> dict[str, list[Any]]:
        """The values the search form offers: agencies and years present."""
        with self.reading() as db:
            agencies = [dict(r) for r in db.execute(
                "SELECT DISTINCT agency_code, agency_name FROM records ORDER BY agency_code")]  # fmt: skip
            years = [
                r[0] for r in db.execute("SELECT DISTINCT year FROM records ORDER BY year DESC")
            ]
        return {"agencies": agencies, "years": years}

    def audit_events(self, query: AuditQuery) -> Page:
        """Audit events, newest first."""
        where: list[str] = []
        params: list[object] = []
        if query.actor:
            where.append("actor = ?")
            params.append(query.actor)
        if query.action:
            where.append("action = ?")
            params.append(query.action)
        if query.day is not None:
            start = dt.datetime.combine(query.day, dt.time(), self.zone)
            where.append("occurred_ms >= ? AND occurred_ms < ?")
            params += [int(start.timestamp() * 1000),
                       int((start + dt.timedelta(days=1)).timestamp() * 1000)]  # fmt: skip
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        page = max(1, query.page)
        with self.reading() as db:
            total = db.execute(f"SELECT count(*) FROM audit {clause}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT * FROM audit {clause} ORDER BY occurred_ms DESC, partition, offset DESC "
                "LIMIT ? OFFSET ?",
                [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
            ).fetchall()
        events = []
        for row in rows:
            event = dict(row)
            event["occurred_at"] = dt.datetime.fromtimestamp(row["occurred_ms"] / 1000, self.zone)
            events.append(event)
        return Page(events, total, page)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- the follower -----------------------------------------------------------------------------
class StoreFollower:
    """Keeps a Store current from the topics, on a daemon thread; `caught_up` is set once every
    partition was read to its end. Kafka or the registry away: it waits and goes on from the
    offsets the store holds. A value that cannot be decoded is logged and skipped."""

    def __init__(self, store: Store, settings: Settings, codec: Codec,
                 registry: CollectorRegistry | None = None) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.codec = codec
        self.topics = {store.catalog_topic: ARCHIVAL_RECORD, store.audit_topic: AUDIT_EVENT}
        self.lag = Gauge("recordflow_console_store_lag_messages",
                         "Messages of a topic the console's store has not read yet.",
                         ["topic"], registry=registry)  # fmt: skip
        self.caught_up = threading.Event()
        self.last_lag: dict[str, int] = {}  # per topic, as last measured (what pages show)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StoreFollower:
        self._thread = threading.Thread(target=self._run, name="console-store", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow()
            except Exception as exc:  # Kafka or the registry away, a topic not created yet
                log.warning("console store: %s; trying again in %.0f s", exc, RETRY_S)
                self._stopped.wait(RETRY_S)

    def _follow(self) -> None:
        consumer = reader_consumer(self.settings, group=self.settings.reader_group("console"))
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
                try:
                    value = dict(json_ready(self.codec.decode(raw, self.topics[topic]),
                                            content="omit"))  # fmt: skip
                except CodecError as exc:  # a bad entry is skipped, never fatal to the store
                    log.warning("console store: skipped %s/%s@%s: %s", topic, partition, offset,
                                exc)  # fmt: skip
                    continue
            key = (message.key() or b"").decode("utf-8", "replace")
            batch.messages.append((topic, partition, offset, message.timestamp()[1], key, value))
        return batch

    def _measure_lag(self, consumer: Consumer, assigned: Sequence[tuple[str, int]]) -> None:
        stored = self.store.offsets()
        behind: dict[str, int] = dict.fromkeys(self.topics, 0)
        for topic, partition in assigned:
            low, high = watermarks(consumer, self.settings, topic, partition)
            behind[topic] += max(0, high - max(low, stored.get((topic, partition), low)))
        for topic, count in behind.items():
            self.lag.labels(topic=topic).set(count)
        self.last_lag = behind
