"""Turns: the order in which concurrently handled events may take their item numbers."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from streams import window
from streams.window import Turn, handle_concurrently


async def _passes(turn: Turn) -> bool:
    """Whether `turn.wait()` returns now, after letting every ready callback run."""
    waiting = asyncio.ensure_future(turn.wait())
    for _ in range(5):
        await asyncio.sleep(0)
    if waiting.done():
        return True
    waiting.cancel()
    return False


def test_a_turn_comes_after_every_earlier_turn_of_its_key() -> None:
    async def scenario() -> list[bool]:
        queues: dict[Any, asyncio.Future[None]] = {}
        first, second, third = Turn(queues, b"Z1"), Turn(queues, b"Z1"), Turn(queues, b"Z1")
        other = Turn(queues, b"Z2")
        seen = [await _passes(first), await _passes(other), await _passes(third)]
        second.release()  # left early (rejected): the third still waits for the first
        seen.append(await _passes(third))
        first.release()
        seen.append(await _passes(third))
        third.release()
        other.release()
        seen.append(not queues)  # nothing waits: the queues are empty again
        return seen

    assert asyncio.run(scenario()) == [True, True, False, False, True, True]


def test_a_cancelled_waiter_does_not_cancel_the_turn_before_it() -> None:
    async def scenario() -> bool:
        queues: dict[Any, asyncio.Future[None]] = {}
        first, second = Turn(queues, b"Z1"), Turn(queues, b"Z1")
        assert not await _passes(second)  # cancels its wait()
        third = Turn(queues, b"Z1")
        first.release()
        second.release()
        return await _passes(third)

    assert asyncio.run(scenario())


class _Message:
    def __init__(self, offset: int) -> None:
        self.offset, self.key, self.tp = offset, b"Z1", ("register", 0)


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = _Message(offset)


class _Stream:
    """The two things handle_concurrently uses of a faust stream: noack() and, on what that
    returns, events() and ack()."""

    def __init__(self, offsets: list[int]) -> None:
        self.offsets = offsets
        self.acked: list[int] = []

    def noack(self) -> _Stream:
        return self

    async def events(self) -> Any:
        for offset in self.offsets:
            yield _Event(offset)

    async def ack(self, event: _Event) -> bool:
        self.acked.append(event.message.offset)
        return True


def test_events_are_acked_in_stream_order_whatever_order_they_finish_in() -> None:
    async def scenario() -> tuple[list[int], list[int], list[int]]:
        stream = _Stream([0, 1, 2, 3])
        finished: list[int] = []
        acked_when_1_finished: list[int] = []
        slow = asyncio.Event()

        async def handle(event: Any, turn: Turn) -> None:
            offset = event.message.offset
            if offset == 0:
                await slow.wait()  # the first event is the last to finish
            finished.append(offset)
            if offset == 1:
                acked_when_1_finished.extend(stream.acked)
            if len(finished) == 3:
                slow.set()

        await handle_concurrently(stream, handle, limit=4)  # type: ignore[arg-type]
        for _ in range(20):
            await asyncio.sleep(0)
        return finished, acked_when_1_finished, stream.acked

    finished, early, acked = asyncio.run(scenario())
    assert finished[-1] == 0  # finished out of order …
    assert early == []  # … so nothing was acked while the first was still in flight
    assert acked == [0, 1, 2, 3]


def test_a_failure_the_handler_lets_through_is_retried_on_the_same_event_not_left_unacked() -> None:
    async def scenario() -> tuple[list[int], list[int], list[str]]:
        stream = _Stream([0, 1])
        attempts: list[int] = []
        retried: list[str] = []

        async def handle(event: Any, turn: Turn) -> None:
            attempts.append(event.message.offset)
            if event.message.offset == 0 and attempts.count(0) < 3:
                raise ConnectionError("the broker restarts")

        with mock.patch.object(window, "FIRST_BACKOFF_S", 0.0):
            await handle_concurrently(stream, handle, limit=2,  # type: ignore[arg-type]
                                      on_retry=lambda failure: retried.append(str(failure)))  # fmt: skip
        return attempts, stream.acked, retried

    attempts, acked, retried = asyncio.run(scenario())
    assert attempts.count(0) == 3 and attempts.count(1) == 1
    assert acked == [0, 1]  # the later event waited for the retried one to be acked
    assert retried == ["the broker restarts"] * 2
