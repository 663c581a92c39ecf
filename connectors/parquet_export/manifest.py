"""What each Parquet export holds and where the next one starts (docs/design.md, "Parquet exports").
Pure: no Kafka, no S3.

Exports are numbered 000001, 000002, … (`export_id`: zero-padded, so that text order is export
order). The manifest `catalog/_manifests/<export id>.json`, written after every file of its
export, is the export's commit point: it names its files with the 档号 each holds, and the offset
of each catalog partition the export read up to, where the next one starts. The greatest manifest
is the last export; an export that failed before its manifest wrote none, and the next one takes
its number again and writes the same keys over whatever it had left.

A full export (the first, or `--full`) holds every exportable record; an incremental one, every
record whose latest state was published since the last export read (a record that changed again
is in it again, whole). To read the current catalog: the rows of the exports from the last full
one (`base_export_id`) on, per 档号 the one with the greatest `export_id`, unless a later export
lists that 档号 as `deleted` (a tombstone on the catalog topic).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.parquet_export.rows import exportable, partition, row

FORMAT = 1  # of the manifest's JSON
ROOT = "catalog/"
MANIFESTS = f"{ROOT}_manifests/"
ID_DIGITS = 6


class ExportError(Exception):
    """An export cannot go on; the message says why, in one line."""


def part_key(agency: str, year: int, export_id: str) -> str:
    """Where an export's rows of one agency and year go (hive-style partitions)."""
    return f"{ROOT}agency={agency}/year={year}/part-{export_id}.parquet"


def manifest_key(export_id: str) -> str:
    return f"{MANIFESTS}{export_id}.json"


def latest_manifest_key(keys: Iterable[str]) -> str | None:
    """The last export's manifest among the keys under MANIFESTS (anything else is ignored)."""
    numbered = [
        key for key in keys
        if key.startswith(MANIFESTS) and key.endswith(".json")
        and key[len(MANIFESTS):-len(".json")].isdigit()
    ]  # fmt: skip
    return max(numbered, key=lambda key: int(key[len(MANIFESTS) : -len(".json")]), default=None)


@dataclass(frozen=True)
class ExportedFile:
    """One Parquet file of an export: its key, partition, rows and the 档号 they are."""

    key: str
    agency: str
    year: int
    records: int
    bytes: int
    reference_codes: tuple[str, ...]

    @property
    def partition(self) -> str:
        return f"agency={self.agency}/year={self.year}"

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "agency": self.agency, "year": self.year,
                "records": self.records, "bytes": self.bytes,
                "reference_codes": list(self.reference_codes)}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportedFile:
        return cls(data["key"], data["agency"], int(data["year"]), int(data["records"]),
                   int(data["bytes"]), tuple(data["reference_codes"]))  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    export_id: str
    kind: Literal["full", "incremental"]
    base_export_id: str  # the full export this one builds on (its own id, for a full one)
    previous_export_id: str | None
    created_at: dt.datetime
    catalog_topic: str
    offsets: dict[int, int]  # catalog partition → the offset this export read up to
    files: tuple[ExportedFile, ...] = ()
    deleted: tuple[str, ...] = ()  # 档号 whose latest state is a tombstone
    withheld: int = 0  # changed records left out for their 密级 (counted, never named)

    @property
    def key(self) -> str:
        return manifest_key(self.export_id)

    @property
    def records(self) -> int:
        return sum(file.records for file in self.files)

    @property
    def bytes(self) -> int:
        return sum(file.bytes for file in self.files)

    @property
    def partitions(self) -> list[str]:
        return [file.partition for file in self.files]

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "export_id": self.export_id,
            "kind": self.kind,
            "base_export_id": self.base_export_id,
            "previous_export_id": self.previous_export_id,
            "created_at": self.created_at.isoformat(),
            "catalog_topic": self.catalog_topic,
            "offsets": {str(p): offset for p, offset in sorted(self.offsets.items())},
            "records": self.records,
            "bytes": self.bytes,
            "files": [file.as_json() for file in self.files],
            "deleted": list(self.deleted),
            "withheld": self.withheld,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise ExportError(f"manifest {data.get('export_id')}: format {data.get('format')!r} "
                              f"is not {FORMAT}, which this version reads")  # fmt: skip
        return cls(
            export_id=data["export_id"],
            kind=data["kind"],
            base_export_id=data["base_export_id"],
            previous_export_id=data["previous_export_id"],
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            catalog_topic=data["catalog_topic"],
            offsets={int(p): int(offset) for p, offset in data["offsets"].items()},
            files=tuple(ExportedFile.from_json(file) for file in data["files"]),
            deleted=tuple(data["deleted"]),
            withheld=int(data["withheld"]),
        )


@dataclass(frozen=True)
class Plan:
    """The next export: its id, whether it is full, and where it starts reading the catalog."""

    export_id: str
    full: bool
    base_export_id: str
    previous_export_id: str | None
    start: dict[int, int]  # catalog partition → offset; a partition not named: its beginning


def plan(previous: Manifest | None, catalog_topic: str, *, full: bool = False) -> Plan:
    """What follows `previous` (None: no export yet, so a full one)."""
    sequence = 1 if previous is None else int(previous.export_id) + 1
    export_id = f"{sequence:0{ID_DIGITS}d}"
    if previous is None or full:
        return Plan(export_id, True, export_id, previous.export_id if previous else None, {})
    if previous.catalog_topic != catalog_topic:
        raise ExportError(
            f"the last export ({previous.export_id}) read {previous.catalog_topic}, not "
            f"{catalog_topic}; export with --full to start over from {catalog_topic}"
        )
    return Plan(export_id, False, previous.base_export_id, previous.export_id,
                dict(previous.offsets))  # fmt: skip


def check_start(start: Mapping[int, int], ends: Mapping[int, int], topic: str) -> None:
    """Refuse to read on from offsets the topic no longer has (`ends`: each partition's end
    now): the topic was deleted and made again, and an increment would miss what it holds."""
    for partition_id, offset in sorted(start.items()):
        end = ends.get(partition_id)
        if end is None or offset > end:
            where = "is gone" if end is None else f"ends at offset {end}"
            raise ExportError(
                f"{topic} partition {partition_id} {where}, but the last export read it up to "
                f"{offset}: the topic was made anew; export with --full"
            )


@dataclass
class Changes:
    """What an export writes: the rows per (agency, year), the 档号 deleted, how many withheld."""

    rows: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    withheld: int = 0

    @property
    def empty(self) -> bool:
        return not self.rows and not self.deleted


def changes(latest: Mapping[str, Mapping[str, Any] | None], the_plan: Plan) -> Changes:
    """The rows of the records in `latest` (the latest state of each 档号 among the messages the
    export read; None: a tombstone). A full export lists no deletions: what it lacks is gone.
    A record's 密级 is settled at intake and no catalog writer changes it, so a record withheld
    now was never exported: it is counted, never named."""
    found = Changes()
    for code, record in sorted(latest.items()):
        if record is None:
            if not the_plan.full:
                found.deleted.append(code)
        elif not exportable(record):
            found.withheld += 1
        else:
            found.rows.setdefault(partition(record), []).append(row(record, the_plan.export_id))
    return found
