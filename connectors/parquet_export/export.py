"""`recordflow export parquet`: the catalog topic as Parquet in the exports bucket, incrementally
(docs/design.md, "Parquet exports").

One export: find the last manifest in the bucket, read records.catalog.v1 from the offsets it
read up to (read_committed, no consumer group: connectors/readback.py's TopicReader), keep the
latest state of each 档号 read, write a file per agency and year in a local folder, upload each
with the project's S3 client, then the manifest. pyarrow writes locally and never to S3 itself:
its S3 writes fail now and then against versitygw with keep-alive connections (HTTP 400 on
UploadPart), which minio's client does not.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from confluent_kafka import Message
from minio.error import S3Error

from avro_schemas.codec import Codec
from connectors.parquet_export.manifest import (
    MANIFESTS,
    Changes,
    ExportedFile,
    ExportError,
    Manifest,
    Plan,
    changes,
    check_start,
    latest_manifest_key,
    part_key,
    plan,
)
from connectors.parquet_export.rows import table
from connectors.readback import TopicReader, latest_messages, watermarks
from connectors.storage import Storage
from recordflow.settings import Settings

PARQUET = "application/vnd.apache.parquet"

# (step, done, total or None): "read" counts catalog messages, "upload" files.
OnProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Outcome:
    """What one run did: the export it wrote (None when nothing changed since `previous`), and
    how many catalog messages it read."""

    manifest: Manifest | None
    previous: Manifest | None
    messages: int

    def as_json(self, bucket: str) -> dict[str, Any]:
        """The run's summary for programs; a run that wrote nothing has no id and no manifest."""
        manifest = self.manifest
        summary: dict[str, Any] = {
            "export_id": None, "kind": None, "bucket": bucket, "manifest": None,
            "records": 0, "files": 0, "bytes": 0, "partitions": [], "deleted": 0, "withheld": 0,
            "base_export_id": self.previous.base_export_id if self.previous else None,
            "previous_export_id": self.previous.export_id if self.previous else None,
            "messages_read": self.messages,
        }  # fmt: skip
        if manifest is not None:
            summary |= {
                "export_id": manifest.export_id, "kind": manifest.kind, "manifest": manifest.key,
                "records": manifest.records, "files": len(manifest.files),
                "bytes": manifest.bytes, "partitions": manifest.partitions,
                "deleted": len(manifest.deleted), "withheld": manifest.withheld,
                "base_export_id": manifest.base_export_id,
            }  # fmt: skip
        return summary


def last_manifest(storage: Storage) -> Manifest | None:
    bucket = storage.settings.exports_bucket
    try:
        key = latest_manifest_key(storage.list_exports(MANIFESTS))
    except S3Error as exc:
        if exc.code == "NoSuchBucket":  # a stack prepared before exports existed, or production
            raise ExportError(f"bucket {bucket} does not exist: create it (no object lock), as "
                              "the local stack's setup does (recordflow/localstack/setup.py)"
                              ) from exc  # fmt: skip
        raise
    return None if key is None else Manifest.from_json(json.loads(storage.get_export(key)))


def export_catalog(settings: Settings, codec: Codec, storage: Storage, *, full: bool = False,
                   on_progress: OnProgress | None = None) -> Outcome:  # fmt: skip
    """Export what changed in the catalog since the last export (everything when `full` or when
    there is none yet). ExportError, ReadError (connectors/readback.py) or the S3 client's
    errors when it cannot; nothing is half-exported: the manifest goes last."""
    progress = on_progress or (lambda step, done, total: None)
    previous = last_manifest(storage)
    the_plan = plan(previous, settings.catalog_topic, full=full)
    latest, offsets, read = _read_catalog(settings, codec, the_plan, progress)
    found = changes(latest, the_plan)
    if found.empty and not the_plan.full:
        return Outcome(None, previous, read)  # nothing to say: no export, no manifest
    files = _write(storage, the_plan, found, progress)
    manifest = Manifest(
        export_id=the_plan.export_id,
        kind="full" if the_plan.full else "incremental",
        base_export_id=the_plan.base_export_id,
        previous_export_id=the_plan.previous_export_id,
        created_at=dt.datetime.now(dt.UTC),
        catalog_topic=settings.catalog_topic,
        offsets=offsets,
        files=files,
        deleted=tuple(found.deleted),
        withheld=found.withheld,
    )
    with tempfile.TemporaryDirectory(prefix="recordflow-export-") as work:
        local = Path(work, "manifest.json")
        local.write_text(json.dumps(manifest.as_json(), ensure_ascii=False, indent=2) + "\n",
                         encoding="utf-8")  # fmt: skip
        storage.put_export(manifest.key, local, "application/json")
    return Outcome(manifest, previous, read)


def _read_catalog(
    settings: Settings, codec: Codec, the_plan: Plan, progress: OnProgress
) -> tuple[dict[str, dict[str, Any] | None], dict[int, int], int]:
    """The latest state of each 档号 published since the plan's start (None: a tombstone), the
    offsets read up to, and how many messages were read."""
    topic = settings.catalog_topic
    reader = TopicReader(settings, topic, start=the_plan.start)
    try:
        ends = {p: watermarks(reader.consumer, settings, topic, p)[1] for p in reader.partitions}
        check_start(the_plan.start, ends, topic)
        read = 0

        def counted() -> Iterator[Message]:
            nonlocal read
            for message in reader.read():
                read += 1
                if read % 100 == 0:
                    progress("read", read, None)
                yield message

        latest = latest_messages(counted())
        progress("read", read, None)
        offsets = {**the_plan.start, **reader.consumed}
    finally:
        reader.close()
    decoded = {
        key.decode(): None if message.value() is None
        else codec.decode(message.value(), "archival_record")
        for key, message in latest.items()
    }  # fmt: skip
    return decoded, offsets, read


def _write(
    storage: Storage, the_plan: Plan, found: Changes, progress: OnProgress
) -> tuple[ExportedFile, ...]:
    """Each partition's rows as a Parquet file, written locally, then uploaded."""
    files = []
    with tempfile.TemporaryDirectory(prefix="recordflow-export-") as work:
        for done, ((agency, year), rows) in enumerate(sorted(found.rows.items())):
            progress("upload", done, len(found.rows))
            key = part_key(agency, year, the_plan.export_id)
            local = Path(work, key)
            local.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table(rows), local, compression="zstd")
            size = storage.put_export(key, local, PARQUET)
            codes = tuple(sorted(one["reference_code"] for one in rows))
            files.append(ExportedFile(key, agency, year, len(rows), size, codes))
        progress("upload", len(found.rows), len(found.rows))
    return tuple(files)
