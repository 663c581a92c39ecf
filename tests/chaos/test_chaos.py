"""The chaos suite: while a steady stream of submissions flows, break one part of the real stack,
mend it, and account for every submission (tests/chaos/ledger.py). Every fault must end with every
submission archived exactly once, no dead letter (all the input is good, so a dead letter could
only come from the outage), item numbers gap-free per series, and every stored object verifying.

Bounded in time: about a minute per fault. The table of ledgers prints at the end of the run.
These tests stop and start the shared stack's servers, so they run after every other test
(tests/conftest.py orders them last).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from recordflow.localstack.stack import Stack
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.chaos.ledger import Ledger, Load, account

RATE_PER_S = 4.0
BEFORE_S = 8.0  # load flowing before the fault
AFTER_S = 8.0  # load flowing after it is mended
OUTAGE_S = 30.0
OUTCOME_TIMEOUT_S = 240.0
LEDGERS: list[Ledger] = []


class Workers:
    """The pipeline's worker processes for one fault; whatever is left runs until the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running: list[WorkerProcess] = []

    def start(self, *, wait: bool = True) -> WorkerProcess:
        worker = WorkerProcess(self.settings, name=f"chaos-{uuid.uuid4().hex[:6]}")
        worker.start()
        if wait:
            worker.wait_ready()
        self.running.append(worker)
        return worker

    def kill(self, worker: WorkerProcess) -> None:
        worker.kill()
        self.running.remove(worker)

    def stop_all(self) -> None:
        for worker in self.running:
            worker.stop()


@pytest.fixture
def workers(pipeline_settings: Settings) -> Iterator[Workers]:
    pool = Workers(pipeline_settings)
    pool.start()
    yield pool
    pool.stop_all()


def run(fault: str, settings: Settings, directory: Path, inject: Callable[[], None]) -> None:
    began = time.monotonic()
    load = Load(settings, directory, uuid.uuid4().hex[:6].upper(), RATE_PER_S)
    load.start()
    try:
        time.sleep(BEFORE_S)
        inject()
        time.sleep(AFTER_S)
    finally:
        load.stop()  # and flush the outbox
    ledger = account(fault, settings, load, timeout_s=OUTCOME_TIMEOUT_S,
                     seconds=time.monotonic() - began)  # fmt: skip
    LEDGERS.append(ledger)
    assert ledger.submitted > 0
    assert ledger.clean, ledger


def outage(settings: Settings, service: str, seconds: float) -> Callable[[], None]:
    def inject() -> None:
        stack = Stack(settings)
        assert stack.down(only=[service]) == [service], f"{service} was not running"
        time.sleep(seconds)
        stack.up(Console(stderr=True))

    return inject


def test_worker_sigkilled(pipeline_settings: Settings, workers: Workers, tmp_path: Path) -> None:
    def inject() -> None:
        workers.kill(workers.running[0])
        workers.start()

    run("worker SIGKILL", pipeline_settings, tmp_path, inject)


def test_kafka_broker_restarted(
    pipeline_settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    run("Kafka broker restart", pipeline_settings, tmp_path, outage(pipeline_settings, "kafka", 0))


def test_s3_down_for_30_s(pipeline_settings: Settings, workers: Workers, tmp_path: Path) -> None:
    run("S3 down 30 s", pipeline_settings, tmp_path, outage(pipeline_settings, "s3", OUTAGE_S))


def test_schema_registry_stopped(
    pipeline_settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    run("schema registry stopped", pipeline_settings, tmp_path,
        outage(pipeline_settings, "registry", OUTAGE_S))  # fmt: skip


def test_one_of_two_workers_killed_during_a_rebalance(
    pipeline_settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    def inject() -> None:
        first = workers.running[0]
        second = workers.start(wait=False)  # its joining starts a rebalance …
        time.sleep(2)
        workers.kill(first)  # … which the first leaves by dying
        second.wait_ready()

    run("worker killed in rebalance", pipeline_settings, tmp_path, inject)
