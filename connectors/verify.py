"""The long-term preservation check (DA/T 70, stage CQ 长期保存): `recordflow verify`.

Input: the catalog (records.catalog.v1, the latest ArchivalRecord per reference code) and the
archive bucket. Output: a result per record; for each record that no longer matches what the
archive holds an alert on records.preservation-alert.v1 (PreservationAlert v1, keyed by
reference code); and, when the run ends, its summary on records.verify-runs.v1 (VerifyRun v1,
keyed by run id), so that a clean check is on record too (the console's 校验 page reads both).

For every record it reads back:
- each content object version (bucket, key, version id), once, as a stream, recomputing SHA-256
  and SM3 and counting bytes, against the record's checksums and size;
- the package object version: its SHA-256 against the `package-<sha256>.tar` its key names, and
  its manifest-sha256.txt, fetch.txt and External-Identifier against the record;
- the object lock of every one of those versions: a COMPLIANCE retention until at least the
  record's retain_until (D30, D10), or, for a permanent (Y) record, a legal hold and a
  COMPLIANCE retention until storage.PERMANENT_UNTIL.

What no longer matches becomes a `Problem` with a stable code (PROBLEM_CODES). The comparisons
are pure functions of what was read (`ObjectRead`, `Lock`, the package's bytes), tested without
S3; `Verifier` does the reads. A storage error other than "no such object/version" is not a
finding about the record: it raises `VerifyError`, and no alert is sent for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error

from archival.filenames import safe_filename
from archival.package import CST, bag_path, s3_url
from avro_schemas.codec import Codec, Subject
from avro_schemas.records import VerifyRun
from avro_schemas.schemas import PRESERVATION_ALERT, VERIFY_RUN
from connectors.storage import CHUNK, PERMANENT_UNTIL, Storage
from recordflow.errors import ReasonedError
from recordflow.settings import Settings
from recordflow.timeouts import DELIVERY_TIMEOUT_S

STAGE = "CQ"  # DA/T 70: 长期保存 long-term preservation

OBJECT_MISSING = "object-missing"
CHECKSUM_MISMATCH = "checksum-mismatch"
SIZE_MISMATCH = "size-mismatch"
RETENTION_WEAKENED = "retention-weakened"
LEGAL_HOLD_MISSING = "legal-hold-missing"
PACKAGE_MISMATCH = "package-mismatch"
PROBLEM_CODES = (
    OBJECT_MISSING,
    CHECKSUM_MISMATCH,
    SIZE_MISMATCH,
    RETENTION_WEAKENED,
    LEGAL_HOLD_MISSING,
    PACKAGE_MISMATCH,
)
# What each code means, for people (the console's 校验 page): Chinese, then English.
PROBLEM_NAMES: dict[str, tuple[str, str]] = {
    OBJECT_MISSING: ("存储对象缺失", "an object version the record names is not in the archive"),
    CHECKSUM_MISMATCH: ("摘要值不符", "the stored bytes no longer give the recorded digest"),
    SIZE_MISMATCH: ("文件大小不符", "the stored object is not the recorded size"),
    RETENTION_WEAKENED: ("保留锁定被削弱", "the object lock no longer covers the retention period"),
    LEGAL_HOLD_MISSING: ("永久档案缺少法定保留", "a permanent record's version has no legal hold"),
    PACKAGE_MISMATCH: ("档案包与记录不符", "the package disagrees with its record"),
}

# A run's status (VerifyRun.status): every selected record checked and each failure alerted, or not.
COMPLETED = "completed"
INCOMPLETE = "incomplete"

PERMANENT = "Y"
DIGESTS = ("SHA256", "SM3")
PACKAGE_NAME = re.compile(r"(?:^|/)package-(?P<sha256>[0-9a-f]{64})\.tar$")
# S3 error codes that mean the object version the record names is not there (any more). S3
# servers (AWS, versitygw) answer InvalidArgument to a GET by a version id they never issued.
MISSING = ("NoSuchKey", "NoSuchVersion", "NoSuchBucket", "InvalidArgument")


class VerifyError(ReasonedError):
    """The check could not be done (storage or Kafka unreachable, access refused): says nothing
    about the records. `reason` is a stable code."""


@dataclass(frozen=True)
class Problem:
    """One thing about a record that no longer matches the archive."""

    code: str  # one of PROBLEM_CODES
    detail: str
    sequence: int | None = None  # the component concerned; None for the package or the record

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "sequence": self.sequence}


@dataclass(frozen=True)
class ObjectRead:
    """What reading one object version back gave."""

    sha256: str
    sm3: str
    size: int


@dataclass(frozen=True)
class Lock:
    """An object version's lock as S3 reports it."""

    mode: str | None = None  # COMPLIANCE or GOVERNANCE; None without a retention
    retain_until: dt.datetime | None = None
    legal_hold: bool = False


@dataclass
class RecordResult:
    """The check of one record."""

    reference_code: str
    agency_code: str
    retention_period: str
    archived_at: dt.datetime
    checked_at: dt.datetime
    objects_checked: int = 0
    bytes_read: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "reference_code": self.reference_code,
            "agency_code": self.agency_code,
            "retention_period": self.retention_period,
            "archived_at": self.archived_at,
            "checked_at": self.checked_at,
            "status": "ok" if self.ok else "problems",
            "objects_checked": self.objects_checked,
            "bytes_read": self.bytes_read,
            "problems": [problem.as_dict() for problem in self.problems],
        }


# --- which records -----------------------------------------------------------------------------
def parse_since(text: str) -> dt.datetime:
    """`--since`: a date (YYYY-MM-DD, from midnight China Standard Time, the archives' clock) or
    an ISO 8601 date and time (CST when it gives no offset)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"--since {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CST)


def select(
    records: Iterable[Mapping[str, Any]],
    agency: str | None = None,
    since: dt.datetime | None = None,
) -> list[Mapping[str, Any]]:
    """The records of `agency` (all when None) archived at or after `since`, by reference code."""
    chosen = [
        record
        for record in records
        if (agency is None or record["agency"]["code"] == agency)
        and (since is None or record["archived_at"] >= since)
    ]
    return sorted(chosen, key=lambda record: record["reference_code"])


# --- pure comparisons --------------------------------------------------------------------------
def where(payload: Mapping[str, Any]) -> str:
    """`bucket/key version v`, for details."""
    version = payload.get("version_id")
    return f"{payload.get('bucket')}/{payload.get('key')}" + (
        f" version {version}" if version else ""
    )


def addressable(payload: Mapping[str, Any] | None) -> bool:
    """True when `payload` names one object version that can be read back."""
    return bool(
        payload and payload.get("bucket") and payload.get("key") and payload.get("version_id")
    )


def recorded_digests(component: Mapping[str, Any]) -> dict[str, str]:
    """The record's digests of a component, by algorithm, lowercase hex."""
    return {c["algorithm"]: c["value"].lower() for c in component.get("checksums") or []}


def content_problems(component: Mapping[str, Any], read: ObjectRead | None) -> list[Problem]:
    """The stored content object version against the record's component: `read` is None when
    the version is not there (or the record names none)."""
    sequence = component["sequence"]
    name = component["file_name"]
    payload = component.get("payload") or {}
    if not addressable(payload):
        return [
            Problem(
                OBJECT_MISSING, f"{name}: the record names no archived object version", sequence
            )
        ]
    if read is None:
        return [
            Problem(OBJECT_MISSING, f"{name}: {where(payload)} is not in the archive", sequence)
        ]
    problems = []
    recorded = recorded_digests(component)
    for algorithm, actual in zip(DIGESTS, (read.sha256, read.sm3), strict=True):
        expected = recorded.get(algorithm)
        if expected is None:
            problems.append(
                Problem(
                    CHECKSUM_MISMATCH,
                    f"{name}: the record carries no {algorithm} digest to check",
                    sequence,
                )
            )
        elif expected != actual:
            problems.append(
                Problem(
                    CHECKSUM_MISMATCH,
                    f"{name}: {algorithm} recorded {expected}, the stored bytes give {actual}",
                    sequence,
                )
            )
    if read.size != component["size_bytes"]:
        problems.append(
            Problem(
                SIZE_MISMATCH,
                f"{name}: recorded {component['size_bytes']} bytes, stored {read.size}",
                sequence,
            )
        )
    return problems


def lock_problems(
    period: str, retain_until: dt.date | None, lock: Lock, what: str, sequence: int | None = None
) -> list[Problem]:
    """The object lock of one version against the record: a legal hold for a permanent record,
    otherwise a COMPLIANCE retention until at least `retain_until` (compared as UTC dates, as the
    archive writes midnight UTC of that date)."""
    if period == PERMANENT:
        problems = []
        if not lock.legal_hold:
            problems.append(Problem(
                LEGAL_HOLD_MISSING, f"{what}: a permanent (Y) record without a legal hold", sequence
            ))  # fmt: skip
        if (
            lock.mode != COMPLIANCE
            or lock.retain_until is None
            or (lock.retain_until < PERMANENT_UNTIL)
        ):
            problems.append(Problem(
                RETENTION_WEAKENED,
                f"{what}: a permanent (Y) record retained {lock.mode or 'without retention'} until "
                f"{lock.retain_until or '-'}, not COMPLIANCE until {PERMANENT_UNTIL:%Y-%m-%d}: "
                "its legal hold alone can be released and the version deleted",
                sequence,
            ))  # fmt: skip
        return problems
    if retain_until is None:
        return [
            Problem(
                RETENTION_WEAKENED,
                f"{what}: a {period} record without retain_until; nothing shows the lock covers it",
                sequence,
            )
        ]
    if lock.mode != COMPLIANCE:
        return [
            Problem(
                RETENTION_WEAKENED,
                f"{what}: retention mode {lock.mode or 'none'}, not COMPLIANCE",
                sequence,
            )
        ]
    until = lock.retain_until
    held = None if until is None else (until if until.tzinfo else until.replace(tzinfo=dt.UTC))
    if held is None or held.astimezone(dt.UTC).date() < retain_until:
        shown = "no date" if held is None else held.astimezone(dt.UTC).date().isoformat()
        return [
            Problem(
                RETENTION_WEAKENED,
                f"{what}: retained until {shown}, the record needs {retain_until.isoformat()}",
                sequence,
            )
        ]
    return []


@dataclass(frozen=True)
class PackageListing:
    """What a package says about its record: manifest-sha256.txt (bag path → SHA-256),
    fetch.txt (bag path → (URL, size)) and bag-info.txt's External-Identifier."""

    manifest: dict[str, str]
    fetch: dict[str, tuple[str, int | None]]
    external_identifier: str | None


def package_listing(tar_bytes: bytes, reference_code: str) -> PackageListing:
    """Read a serialized bag's manifest, fetch.txt and External-Identifier; ValueError when it
    is not a readable package for `reference_code`."""
    root = safe_filename(reference_code)
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            texts = {
                name: _member_text(tar, f"{root}/{name}")
                for name in ("manifest-sha256.txt", "fetch.txt", "bag-info.txt")
            }
    except tarfile.TarError as exc:
        raise ValueError(f"not a readable tar: {exc}") from exc
    manifest = {}
    for line in _lines(texts["manifest-sha256.txt"]):
        digest, _, path = line.partition(" ")
        manifest[path.strip().lstrip("*")] = digest.lower()
    fetch: dict[str, tuple[str, int | None]] = {}
    for line in _lines(texts["fetch.txt"]):
        parts = line.split(None, 2)
        if len(parts) != 3 or not (parts[1] == "-" or parts[1].isdigit()):
            raise ValueError(f"bad fetch.txt line {line!r}")
        url, size, path = parts
        fetch[path] = (url, None if size == "-" else int(size))
    identifier = None
    for line in _lines(texts["bag-info.txt"]):
        label, _, value = line.partition(":")
        if label.strip() == "External-Identifier":
            identifier = value.strip()
            break
    return PackageListing(manifest, fetch, identifier)


def _member_text(tar: tarfile.TarFile, name: str) -> str:
    try:
        member = tar.getmember(name)
    except KeyError as exc:
        raise ValueError(f"no {name}") from exc
    extracted = tar.extractfile(member)
    if extracted is None:
        raise ValueError(f"{name} is not a file")
    try:
        return extracted.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8") from exc


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def package_problems(record: Mapping[str, Any], tar_bytes: bytes | None) -> list[Problem]:
    """The stored package object version against the record: `tar_bytes` is None when the
    version is not there. A record archived before records had packages (package null) has
    none to check."""
    package = record.get("package")
    if package is None:
        return []
    if not addressable(package):
        return [Problem(OBJECT_MISSING, "the record names no package object version")]
    if tar_bytes is None:
        return [Problem(OBJECT_MISSING, f"package {where(package)} is not in the archive")]
    named = PACKAGE_NAME.search(package["key"])
    actual = hashlib.sha256(tar_bytes).hexdigest()
    if named is None:
        return [
            Problem(PACKAGE_MISMATCH, f"package key {package['key']} does not name its SHA-256")
        ]
    if named["sha256"] != actual:
        return [
            Problem(
                PACKAGE_MISMATCH,
                f"package {package['key']}: the stored bytes give SHA-256 {actual}",
            )
        ]
    try:
        listing = package_listing(tar_bytes, record["reference_code"])
    except ValueError as exc:
        return [Problem(PACKAGE_MISMATCH, f"package {package['key']}: {exc}")]
    problems = []
    if listing.external_identifier != record["reference_code"]:
        problems.append(
            Problem(
                PACKAGE_MISMATCH,
                f"package External-Identifier {listing.external_identifier!r}, "
                f"not {record['reference_code']}",
            )
        )
    expected = {bag_path(c["sequence"], c["file_name"]): c for c in record["components"]}
    for path in sorted(expected.keys() | listing.manifest.keys() | listing.fetch.keys()):
        component = expected.get(path)
        if component is None:
            problems.append(
                Problem(
                    PACKAGE_MISMATCH, f"the package lists {path}, which the record does not have"
                )
            )
            continue
        sequence = component["sequence"]
        sha256 = recorded_digests(component).get("SHA256")
        listed = listing.manifest.get(path)
        if listed != sha256:
            problems.append(
                Problem(
                    PACKAGE_MISMATCH,
                    f"manifest-sha256.txt gives {path} SHA-256 {listed or 'nothing'}, "
                    f"the record {sha256 or 'nothing'}",
                    sequence,
                )
            )
        payload = component.get("payload") or {}
        location = (
            s3_url(payload["bucket"], payload["key"], payload["version_id"])
            if addressable(payload)
            else None
        )
        fetched = listing.fetch.get(path)
        if fetched is None or fetched != (location, component["size_bytes"]):
            shown = "nothing" if fetched is None else f"{fetched[0]} ({fetched[1]} bytes)"
            problems.append(
                Problem(
                    PACKAGE_MISMATCH,
                    f"fetch.txt gives {path} {shown}, the record {location} "
                    f"({component['size_bytes']} bytes)",
                    sequence,
                )
            )
    return problems


def alert(result: RecordResult) -> dict[str, Any]:
    """The PreservationAlert for a record with problems."""
    return {
        "reference_code": result.reference_code,
        "agency_code": result.agency_code,
        "stage": STAGE,
        "problems": [problem.as_dict() for problem in result.problems],
        "checked_at": result.checked_at,
    }


def run_summary(run_id: str, started_at: dt.datetime, finished_at: dt.datetime,
                results: Iterable[RecordResult], *, agency: str | None,
                since: dt.datetime | None, host: str, user: str,
                problem: str | None = None) -> VerifyRun:  # fmt: skip
    """The VerifyRun of a run that checked `results`: COMPLETED unless a `problem` stopped it (or
    kept its alerts from Kafka)."""
    checked = list(results)
    return {
        "run_id": run_id, "started_at": started_at, "finished_at": finished_at,
        "status": COMPLETED if problem is None else INCOMPLETE,
        "agency": agency, "since": since, "records_checked": len(checked),
        "records_failed": sum(not result.ok for result in checked),
        "objects_checked": sum(result.objects_checked for result in checked),
        "bytes_read": sum(result.bytes_read for result in checked),
        "problem": problem, "host": host, "user": user,
    }  # fmt: skip


# --- the reads ---------------------------------------------------------------------------------
class Verifier:
    """Reads back what the archive holds for each record and compares it (the pure functions
    above). Each object version is read at most once per Verifier."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._reads: dict[tuple[str, str, str], ObjectRead | None] = {}

    def verify(
        self, record: Mapping[str, Any], checked_at: dt.datetime | None = None
    ) -> RecordResult:
        result = RecordResult(
            record["reference_code"],
            record["agency"]["code"],
            record["retention_period"],
            record["archived_at"],
            checked_at or dt.datetime.now(dt.UTC),
        )
        # The lock must hold at least to lock_until (v4): the period's end, or the minimum hold
        # of a record whose period had ended when it was received.
        period = record["retention_period"]
        retain_until = record.get("lock_until") or record.get("retain_until")
        for component in sorted(record["components"], key=lambda c: c["sequence"]):
            payload = component.get("payload") or {}
            read = self._read(payload) if addressable(payload) else None
            result.problems += content_problems(component, read)
            if read is not None:
                result.objects_checked += 1
                result.bytes_read += read.size
                what = f"{component['file_name']} ({where(payload)})"
                lock = self._lock(payload, period)
                result.problems += lock_problems(
                    period, retain_until, lock, what, component["sequence"]
                )
        package = record.get("package") or {}
        tar_bytes = self._read_package(package) if addressable(package) else None
        result.problems += package_problems(record, tar_bytes)
        if tar_bytes is not None:
            result.objects_checked += 1
            result.bytes_read += len(tar_bytes)
            lock = self._lock(package, period)
            result.problems += lock_problems(
                period, retain_until, lock, f"package {where(package)}"
            )
        return result

    def _read(self, payload: Mapping[str, Any]) -> ObjectRead | None:
        """Stream one content object version through SHA-256 and SM3; None when it is not there."""
        location = (payload["bucket"], payload["key"], payload["version_id"])
        if location in self._reads:
            return self._reads[location]
        sha256, sm3, size = hashlib.sha256(), hashlib.new("sm3"), 0
        response = self._get(payload)
        if response is None:
            self._reads[location] = None
            return None
        try:
            for chunk in response.stream(CHUNK):
                sha256.update(chunk)
                sm3.update(chunk)
                size += len(chunk)
        finally:
            response.close()
            response.release_conn()
        read = ObjectRead(sha256.hexdigest(), sm3.hexdigest(), size)
        self._reads[location] = read
        return read

    def _read_package(self, package: Mapping[str, Any]) -> bytes | None:
        """The package's bytes (tag files only, small); None when the version is not there."""
        response = self._get(package)
        if response is None:
            return None
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def _get(self, payload: Mapping[str, Any]) -> Any:
        try:
            return self.storage.client.get_object(
                payload["bucket"], payload["key"], version_id=payload["version_id"]
            )
        except S3Error as exc:
            if exc.code in MISSING:
                return None
            raise _storage_error(exc, payload) from exc

    def _lock(self, payload: Mapping[str, Any], period: str) -> Lock:
        """The version's legal hold (permanent records) or retention (the others): only what
        `lock_problems` looks at is asked for."""
        bucket, key, version = payload["bucket"], payload["key"], payload["version_id"]
        client = self.storage.client
        try:
            held = period == PERMANENT and client.is_object_legal_hold_enabled(bucket, key, version)
            retention = client.get_object_retention(bucket, key, version)
        except S3Error as exc:
            raise _storage_error(exc, payload) from exc
        if retention is None:
            return Lock(legal_hold=bool(held))
        return Lock(retention.mode, retention.retain_until_date, legal_hold=bool(held))


def _storage_error(exc: S3Error, payload: Mapping[str, Any]) -> VerifyError:
    return VerifyError("storage-error", f"{where(payload)}: {exc.code}: {exc.message}")


# --- alerts and the run's summary ---------------------------------------------------------------
def publish_alerts(settings: Settings, codec: Codec, results: Iterable[RecordResult]) -> int:
    """One PreservationAlert per record with problems on records.preservation-alert.v1, keyed by
    reference code; waits until Kafka has them all. Returns how many were sent."""
    alerts = [alert(result) for result in results if not result.ok]
    keyed = [(value["reference_code"], value) for value in alerts]
    _send(settings, codec, settings.preservation_alert_topic, PRESERVATION_ALERT, keyed,
          "alert-not-delivered")  # fmt: skip
    return len(alerts)


def publish_run(settings: Settings, codec: Codec, run: VerifyRun) -> None:
    """The run's summary on records.verify-runs.v1, keyed by run id; waits until Kafka has it."""
    _send(settings, codec, settings.verify_runs_topic, VERIFY_RUN, [(run["run_id"], run)],
          "run-not-delivered")  # fmt: skip


def _send(settings: Settings, codec: Codec, topic: str, record_type: str,
          messages: Sequence[tuple[str, Mapping[str, Any]]], reason: str) -> None:  # fmt: skip
    """Produce `messages` (key, value) and wait for Kafka to confirm each; VerifyError otherwise."""
    if not messages:
        return
    subject = Subject.for_topic(topic, record_type)
    producer = Producer(settings.producer_config())
    failures: list[str] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error.str())

    for key, value in messages:
        producer.produce(
            topic, key=key.encode(), value=codec.encode(subject, value), on_delivery=delivered
        )
        producer.poll(0)
    if producer.flush(DELIVERY_TIMEOUT_S) or failures:
        raise VerifyError(
            reason, f"Kafka did not take them on {topic}: {'; '.join(failures) or 'timed out'}"
        )
