"""Consumer lag, the saturation signal (docs/design.md, "Observability"): per partition this worker
reads, the messages its consumer group has not committed yet, served as
`recordflow_consumer_lag_messages{topic,partition}` (recordflow/metrics.py, ConsumerLag).

Measured every LAG_REFRESH_S from the broker's end offsets (a ListOffsets request, not the
fetcher's high-water mark, which stops moving while faust pauses a partition) and the offsets the
group committed; a partition the group never committed counts from its earliest offset, where it
is read from (streams/recovery.py). The tables' changelogs are not counted: the worker reads them
to restore state, it commits nothing there.
"""

from __future__ import annotations

import logging
from typing import cast

import faust
from faust.transport.consumer import Consumer
from faust.types import TP

from recordflow.metrics import ConsumerLag

log = logging.getLogger(__name__)

LAG_REFRESH_S = 15.0


async def consumer_lag(consumer: Consumer) -> dict[tuple[str, int], int]:
    """Per (topic, partition) the consumer reads and commits: end offset minus committed offset."""
    app = consumer.app
    # A table's changelog is read to restore state, never committed: faust marks the changelogs
    # it names itself as unacked, not one a table was given by name (the item numbers').
    changelogs = app.tables.changelog_topics
    tps = [
        tp for tp in consumer.assignment()
        if app.topics.acks_enabled_for(tp.topic) and tp.topic not in changelogs
    ]  # fmt: skip
    if not tps:
        return {}
    ends = await consumer.highwaters(*tps)
    committed: dict[TP, int | None] = {tp: consumer._committed_offset[tp] for tp in tps}
    never = [tp for tp, offset in committed.items() if offset is None]
    starts = await consumer.earliest_offsets(*never) if never else {}
    lags = {}
    for tp in tps:
        done = committed[tp]
        lags[(tp.topic, tp.partition)] = max(0, ends[tp] - (starts[tp] if done is None else done))
    return lags


def attach(app: faust.App, lag: ConsumerLag) -> None:
    @app.timer(LAG_REFRESH_S)
    async def measure_consumer_lag() -> None:
        try:
            lag.update(await consumer_lag(cast(Consumer, app.consumer)))
        except Exception as exc:  # the broker away, the consumer not started yet: measure later
            log.warning("consumer lag not measured (the last measurement stays): %s", exc)
