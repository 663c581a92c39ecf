"""Drops: where agencies leave offline transfer packages for `recordflow import packages --watch`.
Per registered agency, a local folder `<drop_dir>/<agency>/` and the S3 prefix `drop/<agency>/` in
the staging bucket. docs/design.md, "Package import".

A package is taken only when complete:
- locally, a file under its final name (written under a temporary name — `.part`, `.tmp`, a dot
  or `~` name — then renamed), or anything (a folder above all) with its `<name>.ready` marker;
- on S3, where nothing can be renamed, a key or prefix `<name>` once its `<name>.ready` marker
  object is there (put the marker last).

A taken package moves to `in-progress/` first, then to `done/` (read; its records' outcomes in
the report) or `failed/` (refused whole), with `<name>.report.json` and `.report.txt` beside it.
A watcher that dies mid-package finds it in `in-progress/` when it starts again and imports it
again: the document ids are derived from the package's content and the event ids from them, and
the outbox holds what was sent, so no record is submitted twice.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from minio import Minio
from minio.commonconfig import CopySource
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from archival.packages.intake import PackageReport
from connectors.outbox import Outbox
from connectors.package_import import import_package
from connectors.storage import Storage
from recordflow.agencies import Agency
from recordflow.settings import Settings

log = logging.getLogger(__name__)

MARKER = ".ready"
TEMPORARY_SUFFIXES = (".part", ".tmp")
IN_PROGRESS, DONE, FAILED = "in-progress", "done", "failed"
STEPS = (IN_PROGRESS, DONE, FAILED)
REPORT_SUFFIXES = (".report.json", ".report.txt")
S3_PREFIX = "drop"
S3_POLL_S = 10.0  # how often the watcher lists the S3 drops (S3 has no change events here)


# --- completeness: pure ------------------------------------------------------------------------
def is_temporary(name: str) -> bool:
    """A name a package has while it is being written."""
    return name.startswith((".", "~")) or name.endswith(TEMPORARY_SUFFIXES)


def complete_local(entries: dict[str, bool]) -> list[str]:
    """The complete packages among a drop folder's entries (name → is a folder): a file under a
    final name, or anything with its marker. A folder without a marker may still be filling up:
    its files close one by one, and nothing says which is the last."""
    names = set(entries)
    return [
        name for name, is_folder in sorted(entries.items())
        if name not in STEPS and not is_temporary(name) and not name.endswith(MARKER)
        and (not is_folder or name + MARKER in names)
    ]  # fmt: skip


def complete_s3(keys: Iterable[str]) -> list[str]:
    """The complete packages among keys under `drop/<agency>/`: a first segment (an object, or a
    prefix holding a folder's files) whose `<name>.ready` marker is there."""
    keys = list(keys)
    heads = {key.split("/", 1)[0] for key in keys}
    return sorted(
        head for head in heads
        if head not in STEPS and not head.endswith(MARKER) and head + MARKER in heads
    )  # fmt: skip


def in_progress(names: Iterable[str]) -> list[str]:
    """The packages a stopped watcher was importing: `in-progress/` without the reports."""
    return sorted({n for n in names if not n.endswith(REPORT_SUFFIXES)})


# --- local folders -----------------------------------------------------------------------------
def _free_name(folder: Path, name: str) -> str:
    """`name`, or `name` with a time added if a package of that name is already in `folder`."""
    if not (folder / name).exists() and not (folder / f"{name}.report.json").exists():
        return name
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


class LocalDrop:
    def __init__(self, settings: Settings, agency: Agency, outbox: Outbox) -> None:
        self.settings, self.agency, self.outbox = settings, agency, outbox
        self.folder = settings.drop_path / agency.code
        for step in STEPS:
            (self.folder / step).mkdir(parents=True, exist_ok=True)

    def run(self) -> list[PackageReport]:
        """Finish what was in progress, then take every complete package."""
        taking = self.folder / IN_PROGRESS
        for name in complete_local({p.name: p.is_dir() for p in self.folder.iterdir()}):
            (self.folder / name).rename(taking / name)  # one rename: taken whole, or not at all
            (self.folder / (name + MARKER)).unlink(missing_ok=True)
        return [
            self._import(taking / name) for name in in_progress(p.name for p in taking.iterdir())
        ]

    def _import(self, path: Path) -> PackageReport:
        report = import_package(self.settings, path, self.agency, self.outbox)
        step = self.folder / (DONE if report.read else FAILED)
        name = _free_name(step, path.name)
        report.write(step, name)  # the report first: a crash before the move imports it again
        path.rename(step / name)
        log.info("drop %s: %s → %s", self.agency.code, path.name, step.name)
        return report


class _Wake(FileSystemEventHandler):
    """Wakes the watcher when a file was closed after writing or something was renamed into a
    drop; never on creation (a created file is still being written)."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_closed(self, event: FileSystemEvent) -> None:
        self.wake.set()

    def on_moved(self, event: FileSystemEvent) -> None:
        self.wake.set()


# --- S3 ------------------------------------------------------------------------------------------
class S3Drop:
    def __init__(self, settings: Settings, agency: Agency, outbox: Outbox, client: Minio) -> None:
        self.settings, self.agency, self.outbox, self.client = settings, agency, outbox, client
        self.bucket = settings.staging_bucket
        self.prefix = f"{S3_PREFIX}/{agency.code}/"

    def _keys(self, under: str = "") -> list[str]:
        objects = self.client.list_objects(self.bucket, self.prefix + under, recursive=True)
        return [o.object_name[len(self.prefix + under) :] for o in objects if o.object_name]

    def _move(self, source: str, target: str) -> None:
        """Every object of `source` (a key, or a prefix) to `target` (S3 cannot rename)."""
        for key in self._keys():
            if key == source or key.startswith(source + "/"):
                moved = self.prefix + target + key[len(source) :]
                self.client.copy_object(
                    self.bucket, moved, CopySource(self.bucket, self.prefix + key)
                )
                self.client.remove_object(self.bucket, self.prefix + key)

    def run(self) -> list[PackageReport]:
        for name in complete_s3(self._keys()):
            self._move(name, f"{IN_PROGRESS}/{name}")
            self.client.remove_object(self.bucket, self.prefix + name + MARKER)
        taking = self._keys(IN_PROGRESS + "/")
        names = in_progress(key.split("/", 1)[0] for key in taking)
        return [self._import(name) for name in names]

    def _import(self, name: str) -> PackageReport:
        with tempfile.TemporaryDirectory(prefix="recordflow-drop-") as scratch:
            local = Path(scratch) / name
            for key in self._keys(f"{IN_PROGRESS}/{name}"):
                if key and not key.startswith("/"):  # another package whose name begins so
                    continue  # ("" is the object itself, "/…" a file of a folder)
                target = Path(scratch) / (name + key)
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.fget_object(self.bucket, f"{self.prefix}{IN_PROGRESS}/{name}{key}",
                                        str(target))  # fmt: skip
            report = import_package(self.settings, local, self.agency, self.outbox, name=name)
            step = DONE if report.read else FAILED
            report.write(Path(scratch) / "reports", name)
            for path in sorted((Path(scratch) / "reports").iterdir()):
                self.client.fput_object(self.bucket, f"{self.prefix}{step}/{path.name}", str(path))
        self._move(f"{IN_PROGRESS}/{name}", f"{step}/{name}")
        log.info("drop s3://%s/%s%s → %s", self.bucket, self.prefix, name, step)
        return report


# --- the watcher ---------------------------------------------------------------------------------
class DropWatcher:
    """Every drop of every agency given: local folders and S3 prefixes. With `registry` (the live
    agency registry, connectors/agency_registry.py), each round also takes up the drops of an
    agency onboarded since: no restart."""

    def __init__(self, settings: Settings, agencies: Iterable[Agency], outbox: Outbox, *,
                 registry: Callable[[], Iterable[Agency]] | None = None) -> None:  # fmt: skip
        self.settings, self.outbox, self.registry = settings, outbox, registry
        self.client = Storage(settings).client
        self.drops: list[LocalDrop | S3Drop] = []
        self.watched: set[str] = set()  # agency codes
        self.failures: list[str] = []  # one line per drop that could not be worked (a server away)
        self._observer: BaseObserver | None = None
        self._wake = threading.Event()
        self._add(agencies)

    def _add(self, agencies: Iterable[Agency]) -> None:
        for agency in agencies:
            if agency.code in self.watched or not agency.active:
                continue
            self.watched.add(agency.code)
            local = LocalDrop(self.settings, agency, self.outbox)
            self.drops += [local, S3Drop(self.settings, agency, self.outbox, self.client)]
            if self._observer is not None:
                self._observer.schedule(_Wake(self._wake), str(local.folder), recursive=False)

    def once(self) -> list[PackageReport]:
        """One round over every drop. A drop that fails (S3 or Kafka away) is left as it is for the
        next round, its package in in-progress/; the others go on."""
        if self.registry is not None:
            self._add(self.registry())
        reports: list[PackageReport] = []
        for drop in self.drops:
            try:
                reports += drop.run()
            except Exception as exc:  # the watcher outlives any one drop's failure; it is logged
                where = drop.folder if isinstance(drop, LocalDrop) else drop.prefix
                self.failures.append(f"{where}: {type(exc).__name__}: {exc}")
                log.warning("drop %s: %s: %s; retried next round", where, type(exc).__name__, exc)
        return reports

    def watch(self, stop: threading.Event | None = None) -> Iterator[list[PackageReport]]:
        """Rounds until `stop`: at once when a local drop changes, else every S3_POLL_S."""
        stop = stop or threading.Event()
        observer = self._observer = Observer()
        for drop in self.drops:
            if isinstance(drop, LocalDrop):
                observer.schedule(_Wake(self._wake), str(drop.folder), recursive=False)
        observer.start()
        try:
            while not stop.is_set():
                yield self.once()
                self._wake.wait(S3_POLL_S)
                self._wake.clear()
        finally:
            self._observer = None
            observer.stop()
            observer.join()
