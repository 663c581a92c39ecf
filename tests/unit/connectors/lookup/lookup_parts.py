"""The lookup service's parts for unit tests: archived records as the catalog follower decodes
them, batches of them, and a store on disk under the project's access rules; no Kafka or S3."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from archival.access import load_access_rules
from connectors.follower import Batch
from connectors.lookup.store import Store
from recordflow.settings import Settings
from tests.unit.connectors.test_parquet_export import record as parquet_record

SETTINGS = Settings(topic_prefix="t1.")
RULES = load_access_rules(SETTINGS.access_rules_file)  # 25 years; 公告 and 主动公开 at once
TODAY = dt.date(2026, 6, 1)
LONG_AGO = dt.date(1990, 6, 1)  # formed 36 years before TODAY: open since 2015


def archived(code: str, *, description: dict[str, Any] | None = None,
             **changes: Any) -> dict[str, Any]:  # fmt: skip
    """A decoded ArchivalRecord with two files under 档号 `code`, formed LONG_AGO (so open) unless
    `description` says otherwise; each file stored under its own key and version."""
    found = parquet_record(reference_code=code,
                           description={"document_date": LONG_AGO, **(description or {})},
                           **changes)  # fmt: skip
    found["components"] = [
        {**component, "payload": {**component["payload"], "key": f"{code}/{n:02d}.pdf",
                                  "version_id": f"v-{code}-{n}"}}
        for n, component in enumerate(found["components"], start=1)
    ]  # fmt: skip
    return found


def catalog(*entries: tuple[str, dict[str, Any] | None], first_offset: int = 0,
            partition: int = 0) -> Batch:  # fmt: skip
    """A batch of catalog messages (档号, record or None for a tombstone), offsets read up to."""
    batch = Batch()
    for n, (code, value) in enumerate(entries):
        offset = first_offset + n
        batch.messages.append((SETTINGS.catalog_topic, partition, offset, 1, code, value))
        batch.offsets[SETTINGS.catalog_topic, partition] = offset + 1
    return batch


def put(store: Store, *records: dict[str, Any]) -> None:
    """`records` applied to the store as the follower would, each under its own 档号."""
    store.apply(catalog(*((value["reference_code"], value) for value in records)))


def new_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "lookup" / "store.sqlite3", catalog_topic=SETTINGS.catalog_topic,
                 rules=RULES)  # fmt: skip
