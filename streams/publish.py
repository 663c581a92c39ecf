"""Publishing an archived record once: its messages in one Kafka transaction.

Output: records.archival-ready.v1 and records.catalog.v1 (key = 档号), and, for a record due for
appraisal, its item on records.retention-review.v1 (key = event id): all of them or none, for
`read_committed` consumers.

Each partition of recordflow.register.v1 has its own transactional producer, with the id
`<group>.register.<partition>`. `init_transactions` under that id aborts whatever the previous
owner of the partition left open (a worker killed mid-publish) and fences it if it still lives, so
within one producer epoch nobody else commits for the partition. A record is published in the
epoch that numbered it without a look back; otherwise (a redelivered event whose number was
given before, or an epoch begun after the number was given: a takeover, a fenced producer) the
catalog is read from the moment the number was given, and a record already there is not published
again. So a worker killed between committing a record and marking its event published in the
item-numbers table does not publish the record twice (tests/integration/test_exactly_once.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S, PUBLISH_TRANSACTION_TIMEOUT_MS
from topics.acls import register_transactional_prefix

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
# How far before the number was given the catalog is read: the record was published after it,
# stamped by this clock, so any margin only covers clock adjustments.
LOOK_BACK = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes


@dataclass
class _Epoch:
    producer: Producer
    started: dt.datetime  # when init_transactions returned


class Publisher:
    """One transactional producer per register partition, created on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._epochs: dict[int, _Epoch] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def transactional_id(self, partition: int) -> str:
        return f"{register_transactional_prefix(self.settings)}{partition}"

    def publish(
        self,
        partition: int,
        code: str,
        messages: list[Message],
        *,
        numbered_at: dt.datetime,
        fresh: bool,
    ) -> bool:
        """Publish `messages` in one transaction, unless the record `code` is in the catalog
        already (then False). Blocking: call it from a thread. A KafkaException leaves nothing
        published; the caller retries (a fenced or broken producer is replaced on the next try)."""
        with self._lock(partition):
            epoch = self._epochs.get(partition) or self._begin(partition)
            if (not fresh or epoch.started > numbered_at) and self.in_catalog(code, numbered_at):
                log.info("%s is in the catalog already: not published again", code)
                return False
            producer = epoch.producer
            try:
                producer.begin_transaction()
                for message in messages:
                    producer.produce(message.topic, key=message.key, value=message.value)
                producer.commit_transaction(KAFKA_TIMEOUT_S)
            except KafkaException as exc:
                self._after_failure(partition, exc)
                raise
            return True

    def in_catalog(self, code: str, since: dt.datetime) -> bool:
        """Whether a committed message keyed `code` is in records.catalog.v1 from `since` on."""
        return code.encode() in committed_keys(
            self.settings, self.settings.catalog_topic, since - LOOK_BACK
        )

    def close(self) -> None:
        with self._guard:
            epochs, self._epochs = list(self._epochs.values()), {}
        for epoch in epochs:
            epoch.producer.flush(KAFKA_TIMEOUT_S)

    def _lock(self, partition: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(partition, threading.Lock())

    def _begin(self, partition: int) -> _Epoch:
        producer = Producer({
            # Idempotent, acks=all and the Java client's partitioner, as every other writer: a
            # 档号 lands in the same catalog partition whoever writes it.
            **self.settings.producer_config(),
            "transactional.id": self.transactional_id(partition),
            "transaction.timeout.ms": PUBLISH_TRANSACTION_TIMEOUT_MS,
            # The topics' max.message.bytes decide (intake checked the record fits them), not
            # librdkafka's own 1,000,000-byte default.
            "message.max.bytes": MAX_MESSAGE_BYTES,
            "linger.ms": 0,  # one transaction's messages are all there is to send
        })  # fmt: skip
        producer.init_transactions(KAFKA_TIMEOUT_S)
        epoch = _Epoch(producer, dt.datetime.now(dt.UTC))
        self._epochs[partition] = epoch
        return epoch

    def _after_failure(self, partition: int, exc: KafkaException) -> None:
        error: KafkaError = exc.args[0]
        log.warning("publish on register partition %d failed: %s", partition, error.str())
        producer = self._epochs[partition].producer
        if error.txn_requires_abort():
            try:
                producer.abort_transaction(KAFKA_TIMEOUT_S)
                return
            except KafkaException as abort_failure:
                log.warning("abort failed (%s); starting a new producer", abort_failure)
        if error.txn_requires_abort() or error.fatal() or not error.retriable():
            # Fenced (another owner took the partition), fatal or in an unknown state: a new
            # epoch on the next try, which looks in the catalog before publishing.
            del self._epochs[partition]


def committed_keys(settings: Settings, topic: str, since: dt.datetime) -> set[bytes]:
    """The keys of the committed messages of every partition of `topic` from `since` to its end
    (its last stable offset when the read begins)."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": settings.reader_group("published"),
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        # A partition whose last offsets are transaction markers never delivers its last offset:
        # the end of a partition is reported instead.
        "enable.partition.eof": True,
    })  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S)
        partitions = metadata.topics[topic].partitions
        stamp = int(since.timestamp() * 1000)
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, stamp) for p in partitions], timeout=KAFKA_TIMEOUT_S
        )
        ends: dict[int, int] = {}
        assignment = []
        for start in starts:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, start.partition), timeout=KAFKA_TIMEOUT_S
            )
            if start.offset >= 0 and start.offset < high:  # -1: no message at or after `since`
                ends[start.partition] = high
                assignment.append(start)
        keys: set[bytes] = set()
        consumer.assign(assignment)
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while ends and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            error, key = message.error(), message.key()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(partition, None)
                    continue
                raise KafkaException(error)
            if key is not None:
                keys.add(key)
            if partition in ends and offset + 1 >= ends[partition]:
                del ends[partition]
        if ends:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"{topic} not read to its end"))
        return keys
    finally:
        consumer.close()
