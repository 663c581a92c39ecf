"""Reading a topic back to its end (connectors/readback.py) on the real broker."""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Producer

from connectors.readback import read_topic
from recordflow.settings import Settings


def test_read_topic_ends_when_the_last_offset_is_a_transaction_marker(
    pipeline_settings: Settings,
) -> None:
    # A transaction's commit marker takes the offset after its messages: a reader that waits for a
    # message at high watermark - 1 never gets one (deadletters replay writes this way).
    topic = pipeline_settings.deadletter_topic
    producer = Producer({**pipeline_settings.producer_config(),
                         "transactional.id": f"test-{uuid.uuid4().hex}"})  # fmt: skip
    producer.init_transactions(30)
    producer.begin_transaction()
    for n in range(3):
        producer.produce(topic, key=f"k{n}".encode(), value=b"v", partition=0)
    producer.commit_transaction(30)

    read: list[tuple[bytes | None, bytes | None]] = []
    reader = threading.Thread(target=lambda: read.extend(read_topic(pipeline_settings, topic)))
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "read_topic did not end at the transaction marker"
    assert [key for key, _ in read] == [b"k0", b"k1", b"k2"]
