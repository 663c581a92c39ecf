"""`recordflow bench --scaling`: the same load with 1, 2 and 3 workers, on the plain stack's
single broker and on the replicated profile's three (`stack up --brokers 3`), so a platform
engineer sees what a worker more and a replicated cluster cost or gain, measured in one run
(docs/performance.md, "Scaling").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console

from recordflow.bench.run import BenchOptions, run_bench
from recordflow.localstack.replicated import BROKERS, replicated_settings
from recordflow.localstack.stack import Stack
from recordflow.settings import Settings

WORKER_COUNTS = (1, 2, 3)
# The figures of each run the table shows; the whole result of each is in --json.
FIGURES = ("records_per_s", "p50_ms", "p95_ms", "cpu_s_per_record", "unfinished", "rejected")


def run_scaling(plain: Settings, options: BenchOptions, console: Console) -> list[dict[str, Any]]:
    """One bench run per broker count and worker count, without the raw baselines (the single
    broker is the baseline here). The replicated profile is started if it is not running, and
    stopped again afterwards."""
    rows = []
    for brokers in (1, BROKERS):
        settings = plain if brokers == 1 else replicated_settings(plain)
        stack = Stack(settings)
        started_here = brokers != 1 and not all(s.healthy for s in stack.status())
        try:
            for workers in WORKER_COUNTS:
                console.rule(f"{brokers} broker(s), {workers} worker(s)")
                run = dataclasses.replace(options, workers=workers, baselines=False)
                result = run_bench(settings, run, console)
                rows.append({"brokers": brokers, "workers": workers,
                             **{key: result[key] for key in FIGURES}})  # fmt: skip
        finally:
            if started_here:
                stack.down()
    return rows
