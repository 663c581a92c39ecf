"""The chaos suite's load and its ledger: a steady stream of submissions from several agencies, and
the account, after a fault, of what became of every one of them."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.outbox import Outbox, SubmissionHeld
from connectors.readback import dead_letters, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.samples import render_pdf
from recordflow.settings import Settings
from streams.reference import parse
from tests.integration.cli import run_cli

# Agencies and the unit each one files under: three agencies, so three fonds and series.
SOURCES = (("bgt", "市人民政府办公厅", "BGS"), ("zjj", "市住房和城乡建设局", "BGS"),
           ("bdc", "市不动产登记中心", "BGS"))  # fmt: skip
SUBMIT_DEADLINE_S = 2.0
FLUSH_TIMEOUT_S = 180.0


class Load:
    """Submits one document after another, round-robin over the agencies, at `rate_per_s`,
    through the producer's outbox as `recordflow submit` does: a submission that cannot be
    delivered within SUBMIT_DEADLINE_S (S3 or Kafka down) is held in the outbox, and the load goes
    on; `finish` flushes what is held. A document counts as submitted once the outbox accepted it.
    """

    def __init__(self, settings: Settings, directory: Path, tag: str, rate_per_s: float) -> None:
        self.settings = settings
        self.directory = directory
        self.tag = tag
        self.interval_s = 1 / rate_per_s
        self.submitted: dict[str, str] = {}  # document id → event id
        self.held = 0  # submissions the outbox held (delivered later by flush)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"load-{tag}", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop submitting, then deliver whatever the outbox still holds."""
        self._stop.set()
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        submitter = self._submitter()
        try:
            deadline = time.monotonic() + FLUSH_TIMEOUT_S
            while submitter.outbox and submitter.outbox.pending():
                assert time.monotonic() < deadline, "the outbox did not empty"
                submitter.flush_outbox(deadline_s=30)
        finally:
            submitter.close()

    def _submitter(self) -> Submitter:
        return Submitter(self.settings, outbox=Outbox(self.directory / "outbox"))

    def _run(self) -> None:
        submitter = self._submitter()
        index = 0
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                self._submit_one(submitter, index)
                index += 1
                time.sleep(max(0.0, self.interval_s - (time.monotonic() - began)))
        except BaseException as exc:  # an unforeseen failure fails the test, not silently
            self._failure = exc
        finally:
            submitter.close()

    def _submit_one(self, submitter: Submitter, index: int) -> None:
        agency, party, unit = SOURCES[index % len(SOURCES)]
        document_id = f"{agency.upper()}-{self.tag}-{index:05d}"
        path = self.directory / f"{document_id}.pdf"
        title = f"关于{self.tag}第{index}号事项的通知"
        number = f"{self.tag}〔2026〕{index}号"
        path.write_bytes(render_pdf(title, number, party, "2026-06-01", "正文"))
        metadata = {"document_id": document_id, "title": title, "document_number": number,
                    "responsible_party": party, "document_date": "2026-06-01",
                    "document_type": "通知", "unit_code": unit}  # fmt: skip
        try:
            receipt = submitter.submit(agency, [FileToSubmit(path)], metadata,
                                       deadline_s=SUBMIT_DEADLINE_S)  # fmt: skip
            self.submitted[document_id] = receipt.event_id
        except SubmissionHeld as held:
            self.held += 1
            self.submitted[document_id] = held.entry.event_id


@dataclass
class Ledger:
    """What became of every submission after one fault."""

    fault: str
    submitted: int
    archived: int
    dead_lettered: int
    duplicated: int
    lost: int
    series: int
    gaps: list[str] = field(default_factory=list)
    fixity_failures: int = 0
    held: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return (self.archived == self.submitted and not self.dead_lettered and not self.duplicated
                and not self.lost and not self.gaps and not self.fixity_failures)  # fmt: skip


def account(fault: str, settings: Settings, load: Load, *, timeout_s: float,
            seconds: float) -> Ledger:  # fmt: skip
    """Wait for every submission's outcome, then count: archived exactly once, dead-lettered,
    duplicated (a document with more than one reference code), lost (no outcome at all); check
    that item numbers are gap-free per series and that every stored object verifies."""
    codec = Codec.from_url(settings.schema_registry_url)
    event_ids = set(load.submitted.values())
    outcomes = watch_outcomes(settings, codec, event_ids, timeout_s=timeout_s)
    codes_by_document: dict[str, set[str]] = defaultdict(set)
    for _, value in read_topic(settings, settings.archival_ready_topic):
        if value is not None:
            record: dict[str, Any] = codec.decode(value, "archival_record")
            codes_by_document[record["document_id"]].add(record["reference_code"])
    letters = {letter["event_id"] for letter in dead_letters(settings, codec)}
    numbers: dict[str, list[int]] = defaultdict(list)
    for code in {code for codes in codes_by_document.values() for code in codes}:
        series, item = parse(code)
        numbers[str(series)].append(item)
    gaps = [
        f"{series}: {sorted(items)[:5]}…"
        for series, items in numbers.items()
        if sorted(items) != list(range(1, len(items) + 1))
    ]
    verified = run_cli(settings, "verify", "--json")  # re-reads every object, recomputes SHA-256
    assert verified.returncode in (0, 1), verified.stderr  # 1: some record has a problem
    results = json.loads(verified.stdout)
    fixity_failures = sum(1 for result in results if result["status"] != "ok")
    archived = sum(1 for doc in load.submitted if codes_by_document.get(doc))
    return Ledger(
        fault=fault,
        submitted=len(load.submitted),
        archived=archived,
        dead_lettered=len(letters),
        duplicated=sum(1 for codes in codes_by_document.values() if len(codes) > 1),
        lost=sum(1 for event_id in event_ids if event_id not in outcomes),
        series=len(numbers),
        gaps=gaps,
        fixity_failures=fixity_failures,
        held=load.held,
        seconds=seconds,
    )
