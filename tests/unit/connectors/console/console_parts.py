"""A console built from parts for unit tests: a store on disk, accounts in a dict, the audit trail
in a list, a codec that knows the bytes it was given; no Kafka, registry or S3."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from avro_schemas.codec import CodecError
from avro_schemas.records import AuditEvent
from connectors.audit import AuditUnavailable
from connectors.console.health import Health, Worker
from connectors.console.service import Console
from connectors.console.store import Store, StoreFollower
from connectors.console.users import User, UserDirectory, new_user
from connectors.deadletters import Replay
from connectors.follower import Batch
from recordflow.agencies import Agency
from recordflow.errors import RecordRejected
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings
from tests.examples import (
    archival_record,
    preservation_alert_record,
    retention_review_record,
    verify_run_record,
)
from topics.deadletter import Origin, dead_letter, dead_letter_headers

SETTINGS = Settings(topic_prefix="t1.")
PASSWORD = "correct horse battery"
KEY = b"k" * 32


class ListAudit:
    """The audit trail as a list; `down` makes every append fail as Kafka away would."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.down = False

    def append(self, event: AuditEvent) -> None:
        if self.down:
            raise AuditUnavailable("Kafka away (test)")
        self.events.append(event)

    def try_append(self, event: AuditEvent) -> None:
        if not self.down:
            self.events.append(event)

    def actions(self) -> list[tuple[str, str, str]]:
        return [(e["actor"], e["action"], e["outcome"]) for e in self.events]


def store(tmp_path: Path, settings: Settings = SETTINGS) -> Store:
    return Store(tmp_path / "store.sqlite3", catalog_topic=settings.catalog_topic,
                 audit_topic=settings.audit_topic, review_topic=settings.review_topic,
                 deadletter_topic=settings.deadletter_topic,
                 ledger_topic=settings.replay_ledger_topic,
                 alert_topic=settings.preservation_alert_topic,
                 verify_runs_topic=settings.verify_runs_topic,
                 agencies_topic=settings.agencies_topic)  # fmt: skip


def record(code: str, title: str, **changes: Any) -> dict[str, Any]:
    """archival_record() as the store keeps it (JSON-ready), under another 档号 and title."""
    value: dict[str, Any] = copy.deepcopy(dict(archival_record()))
    value["reference_code"] = code
    value["description"] = {**value["description"], "title": title}
    for key, change in changes.items():
        if key in value["description"] and key not in value:
            value["description"][key] = change
        else:
            value[key] = change
    return dict(json_ready(value, content="omit"))


def catalog_batch(settings: Settings, records: list[dict[str, Any]], *, partition: int = 0,
                  first_offset: int = 0, timestamp: int = 1) -> Batch:  # fmt: skip
    batch = Batch()
    for n, value in enumerate(records):
        offset = first_offset + n
        batch.messages.append((settings.catalog_topic, partition, offset, timestamp,
                               value["reference_code"], value))  # fmt: skip
        batch.offsets[settings.catalog_topic, partition] = offset + 1
    return batch


def audit_batch(settings: Settings, events: list[AuditEvent], *, first_offset: int = 0) -> Batch:
    batch = Batch()
    for n, event in enumerate(events):
        batch.messages.append((settings.audit_topic, 0, first_offset + n, 1, event["actor"],
                               dict(json_ready(event))))  # fmt: skip
        batch.offsets[settings.audit_topic, 0] = first_offset + n + 1
    return batch


def accounts(**roles: str) -> dict[str, User]:
    """name=role … → accounts with PASSWORD."""
    return {name: new_user(name, role, PASSWORD) for name, role in roles.items()}


def console(tmp_path: Path, users: dict[str, User], *, settings: Settings = SETTINGS,
            audit: ListAudit | None = None, codec: DictCodec | None = None) -> Console:  # fmt: skip
    stand_in: Any = codec or DictCodec()  # a Codec to the console: it only decodes
    return Console(settings, store=store(tmp_path, settings), accounts=UserDirectory(users.get),
                   audit=audit or ListAudit(), key=KEY, codec=stand_in,
                   storage=lambda: NO_STORAGE, health=lambda: HEALTH)  # fmt: skip


# Prometheus as the overview sees it: one worker up with a backlog, one left behind down.
HEALTH = Health(
    True,
    [Worker("worker-1", True, 150e6), Worker("worker-2", False, None)],
    {"t1.recordflow.register.v1": 7},
    ["RecordflowWorkerDown"],
)


NO_STORAGE: Any = object()  # what a stand-in decision is handed as the archive


class DictCodec:
    """Decodes the bytes it was given a value for (`bytes_for`); anything else is not Avro."""

    def __init__(self) -> None:
        self.values: dict[bytes, Any] = {}

    def bytes_for(self, value: Any, raw: bytes | None = None) -> bytes:
        raw = raw if raw is not None else f"\0test-{len(self.values)}".encode()
        self.values[raw] = copy.deepcopy(value)
        return raw

    def decode(self, data: bytes | None, record_type: str) -> Any:
        if data not in self.values:
            raise CodecError("not-avro", "bytes the test codec was given no value for")
        return copy.deepcopy(self.values[data])


class FakeMessage:
    """A consumed Kafka message, as the store's follower reads one."""

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None,
                 value: bytes | None, *, headers: list[tuple[str, bytes | None]] | None = None,
                 timestamp: int = 1) -> None:  # fmt: skip
        self._fields = (topic, partition, offset, key, value, headers or [], timestamp)

    def topic(self) -> str:
        return self._fields[0]

    def partition(self) -> int:
        return self._fields[1]

    def offset(self) -> int:
        return self._fields[2]

    def key(self) -> bytes | None:
        return self._fields[3]

    def value(self) -> bytes | None:
        return self._fields[4]

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self._fields[5]

    def timestamp(self) -> tuple[int, int]:
        return (1, self._fields[6])  # TIMESTAMP_CREATE_TIME

    def error(self) -> None:
        return None


class ListConsumer:
    def __init__(self, messages: list[FakeMessage]) -> None:
        self.messages = messages

    def consume(self, count: int, timeout: float) -> list[FakeMessage]:
        taken, self.messages = self.messages[:count], self.messages[count:]
        return taken


def follow(kept: Store, codec: DictCodec, messages: list[FakeMessage],
           settings: Settings = SETTINGS) -> None:  # fmt: skip
    """The follower's read of these messages, decoded as it decodes them, applied to the store."""
    follower = StoreFollower(kept, settings, codec, CollectorRegistry())  # type: ignore[arg-type]
    kept.apply(follower._read(ListConsumer(messages), set()))  # type: ignore[arg-type]


def disabled(user: User) -> User:
    return User(user.name, user.role, user.password_hash, user.created_at, dt.datetime.now(dt.UTC))


# --- queue items and letters as the topics carry them --------------------------------------
DAY = dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing


def review_item(event_id: str, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {**copy.deepcopy(dict(retention_review_record())), "event_id": event_id}
    return {**item, **changes}


def appraisal_item(event_id: str) -> dict[str, Any]:
    return review_item(
        event_id, kind="APPRAISAL", reference_code="Z109-WS·2015-D10-GHK-0003",
        retain_until=dt.date(2026, 1, 1), lock_until=dt.date(2027, 5, 6), history_before_filing=[],
    )  # fmt: skip


def review_message(codec: DictCodec, item: dict[str, Any] | None, event_id: str, offset: int, *,
                   partition: int = 0, timestamp: int = 1) -> FakeMessage:  # fmt: skip
    raw = None if item is None else codec.bytes_for(item)
    return FakeMessage(SETTINGS.review_topic, partition, offset, event_id.encode(), raw,
                       timestamp=timestamp)  # fmt: skip


def letter_message(codec: DictCodec, partition: int, offset: int, *, event_id: str | None,
                   reason: str = "payload-missing", agency: str = "zjj", stage: str = "store",
                   failed_at: dt.datetime = DAY) -> FakeMessage:  # fmt: skip
    origin = Origin(SETTINGS.ingest_topic(agency), 0, offset, None, b"ZJJ-2026-0041", b"event",
                    [])  # fmt: skip
    rejection = RecordRejected(reason, f"{reason} at {offset}", stage)
    record = {**dead_letter(origin, rejection, agency_code=agency, event_id=event_id),
              "failed_at": failed_at}  # fmt: skip
    raw = codec.bytes_for(record, raw=f"letter {partition}-{offset}".encode())
    return FakeMessage(SETTINGS.deadletter_topic, partition, offset, b"ZJJ-2026-0041", raw,
                       headers=list(dead_letter_headers(origin, rejection).items()))  # fmt: skip


def replay_message(partition: int, offset: int, ledger_offset: int, *,
                   fingerprint: str | None = None) -> FakeMessage:  # fmt: skip
    letter = f"{partition}-{offset}"
    entry = Replay(
        dead_letter_topic=SETTINGS.deadletter_topic, letter_id=letter,
        fingerprint=fingerprint or hashlib.sha256(f"letter {letter}".encode()).hexdigest(),
        event_id="e-1", reason="payload-missing", topic=SETTINGS.ingest_topic("zjj"), partition=0,
        offset=99, replayed_at=DAY + dt.timedelta(hours=1), replayed_by="赵管理",
    )  # fmt: skip
    return FakeMessage(SETTINGS.replay_ledger_topic, 0, ledger_offset, entry.ledger_key.encode(),
                       json.dumps(entry.as_json()).encode())  # fmt: skip


# --- verify runs, preservation alerts and registry entries as the topics carry them ----------
def verify_run(run_id: str, finished_at: dt.datetime, **changes: Any) -> dict[str, Any]:
    """verify_run_record() under another id, ending at `finished_at` after 42 min 7 s."""
    took = dt.timedelta(minutes=42, seconds=7)
    return {**verify_run_record(), "run_id": run_id, "started_at": finished_at - took,
            "finished_at": finished_at, **changes}  # fmt: skip


def verify_run_message(codec: DictCodec, run: dict[str, Any], offset: int) -> FakeMessage:
    return FakeMessage(SETTINGS.verify_runs_topic, 0, offset, run["run_id"].encode(),
                       codec.bytes_for(run))  # fmt: skip


def alert(code: str, checked_at: dt.datetime, *problems: str) -> dict[str, Any]:
    """preservation_alert_record() for the record `code`, with these problem codes (its own
    two by default)."""
    value = {**preservation_alert_record(), "reference_code": code, "checked_at": checked_at}
    if problems:
        value["problems"] = [{"code": problem, "detail": f"{problem} of {code}", "sequence": 1}
                             for problem in problems]  # fmt: skip
    return value


def alert_message(codec: DictCodec, value: dict[str, Any], partition: int,
                  offset: int) -> FakeMessage:  # fmt: skip
    return FakeMessage(SETTINGS.preservation_alert_topic, partition, offset,
                       value["reference_code"].encode(), codec.bytes_for(value))  # fmt: skip


def agency_message(code: str, entry: Agency | bytes | None, offset: int) -> FakeMessage:
    """A registry entry (JSON, as connectors/agency_registry.py writes it), raw bytes, or a
    tombstone."""
    raw = entry.model_dump_json().encode() if isinstance(entry, Agency) else entry
    return FakeMessage(SETTINGS.agencies_topic, 0, offset, code.encode(), raw)
