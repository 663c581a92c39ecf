"""The outbox store (connectors/outbox.py): SQLite on disk and real files, no servers. What it
accepts survives the caller and a restart, moves one way through its states, is claimed by one
process at a time, and never becomes pending again once published or failed."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.outbox import (
    ACCEPTED,
    DATABASE,
    FAILED,
    ORPHAN_GRACE_S,
    PUBLISHED,
    STAGED,
    Backoff,
    Claim,
    Deadline,
    Outbox,
    OutboxError,
    new_upload_id,
    redact,
)

EVENT_TIME = dt.datetime(2026, 5, 6, 9, 30, 15, 123456, tzinfo=dt.UTC)
METADATA = {"document_id": "BGT-O-1", "title": "关于做好2026年防汛工作的通知", "page_count": 2}


def accept(outbox: Outbox, files: list[Path], event_id: str = "e-1", **changes: Any) -> str:
    """Spool `files` and record them as one submission; return its upload id (claim released)."""
    upload_id = new_upload_id()
    spooled = outbox.spool(upload_id, [(path, path.name, None) for path in files])
    fields: dict[str, Any] = {
        "upload_id": upload_id, "event_id": event_id, "agency": "bgt", "document_id": "BGT-O-1",
        "title": METADATA["title"], "topic": "ingest.bgt.lifecycle.v1", "bucket": "staging",
        "metadata": METADATA, "event_time": EVENT_TIME, "files": spooled, **changes,
    }  # fmt: skip
    claim = outbox.add(**fields)
    assert claim is not None
    claimed = claim.upload_id
    claim.release()
    return claimed


def claimed(outbox: Outbox, upload_id: str) -> Claim:
    claim = outbox.claim(upload_id)
    assert claim is not None
    return claim


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "通知.pdf"
    path.write_bytes(b"%PDF-1.7 notice " + os.urandom(4096))
    return path


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def test_the_database_is_in_wal_mode_with_full_sync(outbox: Outbox) -> None:
    assert outbox.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert (outbox.directory / DATABASE).is_file()


def test_an_accepted_file_is_safe_whatever_the_caller_does_with_its_own(
    outbox: Outbox, document: Path
) -> None:
    original = document.read_bytes()
    upload_id = accept(outbox, [document])
    document.write_bytes(b"changed after submit returned")
    document.unlink()

    entry = outbox.get(upload_id)
    assert entry is not None and entry.state == ACCEPTED and entry.pending
    (file,) = entry.files
    assert outbox.spooled_path(entry, file).read_bytes() == original
    assert file.sha256 == hashlib.sha256(original).hexdigest()
    assert file.sm3 == hashlib.new("sm3", original).hexdigest()
    assert file.etag == hashlib.md5(original).hexdigest()  # one PUT: the ETag is the MD5
    assert file.size_bytes == len(original)
    assert file.source_path == str(document.resolve())


def test_files_keep_their_order_and_names(outbox: Outbox, tmp_path: Path) -> None:
    first, second = tmp_path / "请示.pdf", tmp_path / "../附件 1.jpg"
    first.write_bytes(b"%PDF-1.7")
    second.write_bytes(b"\xff\xd8\xff")
    entry = outbox.get(accept(outbox, [first, second]))
    assert entry is not None
    assert [(f.sequence, f.file_name, f.spool_name) for f in entry.files] == [
        (1, "请示.pdf", "01-请示.pdf"), (2, "附件 1.jpg", "02-附件 1.jpg"),
    ]  # fmt: skip


def test_a_submission_moves_one_way_to_published(outbox: Outbox, document: Path) -> None:
    upload_id = accept(outbox, [document])
    with claimed(outbox, upload_id) as claim:
        assert outbox.mark_staged(upload_id).state == STAGED
        assert outbox.set_event_value(upload_id, b"\x00first").event_value == b"\x00first"
        # The first encoding stays: a resend is byte for byte what may already be in Kafka.
        assert outbox.set_event_value(upload_id, b"\x00second").event_value == b"\x00first"
        published = outbox.mark_published(upload_id, partition=2, offset=41)
        assert (published.state, published.partition, published.offset) == (PUBLISHED, 2, 41)
        assert not published.pending
        assert not (outbox.spool_dir / upload_id).exists()  # the copies have done their job
        for move in (
            lambda: outbox.mark_staged(upload_id),
            lambda: outbox.mark_published(upload_id, 2, 42),
            lambda: outbox.mark_failed(upload_id, "late"),
            lambda: outbox.record_attempt(upload_id, "late"),
        ):
            with pytest.raises(OutboxError, match="is published"):
                move()
        assert claim.entry == published  # unchanged by the refused moves
    assert outbox.pending() == []


def test_publishing_needs_staging_first(outbox: Outbox, document: Path) -> None:
    upload_id = accept(outbox, [document])
    with claimed(outbox, upload_id):
        with pytest.raises(OutboxError, match="is accepted, not staged"):
            outbox.mark_published(upload_id, 0, 0)
        with pytest.raises(OutboxError, match="is accepted, not staged"):
            outbox.set_event_value(upload_id, b"x")


def test_a_failed_submission_is_not_pending_and_keeps_its_reason(
    outbox: Outbox, document: Path
) -> None:
    upload_id = accept(outbox, [document])
    with claimed(outbox, upload_id):
        outbox.record_attempt(upload_id, "S3: connection refused")
        failed = outbox.mark_failed(upload_id, "Kafka: MSG_SIZE_TOO_LARGE")
    assert (failed.state, failed.last_error, failed.attempts) == (
        FAILED, "Kafka: MSG_SIZE_TOO_LARGE", 2,
    )  # fmt: skip
    assert outbox.pending() == []
    assert [entry.upload_id for entry in outbox.entries()] == [upload_id]
    assert not (outbox.spool_dir / upload_id).exists()
    # The same document may be submitted again after a failure: a new submission.
    again = accept(outbox, [document])
    assert again != upload_id
    assert [entry.upload_id for entry in outbox.pending()] == [again]


def test_changes_need_the_claim(outbox: Outbox, document: Path) -> None:
    upload_id = accept(outbox, [document])
    with pytest.raises(OutboxError, match="only under its claim"):
        outbox.mark_staged(upload_id)
    with pytest.raises(OutboxError, match="only under its claim"):
        outbox.record_attempt(upload_id, "x")
    entry = outbox.get(upload_id)
    assert entry is not None and (entry.state, entry.attempts) == (ACCEPTED, 0)


def test_the_same_event_accepted_twice_is_one_submission(outbox: Outbox, document: Path) -> None:
    first = accept(outbox, [document], event_id="same")
    second = accept(outbox, [document], event_id="same")
    assert second == first
    assert [entry.upload_id for entry in outbox.entries()] == [first]
    assert sorted(path.name for path in outbox.spool_dir.iterdir()) == [first]
    # The same event id for another topic (another environment) is another submission.
    other = accept(outbox, [document], event_id="same", topic="t1.ingest.bgt.lifecycle.v1")
    assert other != first


def test_a_second_accept_of_a_published_event_finds_it_published(
    outbox: Outbox, document: Path
) -> None:
    upload_id = accept(outbox, [document], event_id="done")
    with claimed(outbox, upload_id):
        outbox.mark_staged(upload_id)
        outbox.mark_published(upload_id, 0, 7)
    again = accept(outbox, [document], event_id="done")
    assert again == upload_id
    entry = outbox.get(again)
    assert entry is not None and entry.state == PUBLISHED and entry.offset == 7
    assert outbox.pending() == []


def test_everything_survives_a_restart(tmp_path: Path, document: Path) -> None:
    """What one process accepted and staged, a new process finds as it was left: the same upload
    id, event time, encoded event and files, with the claim free again."""
    first = Outbox(tmp_path / "outbox")
    upload_id = accept(first, [document])
    claim = first.claim(upload_id)
    assert claim is not None
    first.mark_staged(upload_id)
    first.set_event_value(upload_id, b"\x00\x00\x00\x00\x07event")
    before = first.get(upload_id)
    first.close()  # the process ends without releasing anything explicitly

    second = Outbox(tmp_path / "outbox")
    (entry,) = second.pending()
    assert entry == before
    assert entry.event_time == EVENT_TIME
    assert entry.metadata == METADATA
    with claimed(second, upload_id) as again:
        assert again.entry.event_value == b"\x00\x00\x00\x00\x07event"
        second.mark_published(upload_id, 0, 0)
    assert second.pending() == []


def test_a_claim_is_exclusive_between_processes(tmp_path: Path, document: Path) -> None:
    one, two = Outbox(tmp_path / "outbox"), Outbox(tmp_path / "outbox")
    upload_id = accept(one, [document])
    claim = one.claim(upload_id)
    assert claim is not None
    assert two.claim(upload_id) is None
    started = time.monotonic()
    assert two.claim(upload_id, wait_s=0.3) is None
    assert time.monotonic() - started >= 0.3
    assert one.claim(upload_id) is None  # not twice in one process either
    claim.release()
    assert two.claim(upload_id) is not None


def test_a_dead_process_leaves_no_claim_behind(tmp_path: Path, document: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    upload_id = accept(outbox, [document])
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from connectors.outbox import Outbox; "
         f"claim = Outbox(Path({str(tmp_path / 'outbox')!r})).claim({upload_id!r}); "
         "print('held' if claim else 'busy', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert outbox.claim(upload_id) is None
    finally:
        holder.kill()
        holder.wait()
    claim = outbox.claim(upload_id, wait_s=5)
    assert claim is not None


def test_a_failed_spool_leaves_nothing_behind(outbox: Outbox, tmp_path: Path) -> None:
    present = tmp_path / "a.pdf"
    present.write_bytes(b"%PDF")
    upload_id = new_upload_id()
    with pytest.raises(FileNotFoundError):
        outbox.spool(upload_id, [(present, "a.pdf", None), (tmp_path / "gone.pdf", "b", None)])
    assert list(outbox.spool_dir.iterdir()) == []
    assert outbox.entries() == []


def test_sweep_removes_what_no_pending_submission_needs(outbox: Outbox, document: Path) -> None:
    pending = accept(outbox, [document], event_id="pending")
    done = accept(outbox, [document], event_id="done")
    with claimed(outbox, done):
        outbox.mark_staged(done)
        outbox.mark_published(done, 0, 0)
    (outbox.spool_dir / done).mkdir()  # as if the process died before removing the copies
    young_orphan = outbox.spool_dir / "young"  # another process's acceptance under way
    young_orphan.mkdir()
    old_orphan = outbox.spool_dir / "old"  # a process died between copying and recording
    old_orphan.mkdir()
    long_ago = time.time() - ORPHAN_GRACE_S - 60
    os.utime(old_orphan, (long_ago, long_ago))

    outbox.sweep()
    assert sorted(path.name for path in outbox.spool_dir.iterdir()) == [pending, "young"]
    assert sorted(path.name for path in outbox.locks_dir.iterdir()) == [pending]
    assert {entry.upload_id for entry in outbox.entries()} == {pending, done}

    # Published submissions are forgotten after the keeping period; pending ones never.
    outbox.db.execute("UPDATE submissions SET updated_at = '2000-01-01T00:00:00+00:00'")
    outbox.sweep()
    assert [entry.upload_id for entry in outbox.entries()] == [pending]
    files_left = outbox.db.execute("SELECT count(*) FROM files WHERE upload_id = ?", (done,))
    assert files_left.fetchone()[0] == 0


def test_an_outbox_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Outbox(tmp_path / "outbox").close()
    with sqlite3.connect(tmp_path / "outbox" / DATABASE) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxError, match="newer recordflow"):
        Outbox(tmp_path / "outbox")


def test_an_unusable_folder_is_an_outbox_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OutboxError, match="cannot open the outbox"):
        Outbox(tmp_path / "file")


def test_event_time_must_carry_its_zone(outbox: Outbox, document: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        accept(outbox, [document], event_time=dt.datetime(2026, 5, 6, 9, 30))


def test_entry_json_carries_no_event_bytes(outbox: Outbox, document: Path) -> None:
    upload_id = accept(outbox, [document])
    with claimed(outbox, upload_id):
        outbox.mark_staged(upload_id)
        entry = outbox.set_event_value(upload_id, b"\x00secret-bytes")
    shown = entry.as_json()
    assert "event_value" not in shown and "metadata" not in shown
    assert shown["files"][0]["sha256"] == entry.files[0].sha256


# --- retry policy ---------------------------------------------------------------------------
def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(first_s=1.0, max_s=8.0, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed ladder
    other = Backoff(first_s=1.0, max_s=8.0, rng=random.Random(5))
    assert [other.next_delay() for _ in range(6)] != delays


def test_no_pause_runs_past_the_deadline() -> None:
    slept: list[float] = []
    backoff = Backoff(first_s=1.0, max_s=8.0, rng=random.Random(0))
    assert backoff.pause(Deadline.after(60), sleep=slept.append)
    assert len(slept) == 1 and 0.5 <= slept[0] <= 1.0
    assert not backoff.pause(Deadline.after(0.5), sleep=slept.append)  # next pause is ≥ 1 s
    assert len(slept) == 1
    assert Deadline.after(0).expired and not Deadline.after(60).expired


def test_redact_hides_every_secret() -> None:
    text = "SignatureDoesNotMatch for key s3cr3t (and s3cr3t-longer), user pw=hunter2"
    assert redact(text, ["s3cr3t", "s3cr3t-longer", "hunter2", ""]) == (
        "SignatureDoesNotMatch for key *** (and ***), user pw=***"
    )


def test_an_unchanging_file_is_linked_not_copied(outbox: Outbox, tmp_path: Path) -> None:
    scan = tmp_path / "Z101-WS·1998-Y-BGS-0001-1.jpg"
    scan.write_bytes(b"\xff\xd8\xff scanned page" * 1000)
    upload_id = new_upload_id()
    (spooled,) = outbox.spool(upload_id, [(scan, scan.name, None)], link=True)
    kept = outbox.spool_dir / upload_id / spooled.spool_name
    assert kept.stat().st_ino == scan.stat().st_ino  # no second copy of the bytes
    assert spooled.sha256 == hashlib.sha256(scan.read_bytes()).hexdigest()
    scan.unlink()  # the batch folder cleared: the outbox's link keeps the bytes
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == spooled.sha256


def test_a_file_on_another_file_system_is_copied_after_all(
    outbox: Outbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def across_devices(source: Path, target: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", across_devices)
    scan = tmp_path / "page.jpg"
    scan.write_bytes(b"\xff\xd8\xff page")
    upload_id = new_upload_id()
    (spooled,) = outbox.spool(upload_id, [(scan, scan.name, None)], link=True)
    kept = outbox.spool_dir / upload_id / spooled.spool_name
    assert kept.stat().st_ino != scan.stat().st_ino and kept.read_bytes() == scan.read_bytes()
