"""streams/lag.py: a worker's consumer lag per partition it reads, from the broker's end offsets and
the offsets its group committed; from the earliest offset where the group never committed; the
tables' changelogs left out. The consumer is a stand-in; the offsets are what faust would hold."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP

from streams.lag import consumer_lag

INGEST = "ingest.zjj.lifecycle.v1"
REGISTER = "recordflow.register.v1"
CHANGELOG = "recordflow.item-numbers.changelog"  # named by the table: faust acks it like any


def consumer(committed: dict[TP, int | None], ends: dict[TP, int], earliest: dict[TP, int]) -> Any:
    made = SimpleNamespace(
        app=SimpleNamespace(
            topics=SimpleNamespace(acks_enabled_for=lambda t: True),
            tables=SimpleNamespace(changelog_topics={CHANGELOG}),
        ),
        _committed_offset=defaultdict(lambda: None, committed),
        asked_earliest=[],
    )

    async def highwaters(*partitions: TP) -> dict[TP, int]:
        return {tp: ends[tp] for tp in partitions}

    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        made.asked_earliest.extend(partitions)
        return {tp: earliest[tp] for tp in partitions}

    made.assignment = lambda: set(ends)
    made.highwaters, made.earliest_offsets = highwaters, earliest_offsets
    return cast(Any, made)


def test_the_lag_is_the_end_offset_less_what_the_group_committed() -> None:
    busy, idle, new, log = TP(REGISTER, 0), TP(INGEST, 2), TP(INGEST, 3), TP(CHANGELOG, 0)
    made = consumer(
        committed={busy: 1200, idle: 57, log: None},
        ends={busy: 1450, idle: 57, new: 40, log: 9000},
        earliest={new: 30, log: 0},
    )
    assert asyncio.run(consumer_lag(made)) == {
        (REGISTER, 0): 250,
        (INGEST, 2): 0,
        (INGEST, 3): 10,  # never committed: read from its earliest offset, 30
    }
    assert made.asked_earliest == [new]  # not the changelog's, which is not counted


def test_a_worker_with_no_partitions_asks_the_broker_nothing() -> None:
    made = consumer(committed={}, ends={}, earliest={})
    made.highwaters = None  # would fail if called
    assert asyncio.run(consumer_lag(made)) == {}
