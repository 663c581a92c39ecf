"""Which inputs each stage has taken and not yet finished, per partition, so that a stall shows.

A stage calls `started(stage, tp, offset)` when it takes an input from a partition and
`finished(stage, tp, offset)` once the input is done with (acked: its offset may be committed).
`oldest_ages()` then says, per stage and partition, how long the oldest unfinished input has been
waiting — computed when asked, so the age of an input stuck behind an outage keeps growing between
events; 0 for a partition whose inputs are all finished. recordflow/metrics.py serves it as
`recordflow_oldest_unfinished_input_age_seconds{stage,topic,partition}`.

Nothing here knows Kafka or faust beyond an event's `message.tp` (a (topic, partition) pair) and
`message.offset`. The worker's event loop writes; the metrics server's thread reads: a lock keeps
the two apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

# (stage, topic, partition)
Key = tuple[str, str, int]


class _Message(Protocol):
    @property
    def tp(self) -> tuple[str, int]: ...
    @property
    def offset(self) -> int: ...


class _Event(Protocol):
    @property
    def message(self) -> _Message: ...


E = TypeVar("E", bound=_Event)


class InputProgress:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # Per stage and partition, each unfinished offset and when it was taken, in the order
        # taken: the first entry is the oldest.
        self._unfinished: dict[Key, dict[int, float]] = {}

    def started(self, stage: str, tp: tuple[str, int], offset: int) -> None:
        """`stage` took the input at `offset` of partition `tp` (an input taken again, before it
        finished, keeps the time it was first taken)."""
        with self._lock:
            self._unfinished.setdefault((stage, tp[0], tp[1]), {}).setdefault(offset, self._clock())

    def finished(self, stage: str, tp: tuple[str, int], offset: int) -> None:
        """`stage` is done with the input at `offset` of `tp`; unknown inputs are ignored (their
        partition was revoked in the meantime)."""
        with self._lock:
            waiting = self._unfinished.get((stage, tp[0], tp[1]))
            if waiting is not None:
                waiting.pop(offset, None)

    def forget(self, tps: Iterable[tuple[str, int]]) -> None:
        """Partitions this worker no longer has (revoked in a rebalance): their inputs are
        someone else's now, redelivered from the last committed offset."""
        gone = {(tp[0], tp[1]) for tp in tps}
        with self._lock:
            for key in [key for key in self._unfinished if (key[1], key[2]) in gone]:
                del self._unfinished[key]

    def oldest_ages(self) -> dict[Key, float]:
        """Seconds since the oldest unfinished input of each stage and partition was taken; 0
        for a partition seen before whose inputs are all finished."""
        now = self._clock()
        with self._lock:
            return {
                key: max(0.0, now - next(iter(waiting.values()))) if waiting else 0.0
                for key, waiting in self._unfinished.items()
            }

    def of(self, stage: str) -> StageProgress:
        """The same, for one stage: what a stage's loop is given."""
        return StageProgress(self, stage)

    async def track(self, stage: str, events: AsyncIterable[E]) -> AsyncGenerator[E, None]:
        """For a stage that handles one event at a time (`async for event in stream.events()`):
        each event is unfinished from when it is yielded until the loop asks for the next one or
        leaves — when faust acks it."""
        async for event in events:
            tp, offset = event.message.tp, event.message.offset
            self.started(stage, tp, offset)
            try:
                yield event
            finally:
                self.finished(stage, tp, offset)


@dataclass(frozen=True)
class StageProgress:
    progress: InputProgress
    stage: str

    def started(self, tp: tuple[str, int], offset: int) -> None:
        self.progress.started(self.stage, tp, offset)

    def finished(self, tp: tuple[str, int], offset: int) -> None:
        self.progress.finished(self.stage, tp, offset)
