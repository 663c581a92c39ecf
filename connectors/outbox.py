"""The producer's outbox: a submission that `recordflow submit` (or a Submitter given an Outbox)
has accepted stays here, on the producing machine's disk, until S3 holds its files and Kafka has
confirmed its event. A restart of the producing process loses nothing: the next `recordflow outbox
flush` carries on where the last attempt stopped.

The outbox folder (`Settings.outbox_path`) holds
    outbox.sqlite3        the submissions and their files (SQLite in WAL mode, synchronous=FULL:
                          a committed acceptance survives a power cut)
    spool/<upload-id>/    a copy of each file, taken (and hashed) when the submission is accepted:
                          the caller may change or delete its own file once submit returns
    locks/<upload-id>     an flock held by the one process delivering that submission

A submission moves one way through its states:

    accepted ──files staged in S3──► staged ──Kafka confirmed the event──► published
        └──────────────┴──── refused for good (event too large, spool lost …) ──► failed

It is *pending* while accepted or staged. Whatever is needed to deliver it without the caller is
recorded at acceptance: the agency, the metadata, the event time, the event id (derived from the
content), the upload id (so the files go to the same keys however often staging is retried), and
each file's copy and digests. The encoded event is stored the first time it is encoded, so that a
resend is byte for byte the event that may already be in Kafka. A published submission is never
sent again. The one window left: Kafka confirmed, and the process died before the confirmation
was committed here; the next flush then sends the identical event again, which the pipeline
recognises by its event id (docs/design.md, "Processing guarantees").

No Kafka or S3 code lives here (see `connectors.sdk.Submitter` for delivery): this module is the
store and its state machine, and the retry policy (exponential backoff with jitter, bounded by a
deadline).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from archival.filenames import safe_filename
from connectors.storage import CHUNK, Digests
from recordflow.errors import SubmitError
from recordflow.timeouts import (
    FIRST_BACKOFF_S,
    MAX_BACKOFF_S,
    OUTBOX_BUSY_TIMEOUT_S,
    OUTBOX_LOCK_POLL_S,
)

DATABASE = "outbox.sqlite3"
SCHEMA_VERSION = 1
ACCEPTED, STAGED, PUBLISHED, FAILED = "accepted", "staged", "published", "failed"
STATES = (ACCEPTED, STAGED, PUBLISHED, FAILED)
PENDING = (ACCEPTED, STAGED)
# A spool folder no row names (its process died between copying and recording) is removed after
# this long; younger ones may belong to an acceptance still under way in another process.
ORPHAN_GRACE_S = 3600.0
# Published and failed submissions stay listed this long (`recordflow outbox list --all`).
KEEP_DONE_DAYS = 30

SCHEMA = (
    """
CREATE TABLE submissions (
    upload_id    TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    agency       TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    title        TEXT NOT NULL,
    topic        TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    metadata     TEXT NOT NULL,                  -- JSON, as the caller gave it
    event_time   TEXT NOT NULL,                  -- ISO 8601 with zone, fixed at acceptance
    state        TEXT NOT NULL CHECK (state IN ('accepted', 'staged', 'published', 'failed')),
    event_value  BLOB,                           -- the encoded event, once encoded
    partition    INTEGER,
    "offset"     INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,     -- attempts that failed
    last_error   TEXT,
    accepted_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
)
""",
    """
-- One live submission per event: accepting the same document again finds the first one.
CREATE UNIQUE INDEX one_live_submission_per_event
    ON submissions (topic, event_id) WHERE state != 'failed'
""",
    """
CREATE INDEX submissions_by_state ON submissions (state, accepted_at)
""",
    """
CREATE TABLE files (
    upload_id    TEXT NOT NULL REFERENCES submissions (upload_id) ON DELETE CASCADE,
    sequence     INTEGER NOT NULL,
    file_name    TEXT NOT NULL,
    mime_type    TEXT,
    source_path  TEXT NOT NULL,
    spool_name   TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    sm3          TEXT NOT NULL,
    etag         TEXT NOT NULL,                  -- what S3 reports for these bytes
    PRIMARY KEY (upload_id, sequence)
)
""",
)


class OutboxError(Exception):
    """The outbox itself cannot be used as asked (unreadable, newer, a state change out of turn)."""


class SubmissionHeld(SubmitError):
    """Accepted into the outbox but not delivered yet (Kafka or S3 unreachable past the deadline,
    or refusing us for a reason an operator can mend). `recordflow outbox flush` delivers it."""

    def __init__(self, entry: Entry, reason: str) -> None:
        super().__init__(f"held in the outbox, not yet delivered: {reason}")
        self.entry = entry
        self.reason = reason


class SubmissionFailed(SubmitError):
    """Accepted into the outbox, then refused for good: it is no longer pending, nothing more is
    sent for it, and its reason stays on its row (`recordflow outbox list --all`)."""

    def __init__(self, entry: Entry, reason: str) -> None:
        super().__init__(f"not delivered, and it will not be: {reason}")
        self.entry = entry
        self.reason = reason


@dataclass(frozen=True)
class SpooledFile:
    """One file of a submission, as copied into the spool when it was accepted."""

    sequence: int
    file_name: str
    mime_type: str | None
    source_path: str
    spool_name: str
    size_bytes: int
    sha256: str
    sm3: str
    etag: str

    def as_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "file_name": self.file_name,
            "source_path": self.source_path,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "sm3": self.sm3,
        }


@dataclass(frozen=True)
class Entry:
    """A submission in the outbox, as its row stood when read."""

    upload_id: str
    event_id: str
    agency: str
    document_id: str
    title: str
    topic: str
    bucket: str
    metadata: dict[str, Any]
    event_time: dt.datetime
    state: str
    files: tuple[SpooledFile, ...]
    accepted_at: dt.datetime
    updated_at: dt.datetime
    attempts: int = 0
    last_error: str | None = None
    event_value: bytes | None = field(default=None, repr=False)
    partition: int | None = None
    offset: int | None = None

    @property
    def pending(self) -> bool:
        return self.state in PENDING

    def as_json(self) -> dict[str, Any]:
        """What `recordflow outbox list --json` prints: never the encoded event or settings."""
        return {
            "upload_id": self.upload_id,
            "event_id": self.event_id,
            "agency": self.agency,
            "document_id": self.document_id,
            "title": self.title,
            "state": self.state,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "accepted_at": self.accepted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "files": [file.as_json() for file in self.files],
        }


@dataclass
class FlushOutcome:
    """What one flush did with one pending submission."""

    entry: Entry
    status: str  # delivered, already-delivered, held, failed, busy, not-attempted
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "upload_id": self.entry.upload_id,
            "event_id": self.entry.event_id,
            "agency": self.entry.agency,
            "document_id": self.entry.document_id,
            "topic": self.entry.topic,
            "partition": self.entry.partition,
            "offset": self.entry.offset,
        }


class Claim:
    """The right to deliver one submission: an exclusive flock on its lock file, so that two
    processes (a `submit` and a `flush`, two flushes) never send it side by side. The operating
    system drops the lock when the holder dies."""

    def __init__(self, outbox: Outbox, upload_id: str, descriptor: int) -> None:
        self.outbox = outbox
        self.upload_id = upload_id
        self._descriptor: int | None = descriptor

    @property
    def entry(self) -> Entry:
        entry = self.outbox.get(self.upload_id)
        if entry is None:
            raise OutboxError(f"submission {self.upload_id} has left the outbox")
        return entry

    def release(self) -> None:
        if self._descriptor is not None:
            self.outbox._claims.pop(self.upload_id, None)
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Outbox:
    """The store. One instance per process and thread; several processes may share the folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.spool_dir = directory / "spool"
        self.locks_dir = directory / "locks"
        self._claims: dict[str, Claim] = {}
        try:
            for folder in (directory, self.spool_dir, self.locks_dir):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.db = sqlite3.connect(
                directory / DATABASE, timeout=OUTBOX_BUSY_TIMEOUT_S, isolation_level=None
            )
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the outbox in {directory}: {exc}") from exc

    def _migrate(self) -> None:
        with self._transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.directory / DATABASE} was written by a newer recordflow "
                    f"(outbox schema {version}; this one knows {SCHEMA_VERSION})"
                )
            if version == 0:
                for statement in SCHEMA:
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        for claim in list(self._claims.values()):
            claim.release()
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: take the write lock at once, so read-then-write cannot race."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- accepting ----------------------------------------------------------------------------
    def spool(
        self, upload_id: str, files: Sequence[tuple[Path, str, str | None]], *, link: bool = False
    ) -> list[SpooledFile]:
        """Copy each (path, file name, declared MIME type) into `spool/<upload_id>/`, hashing it on
        the way, and make the copies durable. On any failure nothing of this upload stays behind.

        The digests are those of the bytes copied: if the caller's file changes while it is copied,
        the copy and its digests still agree with each other. With `link`, for files that stay as
        they are until sent (a digitization batch's scans), each is hard-linked instead where the
        outbox is on the same file system: its bytes are not written again, and deleting or
        renaming the original does not touch the outbox's link. A linked file changed in place
        after all is found when it is staged (its digest no longer the one accepted)."""
        folder = self.spool_dir / upload_id
        folder.mkdir(mode=0o700)
        try:
            spooled = []
            for sequence, (path, file_name, mime_type) in enumerate(files, start=1):
                spool_name = f"{sequence:02d}-{safe_filename(file_name)}"
                digests = _spool_file(path, folder / spool_name, link=link)
                spooled.append(
                    SpooledFile(
                        sequence=sequence,
                        file_name=file_name,
                        mime_type=mime_type,
                        source_path=str(path.resolve()),
                        spool_name=spool_name,
                        size_bytes=digests.size,
                        sha256=digests.sha256.hexdigest(),
                        sm3=digests.sm3.hexdigest(),
                        etag=digests.expected_etag(),
                    )
                )
            _fsync_dir(folder)
            _fsync_dir(self.spool_dir)
        except BaseException:
            self.discard_spool(upload_id)
            raise
        return spooled

    def discard_spool(self, upload_id: str) -> None:
        shutil.rmtree(self.spool_dir / upload_id, ignore_errors=True)

    def spooled_path(self, entry: Entry, file: SpooledFile) -> Path:
        return self.spool_dir / entry.upload_id / file.spool_name

    def add(
        self,
        *,
        upload_id: str,
        event_id: str,
        agency: str,
        document_id: str,
        title: str,
        topic: str,
        bucket: str,
        metadata: dict[str, Any],
        event_time: dt.datetime,
        files: Sequence[SpooledFile],
        wait_s: float = 0.0,
    ) -> Claim | None:
        """Record a spooled submission as accepted and return the claim on it.

        If the same event (same topic, same event id) is in the outbox already and not failed,
        nothing new is recorded: this upload's spool is dropped and the claim is on the submission
        already there (which may be published: then there is nothing to send). None when another
        process holds that one for longer than `wait_s`."""
        if event_time.tzinfo is None:
            raise ValueError("event_time must carry its time zone")
        descriptor = self._lock(upload_id, 0.0)
        if descriptor is None:  # a fresh upload id: only a bug could get here
            raise OutboxError(f"submission {upload_id} is locked by another process")
        now = _now()
        try:
            with self._transaction():
                existing = self.db.execute(
                    "SELECT upload_id FROM submissions"
                    " WHERE topic = ? AND event_id = ? AND state != 'failed'",
                    (topic, event_id),
                ).fetchone()
                if existing is None:
                    self.db.execute(
                        "INSERT INTO submissions (upload_id, event_id, agency, document_id, title,"
                        " topic, bucket, metadata, event_time, state, accepted_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (upload_id, event_id, agency, document_id, title, topic, bucket,
                         json.dumps(metadata, ensure_ascii=False), event_time.isoformat(),
                         ACCEPTED, now, now),
                    )  # fmt: skip
                    self.db.executemany(
                        "INSERT INTO files (upload_id, sequence, file_name, mime_type, source_path,"
                        " spool_name, size_bytes, sha256, sm3, etag)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(upload_id, f.sequence, f.file_name, f.mime_type, f.source_path,
                          f.spool_name, f.size_bytes, f.sha256, f.sm3, f.etag) for f in files],
                    )  # fmt: skip
        except BaseException:
            os.close(descriptor)
            raise
        if existing is None:
            claim = Claim(self, upload_id, descriptor)
            self._claims[upload_id] = claim
            return claim
        os.close(descriptor)
        (self.locks_dir / upload_id).unlink(missing_ok=True)
        self.discard_spool(upload_id)
        return self.claim(existing["upload_id"], wait_s)

    # --- claiming -----------------------------------------------------------------------------
    def claim(self, upload_id: str, wait_s: float = 0.0) -> Claim | None:
        """The claim on a submission, waiting up to `wait_s` for another holder to let go; None if
        it does not. Read the entry through the claim: its state may have moved meanwhile."""
        if upload_id in self._claims:
            return None
        if self.get(upload_id) is None:
            raise OutboxError(f"no submission {upload_id} in the outbox")
        descriptor = self._lock(upload_id, wait_s)
        if descriptor is None:
            return None
        claim = Claim(self, upload_id, descriptor)
        self._claims[upload_id] = claim
        return claim

    def _lock(self, upload_id: str, wait_s: float) -> int | None:
        descriptor = os.open(self.locks_dir / upload_id, os.O_RDWR | os.O_CREAT, 0o600)
        give_up = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    os.close(descriptor)
                    return None
                time.sleep(OUTBOX_LOCK_POLL_S)

    def _require_claim(self, upload_id: str) -> None:
        if upload_id not in self._claims:
            raise OutboxError(f"submission {upload_id} changes only under its claim")

    # --- reading ------------------------------------------------------------------------------
    def get(self, upload_id: str) -> Entry | None:
        row = self.db.execute(
            "SELECT * FROM submissions WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        return None if row is None else self._entry(row)

    def entries(self, states: Sequence[str] = STATES) -> list[Entry]:
        """Submissions in these states, oldest first."""
        marks = ", ".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT * FROM submissions WHERE state IN ({marks}) ORDER BY accepted_at, upload_id",
            tuple(states),
        ).fetchall()
        return [self._entry(row) for row in rows]

    def pending(self) -> list[Entry]:
        return self.entries(PENDING)

    def _entry(self, row: sqlite3.Row) -> Entry:
        files = self.db.execute(
            "SELECT sequence, file_name, mime_type, source_path, spool_name, size_bytes, sha256,"
            " sm3, etag FROM files WHERE upload_id = ? ORDER BY sequence",
            (row["upload_id"],),
        ).fetchall()
        return Entry(
            upload_id=row["upload_id"],
            event_id=row["event_id"],
            agency=row["agency"],
            document_id=row["document_id"],
            title=row["title"],
            topic=row["topic"],
            bucket=row["bucket"],
            metadata=json.loads(row["metadata"]),
            event_time=dt.datetime.fromisoformat(row["event_time"]),
            state=row["state"],
            files=tuple(SpooledFile(*file) for file in files),  # columns in field order
            accepted_at=dt.datetime.fromisoformat(row["accepted_at"]),
            updated_at=dt.datetime.fromisoformat(row["updated_at"]),
            attempts=row["attempts"],
            last_error=row["last_error"],
            event_value=row["event_value"],
            partition=row["partition"],
            offset=row["offset"],
        )

    # --- moving on (each under the submission's claim) -------------------------------------------
    def _move(
        self, upload_id: str, allowed: Sequence[str], assignments: str, *values: Any
    ) -> Entry:
        """Apply `assignments` if the submission is in one of the `allowed` states; else refuse."""
        self._require_claim(upload_id)
        marks = ", ".join("?" * len(allowed))
        with self._transaction():
            changed = self.db.execute(
                f"UPDATE submissions SET {assignments}, updated_at = ?"
                f" WHERE upload_id = ? AND state IN ({marks})",
                (*values, _now(), upload_id, *allowed),
            ).rowcount
        entry = self.get(upload_id)
        if not changed or entry is None:
            state = entry.state if entry else "absent"
            raise OutboxError(f"submission {upload_id} is {state}, not {' or '.join(allowed)}")
        return entry

    def mark_staged(self, upload_id: str) -> Entry:
        """Every file is in the staging bucket under this submission's upload id."""
        return self._move(upload_id, (ACCEPTED,), "state = ?", STAGED)

    def set_event_value(self, upload_id: str, value: bytes) -> Entry:
        """Keep the encoded event: every send after this one sends these very bytes."""
        return self._move(
            upload_id, (STAGED,), "event_value = coalesce(event_value, ?)", sqlite3.Binary(value)
        )

    def mark_published(self, upload_id: str, partition: int, offset: int) -> Entry:
        """Kafka confirmed the event: done; the spooled copies go."""
        entry = self._move(
            upload_id, (STAGED,), 'state = ?, partition = ?, "offset" = ?, last_error = NULL',
            PUBLISHED, partition, offset,
        )  # fmt: skip
        self.discard_spool(upload_id)
        return entry

    def mark_failed(self, upload_id: str, reason: str) -> Entry:
        """Refused for good: no longer pending; the reason stays, the spooled copies go."""
        entry = self._move(
            upload_id, PENDING, "state = ?, last_error = ?, attempts = attempts + 1", FAILED, reason
        )
        self.discard_spool(upload_id)
        return entry

    def record_attempt(self, upload_id: str, reason: str) -> Entry:
        """An attempt failed for a reason that leaves the submission pending."""
        return self._move(upload_id, PENDING, "attempts = attempts + 1, last_error = ?", reason)

    # --- housekeeping -------------------------------------------------------------------------
    def sweep(self, *, keep_done_days: int = KEEP_DONE_DAYS) -> None:
        """Forget published and failed submissions older than `keep_done_days`, and remove spool
        folders and lock files that no pending submission needs any more."""
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=keep_done_days)).isoformat()
        with self._transaction():
            self.db.execute(
                "DELETE FROM submissions WHERE state IN (?, ?) AND updated_at < ?",
                (PUBLISHED, FAILED, cutoff),
            )
        states = {
            row["upload_id"]: row["state"]
            for row in self.db.execute("SELECT upload_id, state FROM submissions")
        }
        for folder in self.spool_dir.iterdir():
            state = states.get(folder.name)
            if state in (PUBLISHED, FAILED) or (state is None and _older_than_grace(folder)):
                self.discard_spool(folder.name)
        for lock in self.locks_dir.iterdir():
            state = states.get(lock.name)
            if state in PENDING or lock.name in self._claims:
                continue
            if state is None and not _older_than_grace(lock):
                continue
            descriptor = self._lock(lock.name, 0.0)
            if descriptor is not None:  # nobody holds it: safe to remove
                lock.unlink(missing_ok=True)
                os.close(descriptor)


# --- retry policy ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic clock) after which no new attempt starts."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


@dataclass
class Backoff:
    """Exponential backoff with jitter: the n-th pause lies in [c/2, c], c = min(max, first·2ⁿ).

    The jitter spreads out the producers that an outage stopped at the same moment, so that they
    do not all come back at the same moment too."""

    first_s: float = FIRST_BACKOFF_S
    max_s: float = MAX_BACKOFF_S
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.first_s * 2**self.attempt)
        self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)

    def pause(self, deadline: Deadline, sleep: Callable[[float], object] | None = None) -> bool:
        """Sleep before the next attempt; False (without sleeping) if that attempt would start
        after the deadline."""
        delay = self.next_delay()
        if delay >= deadline.remaining():
            return False
        (sleep or time.sleep)(delay)
        return True


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret in it replaced by ***, for what the outbox stores and prints."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def new_upload_id() -> str:
    return uuid.uuid4().hex


# --- files ----------------------------------------------------------------------------------
def _spool_file(source: Path, target: Path, *, link: bool) -> Digests:
    """`source` linked (when asked and the file system allows) or else copied to `target`; its
    digests, read from `target`, which is made durable either way."""
    if link:
        try:
            os.link(source, target)
        except OSError:  # another file system (EXDEV), or one without hard links: copy
            return _copy(source, target)
        digests = Digests()
        with target.open("rb") as reader:
            while chunk := reader.read(CHUNK):
                digests.update(chunk)
            os.fsync(reader.fileno())
        return digests
    return _copy(source, target)


def _copy(source: Path, target: Path) -> Digests:
    """Copy `source` to a new file `target` in one read, hashing as it goes; fsync the copy."""
    digests = Digests()
    with source.open("rb") as reader, target.open("xb") as writer:
        while chunk := reader.read(CHUNK):
            digests.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digests


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _older_than_grace(path: Path) -> bool:
    """True if `path` was last changed longer than ORPHAN_GRACE_S ago; False if it is gone (another
    process swept it meanwhile)."""
    try:
        return time.time() - path.stat().st_mtime > ORPHAN_GRACE_S
    except FileNotFoundError:
        return False


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
