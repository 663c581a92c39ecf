"""The two baselines a bench run measures beside the pipeline, with the same payloads, client
libraries and concurrency: what the parts it stands on do without it.

(a) Kafka: the run's lifecycle events, Avro-encoded in the Confluent wire format as the SDK does,
    produced with the same producer configuration to a scratch topic (as many partitions as the
    run's ingest topics) and consumed back with a confluent-kafka consumer that decodes each
    body with fastavro; records/s from the first send to the last record read back.
(b) S3: each staged payload read (GET), hashed while it streams (SHA-256 + SM3 + MD5, as
    `Digests` does), and written (PUT) to a scratch object in an object-lock bucket with the
    COMPLIANCE retention the pipeline gives a D10 record, from as many threads as there are
    worker processes (each worker handles one record at a time); records/s over all of them.
    The pipeline itself makes one more PUT per record (the BagIt package).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from minio.commonconfig import COMPLIANCE
from minio.retention import Retention

from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.sdk import event_headers
from connectors.storage import CHUNK, PART_SIZE, Digests, Storage
from recordflow.settings import Settings

WIRE_HEADER = struct.Struct(">bI")
TIMEOUT_S = 300.0
D10_YEARS = 10  # streams/register.py: RETENTION_YEARS["D10"]


@dataclass(frozen=True)
class BaselineInput:
    """One record of the run: its agency, its lifecycle event and where its payload is staged."""

    agency: str
    event: dict[str, Any]

    @property
    def staged(self) -> list[tuple[str, str]]:
        return [(c["payload"]["bucket"], c["payload"]["key"]) for c in self.event["components"]]


class WireDecoder:
    """Confluent wire format → dict with the writer's schema only: the raw library cost."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._schemas: dict[int, Any] = {}
        self._lock = threading.Lock()

    def decode(self, data: bytes | None) -> dict[str, Any]:
        if data is None:
            raise ValueError("no value")
        _, schema_id = WIRE_HEADER.unpack_from(data)
        schema = self._schemas.get(schema_id)
        if schema is None:
            with self._lock:
                registered = self.codec.registry.get_schema(schema_id)
                schema = fastavro.parse_schema(json.loads(registered.schema_str or "null"))
                self._schemas[schema_id] = schema
        record = fastavro.schemaless_reader(io.BytesIO(data[WIRE_HEADER.size :]), schema, None)
        assert isinstance(record, dict)
        return record


def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AdminClient({**settings.kafka_config()})
    futures = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)
    futures[name].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic is not None and topic.error is None and len(topic.partitions) == partitions:
            return
        time.sleep(0.2)
    raise TimeoutError(f"topic {name} not ready")


def kafka_baseline(settings: Settings, inputs: Sequence[BaselineInput], *, topic: str,
                   partitions: int) -> float:  # fmt: skip
    """Records/s: produce every event (encoded here) and read every one back, decoded."""
    create_topic(settings, topic, partitions)
    codec = Codec.from_url(settings.schema_registry_url)
    decoder = WireDecoder(codec)
    consumer = Consumer({**settings.kafka_config(), "group.id": f"bench-baseline-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    done, warm = threading.Event(), threading.Event()
    last_read = [0.0]
    failure: list[BaseException] = []

    def consume() -> None:
        seen = -1  # the warm-up message first
        try:
            while seen < len(inputs):
                for message in consumer.consume(500, 0.2):
                    if message.error():
                        raise KafkaException(message.error())
                    if seen >= 0:
                        decoder.decode(message.value())
                    else:
                        warm.set()
                    seen += 1
            last_read[0] = time.monotonic()
        except BaseException as exc:
            failure.append(exc)
        finally:
            warm.set()
            done.set()

    reader = threading.Thread(target=consume, name="kafka-baseline-consumer", daemon=True)
    reader.start()
    producer = Producer(settings.producer_config())
    try:
        # One message through first, not counted: connections, metadata and the first fetch
        # are set up before the clock starts, as they are in a running pipeline.
        producer.produce(topic, value=b"warm-up", partition=0)
        producer.flush(TIMEOUT_S)
        if not warm.wait(TIMEOUT_S):
            raise TimeoutError("the Kafka baseline's consumer did not start")
        started = time.monotonic()
        for item in inputs:
            event = item.event
            subject = Subject.for_topic(
                settings.ingest_topic(item.agency), DOCUMENT_LIFECYCLE_EVENT
            )
            value = codec.encode(subject, event)
            while True:
                try:
                    producer.produce(topic, value=value, key=event["document_id"].encode(),
                                     headers=event_headers(event))  # fmt: skip
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(TIMEOUT_S)
        if not done.wait(TIMEOUT_S):
            raise TimeoutError("the Kafka baseline's consumer did not read every event back")
    finally:
        done.wait(1)
        consumer.close()
    if failure:
        raise failure[0]
    return len(inputs) / (last_read[0] - started)


def s3_baseline(settings: Settings, inputs: Sequence[BaselineInput], *, bucket: str,
                concurrency: int, run_id: str) -> float:  # fmt: skip
    """Records/s: GET each staged payload hashing it as it streams, PUT it under object lock."""
    storage = Storage(settings)
    client = storage.client
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket, object_lock=True)
    year = dt.date.today().year
    until = dt.datetime(year + 1 + D10_YEARS, 1, 1, tzinfo=dt.UTC)

    def copy(index: int) -> None:
        for sequence, (source_bucket, key) in enumerate(inputs[index].staged, start=1):
            response = client.get_object(source_bucket, key)
            digests, buffer = Digests(), io.BytesIO()
            try:
                for chunk in response.stream(CHUNK):
                    digests.update(chunk)
                    buffer.write(chunk)
            finally:
                response.close()
                response.release_conn()
            buffer.seek(0)
            client.put_object(
                bucket, f"baseline/{run_id}/{index:07d}-{sequence:02d}", buffer, digests.size,
                content_type="application/pdf",
                metadata={"sha256": digests.sha256.hexdigest(), "sm3": digests.sm3.hexdigest()},
                part_size=PART_SIZE, retention=Retention(COMPLIANCE, until),
            )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-baseline") as pool:
        list(pool.map(copy, range(len(inputs))))
    return len(inputs) / (time.monotonic() - started)
