"""Turns: the order in which concurrently handled events may take their item numbers."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.window import Turn


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
