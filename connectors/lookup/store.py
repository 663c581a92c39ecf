"""The lookup service's store: a SQLite file that follows `records.catalog.v1` and the archivists'
decisions on `records.access-decisions.v1` (connectors/follower.py), rebuilt from them at any
time: delete the file, or change `VERSION`.

Each record is kept as the public sees it (the same fields a Parquet export holds,
connectors/parquet_export/rows.py), with when it opens (archival/access.py) and where its files
are (for presigned downloads; never shown). Its searched text (题名, 关键词, 摘要, 责任者, 文号) is
indexed as 1- and 2-grams in an FTS5 table (connectors/lookup/text.py), so a two-character
Chinese word is found through the index, not by scanning every title.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import Message
from prometheus_client import CollectorRegistry, Gauge

from archival.access import NEVER, OPEN, AccessRules, Decision, opening
from avro_schemas.codec import Codec
from avro_schemas.schemas import ARCHIVAL_RECORD
from connectors.access_decisions import decision_from
from connectors.follower import OFFSETS_TABLE, Decoder, Follower, TopicStore
from connectors.lookup import text
from connectors.parquet_export.rows import row
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings

VERSION = 3  # PRAGMA user_version: a store written by another version is rebuilt
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Citizen:
    """A citizen the portal vouches for: the keyed hash of their identity number
    (archival/persons.py), never the number."""

    id_hmac: str


# Who asks: the public (open records), staff (all but state secrets), or a citizen (the records
# naming them, open or not, but no state secret).
Audience = Literal["public", "staff"] | Citizen
Sort = Literal["relevance", "date_desc", "date_asc", "code"]

SCHEMA = f"""
{OFFSETS_TABLE};
CREATE TABLE records (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, agency_code TEXT NOT NULL,
    category TEXT NOT NULL, year INTEGER NOT NULL, retention_period TEXT NOT NULL,
    document_type TEXT NOT NULL, document_date TEXT NOT NULL, archived_at TEXT NOT NULL,
    -- 开放: open, controlled or never (archival/access.py), open from opens_on (ISO date)
    access TEXT NOT NULL, opens_on TEXT, basis TEXT NOT NULL,
    access_input TEXT NOT NULL,  -- JSON: what archival/access.py decides from, for a decision
    haystack TEXT NOT NULL,  -- the searched fields, normalized (text.normal)
    public TEXT NOT NULL,    -- JSON: what any audience allowed to see the record sees
    files TEXT NOT NULL);    -- JSON: each file's sequence, type, size and S3 address
CREATE INDEX records_filter ON records (agency_code, year);
CREATE INDEX records_open ON records (access, opens_on);
CREATE INDEX records_date ON records (document_date);
-- 开放鉴定: the latest archivist's decision on each 档号 (connectors/access_decisions.py)
CREATE TABLE decisions (code TEXT PRIMARY KEY, body TEXT NOT NULL);
-- 权利人/当事人: the keyed hash of each identity number a record names
CREATE TABLE persons (record_id INTEGER NOT NULL, id_hmac TEXT NOT NULL);
CREATE INDEX persons_hmac ON persons (id_hmac);
CREATE VIRTUAL TABLE grams USING fts5 (tokens, tokenize = 'unicode61 remove_diacritics 0');
"""

SEARCHED = ("title", "keywords", "abstract", "responsible_party", "document_number")


@dataclass(frozen=True)
class Query:
    """A search; empty fields do not restrict it. `words`: every word must be in 题名, 关键词,
    摘要, 责任者 or 文号."""

    words: str = ""
    code: str = ""  # 档号, exact
    agency: str = ""
    year_from: int | None = None
    year_to: int | None = None
    period: str = ""  # 保管期限: Y, D30, D10
    document_type: str = ""  # 文种
    category: str = ""  # 门类: WS, ZP, LY
    sort: Sort = "relevance"
    page: int = 1
    size: int = 20


@dataclass(frozen=True)
class Found:
    total: int
    records: list[dict[str, Any]]  # each: the public fields, access, and highlights


class Store(TopicStore):
    name = "lookup"

    def __init__(self, path: Path, *, catalog_topic: str, rules: AccessRules,
                 decisions_topic: str = "") -> None:  # fmt: skip
        self.catalog_topic = catalog_topic
        self.decisions_topic = decisions_topic
        self.rules = rules
        super().__init__(path, SCHEMA, VERSION)

    @classmethod
    def for_settings(cls, settings: Settings, rules: AccessRules) -> Store:
        return cls(settings.lookup_path / "store.sqlite3", catalog_topic=settings.catalog_topic,
                   rules=rules, decisions_topic=settings.access_decisions_topic)  # fmt: skip

    # --- written by the follower ---------------------------------------------------------
    def write(self, db: sqlite3.Connection, topic: str, partition: int, offset: int,
              timestamp: int, key: str, value: dict[str, Any] | None) -> None:  # fmt: skip
        if topic == self.catalog_topic:
            self.put(db, key, value)
        elif topic == self.decisions_topic:
            self.decide(db, key, value)

    def put(self, db: sqlite3.Connection, code: str, record: Mapping[str, Any] | None) -> None:
        """The record's latest state under its 档号 (the catalog's key); None deletes it."""
        old = db.execute("SELECT id FROM records WHERE code = ?", (code,)).fetchone()
        if old is not None:
            db.execute("DELETE FROM grams WHERE rowid = ?", (old["id"],))
            db.execute("DELETE FROM persons WHERE record_id = ?", (old["id"],))
            db.execute("DELETE FROM records WHERE id = ?", (old["id"],))
        if record is None:
            return
        access_input = _access_input(record)
        found = opening(access_input, self.rules, _decision(db, code))
        public = json_ready({key: value for key, value in row(record, "").items()
                             if key != "export_id"})  # fmt: skip
        description = record["description"]
        searched = [description[name] or "" for name in SEARCHED if name != "keywords"]
        searched += list(description["keywords"])
        files = [
            {"sequence": c["sequence"], "mime_type": c["mime_type"], "size_bytes": c["size_bytes"],
             "bucket": c["payload"]["bucket"], "key": c["payload"]["key"],
             "version_id": c["payload"]["version_id"]}
            for c in sorted(record["components"], key=lambda c: c["sequence"])
        ]  # fmt: skip
        cursor = db.execute(
            "INSERT INTO records (code, agency_code, category, year, retention_period,"
            " document_type, document_date, archived_at, access, opens_on, basis, access_input,"
            " haystack, public, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, record["agency"]["code"], record["category"], int(record["year"]),
             record["retention_period"], description["document_type"],
             public["document_date"], public["archived_at"], found.status,
             found.opens_on.isoformat() if found.opens_on else None, found.basis,
             json.dumps(json_ready(access_input), ensure_ascii=False),
             "\n".join(text.normal(part) for part in searched),
             json.dumps(public, ensure_ascii=False), json.dumps(files)),
        )  # fmt: skip
        db.execute("INSERT INTO grams (rowid, tokens) VALUES (?, ?)",
                   (cursor.lastrowid, text.grams(searched)))  # fmt: skip
        db.executemany("INSERT INTO persons VALUES (?, ?)",
                       [(cursor.lastrowid, hashed) for hashed in
                        {p["id_hmac"] for p in record.get("persons") or [] if p.get("id_hmac")}])  # fmt: skip

    def decide(self, db: sqlite3.Connection, code: str, entry: Mapping[str, Any] | None) -> None:
        """An archivist's latest decision on `code` (None: withdrawn), applied to the record if
        the store has it, kept for it if it comes later."""
        if entry is None:
            db.execute("DELETE FROM decisions WHERE code = ?", (code,))
        else:
            db.execute("INSERT INTO decisions VALUES (?, ?) ON CONFLICT (code) DO UPDATE SET"
                       " body = excluded.body", (code, json.dumps(dict(entry), ensure_ascii=False)))  # fmt: skip
        found = db.execute("SELECT access_input FROM records WHERE code = ?", (code,)).fetchone()
        if found is None:
            return
        decided = opening(json.loads(found["access_input"]), self.rules, _decision(db, code))
        db.execute("UPDATE records SET access = ?, opens_on = ?, basis = ? WHERE code = ?",
                   (decided.status, decided.opens_on.isoformat() if decided.opens_on else None,
                    decided.basis, code))  # fmt: skip

    # --- read by the service --------------------------------------------------------------
    def search(self, query: Query, audience: Audience, today: dt.date) -> Found:
        query_words = text.words(query.words)
        where, params = self._visible(audience, today)
        tables = "records"
        if query_words:
            # The words' index first (CROSS JOIN fixes SQLite's join order). Left to choose, the
            # planner took the public's index on (access, opens_on) first, walked every open
            # record (half the catalog) and probed the words' index once for each: over a
            # million records q=房产 took 2.8 s and q=不动产 11.9 s, words first 0.21 s and 1.07 s
            # (docs/performance.md, "Lookup"). The results are the same: 300 random queries over
            # 50,000 records gave the same totals and pages either way. With a 档号 the unique
            # index on it goes first, as before.
            tables = ("records JOIN grams ON grams MATCH ? AND grams.rowid = records.id"
                      if query.code else
                      "grams CROSS JOIN records ON grams MATCH ? AND records.id = grams.rowid")  # fmt: skip
            params.insert(0, text.match_expression(query_words))
            for word in query_words:
                where.append("instr(haystack, ?) > 0")
                params.append(word)
        for column, value in (("code", query.code), ("agency_code", query.agency),
                              ("retention_period", query.period),
                              ("document_type", query.document_type),
                              ("category", query.category)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.year_from is not None:
            where.append("year >= ?")
            params.append(query.year_from)
        if query.year_to is not None:
            where.append("year <= ?")
            params.append(query.year_to)
        order = {
            "relevance": "bm25(grams), document_date DESC" if query_words else "archived_at DESC",
            "date_desc": "document_date DESC, code",
            "date_asc": "document_date, code",
            "code": "code",
        }[query.sort]
        size = max(1, min(query.size, MAX_PAGE_SIZE))
        sql = f"FROM {tables} WHERE {' AND '.join(where)}"
        with self.reading() as db:
            total = db.execute(f"SELECT count(*) {sql}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT code, access, opens_on, basis, public {sql} ORDER BY {order} "
                "LIMIT ? OFFSET ?", [*params, size, (max(query.page, 1) - 1) * size],
            ).fetchall()  # fmt: skip
        records = []
        for found in rows:
            public = json.loads(found["public"])
            marks = {name: text.highlight(_as_text(public.get(name)), query_words)
                     for name in SEARCHED} if query_words else {}  # fmt: skip
            records.append({**public, "access": _access(found),
                            "highlights": {k: v for k, v in marks.items() if v}})  # fmt: skip
        return Found(total, records)

    def record(self, code: str, audience: Audience, today: dt.date) -> dict[str, Any] | None:
        """The record's public fields, access and files (without their S3 addresses), if the
        audience may see it."""
        found = self._visible_row(code, audience, today)
        if found is None:
            return None
        files = [{k: f[k] for k in ("sequence", "mime_type", "size_bytes")}
                 for f in json.loads(found["files"])]  # fmt: skip
        return {**json.loads(found["public"]), "access": _access(found), "files": files}

    def file(self, code: str, sequence: int, audience: Audience,
             today: dt.date) -> dict[str, Any] | None:  # fmt: skip
        """Where a file of a record the audience may see is stored, or None."""
        found = self._visible_row(code, audience, today)
        if found is None:
            return None
        return next((f for f in json.loads(found["files"]) if f["sequence"] == sequence), None)

    def _visible_row(self, code: str, audience: Audience, today: dt.date) -> sqlite3.Row | None:
        where, params = self._visible(audience, today)
        with self.reading() as db:
            found: sqlite3.Row | None = db.execute(
                f"SELECT * FROM records WHERE code = ? AND {' AND '.join(where)}",
                [code, *params],
            ).fetchone()
        return found

    def count(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])

    @staticmethod
    def _visible(audience: Audience, today: dt.date) -> tuple[list[str], list[Any]]:
        """The WHERE clause (and its parameters) of what `audience` may see on `today`: the public
        open records only; staff everything but state secrets; a citizen the records naming them
        but state secrets."""
        if isinstance(audience, Citizen):
            return (["access != ?", "id IN (SELECT record_id FROM persons WHERE id_hmac = ?)"],
                    [NEVER, audience.id_hmac])  # fmt: skip
        if audience == "public":
            return ["access = ?", "opens_on <= ?"], [OPEN, today.isoformat()]
        return ["access != ?"], [NEVER]


def _access_input(record: Mapping[str, Any]) -> dict[str, Any]:
    """What archival/access.py's `opening` reads of a record, and nothing else."""
    description = record["description"]
    return {
        "description": {name: description[name] for name in
                        ("security_classification", "document_type", "document_date", "year")},
        "supplementary": {"control_marks": (record.get("supplementary") or {}).get("control_marks") or []},
        "agency": {"code": record["agency"]["code"]},
        "category": record["category"],
    }  # fmt: skip


def _decision(db: sqlite3.Connection, code: str) -> Decision | None:
    found = db.execute("SELECT body FROM decisions WHERE code = ?", (code,)).fetchone()
    return None if found is None else decision_from(json.loads(found["body"]))


def _access(found: sqlite3.Row) -> dict[str, Any]:
    return {"status": found["access"], "opens_on": found["opens_on"], "basis": found["basis"]}


def _as_text(value: Any) -> str | None:
    if isinstance(value, list):
        return "；".join(str(item) for item in value)
    return None if value is None else str(value)


class LookupFollower(Follower):
    """Keeps the lookup Store current from the catalog and the access decisions."""

    def __init__(self, store: Store, settings: Settings, codec: Codec,
                 registry: CollectorRegistry | None = None) -> None:  # fmt: skip
        def decoded(_: Message, raw: bytes) -> dict[str, Any]:
            return dict(codec.decode(raw, ARCHIVAL_RECORD))

        def decision(_: Message, raw: bytes) -> dict[str, Any]:
            entry = json.loads(raw)
            decision_from(entry)  # ValueError (skipped, logged) when it is not a decision
            return dict(entry)

        topics: dict[str, Decoder] = {store.catalog_topic: decoded}
        if store.decisions_topic:  # a store without decisions (the bench's) follows the catalog
            topics[store.decisions_topic] = decision
        super().__init__(
            "lookup", store, settings, topics,
            Gauge("recordflow_lookup_store_lag_messages",
                  "Messages of a topic the lookup service's store has not read yet.",
                  ["topic"], registry=registry),
        )  # fmt: skip
