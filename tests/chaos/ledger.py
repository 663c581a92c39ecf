"""The chaos suite's load and its ledger: a steady stream of submissions from several agencies, and
the account, after a fault, of what became of every one of them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from archival.reference import parse
from avro_schemas.codec import Codec
from connectors.outbox import Outbox, SubmissionHeld
from connectors.readback import dead_letters, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.agencies import load_registry
from recordflow.demo.samples import render_pdf
from recordflow.settings import Settings
from tests.integration.cli import run_cli
from topics.reconcile import admin_client

# Agencies and the unit each one files under: three agencies, so three fonds and series.
SOURCES = (("bgt", "市人民政府办公厅", "BGS"), ("zjj", "市住房和城乡建设局", "BGS"),
           ("bdc", "市不动产登记中心", "BGS"))  # fmt: skip
SUBMIT_DEADLINE_S = 2.0
FLUSH_TIMEOUT_S = 180.0
SETTLE_TIMEOUT_S = 30.0  # for the pipeline's last offset commits (faust commits every ~3 s)
KAFKA_TIMEOUT_S = 10.0
# Errors of a partition whose leader is being elected (just created, or a broker restarting).
LEADER_MOVING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}


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
    # Input partitions whose committed offset stayed short of their end once the run settled.
    stalled: list[str] = field(default_factory=list)
    # Reference codes (档号) published more than once on records.archival-ready.v1.
    published_twice: int = 0

    @property
    def clean(self) -> bool:
        return (self.archived == self.submitted and not self.dead_lettered and not self.duplicated
                and not self.lost and not self.gaps and not self.fixity_failures
                and not self.stalled and not self.published_twice)  # fmt: skip


def account(fault: str, settings: Settings, load: Load, *, timeout_s: float,
            seconds: float) -> Ledger:  # fmt: skip
    """Wait for every submission's outcome, then count: archived exactly once, dead-lettered,
    duplicated (a document with more than one reference code), lost (no outcome at all),
    published twice (a reference code in more than one archival-ready message); check that item
    numbers are gap-free per series, that every stored object verifies and that no input
    partition is left behind its end (stalled)."""
    codec = Codec.from_url(settings.schema_registry_url)
    event_ids = set(load.submitted.values())
    outcomes = watch_outcomes(settings, codec, event_ids, timeout_s=timeout_s)
    codes_by_document: dict[str, set[str]] = defaultdict(set)
    published = list(read_topic(settings, settings.archival_ready_topic))  # read_committed
    for _, value in published:
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
    # Every outcome is out; the pipeline's last offset commits may still be on their way.
    stalled = stalled_partitions(settings, settings.consumer_group, input_topics(settings),
                                 settle_s=SETTLE_TIMEOUT_S)  # fmt: skip
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
        stalled=stalled,
        published_twice=published_twice(key for key, _ in published),
    )


# --- published twice ----------------------------------------------------------------------------
def published_twice(keys: Iterable[bytes | None]) -> int:
    """How many keys (reference codes, on records.archival-ready.v1) come in more than one
    message: each such code was published twice or more."""
    return sum(1 for count in Counter(key for key in keys if key is not None).values() if count > 1)


# --- stalled partitions -------------------------------------------------------------------------
Partition = tuple[str, int]


def input_topics(settings: Settings) -> list[str]:
    """The topics the pipeline's consumer group reads: every agency's ingest topic (intake) and
    recordflow.register.v1 (register)."""
    agencies = load_registry(settings.agencies_file).agencies
    return [*(settings.ingest_topic(agency.code) for agency in agencies), settings.register_topic]


def behind(committed: Mapping[Partition, int | None],
           watermarks: Mapping[Partition, tuple[int, int]]) -> dict[Partition, int]:  # fmt: skip
    """Partitions whose committed offset (None: nothing committed) is short of their end, each
    with the offset the group would read next. `watermarks`: (low, high) per partition."""
    pending = {}
    for partition, (low, high) in watermarks.items():
        position = committed.get(partition)
        start = low if position is None else max(position, low)
        if start < high:
            pending[partition] = start
    return pending


def stalled_partitions(settings: Settings, group: str, topics: Iterable[str], *,
                       settle_s: float = 0.0) -> list[str]:  # fmt: skip
    """Partitions of `topics` where consumer group `group` has not committed past every
    (committed, read_committed) message, as `topic[partition] at <committed> of <end>`. Asked
    again for up to `settle_s` while any is behind: the group's last commits may be on the way.
    A partition whose committed offset is short of its end only by transaction markers (or
    aborted messages) is not behind: there is nothing left to read."""
    topics = list(topics)
    deadline = time.monotonic() + settle_s
    while True:
        stalled = _stalled_now(settings, group, topics)
        if not stalled or time.monotonic() >= deadline:
            return stalled
        time.sleep(1.0)


def _stalled_now(settings: Settings, group: str, topics: list[str]) -> list[str]:
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": f"recordflow-ledger-{uuid.uuid4().hex}",  # never subscribes nor commits
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    })  # fmt: skip
    try:
        watermarks: dict[Partition, tuple[int, int]] = {}
        for topic in topics:
            info = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S).topics.get(topic)
            if info is None or info.error is not None:
                raise KafkaException(f"topic {topic} does not exist")
            for partition in info.partitions:
                watermarks[(topic, partition)] = _watermarks(consumer, topic, partition)
        pending = behind(committed_offsets(settings, group, list(watermarks)), watermarks)
        stalled = []
        for topic, partition in sorted(_with_messages(consumer, pending)):
            end = watermarks[(topic, partition)][1]
            stalled.append(f"{topic}[{partition}] at {pending[(topic, partition)]} of {end}")
        return stalled
    finally:
        consumer.close()


def _watermarks(consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
    """(low, high) of a partition; asked again while the broker answers with a retriable error
    or one of a leader being elected."""
    deadline = time.monotonic() + KAFKA_TIMEOUT_S
    while True:
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=KAFKA_TIMEOUT_S, cached=False
            )
            return low, high
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError):
                raise
            if not (error.retriable() or error.code() in LEADER_MOVING):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def committed_offsets(settings: Settings, group: str,
                      partitions: list[Partition]) -> dict[Partition, int | None]:  # fmt: skip
    """The offsets `group` has committed (None where it has none), asked of the broker."""
    if not partitions:
        return {}
    admin = admin_client(settings)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in partitions])
    [future] = admin.list_consumer_group_offsets(
        [request], request_timeout=KAFKA_TIMEOUT_S
    ).values()
    answer = future.result(timeout=KAFKA_TIMEOUT_S)
    return {
        (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None
        for tp in answer.topic_partitions
    }


def _with_messages(consumer: Consumer, pending: Mapping[Partition, int]) -> set[Partition]:
    """Which of the `pending` partitions (with the offset to read from) still hold a committed
    message from that offset on; the others end in transaction markers or aborted messages."""
    if not pending:
        return set()
    consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in pending.items()])
    unknown = set(pending)
    found: set[Partition] = set()
    deadline = time.monotonic() + KAFKA_TIMEOUT_S
    while unknown:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"could not read {sorted(unknown)} to their end")
        message = consumer.poll(0.5)
        if message is None:
            continue
        partition = (str(message.topic()), message.partition() or 0)
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(error)
        if partition in unknown:
            unknown.discard(partition)
            if error is None:
                found.add(partition)
    return found
