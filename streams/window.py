"""Working on several events of a stream at once, with the guarantees of one at a time.

Most of a record's time in the register stage is spent waiting for S3 and the broker, so a worker
works on up to N events together (`handle_concurrently`). Two things keep that safe:
- acks: events are acked in the order the stream gave them, per partition, each once its own
  handling and that of every event before it have finished. faust commits the first run of
  consecutive acked offsets, but its check for an unacked offset at the head of that run is off
  by one (and skipped before a partition's first commit), so acks out of order could commit past
  an event still in flight and lose it when the worker stops. In order, a crash redelivers
  whatever was unfinished, as it would one at a time;
- order: what must happen in arrival order (taking an item number, the duplicate check) waits
  for its `Turn`, which comes after the turns of every earlier event with the same key.
- failures: a failure the handler did not catch (sending a dead letter while the broker restarts,
  a bug) is logged and the same event handled again after a backoff, as a redelivery would be.
  Ending the agent instead, as faust does one at a time, stalls its partitions for good: faust
  restarts the agent, but the consumer has read past the failed event and never gives it again
  short of a rebalance, so nothing after it is ever committed (the chaos suite's broker restart
  on a slow machine, 2026-12-07: ten events of one partition never archived).
Given a stage's progress (recordflow/progress.py), each event counts as unfinished from when it is
read until it is acked, so that one stuck event, or one failing again and again, shows as a stall.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import faust

from recordflow.progress import StageProgress
from recordflow.timeouts import FIRST_BACKOFF_S, MAX_BACKOFF_S

log = logging.getLogger(__name__)


class Turn:
    """One event's place in the queue of its key (a series' fonds-year): `wait()` returns once
    every earlier event of the key has passed; `release()` lets the next one through, whether
    this event waited for its turn or left before (rejected, or a duplicate)."""

    def __init__(self, queues: dict[Any, asyncio.Future[None]], key: Any) -> None:
        self._queues = queues
        self._key = key
        self._before = queues.get(key)
        self._passed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queues[key] = self._passed

    async def wait(self) -> None:
        if self._before is not None:
            # Shielded: a cancelled waiter must not cancel the turn of the event before it.
            await asyncio.shield(self._before)

    def release(self) -> None:
        """Pass, or, while an earlier event still holds the key, pass as soon as it has: the
        next event must not overtake that one."""
        if self._before is None or self._before.done():
            self._pass()
        else:
            self._before.add_done_callback(lambda _: self._pass())

    def _pass(self) -> None:
        if not self._passed.done():
            self._passed.set_result(None)
        if self._queues.get(self._key) is self._passed:
            del self._queues[self._key]


@dataclass
class _Pending:
    event: faust.EventT[Any]
    done: bool = False


async def handle_concurrently(
    stream: faust.StreamT[Any],
    handle: Callable[[faust.EventT[Any], Turn], Awaitable[None]],
    limit: int,
    *,
    progress: StageProgress | None = None,
    on_retry: Callable[[BaseException], None] | None = None,
) -> None:
    """Run `handle(event, turn)` for each event, up to `limit` at a time, acking events in the
    stream's order once handled. A failure `handle` lets through is logged, passed to
    `on_retry` and the event handled again after a backoff, until it is handled. With
    `progress`, each event is reported started when read and finished when acked."""
    manual = cast(faust.Stream[Any], stream).noack()  # StreamT, the stub, lacks noack()
    queues: dict[Any, asyncio.Future[None]] = {}  # per call: a restarted agent starts afresh
    unacked: dict[Any, deque[_Pending]] = defaultdict(deque)  # per partition, in stream order
    slots = asyncio.Semaphore(limit)
    running: set[asyncio.Task[None]] = set()

    async def handled(event: faust.EventT[Any], turn: Turn) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                return await handle(event, turn)
            except Exception as failure:
                log.exception("handling %s at offset %d failed; handling it again in %.1f s",
                              event.message.tp, event.message.offset, backoff)  # fmt: skip
                if on_retry is not None:
                    on_retry(failure)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def run(pending: _Pending, turn: Turn) -> None:
        try:
            await handled(pending.event, turn)
        finally:
            turn.release()
        pending.done = True
        waiting = unacked[pending.event.message.tp]
        ready = []
        while waiting and waiting[0].done:
            ready.append(waiting.popleft().event)
        for event in ready:
            await manual.ack(event)
            if progress is not None:
                progress.finished(event.message.tp, event.message.offset)

    def finished(task: asyncio.Task[None]) -> None:
        running.discard(task)
        slots.release()

    try:
        async for event in manual.events():
            # Both before any await: in the stream's order.
            turn = Turn(queues, event.message.key)
            pending = _Pending(event)
            unacked[event.message.tp].append(pending)
            if progress is not None:
                progress.started(event.message.tp, event.message.offset)
            await slots.acquire()
            task = asyncio.create_task(run(pending, turn))
            running.add(task)
            task.add_done_callback(finished)
        # The stream ended (faust's never do, short of stopping): finish what is in flight.
        await asyncio.gather(*running, return_exceptions=True)
    finally:
        for task in running:
            task.cancel()
