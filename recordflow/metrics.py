"""Prometheus metrics of the pipeline (DESIGN.md, "Observability"): RED per stage.

Names are prefixed `recordflow_`, in base units, counters end in `_total`; labels are `agency`,
`stage`, `outcome`, `reason` where they apply. Consumer lag, the saturation signal, comes from the
broker side (kafka-exporter or the faust monitor), not from here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "recordflow_events_total",
            "Events handled by a pipeline stage, by outcome (accepted, rejected, duplicate, skipped).",
            ["agency", "stage", "outcome"],
            registry=registry,
        )
        self.stage_duration = Histogram(
            "recordflow_stage_duration_seconds",
            "Time a stage spent on one event.",
            ["agency", "stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.deadletters = Counter(
            "recordflow_deadletters_total",
            "Inputs sent to the dead-letter topic, by stage and reason code.",
            ["agency", "stage", "reason"],
            registry=registry,
        )
        self.archived = Counter(
            "recordflow_records_archived_total",
            "Records published as archival-ready, by retention period.",
            ["agency", "retention"],
            registry=registry,
        )
        self.archived_bytes = Counter(
            "recordflow_archived_bytes_total",
            "Bytes of content written to the archive bucket.",
            ["agency"],
            registry=registry,
        )
        self.latency = Histogram(
            "recordflow_end_to_end_latency_seconds",
            "From the lifecycle event's time to its archival-ready record being published.",
            ["agency"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "recordflow_retries_total",
            "Attempts a stage repeated after a failure that can pass (a server unreachable), by "
            "stage and reason code: a rate that stays above zero is a stage waiting on an outage.",
            ["stage", "reason"],
            registry=registry,
        )
        self.assigned_partitions = Gauge(
            "recordflow_worker_assigned_partitions",
            "Partitions this worker was given at its last rebalance (0 while it has none).",
            registry=registry,
        )
