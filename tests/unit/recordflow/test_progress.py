"""The tracker of unfinished inputs (recordflow/progress.py), the gauge it feeds
(recordflow_oldest_unfinished_input_age_seconds) and the two ways stages report to it: one event at
a time (`track`) and the register stage's concurrency window (streams/window.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from recordflow.metrics import OldestUnfinishedInput, PipelineMetrics
from recordflow.progress import InputProgress
from streams import window
from streams.window import Turn, handle_concurrently

TOPIC = "recordflow.register.v1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_age_is_that_of_the_oldest_unfinished_input(clock: Clock) -> None:
    progress = InputProgress(clock)
    progress.started("register", (TOPIC, 0), 5)
    clock.now += 2
    progress.started("register", (TOPIC, 0), 6)
    progress.started("register", (TOPIC, 1), 9)
    clock.now += 3
    assert progress.oldest_ages() == {
        ("register", TOPIC, 0): 5.0,
        ("register", TOPIC, 1): 3.0,
    }
    progress.finished("register", (TOPIC, 0), 5)  # the oldest finishes: the next one is oldest
    assert progress.oldest_ages()[("register", TOPIC, 0)] == 3.0


def test_a_stuck_input_keeps_ageing_while_no_event_comes(clock: Clock) -> None:
    progress = InputProgress(clock)
    progress.started("intake", ("ingest.zjj.lifecycle.v1", 2), 41)
    ages = []
    for _ in range(3):
        clock.now += 60
        ages.append(progress.oldest_ages()[("intake", "ingest.zjj.lifecycle.v1", 2)])
    assert ages == [60.0, 120.0, 180.0]


def test_an_idle_partition_reads_zero_and_an_unseen_one_is_absent(clock: Clock) -> None:
    progress = InputProgress(clock)
    assert progress.oldest_ages() == {}
    progress.started("register", (TOPIC, 0), 5)
    clock.now += 10
    progress.finished("register", (TOPIC, 0), 5)
    clock.now += 10
    assert progress.oldest_ages() == {("register", TOPIC, 0): 0.0}


def test_stages_and_partitions_are_kept_apart(clock: Clock) -> None:
    progress = InputProgress(clock)
    progress.started("intake", (TOPIC, 0), 5)
    clock.now += 1
    progress.started("register", (TOPIC, 0), 5)
    progress.finished("register", (TOPIC, 0), 5)  # not intake's
    assert progress.oldest_ages() == {("intake", TOPIC, 0): 1.0, ("register", TOPIC, 0): 0.0}


def test_an_input_taken_again_keeps_its_first_time(clock: Clock) -> None:
    progress = InputProgress(clock)
    progress.started("register", (TOPIC, 0), 5)
    clock.now += 10
    progress.started("register", (TOPIC, 0), 5)
    assert progress.oldest_ages()[("register", TOPIC, 0)] == 10.0


def test_revoked_partitions_are_forgotten_and_their_late_finishes_ignored(clock: Clock) -> None:
    progress = InputProgress(clock)
    progress.started("intake", ("ingest.bgt.lifecycle.v1", 0), 1)
    progress.started("register", (TOPIC, 0), 5)
    progress.started("register", (TOPIC, 1), 7)
    progress.forget({(TOPIC, 0), ("ingest.bgt.lifecycle.v1", 0)})
    progress.finished("register", (TOPIC, 0), 5)  # the revoked partition's event ends later
    assert set(progress.oldest_ages()) == {("register", TOPIC, 1)}


def test_the_gauge_is_read_at_scrape_time(clock: Clock) -> None:
    registry = CollectorRegistry()
    progress = InputProgress(clock)
    registry.register(OldestUnfinishedInput(progress))
    assert _gauge(registry) == {}  # no input taken yet: no series
    progress.started("register", (TOPIC, 3), 12)
    clock.now += 7.5
    assert _gauge(registry) == {("register", TOPIC, "3"): 7.5}
    clock.now += 60  # no event in between
    assert _gauge(registry) == {("register", TOPIC, "3"): 67.5}
    progress.finished("register", (TOPIC, 3), 12)
    assert _gauge(registry) == {("register", TOPIC, "3"): 0.0}


def test_a_worker_s_metrics_have_a_tracker_of_their_own() -> None:
    first, second = PipelineMetrics(CollectorRegistry()), PipelineMetrics(CollectorRegistry())
    first.progress.started("register", (TOPIC, 0), 1)
    assert second.progress.oldest_ages() == {}
    assert ("register", TOPIC, "0") in _gauge(first.registry)


def test_scrapes_from_another_thread_while_the_loop_writes() -> None:
    progress = InputProgress()
    stop = threading.Event()
    failures: list[BaseException] = []

    def scrape() -> None:
        try:
            while not stop.is_set():
                progress.oldest_ages()
        except BaseException as exc:
            failures.append(exc)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    for offset in range(20_000):
        progress.started("register", (TOPIC, offset % 50), offset)
        if offset % 7 == 0:
            progress.forget({(TOPIC, offset % 50)})
        progress.finished("register", (TOPIC, offset % 50), offset)
    stop.set()
    scraper.join()
    assert failures == []


# --- one event at a time: track() -------------------------------------------------------------


class _Message:
    def __init__(self, offset: int, partition: int = 0) -> None:
        self.offset, self.key, self.tp = offset, b"Z1", (TOPIC, partition)


class _Event:
    def __init__(self, offset: int, partition: int = 0) -> None:
        self.message = _Message(offset, partition)


async def _events(offsets: list[int], idle: asyncio.Event | None = None) -> AsyncIterator[_Event]:
    for offset in offsets:
        yield _Event(offset)
    if idle is not None:  # a stream waiting for its next event
        await idle.wait()


def test_track_counts_an_event_unfinished_until_the_loop_moves_on(clock: Clock) -> None:
    progress = InputProgress(clock)
    key = ("intake", TOPIC, 0)
    seen: list[float] = []

    async def scenario() -> None:
        idle = asyncio.Event()
        loop = progress.track("intake", _events([3, 4], idle))
        async for event in loop:
            clock.now += 5
            seen.append(progress.oldest_ages()[key])
            if event.message.offset == 4:
                break
        await loop.aclose()

    asyncio.run(scenario())
    assert seen == [5.0, 5.0]  # each event's own age: the one before it had finished
    assert progress.oldest_ages() == {key: 0.0}


def test_track_leaves_nothing_unfinished_once_waiting_for_the_next_event(clock: Clock) -> None:
    progress = InputProgress(clock)
    key = ("intake", TOPIC, 0)

    async def scenario() -> dict[Any, float]:
        idle = asyncio.Event()

        async def agent() -> None:
            async for _ in progress.track("intake", _events([3], idle)):
                clock.now += 5

        task = asyncio.create_task(agent())
        for _ in range(5):
            await asyncio.sleep(0)
        clock.now += 300  # a long quiet spell
        ages = progress.oldest_ages()
        idle.set()
        await task
        return ages

    assert asyncio.run(scenario()) == {key: 0.0}


def test_track_finishes_an_event_whose_handling_raised(clock: Clock) -> None:
    # faust acks such an event too (when the stream's iterator is closed), so it is not stuck.
    progress = InputProgress(clock)

    async def scenario() -> None:
        loop = progress.track("intake", _events([3]))
        with pytest.raises(RuntimeError):
            async for _ in loop:
                raise RuntimeError("a bug")
        await loop.aclose()

    asyncio.run(scenario())
    assert progress.oldest_ages() == {("intake", TOPIC, 0): 0.0}


# --- the register stage's window: started when read, finished when acked --------------------


class _Stream:
    def __init__(self, offsets: list[int]) -> None:
        self.offsets = offsets
        self.acked: list[int] = []

    def noack(self) -> _Stream:
        return self

    async def events(self) -> AsyncIterator[_Event]:
        for offset in self.offsets:
            yield _Event(offset)

    async def ack(self, event: _Event) -> bool:
        self.acked.append(event.message.offset)
        return True


def test_the_window_keeps_an_event_unfinished_until_it_is_acked(clock: Clock) -> None:
    progress = InputProgress(clock)
    key = ("register", TOPIC, 0)
    observed: dict[str, float] = {}

    async def scenario() -> None:
        stream = _Stream([0, 1, 2])
        slow = asyncio.Event()

        async def handle(event: Any, turn: Turn) -> None:
            offset = event.message.offset
            if offset == 0:
                await slow.wait()  # the first event is the last to finish
            elif offset == 2:
                for _ in range(5):  # let offset 1 finish first
                    await asyncio.sleep(0)
                clock.now += 30
                # 1 and 2 are handled, but 0 is not: none is acked, 0 is the oldest, 30 s old.
                observed["while 0 in flight"] = progress.oldest_ages()[key]
                slow.set()

        await handle_concurrently(stream, handle, limit=4, progress=progress.of("register"))  # type: ignore[arg-type]
        observed["acked"] = len(stream.acked)

    asyncio.run(scenario())
    assert observed == {"while 0 in flight": 30.0, "acked": 3}
    assert progress.oldest_ages() == {key: 0.0}


def test_an_event_failing_again_and_again_stays_unfinished(clock: Clock) -> None:
    # The window handles it again and again (streams/window.py): its partition shows as stalled.
    progress = InputProgress(clock)
    attempts: list[int] = []

    async def scenario() -> None:
        async def handle(event: Any, turn: Turn) -> None:
            if event.message.offset == 1:
                attempts.append(1)
                raise RuntimeError("a bug")

        with mock.patch.object(window, "FIRST_BACKOFF_S", 0.0):
            running = asyncio.create_task(handle_concurrently(
                _Stream([0, 1, 2]), handle, limit=1, progress=progress.of("register")  # type: ignore[arg-type]
            ))  # fmt: skip
            while len(attempts) < 3:
                await asyncio.sleep(0)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

    asyncio.run(scenario())
    clock.now += 120
    assert progress.oldest_ages() == {("register", TOPIC, 0): 120.0}


# --- helpers ----------------------------------------------------------------------------------


def _gauge(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.labels["stage"], sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == OldestUnfinishedInput.NAME
    }
