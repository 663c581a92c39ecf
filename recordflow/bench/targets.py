"""Issue 5's targets, judged from one run's figures, and the limit the run measured.

A run speaks to the targets its kind of load measures (a 10 KB backlog to the 10 KB throughput, an
open-loop run to latency, a 30-minute open-loop run to memory growth); the others are left out.
Beside them, the CPU ceiling: what every archived record cost in CPU across the workers and the
stack's servers, and how many records per second the machine's cores allow at that cost. When the
cores were busy through the run, that ceiling is the limit the run ran into.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SOAK_SECONDS = 1800  # the soak: 30 minutes
SATURATED_SHARE = 0.85  # the cores count as saturated above this share of their time


@dataclass(frozen=True)
class Target:
    name: str
    goal: float
    at_least: bool  # True: the figure must reach the goal; False: stay at or below it
    figure: str
    applies: Callable[[dict[str, Any]], bool]

    def judge(self, figures: dict[str, Any]) -> dict[str, Any] | None:
        if not self.applies(figures) or figures.get(self.figure) is None:
            return None
        measured = figures[self.figure]
        met = measured >= self.goal if self.at_least else measured <= self.goal
        return {"target": self.name, "figure": self.figure, "goal": self.goal,
                "measured": measured, "met": met}  # fmt: skip


def _backlog(figures: dict[str, Any]) -> bool:
    return figures.get("target_rate_per_s") is None


TARGETS = (
    Target("10 KB: at least 1,000 records/s archived, sustained", 1000, True,
           "steady_records_per_s", lambda f: f["payload"] == "10KB" and _backlog(f)),
    Target("10 KB: p99 at most 250 ms at 70 % of that rate (open loop)", 250, False, "p99_ms",
           lambda f: f["payload"] == "10KB" and not _backlog(f)),
    Target("1 MB: at least 60 records/s", 60, True, "records_per_s",
           lambda f: f["payload"] == "1MB" and _backlog(f)),
    Target("throughput at least half of the raw S3 baseline", 0.5, True, "ratio_to_s3_baseline",
           _backlog),
    Target("worker RSS grows less than 5 % over a 30-minute soak", 5, False, "rss_growth_pct",
           lambda f: not _backlog(f) and f["seconds"] >= SOAK_SECONDS * 0.95),
)  # fmt: skip


def judge(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [verdict for target in TARGETS if (verdict := target.judge(figures)) is not None]


def cpu_ceiling(figures: dict[str, Any], cores: int | None = None) -> dict[str, Any]:
    """CPU ms per archived record across every process measured, the share of the cores that
    were busy, and the records/s the cores allow at that cost."""
    cores = cores or os.cpu_count() or 1
    archived = figures.get("archived") or 0
    total_s = sum(figures.get("cpu_s", {}).values())
    busy = sum(figures.get("cpu_share", {}).values())
    if not archived or not total_s:
        return {"cpu_ms_per_record_all": None, "cpu_busy_share": round(busy, 3),
                "cpu_ceiling_records_per_s": None, "cpu_saturated": False}  # fmt: skip
    per_record_ms = total_s / archived * 1000
    return {
        "cpu_ms_per_record_all": round(per_record_ms, 2),
        "cpu_busy_share": round(busy, 3),
        "cpu_ceiling_records_per_s": round(cores * 1000 / per_record_ms, 1),
        "cpu_saturated": busy >= SATURATED_SHARE,
    }
