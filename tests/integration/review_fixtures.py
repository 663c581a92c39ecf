"""Review items and archived records made by hand, written to a test's own topics and buckets as
the pipeline writes them (Avro in the Confluent wire format, real object-locked archive objects),
for the tests of `recordflow review decide | appraise` that need no worker."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import uuid
from typing import Any

from confluent_kafka import Message, Producer

from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD, DOCUMENT_LIFECYCLE_EVENT, RETENTION_REVIEW
from connectors.readback import TopicReader, reader_consumer
from connectors.sdk import component
from connectors.storage import Digests, Storage
from recordflow.settings import Settings
from streams.intake import review_item
from topics.deadletter import Origin

KAFKA_TIMEOUT_S = 30.0
AGENCY = {"code": "bdc", "name": "市不动产登记中心"}
FONDS = "Z215"


def lifecycle_event(
    document_id: str, year: int, title: str = "窗口服务工作备忘录"
) -> dict[str, Any]:
    """A FILED DocumentLifecycleEvent of the bdc agency, as the SDK builds one."""
    sha256 = uuid.uuid5(uuid.NAMESPACE_URL, document_id).hex * 2
    return {
        "event_id": str(uuid.uuid4()),
        "action": "FILED",
        "event_time": dt.datetime(year, 9, 9, 8, 0, tzinfo=dt.UTC),
        "agency": AGENCY,
        "document_id": document_id,
        "upload_id": uuid.uuid4().hex,
        "source_system": "OA",
        "actor": "赵科员",
        "description": {
            "title": title, "document_number": None, "responsible_party": AGENCY["name"],
            "document_date": dt.date(year, 9, 9), "document_type": "备忘录",
            "security_classification": "公开", "urgency": None, "keywords": [],
            "abstract": None, "unit_code": "BGS", "year": year, "page_count": None,
            "language": "zh",
        },
        "components": [
            component(1, "备忘录.pdf", "application/pdf", size_bytes=300, sha256=sha256,
                      sm3=sha256, bucket="staging", key=f"bdc/{document_id}/01-备忘录.pdf"),
        ],
        "supplementary": None, "file_details": [], "history": [], "agents": [], "relations": [],
        "retention_proposal": None, "issuer_relation": None, "business_matter_code": None,
        "absent_elements": [],
    }  # fmt: skip


def send(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer(settings.producer_config())
    producer.produce(topic, key=key, value=value)
    assert producer.flush(KAFKA_TIMEOUT_S) == 0


def queue_retention_item(
    settings: Settings, codec: Codec, document_id: str, **disputed: Any
) -> dict[str, Any]:
    """A PENDING RETENTION item on the test's review topic, as intake queues it; `disputed`:
    proposed_period, schedule_period, schedule_rule_id of a disputed proposal."""
    event = lifecycle_event(document_id, 2026)
    ingest = settings.ingest_topic("bdc")
    value = codec.encode(Subject.for_topic(ingest, DOCUMENT_LIFECYCLE_EVENT), event)
    origin = Origin(ingest, 0, 7, None, document_id.encode(), value, [])
    item = {**review_item(event, "no rule decides a 备忘录", origin, []), **disputed}
    subject = Subject.for_topic(settings.review_topic, RETENTION_REVIEW)
    send(settings, settings.review_topic, item["event_id"].encode(), codec.encode(subject, item))
    return item


def archive_object(storage: Storage, key: str, data: bytes, until: dt.date) -> dict[str, Any]:
    """A real object version in the archive bucket, locked as the register stage locks it."""
    digests = Digests()
    digests.update(data)
    version = storage.archive(key, io.BytesIO(data), digests, content_type="application/pdf",
                              retain_until=until)  # fmt: skip
    return {"bucket": storage.settings.archive_bucket, "key": key, "version_id": version,
            "inline_content": None}  # fmt: skip


def due_record(settings: Settings, storage: Storage, year: int, period: str,
               lock_until: dt.date) -> dict[str, Any]:  # fmt: skip
    """An ArchivalRecord whose period ended before it was received (appraisal_status DUE), with
    its file and its package written to the archive, locked until `lock_until`."""
    event = lifecycle_event(f"BDC-{uuid.uuid4().hex[:6]}", year)
    code = f"{FONDS}-WS·{year}-{period}-BGS-0001"
    data = b"%PDF-1.4 " + uuid.uuid4().bytes
    digests = Digests()
    digests.update(data)
    stored = archive_object(storage, f"{FONDS}/{year}/{code}/01-{digests.sha256.hexdigest()}.pdf",
                            data, lock_until)  # fmt: skip
    package = archive_object(storage, f"{FONDS}/{year}/{code}/package.tar", b"tar " + data,
                             lock_until)  # fmt: skip
    years = {"D10": 10, "D30": 30}[period]
    archived_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {
        "reference_code": code, "fonds_code": FONDS, "fonds_name": AGENCY["name"],
        "category": "WS", "year": year, "retention_period": period,
        "retention_rule_id": "bdc-schedule@2026.1/memo", "unit_code": "BGS", "item_number": 1,
        "agency": AGENCY, "archives_code": "440300", "event_id": event["event_id"],
        "document_id": event["document_id"], "source_system": "OA",
        "description": event["description"],
        "components": [{
            **event["components"][0], "size_bytes": len(data),
            "checksums": [{"algorithm": "SHA256", "value": digests.sha256.hexdigest()},
                          {"algorithm": "SM3", "value": digests.sm3.hexdigest()}],
            "payload": stored,
        }],
        "filed_at": event["event_time"], "archived_at": archived_at,
        "retain_until": dt.date(year + 1 + years, 1, 1),
        "formats": [], "check": None, "flags": [], "provenance": [], "package": package,
        "supplementary": None, "file_details": [], "history": [], "agents": [], "relations": [],
        "retention_proposal": None, "issuer_relation": None, "business_matter_code": None,
        "absent_elements": [], "lock_until": lock_until, "appraisal_status": "DUE",
    }  # fmt: skip


def queue_appraisal(settings: Settings, codec: Codec, record: dict[str, Any]) -> dict[str, Any]:
    """Publish a DUE record to the catalog and its PENDING APPRAISAL item to the review topic,
    as the register stage does (issue 12); returns the item."""
    ingest = settings.ingest_topic("bdc")
    event = lifecycle_event(record["document_id"], record["year"])
    event["event_id"] = record["event_id"]
    original = codec.encode(Subject.for_topic(ingest, DOCUMENT_LIFECYCLE_EVENT), event)
    item = {
        "event_id": record["event_id"], "status": "PENDING", "agency_code": "bdc",
        "document_id": record["document_id"], "title": record["description"]["title"],
        "document_type": record["description"]["document_type"],
        "reason": f"保管期限届满待鉴定: the {record['retention_period']} period of {record['year']} "
                  f"ended {record['retain_until']}; held until {record['lock_until']}",
        "original_topic": ingest, "original_partition": 0, "original_offset": 3,
        "original_value": original, "queued_at": record["archived_at"], "decided_period": None,
        "decided_by": None, "decided_at": None, "note": None, "history_before_filing": [],
        "kind": "APPRAISAL", "proposed_period": None,
        "schedule_period": record["retention_period"],
        "schedule_rule_id": record["retention_rule_id"],
        "reference_code": record["reference_code"], "retain_until": record["retain_until"],
        "lock_until": record["lock_until"], "appraisal_outcome": None,
    }  # fmt: skip
    catalog = Subject.for_topic(settings.catalog_topic, ARCHIVAL_RECORD)
    send(settings, settings.catalog_topic, record["reference_code"].encode(),
         codec.encode(catalog, record))  # fmt: skip
    review = Subject.for_topic(settings.review_topic, RETENTION_REVIEW)
    send(settings, settings.review_topic, item["event_id"].encode(), codec.encode(review, item))
    return item


def committed(settings: Settings, topic: str) -> list[Message]:
    """Every committed message in `topic` up to its high watermark (waiting for transactions)."""
    reader = TopicReader(settings, topic, wait_for_transactions=True)
    try:
        return reader.until_end()
    finally:
        reader.close()


def everything(settings: Settings, topic: str) -> list[Message]:
    """Every message in `topic`, aborted or not (read_uncommitted), up to its high watermark."""
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    consumer = reader_consumer(settings, committed=False)
    try:
        metadata = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S)
        partitions = list(metadata.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}  # fmt: skip
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        messages = []
        while pending:
            message = consumer.poll(KAFKA_TIMEOUT_S)
            assert message is not None, f"{topic} not read to its end"
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                pending.discard(message.partition() or 0)
                continue
            assert error is None, error
            messages.append(message)
        return messages
    finally:
        consumer.close()


def race(settings: Settings, verb: list[str], choices: dict[str, list[str]],
         timeout_s: float) -> dict[str, tuple[int, str]]:  # fmt: skip
    """Run `recordflow review <verb> … --by NAME` for every reviewer NAME at once, each with
    its own arguments, and return each one's exit status and stderr."""
    env = {**os.environ, "RECORDFLOW_TOPIC_PREFIX": settings.topic_prefix,
           "RECORDFLOW_BUCKET_PREFIX": settings.bucket_prefix}  # fmt: skip
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "recordflow", "review", *verb, *args, "--by", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in choices.items()
    }
    return {name: (run.wait(timeout_s), run.communicate()[1]) for name, run in runs.items()}
