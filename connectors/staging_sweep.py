"""Emptying the staging bucket of what the archive already holds (docs/design.md, "Storage").

Staging is a claim check: an agency's files wait there until the register stage has copied them
under object lock. Nothing else removes them, and a digitization backlog of millions of page
images would otherwise be kept twice. Only the register stage knows when a staged file is no
longer needed, so it says so: once a record is published (and its event marked published, so a
redelivery stops before fetching), it writes the marker `_archived/<agency>/<event id>.json`
naming the record's 档号 and the staged keys its files were copied from (`mark_archived`).
`recordflow buckets sweep` (`sweep`) deletes the keys each marker older than a grace period
names, then the marker.

What has no marker is never deleted: files of an event still under retention review, of a dead
letter waiting for replay, of a parked record, of an upload the gateway never committed. The
grace period covers the one moment a published event may still be fetched again (a worker that
died between publishing and marking it published). `_` cannot begin an agency code, so no
agency's prefix can hold a marker, and the gateway, which may write anywhere else in staging, is
denied this prefix (connectors/bucket_policies.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import urllib3
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from archival.metadata import staged_key_problem
from avro_schemas.records import DocumentLifecycleEvent
from connectors.storage import Storage
from recordflow.agencies import AGENCY_CODE

MARKER_PREFIX = "_archived/"
DEFAULT_GRACE = dt.timedelta(days=7)

log = logging.getLogger(__name__)


def marker_key(agency_code: str, event_id: str) -> str:
    return f"{MARKER_PREFIX}{agency_code}/{event_id}.json"


def staged_keys(event: DocumentLifecycleEvent, staging_bucket: str) -> list[str]:
    """The staging keys of the event's files (a file sent inline has none)."""
    return [
        component["payload"]["key"]
        for component in event["components"]
        if component["payload"]["bucket"] == staging_bucket and component["payload"]["key"]
    ]


@dataclass(frozen=True)
class Marker:
    """What a marker says: the record `reference_code` of `agency`, archived from `event_id`,
    was copied from the staged `keys`."""

    agency: str
    event_id: str
    reference_code: str
    keys: tuple[str, ...]

    def as_json(self) -> bytes:
        return json.dumps(
            {"agency": self.agency, "event_id": self.event_id,
             "reference_code": self.reference_code, "keys": list(self.keys)},
            ensure_ascii=False,
        ).encode()  # fmt: skip

    @classmethod
    def parse(cls, key: str, data: bytes) -> Marker:
        """The marker stored under `key`; ValueError when it is not one the register stage
        wrote: the wrong place, or a key outside its agency's own uploads."""
        body = json.loads(data)
        marker = cls(str(body["agency"]), str(body["event_id"]), str(body["reference_code"]),
                     tuple(str(k) for k in body["keys"]))  # fmt: skip
        if not AGENCY_CODE.match(marker.agency):
            raise ValueError(f"{key}: names no agency ({marker.agency!r})")
        if key != marker_key(marker.agency, marker.event_id):
            raise ValueError(f"{key}: names another place ({marker.agency}, {marker.event_id})")
        for staged in marker.keys:
            # What intake admits as a staged key: nothing else is deleted on a marker's word.
            if problem := staged_key_problem(staged, marker.agency):
                raise ValueError(f"{key}: staged key {staged!r} {problem}")
        return marker


def mark_archived(storage: Storage, event: DocumentLifecycleEvent, reference_code: str) -> None:
    """Write the marker saying the event's staged files are in the archive (idempotent: a
    redelivery writes the same bytes). Best effort: the record is archived whatever happens
    here, and a file with no marker (S3 refused it or was away) is kept, never lost."""
    keys = staged_keys(event, storage.settings.staging_bucket)
    if not keys:
        return
    agency = event["agency"]["code"]
    data = Marker(agency, event["event_id"], reference_code, tuple(keys)).as_json()
    try:
        storage.client.put_object(
            storage.settings.staging_bucket, marker_key(agency, event["event_id"]),
            io.BytesIO(data), len(data), content_type="application/json",
        )  # fmt: skip
    except (S3Error, urllib3.exceptions.HTTPError) as exc:
        log.warning("%s: staged files not marked archived (%s); they stay in staging",
                    reference_code, exc)  # fmt: skip


@dataclass
class AgencySweep:
    records: int = 0
    files: int = 0
    bytes: int = 0


@dataclass
class SweepReport:
    """What a sweep did (or, in a dry run, would do), by agency."""

    dry_run: bool
    grace: dt.timedelta
    by_agency: dict[str, AgencySweep] = field(default_factory=dict)
    waiting: int = 0  # markers younger than the grace period, left for a later sweep
    already_gone: int = 0  # keys a marker named that were no longer there
    refused: list[str] = field(default_factory=list)  # markers that are not well formed

    @property
    def records(self) -> int:
        return sum(item.records for item in self.by_agency.values())

    @property
    def files(self) -> int:
        return sum(item.files for item in self.by_agency.values())

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.by_agency.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace_seconds": int(self.grace.total_seconds()),
            "records": self.records,
            "files": self.files,
            "bytes": self.bytes,
            "waiting": self.waiting,
            "already_gone": self.already_gone,
            "refused": self.refused,
            "agencies": {
                code: {"records": item.records, "files": item.files, "bytes": item.bytes}
                for code, item in sorted(self.by_agency.items())
            },
        }


def _markers(storage: Storage) -> Iterator[tuple[str, dt.datetime]]:
    for item in storage.client.list_objects(
        storage.settings.staging_bucket, prefix=MARKER_PREFIX, recursive=True
    ):
        if item.object_name and item.last_modified:
            yield item.object_name, item.last_modified


def sweep(
    storage: Storage,
    *,
    grace: dt.timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    progress: Callable[[Marker], None] | None = None,
) -> SweepReport:
    """Delete the staged files of every record whose marker is older than `grace`, then the
    marker. A marker whose files could not all be deleted stays for the next sweep."""
    now = dt.datetime.now(dt.UTC)
    bucket = storage.settings.staging_bucket
    report = SweepReport(dry_run=dry_run, grace=grace)
    for key, written in _markers(storage):
        if now - written < grace:
            report.waiting += 1
            continue
        try:
            marker = Marker.parse(key, storage.read(bucket, key))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("staging sweep: %s is not a marker the register stage wrote: %s", key, exc)
            report.refused.append(key)
            continue
        present: list[tuple[str, int]] = []
        for staged in marker.keys:
            try:
                present.append((staged, storage.client.stat_object(bucket, staged).size or 0))
            except S3Error as exc:
                if exc.code not in ("NoSuchKey", "NotFound"):
                    raise
                report.already_gone += 1
        if not dry_run:
            deletes = [DeleteObject(staged) for staged, _ in present]
            failures = list(storage.client.remove_objects(bucket, deletes)) if deletes else []
            if failures:
                log.warning("staging sweep: %s: %d files not deleted (%s); kept for the next sweep",
                            key, len(failures), failures[0].message)  # fmt: skip
                continue
            storage.client.remove_object(bucket, key)
        totals = report.by_agency.setdefault(marker.agency, AgencySweep())
        totals.records += 1
        totals.files += len(present)
        totals.bytes += sum(size for _, size in present)
        if progress:
            progress(marker)
    return report
