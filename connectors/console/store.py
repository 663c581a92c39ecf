"""The console's own store: a SQLite file that follows the topics its pages read, rebuilt from them.

No page reads a topic: a page asks this store, and a background thread (`StoreFollower`) keeps it
current. The follower reads like every reader here (read_committed, partitions assigned, no
consumer group):

- `records.catalog.v1`: the latest state of every record (档案);
- `recordflow.audit.v1`: 审计日志, and the sessions that were signed out;
- `records.retention-review.v1`: the review items (待鉴定), each with its original event decoded
  (connectors/review.py keeps the bytes; the page shows the metadata); a DECIDED item stays in the
  store with its decision but leaves the queue;
- `records.deadletter.v1` and the replay ledger `recordflow.deadletter-replays.v1` (死信): what the
  list needs of each letter (connectors/deadletters.py's `Letter` read it) and each replay, so
  that the list says which were replayed; a letter's page fetches the letter itself;
- `records.verify-runs.v1` and `records.preservation-alert.v1` (校验): every run of `recordflow
  verify` and every alert it raised (connectors/verify.py);
- `recordflow.agencies.v1` (立档单位): the agencies onboarded or offboarded since installation,
  each as its latest entry (the page merges them with the installed registry, as
  connectors/agency_registry.py does).

It follows them as connectors/follower.py says (each batch and its offsets in one transaction); a
store written by another version of this module (`VERSION`) is rebuilt from the beginning of the
topics. Replicas share nothing; each has its own file.

`recordflow_console_store_lag_messages{topic}` says how far the store is behind each topic
(offsets Kafka has that the store has not read); pages say so while the store catches up.

Titles are found by words: a word of three or more characters through SQLite's FTS5 trigram index,
a shorter one (many Chinese words have two characters, and trigrams cannot find them) by LIKE over
the titles. Both find the word anywhere in the title.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from confluent_kafka import Message
from prometheus_client import CollectorRegistry, Gauge

from avro_schemas.codec import Codec, CodecError
from avro_schemas.schemas import (
    ARCHIVAL_RECORD,
    AUDIT_EVENT,
    DOCUMENT_LIFECYCLE_EVENT,
    PRESERVATION_ALERT,
    RETENTION_REVIEW,
    VERIFY_RUN,
)
from connectors.agency_registry import decode_entry
from connectors.deadletters import ledger_entry, letter_from_message
from connectors.follower import Follower, TopicStore
from connectors.review import PENDING, RETENTION
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings

VERSION = 4  # PRAGMA user_version: a store written by another version is rebuilt
PAGE_SIZE = 20
TRIGRAM = 3  # the shortest word the trigram index can find

SCHEMA = """
CREATE TABLE offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE records (
    code TEXT PRIMARY KEY, agency_code TEXT NOT NULL, agency_name TEXT NOT NULL,
    title TEXT NOT NULL, document_number TEXT, year INTEGER NOT NULL,
    retention_period TEXT NOT NULL, category TEXT NOT NULL, document_date TEXT,
    archived_at TEXT NOT NULL, partition INTEGER NOT NULL, kafka_ts INTEGER NOT NULL,
    body TEXT NOT NULL,
    -- for the overview: when archived, how long after the agency filed it, its files' bytes
    archived_ms INTEGER NOT NULL, latency_s REAL NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX records_agency ON records (agency_code, year);
CREATE INDEX records_archived ON records (archived_at);
CREATE INDEX records_flow ON records (archived_ms);
CREATE VIRTUAL TABLE titles USING fts5 (code UNINDEXED, title, tokenize = 'trigram');
CREATE TABLE audit (
    partition INTEGER NOT NULL, offset INTEGER NOT NULL, event_id TEXT NOT NULL,
    actor TEXT NOT NULL, role TEXT, action TEXT NOT NULL, target TEXT,
    occurred_ms INTEGER NOT NULL, outcome TEXT NOT NULL, client_address TEXT, detail TEXT,
    PRIMARY KEY (partition, offset));
CREATE INDEX audit_time ON audit (occurred_ms);
CREATE TABLE ended_sessions (sid TEXT PRIMARY KEY, ended_ms INTEGER NOT NULL);
CREATE TABLE review (
    event_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
    agency_code TEXT NOT NULL, queued_at TEXT NOT NULL, partition INTEGER NOT NULL,
    kafka_ts INTEGER NOT NULL, body TEXT NOT NULL, queued_ms INTEGER NOT NULL);
CREATE INDEX review_queue ON review (kind, status, queued_at);
CREATE INDEX review_flow ON review (queued_ms);
CREATE TABLE letters (
    partition INTEGER NOT NULL, offset INTEGER NOT NULL, letter_id TEXT NOT NULL,
    grouping TEXT NOT NULL, event_id TEXT, agency_code TEXT, reason TEXT NOT NULL, stage TEXT,
    message TEXT, failed_ms INTEGER NOT NULL, original_topic TEXT, ledger_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL, PRIMARY KEY (partition, offset));
CREATE INDEX letters_grouping ON letters (grouping);
CREATE INDEX letters_time ON letters (failed_ms);
CREATE TABLE replays (
    ledger_key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, replayed_at TEXT NOT NULL,
    replayed_by TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE verify_runs (
    run_id TEXT PRIMARY KEY, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL,
    status TEXT NOT NULL, agency TEXT, since_ms INTEGER, records_checked INTEGER NOT NULL,
    records_failed INTEGER NOT NULL, objects_checked INTEGER NOT NULL,
    bytes_read INTEGER NOT NULL, problem TEXT, host TEXT NOT NULL, user TEXT NOT NULL);
CREATE INDEX verify_runs_finished ON verify_runs (finished_ms);
CREATE TABLE alerts (
    partition INTEGER NOT NULL, offset INTEGER NOT NULL, reference_code TEXT NOT NULL,
    agency_code TEXT NOT NULL, checked_ms INTEGER NOT NULL, problems TEXT NOT NULL,
    PRIMARY KEY (partition, offset));
CREATE INDEX alerts_record ON alerts (reference_code, checked_ms);
CREATE TABLE agency_entries (code TEXT PRIMARY KEY, body TEXT NOT NULL);
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
class FlowQuery:
    """A period of the overview, [start, end) in the console's time zone, charted in buckets of
    `bucket_ms` (an hour or a day); an empty agency is every agency."""

    start: dt.datetime
    end: dt.datetime
    bucket_ms: int
    agency: str = ""


@dataclass(frozen=True)
class Latency:
    p50_s: float | None = None
    p95_s: float | None = None


@dataclass
class AgencyFlow:
    agency_code: str
    agency_name: str = ""
    archived: int = 0
    rejected: int = 0  # documents, each once however often it was rejected
    held: int = 0  # held for retention review
    appraisal_due: int = 0
    bytes: int = 0
    latency: Latency = field(default_factory=Latency)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def submitted(self) -> int:
        """Submissions that came to an outcome in the period: archived, rejected or held."""
        return self.archived + self.rejected + self.held


@dataclass
class Flow:
    agencies: dict[str, AgencyFlow] = field(default_factory=dict)
    total: AgencyFlow = field(default_factory=lambda: AgencyFlow("", "合计"))
    # bucket start (ms since the epoch) → {"archived"|"rejected"|"held": count}
    buckets: dict[int, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def agency(self, code: str, name: str = "") -> AgencyFlow:
        line = self.agencies.setdefault(code, AgencyFlow(code))
        line.agency_name = line.agency_name or name
        return line

    def add_up(self) -> None:
        for line in self.agencies.values():
            total = self.total
            total.archived += line.archived
            total.rejected += line.rejected
            total.held += line.held
            total.appraisal_due += line.appraisal_due
            total.bytes += line.bytes
            for reason, count in line.reasons.items():
                total.reasons[reason] = total.reasons.get(reason, 0) + count


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""
    action: str = ""
    day: dt.date | None = None  # in the console's time zone
    page: int = 1


@dataclass(frozen=True)
class ReviewQuery:
    kind: str = RETENTION  # or APPRAISAL
    agency: str = ""
    page: int = 1


@dataclass(frozen=True)
class LetterQuery:
    """A filter of the dead letters; empty fields do not restrict it."""

    agency: str = ""
    reason: str = ""
    stage: str = ""
    day: dt.date | None = None  # the day it failed, in the console's time zone
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


class Store(TopicStore):
    name = "console"

    def __init__(self, path: Path, *, catalog_topic: str, audit_topic: str, review_topic: str,
                 deadletter_topic: str, ledger_topic: str, alert_topic: str,
                 verify_runs_topic: str, agencies_topic: str,
                 timezone: str = "Asia/Shanghai") -> None:  # fmt: skip
        self.catalog_topic = catalog_topic
        self.audit_topic = audit_topic
        self.review_topic = review_topic
        self.deadletter_topic = deadletter_topic
        self.ledger_topic = ledger_topic
        self.alert_topic = alert_topic
        self.verify_runs_topic = verify_runs_topic
        self.agencies_topic = agencies_topic
        self.zone = ZoneInfo(timezone)
        super().__init__(path, SCHEMA, VERSION)  # the audit trail's copy is in it: 0600

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        return cls(settings.console_path / "store.sqlite3", catalog_topic=settings.catalog_topic,
                   audit_topic=settings.audit_topic, review_topic=settings.review_topic,
                   deadletter_topic=settings.deadletter_topic,
                   ledger_topic=settings.replay_ledger_topic,
                   alert_topic=settings.preservation_alert_topic,
                   verify_runs_topic=settings.verify_runs_topic,
                   agencies_topic=settings.agencies_topic,
                   timezone=settings.console_timezone)  # fmt: skip

    # --- written by the follower ---------------------------------------------------------
    def write(self, db: sqlite3.Connection, topic: str, partition: int, offset: int,
              timestamp: int, key: str, value: dict[str, Any] | None) -> None:  # fmt: skip
        if topic == self.catalog_topic:
            self._record(db, partition, timestamp, key, value)
        elif topic == self.audit_topic and value is not None:
            self._audit(db, partition, offset, value)
        elif topic == self.review_topic:
            self._review(db, partition, timestamp, key, value)
        elif topic == self.deadletter_topic and value is not None:
            self._letter(db, partition, offset, value)
        elif topic == self.ledger_topic:
            self._replay(db, key, value)
        elif topic == self.verify_runs_topic and value is not None:
            self._verify_run(db, value)
        elif topic == self.alert_topic and value is not None:
            self._alert(db, partition, offset, value)
        elif topic == self.agencies_topic:
            self._agency(db, key, value)

    def _record(self, db: sqlite3.Connection, partition: int, timestamp: int, code: str,
                record: dict[str, Any] | None) -> None:  # fmt: skip
        current = db.execute(
            "SELECT partition, kafka_ts FROM records WHERE code = ?", (code,)
        ).fetchone()
        if _stale(current, partition, timestamp):
            return
        db.execute("DELETE FROM records WHERE code = ?", (code,))
        db.execute("DELETE FROM titles WHERE code = ?", (code,))
        if record is None:  # a tombstone
            return
        description = record["description"]
        archived = dt.datetime.fromisoformat(record["archived_at"])
        latency = archived - dt.datetime.fromisoformat(record["filed_at"])
        db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, record["agency"]["code"], record["agency"]["name"], description["title"],
             description.get("document_number"), record["year"], record["retention_period"],
             record.get("category") or "WS", description.get("document_date"),
             record["archived_at"], partition, timestamp,
             json.dumps(record, ensure_ascii=False), epoch_ms(archived),
             max(latency.total_seconds(), 0.0),
             sum(component["size_bytes"] for component in record["components"])),
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

    def _review(self, db: sqlite3.Connection, partition: int, timestamp: int, event_id: str,
                item: dict[str, Any] | None) -> None:  # fmt: skip
        current = db.execute(
            "SELECT partition, kafka_ts FROM review WHERE event_id = ?", (event_id,)
        ).fetchone()
        if _stale(current, partition, timestamp):
            return
        db.execute("DELETE FROM review WHERE event_id = ?", (event_id,))
        if item is None:  # a tombstone
            return
        db.execute(
            "INSERT INTO review VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, item["kind"], item["status"], item["agency_code"], item["queued_at"],
             partition, timestamp, json.dumps(item, ensure_ascii=False),
             epoch_ms(dt.datetime.fromisoformat(item["queued_at"]))),
        )  # fmt: skip

    @staticmethod
    def _letter(db: sqlite3.Connection, partition: int, offset: int,
                letter: dict[str, Any]) -> None:  # fmt: skip
        # One row per document: a letter without an event id (its input did not decode) alone.
        grouping = (
            f"event:{letter['event_id']}" if letter["event_id"] else f"letter:{partition}-{offset}"
        )
        db.execute(
            "INSERT OR REPLACE INTO letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (partition, offset, f"{partition}-{offset}", grouping, letter["event_id"],
             letter["agency_code"], letter["reason"], letter["stage"], letter["message"],
             letter["failed_ms"], letter["original_topic"], letter["ledger_key"],
             letter["fingerprint"]),
        )  # fmt: skip

    @staticmethod
    def _replay(db: sqlite3.Connection, ledger_key: str, entry: dict[str, Any] | None) -> None:
        db.execute("DELETE FROM replays WHERE ledger_key = ?", (ledger_key,))
        if entry is None:  # a tombstone, or an entry connectors/deadletters.py cannot read
            return
        db.execute(
            "INSERT INTO replays VALUES (?, ?, ?, ?, ?)",
            (ledger_key, entry["dead_letter"]["sha256"], entry["replayed_at"],
             entry["replayed_by"], json.dumps(entry, ensure_ascii=False)),
        )  # fmt: skip

    @staticmethod
    def _verify_run(db: sqlite3.Connection, run: dict[str, Any]) -> None:
        db.execute(
            "INSERT OR REPLACE INTO verify_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run["run_id"], _ms(run["started_at"]), _ms(run["finished_at"]), run["status"],
             run.get("agency"), _ms(run.get("since")), run["records_checked"],
             run["records_failed"], run["objects_checked"], run["bytes_read"], run.get("problem"),
             run["host"], run["user"]),
        )  # fmt: skip

    @staticmethod
    def _alert(db: sqlite3.Connection, partition: int, offset: int,
               alert: dict[str, Any]) -> None:  # fmt: skip
        db.execute(
            "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)",
            (partition, offset, alert["reference_code"], alert["agency_code"],
             _ms(alert["checked_at"]), json.dumps(alert["problems"], ensure_ascii=False)),
        )  # fmt: skip

    @staticmethod
    def _agency(db: sqlite3.Connection, code: str, entry: dict[str, Any] | None) -> None:
        db.execute("DELETE FROM agency_entries WHERE code = ?", (code,))
        if entry is None:  # a tombstone: the installed entry, if any, stands again
            return
        db.execute("INSERT INTO agency_entries VALUES (?, ?)",
                   (code, json.dumps(entry, ensure_ascii=False)))  # fmt: skip

    def prune_letters(self, lowest: dict[int, int]) -> None:
        """Forget the letters the dead-letter topic no longer keeps (before each partition's
        low watermark: past its retention)."""
        with self.reading() as db:
            db.executemany("DELETE FROM letters WHERE partition = ? AND offset < ?",
                           list(lowest.items()))  # fmt: skip

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

    def flow(self, query: FlowQuery) -> Flow:
        """What came of the submissions in a period (the overview): per agency archived, bytes,
        rejected (each document once, by reason), held for review, due for appraisal and the
        latency percentiles; and each kind per bucket of the chart."""
        flow = Flow()
        since, until = epoch_ms(query.start), epoch_ms(query.end)
        agency = "AND agency_code = ?" if query.agency else ""
        params: list[object] = [since, until] + ([query.agency] if query.agency else [])
        # The bucket a moment falls in, counted in the console's time zone (its offset at the
        # start of the period: a day of a DST change is an hour off, China has none).
        offset_ms = int((query.start.utcoffset() or dt.timedelta()).total_seconds() * 1000)
        bucket = f"(({{column}} + {offset_ms}) / {query.bucket_ms})"
        with self.reading() as db:
            for row in db.execute(
                "SELECT agency_code, agency_name, count(*) AS n, sum(bytes) AS bytes "
                f"FROM records WHERE archived_ms >= ? AND archived_ms < ? {agency} "
                "GROUP BY agency_code", params,
            ):  # fmt: skip
                line = flow.agency(row["agency_code"], row["agency_name"])
                line.archived, line.bytes = row["n"], row["bytes"] or 0
            for row in db.execute(
                "SELECT coalesce(agency_code, '') AS agency_code, reason, "
                "count(DISTINCT grouping) AS n FROM letters "
                f"WHERE failed_ms >= ? AND failed_ms < ? {agency} "
                "GROUP BY agency_code, reason", params,
            ):  # fmt: skip
                line = flow.agency(row["agency_code"])
                line.rejected += row["n"]
                line.reasons[row["reason"]] = row["n"]
            for row in db.execute(
                "SELECT agency_code, kind, count(*) AS n FROM review "
                f"WHERE queued_ms >= ? AND queued_ms < ? {agency} GROUP BY agency_code, kind",
                params,
            ):  # fmt: skip
                line = flow.agency(row["agency_code"])
                if row["kind"] == RETENTION:
                    line.held = row["n"]
                else:
                    line.appraisal_due = row["n"]
            for line in flow.agencies.values():
                line.latency = self._latency(db, since, until, line.agency_code)
                if not line.agency_name:  # nothing archived in the period: its name from before
                    named = db.execute("SELECT agency_name FROM records WHERE agency_code = ? "
                                       "LIMIT 1", (line.agency_code,)).fetchone()  # fmt: skip
                    line.agency_name = named[0] if named else ""
            flow.total.latency = self._latency(db, since, until, query.agency)
            for kind, table, column, counted, only in (
                ("archived", "records", "archived_ms", "count(*)", ""),
                ("rejected", "letters", "failed_ms", "count(DISTINCT grouping)", ""),
                # an item due for appraisal was archived, and counted so, already
                ("held", "review", "queued_ms", "count(*)", f"AND kind = '{RETENTION}'"),
            ):
                for row in db.execute(
                    f"SELECT {bucket.format(column=column)} AS bucket, {counted} AS n "
                    f"FROM {table} WHERE {column} >= ? AND {column} < ? {agency} {only} "
                    "GROUP BY bucket", params,
                ):  # fmt: skip
                    flow.buckets[row["bucket"] * query.bucket_ms - offset_ms][kind] = row["n"]
        flow.add_up()
        return flow

    @staticmethod
    def _latency(db: sqlite3.Connection, since: int, until: int, agency: str) -> Latency:
        """The p50 and p95 of the archived records' latency (filed by the agency → archived)."""
        where = "archived_ms >= ? AND archived_ms < ?" + (" AND agency_code = ?" if agency else "")
        params: list[object] = [since, until] + ([agency] if agency else [])
        count = db.execute(f"SELECT count(*) FROM records WHERE {where}", params).fetchone()[0]
        if not count:
            return Latency()

        def quantile(q: float) -> float:
            row = db.execute(
                f"SELECT latency_s FROM records WHERE {where} ORDER BY latency_s LIMIT 1 OFFSET ?",
                [*params, max(math.ceil(q * count) - 1, 0)],  # the nearest rank
            ).fetchone()
            return float(row[0])

        return Latency(p50_s=quantile(0.50), p95_s=quantile(0.95))

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

    # --- the review queue (待鉴定) ------------------------------------------------------------
    def review_queue(self, query: ReviewQuery) -> Page:
        """The PENDING items of one kind, oldest first."""
        where, params = ["kind = ?", "status = ?"], [query.kind, PENDING]
        if query.agency:
            where.append("agency_code = ?")
            params.append(query.agency)
        clause = " AND ".join(where)
        page = max(1, query.page)
        with self.reading() as db:
            total = db.execute(f"SELECT count(*) FROM review WHERE {clause}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT body FROM review WHERE {clause} ORDER BY queued_at, event_id "
                "LIMIT ? OFFSET ?",
                [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
            ).fetchall()
        return Page([json.loads(row["body"]) for row in rows], total, page)

    def review_counts(self) -> dict[str, int]:
        """PENDING items per kind."""
        with self.reading() as db:
            return {row["kind"]: row["n"] for row in db.execute(
                "SELECT kind, count(*) AS n FROM review WHERE status = ? GROUP BY kind", (PENDING,)
            )}  # fmt: skip

    def review_item(self, event_id: str) -> dict[str, Any] | None:
        """An item as last seen, pending or decided, with its original event decoded."""
        with self.reading() as db:
            row = db.execute("SELECT body FROM review WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    # --- dead letters (死信) ------------------------------------------------------------------
    def _letter_filter(self, query: LetterQuery) -> tuple[str, list[object]]:
        where: list[str] = []
        params: list[object] = []
        for column, value in (("agency_code", query.agency), ("reason", query.reason),
                              ("stage", query.stage)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.day is not None:
            start = dt.datetime.combine(query.day, dt.time(), self.zone)
            where.append("failed_ms >= ? AND failed_ms < ?")
            params += [int(start.timestamp() * 1000),
                       int((start + dt.timedelta(days=1)).timestamp() * 1000)]  # fmt: skip
        return (f"WHERE {' AND '.join(where)}" if where else ""), params

    def letter_groups(self, query: LetterQuery) -> Page:
        """The letters that match, one row per document (grouped by event id, a letter without
        one alone), newest failure first: its latest letter, how many letters it has, when it
        first failed and how many of its letters were replayed."""
        clause, params = self._letter_filter(query)
        page = max(1, query.page)
        with self.reading() as db:
            total = db.execute(
                f"SELECT count(DISTINCT grouping) FROM letters {clause}", params
            ).fetchone()[0]
            rows = db.execute(
                f"""WITH chosen AS (
                        SELECT letters.*, replays.replayed_at FROM letters
                        LEFT JOIN replays ON replays.ledger_key = letters.ledger_key
                                         AND replays.fingerprint = letters.fingerprint
                        {clause}),
                    ranked AS (
                        SELECT *, row_number() OVER latest AS n,
                               count(*) OVER whole AS letters,
                               min(failed_ms) OVER whole AS first_ms,
                               count(replayed_at) OVER whole AS replayed
                        FROM chosen
                        WINDOW whole AS (PARTITION BY grouping),
                               latest AS (PARTITION BY grouping
                                          ORDER BY failed_ms DESC, partition DESC, offset DESC))
                    SELECT * FROM ranked WHERE n = 1
                    ORDER BY failed_ms DESC, partition DESC, offset DESC LIMIT ? OFFSET ?""",
                [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
            ).fetchall()
        return Page([self._with_times(dict(row)) for row in rows], total, page)

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """What the store holds of one letter (its id `<partition>-<offset>`)."""
        with self.reading() as db:
            row = db.execute("SELECT * FROM letters WHERE letter_id = ?", (letter_id,)).fetchone()
        return None if row is None else self._with_times(dict(row))

    def letters_of(self, grouping: str) -> list[dict[str, Any]]:
        """Every letter of one document, newest first, each with its replay if it had one."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT letters.*, replays.replayed_at, replays.replayed_by FROM letters "
                "LEFT JOIN replays ON replays.ledger_key = letters.ledger_key "
                "AND replays.fingerprint = letters.fingerprint WHERE grouping = ? "
                "ORDER BY failed_ms DESC, partition DESC, offset DESC",
                (grouping,),
            ).fetchall()
        return [self._with_times(dict(row)) for row in rows]

    def replay_of(self, ledger_key: str, fingerprint: str) -> dict[str, Any] | None:
        """The ledger's entry for this very letter (same place, same bytes), as
        connectors/deadletters.py's `recorded_replay` finds it."""
        with self.reading() as db:
            row = db.execute(
                "SELECT body FROM replays WHERE ledger_key = ? AND fingerprint = ?",
                (ledger_key, fingerprint),
            ).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    def letter_facets(self) -> dict[str, list[str]]:
        """The agencies, reason codes and stages the letters have (the filters offer them)."""
        with self.reading() as db:
            return {
                name: [r[0] for r in db.execute(
                    f"SELECT DISTINCT {column} FROM letters WHERE {column} IS NOT NULL "
                    f"ORDER BY {column}"
                )]
                for name, column in (("agencies", "agency_code"), ("reasons", "reason"),
                                     ("stages", "stage"))
            }  # fmt: skip

    # --- verify runs and preservation alerts (校验) --------------------------------------------
    def verify_runs(self, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """The latest runs, the one that ended last first."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT * FROM verify_runs ORDER BY finished_ms DESC, run_id LIMIT ?", (limit,)
            ).fetchall()
        return [self._with_times(dict(row)) for row in rows]

    def alert_groups(self, page: int = 1) -> Page:
        """The records alerts were raised for, one row each, the latest found first: its latest
        alert's problems, how many alerts it has and when it was first found."""
        page = max(1, page)
        with self.reading() as db:
            total = db.execute("SELECT count(DISTINCT reference_code) FROM alerts").fetchone()[0]
            rows = db.execute(
                """WITH ranked AS (
                        SELECT *, row_number() OVER latest AS n, count(*) OVER whole AS alerts,
                               min(checked_ms) OVER whole AS first_ms
                        FROM alerts
                        WINDOW whole AS (PARTITION BY reference_code),
                               latest AS (PARTITION BY reference_code
                                          ORDER BY checked_ms DESC, partition DESC, offset DESC))
                    SELECT * FROM ranked WHERE n = 1
                    ORDER BY checked_ms DESC, reference_code LIMIT ? OFFSET ?""",
                (PAGE_SIZE, (page - 1) * PAGE_SIZE),
            ).fetchall()
        found = []
        for row in rows:
            group = self._with_times(dict(row))
            group["problems"] = json.loads(row["problems"])
            found.append(group)
        return Page(found, total, page)

    # --- agencies (立档单位) --------------------------------------------------------------------
    def agency_entries(self) -> list[dict[str, Any]]:
        """The registry topic's entries (agencies onboarded or offboarded since installation)."""
        with self.reading() as db:
            rows = db.execute("SELECT body FROM agency_entries ORDER BY code").fetchall()
        return [dict(json.loads(row["body"])) for row in rows]

    def agency_activity(self) -> dict[str, dict[str, Any]]:
        """Per agency code: records archived and the latest archive time, documents rejected
        (one per document, as the 死信 list counts them) and review items waiting."""
        activity: dict[str, dict[str, Any]] = {}

        def of(code: str) -> dict[str, Any]:
            return activity.setdefault(
                code, {"records": 0, "last_archived": None, "rejected": 0, "reviewing": 0}
            )

        with self.reading() as db:
            for row in db.execute("SELECT agency_code, count(*) AS n, max(archived_at) AS last "
                                  "FROM records GROUP BY agency_code"):  # fmt: skip
                of(row["agency_code"]).update(records=row["n"], last_archived=row["last"])
            for row in db.execute("SELECT agency_code, count(DISTINCT grouping) AS n "
                                  "FROM letters WHERE agency_code IS NOT NULL "
                                  "GROUP BY agency_code"):  # fmt: skip
                of(row["agency_code"])["rejected"] = row["n"]
            for row in db.execute("SELECT agency_code, count(*) AS n FROM review "
                                  "WHERE status = ? GROUP BY agency_code", (PENDING,)):  # fmt: skip
                of(row["agency_code"])["reviewing"] = row["n"]
        return activity

    def _with_times(self, row: dict[str, Any]) -> dict[str, Any]:
        """Each `<name>_ms` column also as `<name>_at`, a time in the console's zone (or None)."""
        for column in [name for name in row if name.endswith("_ms")]:
            ms = row[column]
            moment = None if ms is None else dt.datetime.fromtimestamp(ms / 1000, self.zone)
            row[column.removesuffix("_ms") + "_at"] = moment
        return row


def _stale(current: sqlite3.Row | None, partition: int, timestamp: int) -> bool:
    """Whether a message loses to the state the store has of its key: as connectors/readback.py's
    `supersedes`, a later message wins in the same partition, and in another one only when newer
    by Kafka timestamp (producers with different partitioners)."""
    return (
        current is not None
        and current["partition"] != partition
        and timestamp < current["kafka_ts"]
    )


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms(text: str | None) -> int | None:
    """An ISO 8601 time (as json_ready writes one) in milliseconds since the epoch."""
    return None if text is None else epoch_ms(dt.datetime.fromisoformat(text))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- the follower -----------------------------------------------------------------------------
class StoreFollower(Follower):
    """Keeps the console's Store current from the topics its pages read (connectors/follower.py)."""

    def __init__(self, store: Store, settings: Settings, codec: Codec,
                 registry: CollectorRegistry | None = None) -> None:  # fmt: skip
        self.codec = codec
        self.deadletter_topic = store.deadletter_topic
        super().__init__(
            "console", store, settings,
            {
                store.catalog_topic: self._avro(ARCHIVAL_RECORD),
                store.audit_topic: self._avro(AUDIT_EVENT),
                store.review_topic: self._review_item,
                store.deadletter_topic: self._letter,
                store.ledger_topic: self._ledger_entry,
                store.verify_runs_topic: self._avro(VERIFY_RUN),
                store.alert_topic: self._avro(PRESERVATION_ALERT),
                store.agencies_topic: self._agency_entry,
            },
            Gauge("recordflow_console_store_lag_messages",
                  "Messages of a topic the console's store has not read yet.",
                  ["topic"], registry=registry),
        )  # fmt: skip
        self.console_store = store

    def measured(self, lowest: dict[tuple[str, int], int]) -> None:
        """Letters Kafka deleted (the dead-letter topic's retention) leave the store too."""
        self.console_store.prune_letters({
            partition: low for (topic, partition), low in lowest.items()
            if topic == self.deadletter_topic
        })  # fmt: skip

    # --- what each topic's values become --------------------------------------------------
    def _avro(self, record_type: str) -> Callable[[Message, bytes], dict[str, Any] | None]:
        def decoded(_: Message, raw: bytes) -> dict[str, Any]:
            return dict(json_ready(self.codec.decode(raw, record_type), content="omit"))

        return decoded

    def _review_item(self, _: Message, raw: bytes) -> dict[str, Any]:
        """The item without its original bytes, and the original event decoded as
        connectors/review.py decodes it (or why it does not decode: the item stays in the queue)."""
        item = dict(self.codec.decode(raw, RETENTION_REVIEW))
        original = item.pop("original_value")
        try:
            event, problem = self.codec.decode(original, DOCUMENT_LIFECYCLE_EVENT), None
        except CodecError as exc:
            event, problem = None, f"{exc.reason}: {exc}"
        for person in (event or {}).get("persons") or []:
            person["id_number"] = (
                None  # never kept in clear outside the topics (archival/persons.py)
            )
        return dict(json_ready({**item, "event": event, "event_problem": problem}, content="omit"))

    def _letter(self, message: Message, _: bytes) -> dict[str, Any] | None:
        """What the list needs of a letter, as connectors/deadletters.py's `Letter` reads it."""
        letter = letter_from_message(message, self.codec)
        if letter is None:
            return None
        record = letter.record or {}
        return {
            "event_id": record.get("event_id"), "agency_code": letter.agency_code,
            "reason": letter.reason, "stage": record.get("stage"),
            "message": record.get("message") or letter.problem,
            "failed_ms": int(letter.failed_at.timestamp() * 1000),
            "original_topic": record.get("original_topic"), "ledger_key": letter.ledger_key,
            "fingerprint": letter.fingerprint,
        }  # fmt: skip

    @staticmethod
    def _agency_entry(_: Message, raw: bytes) -> dict[str, Any]:
        """A registry entry as connectors/agency_registry.py reads it (validated)."""
        return dict(decode_entry(raw).model_dump(mode="json"))

    @staticmethod
    def _ledger_entry(_: Message, raw: bytes) -> dict[str, Any] | None:
        entry = ledger_entry(raw)
        return None if entry is None else entry.as_json()
