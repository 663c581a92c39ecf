"""S3 object storage through the minio SDK: plain S3 calls only, so the same code runs against
versitygw locally and MinIO (or any S3) in production.

Buckets (docs/design.md, "Storage"):
- staging: `<agency>/<upload-id>/<safe-filename>`, where producers put files (claim check);
- archive: object lock and versioning on; every object version carries write-once (COMPLIANCE)
  retention until its retention period ends; permanent records are retained until
  PERMANENT_UNTIL and carry a legal hold as well;
- exports: derived data, the catalog as Parquet (connectors/parquet_export/), no lock.

Files are hashed while they stream through (upload, fetch), never read twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, REPLACE, CopySource
from minio.error import S3Error
from minio.retention import Retention

from recordflow.errors import RecordRejected
from recordflow.settings import Settings

# Files up to this size go up in one PUT, so the ETag is the MD5 of the bytes and verifies the
# write; larger ones go as multipart uploads of this part size, whose ETag we can compute too.
PART_SIZE = 64 * 1024 * 1024
# Retention for permanent records. A legal hold alone is not enough: whoever may put a hold may
# release it (the root account always can) and then delete the version. COMPLIANCE retention
# can be lengthened but never shortened or removed, by anyone.
PERMANENT_UNTIL = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
CHUNK = 1024 * 1024
# The largest object one CopyObject may copy; a larger one is written again from the local copy.
MAX_COPY_SIZE = 5 * 1024**3
# S3's additional checksums: asked for on a copy, read back with the object's metadata.
CHECKSUM_ALGORITHM = "x-amz-checksum-algorithm"
CHECKSUM_SHA256 = "x-amz-checksum-sha256"

log = logging.getLogger(__name__)


CREATE, KEEP, CONFLICT = "create", "keep", "conflict"


@dataclass(frozen=True)
class BucketChange:
    bucket: str
    action: str  # CREATE, KEEP or CONFLICT
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "action": self.action, "detail": self.detail}


class StorageConflict(Exception):
    """The buckets as they are cannot be made what the archive needs without a person."""


@dataclass
class Digests:
    """SHA-256 and SM3 of a byte stream, updated chunk by chunk, and the MD5 of each PART_SIZE part
    for the ETag S3 will report. No MD5 of the whole: for a single part it is that part's, and
    nothing else reads it (MD5 is for checking S3's write, not fixity). `etag=False` leaves the
    MD5s out, for bytes whose writes are checked otherwise (`Storage.fetch`)."""

    sha256: Any = field(default_factory=hashlib.sha256)
    sm3: Any = field(default_factory=lambda: hashlib.new("sm3"))
    part_md5s: list[bytes] = field(default_factory=list)
    size: int = 0
    etag: bool = True
    _part: Any = field(default_factory=hashlib.md5)
    _part_size: int = 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.sm3.update(chunk)
        self.size += len(chunk)
        if not self.etag:
            return
        view = memoryview(chunk)
        while view:
            take = min(len(view), PART_SIZE - self._part_size)
            self._part.update(view[:take])
            self._part_size += take
            view = view[take:]
            if self._part_size == PART_SIZE:
                self.part_md5s.append(self._part.digest())
                self._part, self._part_size = hashlib.md5(), 0

    def expected_etag(self) -> str:
        """The ETag S3 reports for these bytes uploaded with PART_SIZE parts: the MD5 of one
        PUT's bytes, or the MD5 of the parts' MD5s and their count."""
        if not self.etag:
            raise ValueError("these digests were taken without the MD5s an ETag needs")
        parts = self.part_md5s + ([self._part.digest()] if self._part_size or not self.size else [])
        if len(parts) == 1:
            return parts[0].hex()
        return f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"


class HashingReader:
    """Wraps a binary stream and hashes what is read through it (for uploads)."""

    def __init__(self, stream: BinaryIO, digests: Digests) -> None:
        self.stream = stream
        self.digests = digests

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digests.update(chunk)
        return chunk


@dataclass(frozen=True)
class Source:
    """The staged object a file was fetched from, and the ETag S3 served those bytes under: a
    server-side copy made on condition that the object still has that ETag copies them."""

    bucket: str
    key: str
    version_id: str | None
    etag: str


@dataclass
class Fetched:
    """A staged file, copied to a local temporary file in one read, with its digests. The local
    copy is what format identification and the virus scan read; closing it deletes it."""

    content: IO[bytes]
    digests: Digests
    # Where it was read from, so the archive can copy it server-side.
    source: Source | None = None

    @property
    def path(self) -> Path:
        return Path(self.content.name)

    @classmethod
    def from_bytes(cls, data: bytes, suffix: str = "") -> Fetched:
        local = tempfile.NamedTemporaryFile(prefix="recordflow-", suffix=suffix)  # noqa: SIM115
        digests = Digests()
        digests.update(data)
        local.write(data)
        local.flush()
        local.seek(0)
        return cls(local, digests)


def etag_of(content: IO[bytes]) -> str:
    """The ETag S3 reports for `content` uploaded in PART_SIZE parts, read from where it stands
    to its end; the stream is put back where it was."""
    start = content.tell()
    digests = Digests()
    while chunk := content.read(CHUNK):
        digests.update(chunk)
    content.seek(start)
    return digests.expected_etag()


def _version_of(key: str, version_id: str | None) -> str:
    if version_id is None:
        raise RecordRejected(
            "store-unversioned", f"archive/{key}: no version id; is versioning on?", "store"
        )
    return version_id


def _larger(bucket: str, key: str, declared: int, what: str) -> RecordRejected:
    return RecordRejected(
        "size-mismatch", f"{bucket}/{key}: larger than the declared {declared} bytes ({what})",
        "register",
    )  # fmt: skip


class Storage:
    def __init__(self, settings: Settings, http_client: urllib3.PoolManager | None = None) -> None:
        """`http_client`: minio's own pool when None (a five-minute connect timeout, five
        retries); the SDK's outbox passes one whose calls end within its deadline."""
        self.settings = settings
        self.client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http_client,
        )

    def ensure_buckets(self) -> None:
        conflicts = [change for change in self.reconcile_buckets() if change.action == CONFLICT]
        if conflicts:
            raise StorageConflict("; ".join(f"{c.bucket}: {c.detail}" for c in conflicts))

    def reconcile_buckets(self, *, dry_run: bool = False) -> list[BucketChange]:
        """Create the buckets that are missing: the archive with object lock (which S3 can only
        switch on when a bucket is created, and which turns versioning on); staging and exports
        without (the exports are derived, rebuilt at will). An archive bucket that exists without
        object lock is a conflict for a person: nothing written there would be write-once.
        Returns what was done (or, dry, would be)."""
        wanted = [(self.settings.staging_bucket, False), (self.settings.archive_bucket, True),
                  (self.settings.exports_bucket, False)]  # fmt: skip
        changes = []
        for bucket, locked in wanted:
            if not self.client.bucket_exists(bucket):
                if not dry_run:
                    self.client.make_bucket(bucket, object_lock=locked)
                detail = "with object lock and versioning" if locked else ""
                changes.append(BucketChange(bucket, CREATE, detail))
            elif locked and not self.object_lock_on(bucket):
                detail = ("exists without object lock, which S3 switches on only when a bucket is "
                          "created: create a new one with lock and copy the objects over")  # fmt: skip
                changes.append(BucketChange(bucket, CONFLICT, detail))
            else:
                changes.append(BucketChange(bucket, KEEP, ""))
        return changes

    def object_lock_on(self, bucket: str) -> bool:
        try:
            self.client.get_object_lock_config(bucket)
        except S3Error as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                return False
            raise
        except ValueError:
            # minio's parser wants a default retention rule, which the archive has none of (each
            # version carries its own retention): a configuration came back, so the lock is on.
            return True
        return True

    def read(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """A small object's bytes, in one read (a note, a marker, a manifest)."""
        response = self.client.get_object(bucket, key, version_id=version_id)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    # --- staging (producer side) -----------------------------------------------------------
    def stage(self, key: str, stream: BinaryIO, length: int, content_type: str) -> Digests:
        digests = Digests()
        self.client.put_object(
            self.settings.staging_bucket,
            key,
            HashingReader(stream, digests),  # type: ignore[arg-type]
            length,
            content_type=content_type,
            part_size=PART_SIZE,
        )
        return digests

    def stage_hashed(self, key: str, stream: BinaryIO, length: int, content_type: str,
                     etag: str) -> bool:  # fmt: skip
        """Upload a file hashed before (an outbox's spool) without hashing it again: S3's ETag,
        the MD5 the server computed of what it received, says whether these are the bytes that
        were hashed (`etag`, Digests.expected_etag). False if they are not. The register stage
        checks SHA-256 and SM3 again when it fetches the file."""
        result = self.client.put_object(self.settings.staging_bucket, key, stream, length,
                                        content_type=content_type, part_size=PART_SIZE)  # fmt: skip
        return (result.etag or "").strip('"') == etag

    # --- archive (pipeline side) -----------------------------------------------------------
    def fetch(self, bucket: str, key: str, version_id: str | None = None, *,
              max_bytes: int | None = None, suffix: str = "") -> Fetched:  # fmt: skip
        """Read a staged object once, hashing it as it streams into a local spool file.

        `max_bytes` (the size the agency declared) bounds what is read: an object that turns out
        larger is refused as size-mismatch as soon as that shows, from its Content-Length before
        a byte is read or else while reading, so a file far larger than declared is never copied
        whole to local disk. `suffix` ends the spool file's name (the sent file's extension).
        """
        try:
            response = self.client.get_object(bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchBucket"):
                raise RecordRejected(
                    "payload-missing", f"{bucket}/{key} does not exist", "store"
                ) from exc
            raise
        spool = tempfile.NamedTemporaryFile(prefix="recordflow-", suffix=suffix)  # noqa: SIM115
        # No MD5s: the archive's copy of these bytes is checked by the SHA-256 S3 computes of it.
        digests = Digests(etag=False)
        served_etag = (response.headers.get("ETag") or "").strip('"')
        try:
            length = response.headers.get("Content-Length") if response.headers else None
            if max_bytes is not None and length is not None and int(length) > max_bytes:
                raise _larger(bucket, key, max_bytes, f"staged {length} bytes; none read")
            for chunk in response.stream(CHUNK):
                digests.update(chunk)
                spool.write(chunk)
                if max_bytes is not None and digests.size > max_bytes:
                    raise _larger(bucket, key, max_bytes, f"stopped after {digests.size} bytes")
        except BaseException:
            spool.close()
            raise
        finally:
            response.close()
            response.release_conn()
        spool.flush()
        spool.seek(0)
        return Fetched(spool, digests, Source(bucket, key, version_id, served_etag))

    def archived_version(self, key: str, sha256: str) -> str | None:
        """The version id of an archived object with this key and content, if one exists already."""
        try:
            stat = self.client.stat_object(self.settings.archive_bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise
        if (stat.metadata or {}).get("x-amz-meta-sha256") != sha256:
            return None
        return stat.version_id

    def archive(
        self,
        key: str,
        content: IO[bytes],
        digests: Digests,
        *,
        content_type: str,
        retain_until: dt.date | None,
        source: Source | None = None,
    ) -> str:
        """Write one object version under object lock and verify the write; return its version id.

        `retain_until=None` means permanent: retention until PERMANENT_UNTIL and a legal hold.
        `source` is where `content` was fetched from: the object is then copied inside S3 rather
        than sent again, on condition that it still has the ETag it was served under, and the
        copy is verified by the SHA-256 S3 computes of it. When the copy cannot be made or
        verified (the source changed or is gone, the server computes no checksum, the file is
        too large for one copy), `content` is written instead, verified by its ETag.
        """
        until = PERMANENT_UNTIL
        if retain_until is not None:
            until = dt.datetime.combine(retain_until, dt.time(), tzinfo=dt.UTC)
        retention, hold = Retention(COMPLIANCE, until), retain_until is None
        fixity = {"sha256": digests.sha256.hexdigest(), "sm3": digests.sm3.hexdigest()}
        if source is not None and digests.size <= MAX_COPY_SIZE:
            version_id = self._copy_verified(key, source, digests, content_type=content_type,
                                             fixity=fixity, retention=retention, hold=hold)  # fmt: skip
            if version_id is not None:
                return version_id
        expected = digests.expected_etag() if digests.etag else etag_of(content)
        result = self.client.put_object(
            self.settings.archive_bucket, key, content,  # type: ignore[arg-type]
            digests.size, content_type=content_type, metadata=fixity, part_size=PART_SIZE,
            retention=retention, legal_hold=hold,
        )  # fmt: skip
        etag = (result.etag or "").strip('"')
        if etag != expected:
            raise RecordRejected(
                "store-verify-failed",
                f"archive/{key}: S3 reports ETag {etag}, expected {expected}",
                "store",
            )
        return _version_of(key, result.version_id)

    def _copy_verified(self, key: str, source: Source, digests: Digests, *, content_type: str,
                       fixity: dict[str, str], retention: Retention, hold: bool) -> str | None:  # fmt: skip
        """Copy `source` into the archive and check the copy's SHA-256 as S3 computed it; the
        version id, or None when the source is no longer what was fetched or the server gave no
        checksum (the caller then writes its verified local copy). A copy whose checksum differs
        is a fault of the store, refused as store-verify-failed."""
        copied_from = CopySource(source.bucket, source.key, source.version_id,
                                 match_etag=source.etag)  # fmt: skip
        try:
            result = self.client.copy_object(
                self.settings.archive_bucket, key, copied_from,
                metadata={"Content-Type": content_type, CHECKSUM_ALGORITHM: "SHA256", **fixity},
                metadata_directive=REPLACE, retention=retention, legal_hold=hold,
            )  # fmt: skip
        except S3Error as exc:
            if exc.code in ("PreconditionFailed", "NoSuchKey", "NoSuchVersion"):
                return None
            raise
        version_id = _version_of(key, result.version_id)
        stat = self.client.stat_object(self.settings.archive_bucket, key, version_id=version_id,
                                       extra_headers={"x-amz-checksum-mode": "ENABLED"})  # fmt: skip
        checksum = (stat.metadata or {}).get(CHECKSUM_SHA256)
        if checksum is None:
            # This copy stays an unreferenced, locked version; the file is written again.
            log.warning("archive/%s: the server computed no SHA-256 of the copy; writing it", key)
            return None
        expected = base64.b64encode(digests.sha256.digest()).decode()
        if checksum != expected:
            raise RecordRejected(
                "store-verify-failed",
                f"archive/{key}: S3's SHA-256 of the copy is {checksum}, expected {expected}",
                "store",
            )
        return version_id

    # --- the archive's document index: which 档号 an agency's document holds -----------------
    # Written by the register stage beside each record, read by intake when a reply names the
    # request it answers by document id (archival/retention.py). An object per document: S3 reads
    # its own writes, so a record archived before a reply arrives is always found.
    @staticmethod
    def document_key(agency_code: str, document_id: str) -> str:
        return f"documents/{agency_code}/{urllib.parse.quote(document_id, safe='')}"

    def reference_code_of(self, agency_code: str, document_id: str) -> str | None:
        """The 档号 of the agency's archived document, or None when none is archived."""
        try:
            note = self.read(
                self.settings.archive_bucket, self.document_key(agency_code, document_id)
            )
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise
        return note.decode()

    # --- appraisal: lengthening a record's lock (connectors/review.py) ----------------------
    def extend_retention(self, bucket: str, key: str, version_id: str, until: dt.date) -> bool:
        """Lengthen one object version's COMPLIANCE retention to midnight UTC of `until`, as
        `archive` writes it. Never shortens it (S3 refuses that anyway), so repeating it is
        harmless; a version held that long already is left alone. True when it changed."""
        target = dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC)
        current = self.client.get_object_retention(bucket, key, version_id)
        if (
            current is not None
            and current.mode == COMPLIANCE
            and current.retain_until_date is not None
            and current.retain_until_date >= target
        ):
            return False
        self.client.set_object_retention(
            bucket, key, Retention(COMPLIANCE, target), version_id=version_id
        )
        return True

    def hold_permanently(self, bucket: str, key: str, version_id: str) -> bool:
        """What `archive` gives a permanent record: COMPLIANCE retention until PERMANENT_UNTIL
        (a legal hold alone can be released) and a legal hold. Idempotent; True when it changed."""
        changed = self.extend_retention(bucket, key, version_id, PERMANENT_UNTIL.date())
        if not self.client.is_object_legal_hold_enabled(bucket, key, version_id):
            self.client.enable_object_legal_hold(bucket, key, version_id)
            changed = True
        return changed

    # --- exports: derived data (connectors/parquet_export/) ---------------------------------
    def put_export(self, key: str, path: Path, content_type: str) -> int:
        """Upload a local file to the exports bucket and verify the write (ETag), as `archive`
        does; its size in bytes. (pyarrow's own S3 writes fail now and then against versitygw
        with keep-alive connections: the files are written locally and uploaded here.)"""
        digests = Digests()
        size = path.stat().st_size
        with path.open("rb") as local:
            result = self.client.put_object(
                self.settings.exports_bucket, key, HashingReader(local, digests),  # type: ignore[arg-type]
                size, content_type=content_type, part_size=PART_SIZE,
            )  # fmt: skip
        etag = (result.etag or "").strip('"')
        if etag != digests.expected_etag():
            raise OSError(
                f"{self.settings.exports_bucket}/{key}: S3 reports ETag {etag}, "
                f"expected {digests.expected_etag()}"
            )
        return size

    def get_export(self, key: str) -> bytes:
        return self.read(self.settings.exports_bucket, key)

    def list_exports(self, prefix: str) -> list[str]:
        """The keys under `prefix` in the exports bucket, sorted."""
        objects = self.client.list_objects(self.settings.exports_bucket, prefix, recursive=True)
        return sorted(str(obj.object_name) for obj in objects)
