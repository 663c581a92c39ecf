"""streams/recovery.py's consumer: after faust's seek to the committed offsets, a partition the
group never committed is read from its earliest offset, so that records fetched (and cleared)
before the seek are not skipped (the bench's rebalance under load lost them, 2026-12-07)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP

from streams.recovery import SeekFirstConsumer

INGEST = "ingest.zwfw.lifecycle.v1"
CHANGELOG = "recordflow.item-numbers.changelog"


def consumer(committed: dict[TP, int | None], earliest: dict[TP, int]) -> Any:
    """A SeekFirstConsumer whose faust parts are stand-ins: what it asks and where it seeks."""
    made = cast(Any, SeekFirstConsumer.__new__(SeekFirstConsumer))
    made._committed_offset = defaultdict(lambda: None, committed)
    made.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: t == INGEST))
    made.sought, made.asked = {}, []

    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        made.asked.extend(partitions)
        return {tp: earliest[tp] for tp in partitions}

    async def seek(tp: TP, offset: int) -> None:
        made.sought[tp] = offset

    made.earliest_offsets, made.seek = earliest_offsets, seek
    made.assignment = lambda: set(committed)
    return made


def test_a_partition_never_committed_is_read_from_its_earliest_offset(monkeypatch: Any) -> None:
    async def faust_seek(self: Any) -> None:  # faust's own seek to the committed offsets
        return None

    monkeypatch.setattr("faust.transport.drivers.aiokafka.Consumer.perform_seek", faust_seek)
    quiet, busy, log = TP(INGEST, 0), TP(INGEST, 1), TP(CHANGELOG, 0)
    made = consumer({quiet: None, busy: 42, log: None}, {quiet: 0, busy: 0, log: 0})
    asyncio.run(made.perform_seek())
    assert made.sought == {quiet: 0}  # the committed partition and the changelog are left alone
    assert made.asked == [quiet]
