"""Reading archival receipts (归档回执) back from receipts.<agency>.v1 (topics/receipts.py).

Three readers, all read_committed (a receipt published in an aborted transaction was never an
outcome):

- `follow`: one agency's receipts, as they come, in a consumer group under the agency's own
  prefix `<prefix>receipts.<code>.<name>` (the only groups its principal may use), committing
  each receipt once the caller asked for the next: an agency system that stops and starts again
  resumes where it stopped, and sees a receipt at least once.
- `latest_receipt`: the latest receipt of one event, read from the beginning of the agency's
  topic (the SDK's `status`; compaction keeps it short: one receipt per document after a week).
- `ReceiptIndex`: for the gateway, several agencies' topics kept in memory by a background
  thread, the latest receipt per event id; agencies may be added while it runs, and
  `wait_caught_up` says when what was in the topics at the call has been read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from avro_schemas.codec import Codec, CodecError
from avro_schemas.records import ArchivalReceipt
from avro_schemas.schemas import ARCHIVAL_RECEIPT
from connectors.readback import (
    UNREACHABLE,
    ReadError,
    TopicReader,
    quiet_logger,
    reader_consumer,
)
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S, POLL_TIMEOUT_S
from topics.acls import receipts_group

log = logging.getLogger(__name__)

Stop = Callable[[], bool]


def decode(codec: Codec, message: Message) -> ArchivalReceipt | None:
    """The receipt a message holds; None for a tombstone or a value that is not a receipt
    (logged: a reader of receipts must not stop at one bad message)."""
    value = message.value()
    if value is None:
        return None
    try:
        return cast(ArchivalReceipt, codec.decode(value, ARCHIVAL_RECEIPT))
    except CodecError as exc:
        log.warning("%s/%s@%s is not a receipt: %s", message.topic(), message.partition(),
                    message.offset(), exc)  # fmt: skip
        return None


def follow(settings: Settings, codec: Codec, agency_code: str, *, name: str = "default",
           idle_timeout_s: float | None = None, stop: Stop | None = None,
           from_beginning: bool = True) -> Iterator[ArchivalReceipt]:  # fmt: skip
    """The agency's receipts as they arrive, in the consumer group
    `<prefix>receipts.<agency>.<name>`: from where that group stopped (from the beginning, or
    only new ones without `from_beginning`, the first time). Ends when `stop()` says so, or once
    no receipt arrived for `idle_timeout_s` (None: never). A receipt's offset is committed when
    the next one is asked for (or the iteration ends), so none is lost to a crash of the caller."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": receipts_group(settings, agency_code, name),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "isolation.level": "read_committed",
        "logger": quiet_logger(),
    })  # fmt: skip
    consumer.subscribe([settings.receipts_topic(agency_code)])
    last: Message | None = None
    heard = time.monotonic()
    try:
        while not (stop is not None and stop()):
            if idle_timeout_s is not None and time.monotonic() - heard >= idle_timeout_s:
                return
            message = consumer.poll(POLL_TIMEOUT_S)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() in UNREACHABLE or error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise ReadError(f"cannot read {message.topic()}: {error.str()}")
            heard = time.monotonic()
            if last is not None:
                consumer.commit(message=last, asynchronous=False)
            last = message
            receipt = decode(codec, message)
            if receipt is not None:
                yield receipt
    finally:
        if last is not None:
            consumer.commit(message=last, asynchronous=False)
        consumer.close()


def latest_of(receipts: Iterable[ArchivalReceipt]) -> dict[str, ArchivalReceipt]:
    """The latest receipt of each event among `receipts`, read in order (a document's receipts
    share its key, so its partition, so they are read in the order they were written)."""
    latest: dict[str, ArchivalReceipt] = {}
    for receipt in receipts:
        if receipt["event_id"]:
            latest[receipt["event_id"]] = receipt
    return latest


def latest_receipt(settings: Settings, codec: Codec, agency_code: str, event_id: str,
                   *, group: str | None = None) -> ArchivalReceipt | None:  # fmt: skip
    """The latest committed receipt of `event_id` in the agency's receipts topic, or None.
    `group`: the group id to read under (an agency's principal may use only its own
    `receipts.<code>.` groups; default one there)."""
    group = group or f"{receipts_group(settings, agency_code, 'status')}-{time.time_ns()}"
    reader = TopicReader(settings, settings.receipts_topic(agency_code), group=group)
    try:
        found = (decode(codec, message) for message in reader.read())
        mine = (r for r in found if r is not None and r["event_id"] == event_id)
        return latest_of(mine).get(event_id)
    finally:
        reader.close()


class ReceiptIndex:
    """The latest receipt per event id over several agencies' receipts topics, kept current by a
    background thread (the gateway's: it answers `status` without reading a topic per request).

    The consumer is used by the thread alone (librdkafka's consumers are not to be shared);
    `add_agency` and `wait_caught_up` leave requests that the thread serves between polls."""

    def __init__(self, settings: Settings, codec: Codec, agencies: Iterable[str] = ()) -> None:
        self.settings = settings
        self.codec = codec
        self._lock = threading.Lock()
        self._latest: dict[str, ArchivalReceipt] = {}
        self._topics: set[str] = set()
        self._to_add: list[str] = []
        # Per partition (topic, number): the offset read up to (a message's next, or the end
        # reported), and the end a wait asks for (the last stable offset when it was asked).
        self._positions: dict[tuple[str, int], int] = {}
        self._targets: dict[tuple[str, int], int] | None = None
        self._caught_up = threading.Condition(self._lock)
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        for code in agencies:
            self.add_agency(code)
        self._thread = threading.Thread(target=self._run, name="receipt-index", daemon=True)
        self._thread.start()

    # --- what callers use ----------------------------------------------------------------------
    def latest(self, event_id: str) -> ArchivalReceipt | None:
        with self._lock:
            return self._latest.get(event_id)

    def add_agency(self, agency_code: str) -> None:
        """Read this agency's receipts too, from the beginning of its topic."""
        with self._lock:
            topic = self.settings.receipts_topic(agency_code)
            if topic not in self._topics:
                self._topics.add(topic)
                self._to_add.append(topic)

    def wait_caught_up(self, timeout_s: float = KAFKA_TIMEOUT_S) -> bool:
        """Wait until every receipt committed in the topics when called has been read (True),
        or the timeout passes (False). Raises what stopped the background thread, if anything."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._targets = None
            self._caught_up.notify_all()
            while True:
                if self._failure is not None:
                    raise ReadError(f"the receipt index stopped: {self._failure}")
                if not self._to_add and self._targets is not None and self._reached():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._caught_up.wait(min(remaining, POLL_TIMEOUT_S))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(KAFKA_TIMEOUT_S)

    # --- the background thread -----------------------------------------------------------------
    def _reached(self) -> bool:
        assert self._targets is not None
        return all(self._positions.get(where, 0) >= end for where, end in self._targets.items())

    def _run(self) -> None:
        consumer = reader_consumer(self.settings)
        assigned: list[TopicPartition] = []
        try:
            while not self._stop.is_set():
                try:
                    assigned += self._assign_new(consumer)
                    with self._lock:
                        if self._targets is None and not self._to_add:
                            self._targets = self._stable_ends(consumer, assigned)
                            self._caught_up.notify_all()
                except KafkaException as exc:  # Kafka away (a gateway started in an outage)
                    log.warning("receipt index: %s; trying again", exc)
                    self._stop.wait(POLL_TIMEOUT_S)
                    continue
                message = consumer.poll(POLL_TIMEOUT_S) if assigned else None
                if message is None:
                    if not assigned:
                        self._stop.wait(POLL_TIMEOUT_S)
                    continue
                self._take(message)
        except BaseException as exc:  # a caller's wait_caught_up raises it
            log.exception("the receipt index stopped")
            with self._lock:
                self._failure = exc
                self._caught_up.notify_all()
        finally:
            consumer.close()

    def _assign_new(self, consumer: Consumer) -> list[TopicPartition]:
        with self._lock:
            topics, self._to_add = self._to_add, []
        added, missing = [], []
        for topic in topics:
            try:
                metadata = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S).topics.get(topic)
            except KafkaException:
                missing.append(topic)  # Kafka away: tried again on the next round
                continue
            if metadata is None or metadata.error is not None:
                missing.append(topic)  # not applied yet: tried again on the next round
                continue
            added += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        if added:
            consumer.incremental_assign(added)
        if missing:
            log.warning("receipts topics not on the cluster yet: %s", ", ".join(missing))
            with self._lock:
                self._to_add += missing
            self._stop.wait(POLL_TIMEOUT_S)
        return added

    def _stable_ends(
        self, consumer: Consumer, assigned: list[TopicPartition]
    ) -> dict[tuple[str, int], int]:
        """Each assigned partition's end now: the last stable offset (the consumer reads
        read_committed, and reports the end of a partition there)."""
        ends = {}
        for tp in assigned:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=KAFKA_TIMEOUT_S, cached=False
            )
            ends[(tp.topic, tp.partition)] = high if high > low else 0
        return ends

    def _take(self, message: Message) -> None:
        where = (message.topic() or "", message.partition() or 0)
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                with self._lock:
                    self._positions[where] = message.offset() or 0
                    self._caught_up.notify_all()
                return
            if error.code() in UNREACHABLE:
                return  # librdkafka reconnects; the index is stale meanwhile
            raise ReadError(f"cannot read {where[0]}: {error.str()}")
        receipt = decode(self.codec, message)
        with self._lock:
            self._positions[where] = (message.offset() or 0) + 1
            if receipt is not None and receipt["event_id"]:
                self._latest[receipt["event_id"]] = receipt
