"""The benchmark's arithmetic, without I/O: percentiles, the per-second timeline, the figures of
the JSON report."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BUCKET_S = 1.0
# Steady throughput leaves out this share of the archiving window at each end (ramp-up, drain).
STEADY_TRIM = 0.1
# RSS growth is measured from this far into the load (after warm-up: imports, caches, the
# first schemas fetched) to its end.
RSS_WARMUP_SHARE = 0.1
# How long after a worker joins or leaves the bench looks for the pause it caused.
PAUSE_WINDOW_S = 30.0

# Every key `recordflow bench --json` prints, in order (the contract first).
RESULT_KEYS = (
    "records", "seconds", "records_per_s", "p50_ms", "p95_ms", "p99_ms", "cpu_s_per_record",
    "peak_rss_mb", "baseline_kafka_records_per_s", "baseline_s3_records_per_s",
    "ratio_to_s3_baseline", "targets", "cpu_ms_per_record_all", "cpu_busy_share",
    "cpu_ceiling_records_per_s", "cpu_saturated",
    "payload", "payload_mean_bytes", "payload_sizes", "workers", "brokers", "replication_factor",
    "partitions", "submitters",
    "target_rate_per_s", "submitted", "archived", "rejected", "review", "unfinished",
    "rejections", "formats", "submit_records_per_s", "steady_records_per_s", "max_ms",
    "cpu_s", "cpu_share", "rss_start_mb", "rss_end_mb", "rss_growth_pct", "worker_peak_rss_mb",
    "baseline_records", "ratio_to_kafka_baseline", "rebalances", "chart", "topic_prefix", "timeline",
)  # fmt: skip


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of all at or
    below it (so p99 of 100 values is the 99th smallest, never an interpolation)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction {fraction} is not between 0 and 1")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    if not latencies_ms:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(latencies_ms, 0.50), 1),
        "p95_ms": round(percentile(latencies_ms, 0.95), 1),
        "p99_ms": round(percentile(latencies_ms, 0.99), 1),
        "max_ms": round(max(latencies_ms), 1),
    }


@dataclass(frozen=True)
class Completion:
    """One record's archival-ready message: when it was written (wall clock) and its latency."""

    at: float
    latency_ms: float


@dataclass(frozen=True)
class Sample:
    """The workers at one moment: CPU seconds so far and resident memory (all workers)."""

    at: float
    cpu_s: float
    rss_mb: float


def timeline(start: float, end: float, submitted: Sequence[float], completed: Sequence[Completion],
             samples: Sequence[Sample], bucket_s: float = BUCKET_S) -> list[dict[str, Any]]:  # fmt: skip
    """Per bucket of `bucket_s` from `start` (wall-clock seconds) until `end`: records submitted
    and archived in it, p50/p99 latency of those archived in it, the workers' CPU use (cores
    busy, from the CPU-time samples) and RSS at its last sample."""
    count = max(1, math.floor((end - start) / bucket_s) + 1)  # the last instant included
    buckets: list[dict[str, Any]] = [
        {"t": round(i * bucket_s, 3), "submitted": 0, "archived": 0, "p50_ms": None,
         "p99_ms": None, "cpu_cores": None, "rss_mb": None}
        for i in range(count)
    ]  # fmt: skip
    latencies: list[list[float]] = [[] for _ in range(count)]

    def index(at: float) -> int | None:
        i = math.floor((at - start) / bucket_s)
        return i if 0 <= i < count else None

    for at in submitted:
        if (i := index(at)) is not None:
            buckets[i]["submitted"] += 1
    for done in completed:
        if (i := index(done.at)) is not None:
            buckets[i]["archived"] += 1
            latencies[i].append(done.latency_ms)
    for i, values in enumerate(latencies):
        if values:
            buckets[i]["p50_ms"] = round(percentile(values, 0.5), 1)
            buckets[i]["p99_ms"] = round(percentile(values, 0.99), 1)
    ordered = sorted(samples, key=lambda sample: sample.at)
    for previous, sample in itertools.pairwise(ordered):
        if (i := index(sample.at)) is not None and sample.at > previous.at:
            busy = (sample.cpu_s - previous.cpu_s) / (sample.at - previous.at)
            buckets[i]["cpu_cores"] = round(busy, 2)
            buckets[i]["rss_mb"] = round(sample.rss_mb, 1)
    return buckets


def pause(change: str, at: float, start: float, completed: Sequence[Completion],
          window_s: float = PAUSE_WINDOW_S) -> dict[str, Any]:  # fmt: skip
    """What a change of the consumer group (a worker joining or leaving at `at`) did to the flow
    in the `window_s` after it: the longest time without an archived record (counted from the
    change) and the worst latency of the records archived in the window."""
    inside = sorted((done for done in completed if at <= done.at <= at + window_s),
                    key=lambda done: done.at)  # fmt: skip
    edges = [at, *(done.at for done in inside)]
    longest = max((b - a for a, b in itertools.pairwise(edges)), default=window_s)
    return {
        "change": change,
        "at_s": round(at - start, 1),
        "pause_s": round(longest if inside else window_s, 2),
        "archived_in_window": len(inside),
        "max_latency_ms": round(max(done.latency_ms for done in inside), 1) if inside else None,
    }


def steady_rate(completed: Sequence[Completion], trim: float = STEADY_TRIM) -> float | None:
    """Records per second over the archiving window without its first and last `trim` share."""
    if len(completed) < 10:
        return None
    times = sorted(done.at for done in completed)
    first, last = times[0], times[-1]
    low, high = first + trim * (last - first), last - trim * (last - first)
    if high <= low:
        return None
    inside = sum(1 for at in times if low <= at <= high)
    return inside / (high - low)


def rss_growth(samples: Sequence[Sample], start: float, end: float,
               warmup: float = RSS_WARMUP_SHARE) -> dict[str, float | None]:  # fmt: skip
    """RSS after warm-up (the first sample `warmup` of the way into [start, end]) and at the end
    (the last sample within it), and the growth between them in per cent."""
    inside = sorted((s for s in samples if start <= s.at <= end), key=lambda s: s.at)
    if not inside:
        return {"rss_start_mb": None, "rss_end_mb": None, "rss_growth_pct": None}
    after = start + warmup * (end - start)
    first = next((s for s in inside if s.at >= after), inside[-1])
    last = inside[-1]
    growth = (last.rss_mb - first.rss_mb) / first.rss_mb * 100 if first.rss_mb else None
    return {
        "rss_start_mb": round(first.rss_mb, 1),
        "rss_end_mb": round(last.rss_mb, 1),
        "rss_growth_pct": None if growth is None else round(growth, 2),
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 and count else 0.0


def ratio(value: float, baseline: float | None) -> float | None:
    return round(value / baseline, 4) if baseline else None


def ordered_result(figures: dict[str, Any]) -> dict[str, Any]:
    """The report in RESULT_KEYS order; a missing key is a bug here, not a null."""
    missing = [key for key in RESULT_KEYS if key not in figures]
    if missing:
        raise KeyError(f"bench result lacks {', '.join(missing)}")
    extra = sorted(set(figures) - set(RESULT_KEYS))
    return {key: figures[key] for key in (*RESULT_KEYS, *extra)}
