"""Submitting a batch of existing records (a transfer package's, a digitization or photo batch's)
and learning what became of each: what `recordflow import packages`, `import digitized` and
`import photos` share.

Each item goes through the SDK's outbox (connectors/outbox.py): its files are copied and its
submission recorded before anything is sent, so an import that dies part-way resumes where it
stopped, and an item is sent once. An item's event id is derived from its agency, document id and
file digests (connectors/sdk.py `event_id_for`), so importing the same batch again sends the same
events, which the pipeline knows (the register stage gives a redelivered event the record it
already has): a rerun adds nothing. An item whose 档号 is in the catalog already, archived from
the same event, is not sent at all: a rerun of 200,000 items re-reads no file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from archival.digitization import LinkReport
from archival.metadata import MetadataRules, document_type_in_title
from avro_schemas.codec import Codec
from connectors.outbox import Outbox, SubmissionFailed, SubmissionHeld
from connectors.readback import Outcome, catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.errors import SubmitError
from recordflow.settings import Settings

OUTCOME_TIMEOUT_S = 300.0
# Items submitted at once: each waits on S3 and on Kafka's confirmation, so a few in flight keep
# the worker's register stage (16 records at a time) fed. Measured with `recordflow bench --import`.
SUBMIT_THREADS = 4

# What became of an item: the pipeline's outcomes (archived, review, rejected), refused by the
# SDK's checks before anything was sent (their reason code), held in the outbox (Kafka or S3
# away: `recordflow outbox flush` sends it), already archived by an earlier run, or no outcome
# within the time limit (pending).
ARCHIVED, REVIEW, REJECTED = "archived", "review", "rejected"
REFUSED, HELD, ALREADY, PENDING = "refused", "held", "already-archived", "pending"


@dataclass(frozen=True)
class ImportItem:
    key: str  # what the report calls it: a 档号, a package record's source id
    agency: str
    metadata: dict[str, Any]  # as `recordflow submit --metadata` takes it
    files: list[Path]
    pages: int = 0  # for the progress figures
    size: int = 0


@dataclass
class ItemResult:
    key: str
    status: str
    event_id: str | None = None
    reference_code: str | None = None
    retention_period: str | None = None
    reason: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, key: str, event_id: str, outcome: Outcome | None) -> ItemResult:
        if outcome is None:
            return cls(key, PENDING, event_id)
        return cls(key, outcome.status, event_id, outcome.reference_code,
                   outcome.retention_period, outcome.reason, outcome.detail)  # fmt: skip


def import_items(settings: Settings, items: Sequence[ImportItem], outbox: Outbox, *,
                 on_item: Callable[[ImportItem], None] = lambda _: None,
                 threads: int = SUBMIT_THREADS,
                 timeout_s: float = OUTCOME_TIMEOUT_S) -> list[ItemResult]:  # fmt: skip
    """Submit every item not archived yet, `threads` at a time, then wait (up to `timeout_s`)
    for their outcomes. `on_item` hears of each item once it is safe in the outbox (or refused):
    progress. Each thread has its own Submitter and its own handle on `outbox`'s folder (one
    handle per thread, as the outbox wants); the order of items does not matter to the archive,
    since each legacy record brings its own 档号 and new ones are numbered as they arrive."""
    codec = Codec.from_url(settings.schema_registry_url)
    archived = catalog(settings, codec)  # by 档号: one read of the compacted topic
    # A record with no 档号 of its own (an EEP's, a bag's) is known by its agency and document id.
    by_document = {(r["agency"]["code"], r["document_id"]): r for r in archived.values()}
    results: dict[str, ItemResult] = {}
    queue: Queue[ImportItem] = Queue()
    for item in items:
        queue.put(item)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def submit_from_queue() -> None:
        # SQLite wants each connection used (and closed) by the thread that made it.
        own = Outbox(outbox.directory)
        submitter = Submitter(settings, outbox=own)
        try:
            while not failures:
                try:
                    item = queue.get_nowait()
                except Empty:
                    return
                code = item.metadata.get("reference_code")
                record = (archived.get(str(code)) if code
                          else by_document.get((item.agency, item.metadata.get("document_id"))))  # fmt: skip
                if record is not None and record["document_id"] == item.metadata.get("document_id"):
                    result = ItemResult(item.key, ALREADY, record["event_id"],
                                        record["reference_code"], record["retention_period"])  # fmt: skip
                else:
                    result = _submit(submitter, item)
                with lock:
                    results[item.key] = result
                on_item(item)
        except BaseException as exc:  # what no item could survive: the caller hears of it
            failures.append(exc)
        finally:
            submitter.close()
            own.close()

    workers = [threading.Thread(target=submit_from_queue, name=f"import-{n}")
               for n in range(max(1, min(threads, len(items))))]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    waiting = {key: r.event_id for key, r in results.items() if r.status == PENDING and r.event_id}
    if waiting:
        outcomes = watch_outcomes(settings, codec, set(waiting.values()), timeout_s=timeout_s)
        for key, event_id in waiting.items():
            results[key] = ItemResult.of(key, event_id, outcomes.get(event_id))
    return [results[item.key] for item in items]


def _submit(submitter: Submitter, item: ImportItem) -> ItemResult:
    files = [FileToSubmit(path, unchanging=True) for path in item.files]
    try:
        receipt = submitter.submit(item.agency, files, item.metadata)
    except SubmissionHeld as exc:  # safe in the outbox; a rerun or `outbox flush` sends it
        return ItemResult(item.key, HELD, exc.entry.event_id, detail=exc.reason)
    except SubmissionFailed as exc:
        return ItemResult(item.key, REFUSED, exc.entry.event_id, detail=exc.reason)
    except SubmitError as exc:
        reason, _, detail = str(exc).partition(": ")
        return ItemResult(item.key, REFUSED, reason=reason if detail else None,
                          detail=detail or str(exc))  # fmt: skip
    return ItemResult(item.key, PENDING, receipt.event_id)  # its outcome is to be followed


# --- a linked batch (digitized paper, photos) -----------------------------------------------------
# What became of a submitted item, as the 挂接 report's outcome (held or pending: none yet).
REPORT_OUTCOMES = {ARCHIVED: "archived", ALREADY: "archived", REJECTED: "rejected",
                   REFUSED: "rejected"}  # fmt: skip


def linked_items(report: LinkReport, agency: str, rules: MetadataRules) -> list[ImportItem]:
    """The linked items of a batch as submissions: digitized copies of their original (paper, a
    photo print), or born digital (a camera's photo); each with the 文种 its title ends with when
    neither the catalogue nor its category says one (paper catalogues seldom do: 关于…的通知)."""
    items = []
    for item in report.linked:
        metadata = dict(item.metadata)
        kind = document_type_in_title(str(metadata.get("title") or ""), rules)
        if not metadata.get("document_type") and kind:
            metadata["document_type"] = kind
        metadata["carrier"] = (
            {"medium": "electronic"}
            if item.carrier is None
            else {"medium": "digitized", "original_medium": item.carrier}
        )
        size = sum(path.stat().st_size for path in item.files)
        items.append(ImportItem(item.reference_code, agency, metadata, list(item.files),
                                pages=item.pages, size=size))  # fmt: skip
    return items


def record_outcomes(report: LinkReport, results: Sequence[ItemResult]) -> None:
    """Each submitted item's outcome into the 挂接 report."""
    for result in results:
        if (outcome := REPORT_OUTCOMES.get(result.status)) is not None:
            report.record_outcome(result.key, outcome, result.reason, result.detail)  # type: ignore[arg-type]
