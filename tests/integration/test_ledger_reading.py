"""The chaos ledger's reading functions (tests/chaos/ledger.py) against a small real topic written
here: keys read read_committed (an aborted message is not a publish), and a consumer group's
committed offsets compared with each partition's end, where transaction markers after the last
message do not count as behind."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from connectors.readback import read_topic
from recordflow.settings import Settings
from tests.chaos.ledger import input_topics, published_twice, stalled_partitions
from topics.reconcile import admin_client

TIMEOUT_S = 30.0


@pytest.fixture
def topic(pipeline_settings: Settings) -> Iterator[str]:
    """Four partitions: 0 plain messages A B A; 1 plain C D; 2 a committed transaction (E) then
    an aborted one (F); 3 plain G."""
    name = pipeline_settings.topic("ledger-reading")
    admin = admin_client(pipeline_settings)
    [created] = admin.create_topics([NewTopic(name, 4, 1)]).values()
    created.result(TIMEOUT_S)
    plain = Producer(pipeline_settings.producer_config())
    for partition, key in ((0, b"A"), (0, b"B"), (0, b"A"), (1, b"C"), (1, b"D"), (3, b"G")):
        plain.produce(name, key=key, value=b"v", partition=partition)
    assert plain.flush(TIMEOUT_S) == 0
    transactional = Producer({**pipeline_settings.producer_config(),
                              "transactional.id": f"ledger-test-{uuid.uuid4().hex}"})  # fmt: skip
    transactional.init_transactions(TIMEOUT_S)
    transactional.begin_transaction()
    transactional.produce(name, key=b"E", value=b"v", partition=2)  # offset 0, marker at 1
    transactional.commit_transaction(TIMEOUT_S)
    transactional.begin_transaction()
    transactional.produce(name, key=b"F", value=b"v", partition=2)  # offset 2, marker at 3
    transactional.abort_transaction(TIMEOUT_S)
    yield name
    [deleted] = admin.delete_topics([name]).values()
    deleted.result(TIMEOUT_S)


def commit(settings: Settings, group: str, offsets: dict[tuple[str, int], int]) -> None:
    admin = admin_client(settings)
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(t, p, offset) for (t, p), offset in offsets.items()]
    )
    [future] = admin.alter_consumer_group_offsets([request]).values()
    future.result(TIMEOUT_S)


def test_only_committed_messages_count_as_published(
    pipeline_settings: Settings, topic: str
) -> None:
    keys = [key for key, _ in read_topic(pipeline_settings, topic)]
    assert sorted(k for k in keys if k is not None) == [b"A", b"A", b"B", b"C", b"D", b"E", b"G"]
    assert published_twice(keys) == 1  # A; the aborted F is not there to count


def test_partitions_the_group_has_not_committed_to_their_end(
    pipeline_settings: Settings, topic: str
) -> None:
    group = pipeline_settings.topic("ledger-group")
    # 0 to its end; 1 one short; 2 past E: only markers and the aborted F remain; 3 nothing.
    commit(pipeline_settings, group, {(topic, 0): 3, (topic, 1): 1, (topic, 2): 1})
    assert stalled_partitions(pipeline_settings, group, [topic]) == [
        f"{topic}[1] at 1 of 2",
        f"{topic}[3] at 0 of 1",
    ]

    # The group's last commits arrive while the ledger waits for the run to settle.
    later = threading.Timer(2.0, commit, (pipeline_settings, group, {(topic, 1): 2, (topic, 3): 1}))
    began = time.monotonic()
    later.start()
    try:
        assert stalled_partitions(pipeline_settings, group, [topic], settle_s=TIMEOUT_S) == []
    finally:
        later.join()
    assert 2.0 <= time.monotonic() - began < TIMEOUT_S


def test_the_pipeline_s_input_topics_exist_and_an_idle_pipeline_is_not_behind(
    pipeline_settings: Settings,
) -> None:
    topics = input_topics(pipeline_settings)
    assert pipeline_settings.register_topic in topics
    assert pipeline_settings.ingest_topic("bgt") in topics
    assert stalled_partitions(pipeline_settings, pipeline_settings.consumer_group, topics) == []
