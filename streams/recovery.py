"""A fix for a faust-streaming race on rebalance that skips events (seen with 0.15.3).

After a rebalance faust restores the tables, then resumes the stream partitions and only then
seeks them back to their committed offsets, with the consumer's flow already running. Records
fetched in that window reach the stream queues and move faust's read offset forward; resuming the
flow then clears those queues (`clear_on_resume`), and the records after the committed offset are
skipped until newer ones arrive — lost, once a later commit passes them. We saw it when a worker
was SIGKILLed and another took over its partitions (tests/integration/test_pipeline.py).

The fix stops the flow before the streams are resumed, so nothing is delivered until the seek to
the committed offsets is done; faust's own code then resumes the flow as before.

A partition the group has never committed has no offset to seek to, so that seek leaves it where
the fetcher had got to: records fetched and cleared in that window were skipped all the same, and
faust's check for a hole before its first commit is skipped too, so the next commit passed them
for good (the first two events of a quiet agency's partition, lost in a rebalance under load:
`recordflow bench --rebalance` beside a busy CPU, 2026-12-07). Such partitions are now read from
their earliest offset, as a group's first reader reads them (auto_offset_reset=earliest); what is
read twice is absorbed downstream (the register stage knows an event it numbered).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka


class SeekFirstRecovery(Recovery):
    def _hold_flow(self) -> None:
        self.app.consumer.stop_flow()
        self.app.flow_control.suspend()

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self._hold_flow()
        await super().on_recovery_completed(generation_id)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        self._hold_flow()
        await super()._resume_streams(generation_id)


class SeekFirstTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class SeekFirstConsumer(aiokafka.Consumer):
    async def perform_seek(self) -> None:
        await super().perform_seek()
        acks_enabled_for = self.app.topics.acks_enabled_for
        never = [
            tp
            for tp in self.assignment()
            if self._committed_offset[tp] is None and acks_enabled_for(tp.topic)
        ]
        if never:
            for tp, offset in (await self.earliest_offsets(*never)).items():
                await self.seek(tp, offset)


class SeekFirstTransport(aiokafka.Transport):
    Consumer = SeekFirstConsumer


class PipelineApp(faust.App):
    """faust's App with the consumer above (faust picks its transport by the broker URL's
    scheme and has no setting for the consumer class)."""

    def _new_transport(self) -> Any:
        return SeekFirstTransport(self.conf.broker_consumer, self)
