"""Reading a topic back to its end (connectors/readback.py) on the real broker: read_committed,
the end as it stands or, when asked, the high watermark after the transactions open before it;
from the offsets an earlier reader read up to, only what came since."""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Producer

from connectors.readback import TopicReader, latest_value, read_topic
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


def test_readers_never_see_aborted_messages_and_wait_only_when_asked(
    pipeline_settings: Settings,
) -> None:
    """read_topic reads committed messages up to the last stable offset (an open transaction ends
    it there, at once); latest_value reads to the high watermark, waiting for that transaction."""
    topic = pipeline_settings.review_topic
    plain = Producer(pipeline_settings.producer_config())
    plain.produce(topic, key=b"item", value=b"pending", partition=0)
    assert plain.flush(30) == 0
    aborted = Producer({**pipeline_settings.producer_config(),
                        "transactional.id": f"test-{uuid.uuid4().hex}"})  # fmt: skip
    aborted.init_transactions(30)
    aborted.begin_transaction()
    aborted.produce(topic, key=b"item", value=b"aborted", partition=0)
    aborted.flush(30)
    aborted.abort_transaction(30)
    open_ = Producer({**pipeline_settings.producer_config(),
                      "transactional.id": f"test-{uuid.uuid4().hex}"})  # fmt: skip
    open_.init_transactions(30)
    open_.begin_transaction()
    open_.produce(topic, key=b"item", value=b"decided", partition=0)
    open_.flush(30)

    assert list(read_topic(pipeline_settings, topic)) == [(b"item", b"pending")]

    committer = threading.Timer(2.0, lambda: open_.commit_transaction(30))
    committer.start()
    began = time.monotonic()
    assert latest_value(pipeline_settings, topic, b"item") == b"decided"
    assert time.monotonic() - began >= 1.5  # it waited for the transaction to end
    committer.join()
    assert list(read_topic(pipeline_settings, topic)) == [(b"item", b"pending"),
                                                          (b"item", b"decided")]  # fmt: skip


def test_a_reader_started_where_another_ended_reads_only_what_came_since(
    pipeline_settings: Settings,
) -> None:
    """What an incremental export does (connectors/parquet_export/): the offsets one read ended
    at start the next; a partition with nothing new is not waited on, one never read starts at
    its beginning."""
    topic = pipeline_settings.review_topic
    producer = Producer(pipeline_settings.producer_config())

    def produce(*keys: str, partition: int = 0) -> None:
        for key in keys:
            producer.produce(topic, key=key.encode(), value=b"v", partition=partition)
        assert producer.flush(30) == 0

    produce("a", "b", "c")
    first = TopicReader(pipeline_settings, topic)
    assert [m.key() for m in first.until_end()] == [b"a", b"b", b"c"]
    assert first.consumed[0] == 3
    first.close()

    produce("d", "e")
    produce("x", partition=1)
    following = TopicReader(pipeline_settings, topic, start={0: 3})  # 1 and 2 not named
    assert sorted(m.key() or b"" for m in following.until_end()) == [b"d", b"e", b"x"]
    assert (following.consumed[0], following.consumed[1]) == (5, 1)
    ended = dict(following.consumed)
    following.close()
    nothing_new = TopicReader(pipeline_settings, topic, start=ended)
    assert nothing_new.until_end() == []
    assert nothing_new.consumed == ended
    nothing_new.close()
