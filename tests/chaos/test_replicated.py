"""The three-broker rehearsal (issue 18): production runs a replicated Kafka, and must lose one
broker at a time without losing, duplicating, skipping or stalling anything. On the replicated
profile (`recordflow stack up --brokers 3`: replication factor 3, min.insync.replicas=2), three
workers take a steady load while one broker stops for 30 s, a worker is killed as the partitions'
leaders move, and then another broker stops for 30 s. The ledger (tests/chaos/ledger.py) must
come out clean, as after every fault of test_chaos.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from rich.console import Console

from recordflow.localstack.replicated import BROKERS, replicated_settings
from recordflow.localstack.stack import Stack
from recordflow.settings import Settings
from tests.chaos.test_chaos import OUTAGE_S, Workers, run
from tests.conftest import private_pipeline, stack_lock

WORKERS = 3
LEADERS_MOVE_S = 1.0  # after a broker stops, before the worker is killed: leaders are moving
REJOIN_TIMEOUT_S = 120.0  # a restarted broker catching up until every replica is in sync


@pytest.fixture(scope="module")
def replicated(stack_settings: Settings) -> Iterator[Settings]:
    """The replicated profile, started for this module and stopped after it (three JVMs the rest
    of the run has no use for)."""
    settings = replicated_settings(stack_settings)
    with stack_lock(stack_settings):
        Stack(settings).up(Console(stderr=True))
    yield settings
    Stack(settings).down()


@pytest.fixture
def pipeline(replicated: Settings) -> Iterator[Settings]:
    yield from private_pipeline(replicated, "r")


def test_topics_have_three_replicas_and_need_two_in_sync(pipeline: Settings) -> None:
    admin = AdminClient({**pipeline.kafka_config(), "log_level": 0})
    topics = admin.list_topics(timeout=10).topics
    ours = {name: topic for name, topic in topics.items() if name.startswith(pipeline.topic_prefix)}
    assert ours
    replicas = {len(p.replicas) for topic in ours.values() for p in topic.partitions.values()}
    assert replicas == {BROKERS}


def test_two_brokers_stopped_in_turn_and_a_worker_killed_as_leaders_move(
    pipeline: Settings, tmp_path: Path
) -> None:
    stack = Stack(pipeline)
    workers = Workers(pipeline)
    for _ in range(WORKERS):
        workers.start()

    def broker_away(node: str, *, kill_a_worker: bool = False) -> None:
        assert stack.down(only=[node]) == [node], f"{node} was not running"
        if kill_a_worker:
            time.sleep(LEADERS_MOVE_S)
            workers.kill(workers.running[0])
            workers.start(wait=False)
        time.sleep(OUTAGE_S)
        stack.up(Console(stderr=True))
        await_in_sync(pipeline)

    def inject() -> None:
        broker_away("kafka-1", kill_a_worker=True)
        broker_away("kafka-2")

    try:
        run("broker 1 then 2 away 30 s, worker killed (3 brokers)", pipeline, tmp_path, inject)
    finally:
        workers.stop_all()


def await_in_sync(settings: Settings) -> None:
    """Until every partition of the pipeline's topics has all its replicas in sync again: the
    next broker may stop only once the one restarted has caught up, as in a rolling restart."""
    admin = AdminClient({**settings.kafka_config(), "log_level": 0})
    deadline = time.monotonic() + REJOIN_TIMEOUT_S
    while True:
        topics = admin.list_topics(timeout=10).topics
        behind = [
            f"{name}/{number}"
            for name, topic in topics.items()
            if name.startswith(settings.topic_prefix)
            for number, partition in topic.partitions.items()
            if len(partition.isrs) < BROKERS
        ]
        if not behind:
            return
        assert time.monotonic() < deadline, f"replicas not back in sync: {behind[:5]}"
        time.sleep(1)
