"""A fix for a faust-streaming race on rebalance that skips events (seen with 0.15.3).

After a rebalance faust restores the tables, then resumes the stream partitions and only then
seeks them back to their committed offsets, with the consumer's flow already running. Records
fetched in that window reach the stream queues and move faust's read offset forward; resuming the
flow then clears those queues (`clear_on_resume`), and the records after the committed offset are
skipped until newer ones arrive — lost, once a later commit passes them. We saw it when a worker
was SIGKILLed and another took over its partitions (tests/integration/test_pipeline.py).

The fix stops the flow before the streams are resumed, so nothing is delivered until the seek to
the committed offsets is done; faust's own code then resumes the flow as before.
"""

from __future__ import annotations

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery


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
