"""A console built from parts for unit tests: a store on disk, accounts in a dict, the audit trail
in a list; no Kafka, registry or S3."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from avro_schemas.records import AuditEvent
from connectors.console.audit import AuditUnavailable
from connectors.console.service import Console
from connectors.console.store import Batch, Store
from connectors.console.users import User, UserDirectory, new_user
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings
from tests.examples import archival_record

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
                 audit_topic=settings.audit_topic)  # fmt: skip


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
            audit: ListAudit | None = None) -> Console:  # fmt: skip
    return Console(settings, store=store(tmp_path, settings), accounts=UserDirectory(users.get),
                   audit=audit or ListAudit(), key=KEY)  # fmt: skip


def disabled(user: User) -> User:
    return User(user.name, user.role, user.password_hash, user.created_at, dt.datetime.now(dt.UTC))
