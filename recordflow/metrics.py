"""Prometheus metrics of the pipeline (docs/design.md, "Observability"): RED per stage.

Names are prefixed `recordflow_`, in base units, counters end in `_total`; labels are `agency`,
`stage`, `outcome`, `reason` where they apply. Consumer lag, the saturation signal, comes from the
broker side (kafka-exporter or the faust monitor), not from here; a stall — an input a stage took
and cannot finish — shows here, as the age of the oldest unfinished input per partition.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from recordflow.progress import InputProgress

# Addresses a server listens on for every interface, which a client cannot connect to as such.
WILDCARD_HOSTS = ("", "0.0.0.0", "::")

STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


def scrape_address(bind_host: str, port: int) -> str:
    """`host:port` at which this machine reaches a /metrics server bound to `bind_host` (the
    loopback for a wildcard), as a Prometheus target or in a URL."""
    host = "127.0.0.1" if bind_host in WILDCARD_HOSTS else bind_host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
        self.receipts = Counter(
            "recordflow_receipts_total",
            "Archival receipts (归档回执) published to the agencies, by outcome (ARCHIVED, REJECTED, "
            "HELD_FOR_REVIEW, APPRAISAL_DUE; staff's DECIDED ones are not the workers').",
            ["agency", "outcome"],
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
        # Stages report what they take and finish (recordflow/progress.py); ages are read at scrape.
        self.progress = InputProgress()
        registry.register(OldestUnfinishedInput(self.progress))


class OldestUnfinishedInput(Collector):
    """`recordflow_oldest_unfinished_input_age_seconds`, computed at each scrape, so that the age
    of an input stuck behind an outage keeps growing while no other event comes."""

    NAME = "recordflow_oldest_unfinished_input_age_seconds"

    def __init__(self, progress: InputProgress) -> None:
        self.progress = progress

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for (stage, topic, partition), age in sorted(self.progress.oldest_ages().items()):
            family.add_metric([stage, topic, str(partition)], age)
        yield family

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            self.NAME,
            "Age of the oldest input a stage has taken from a partition and not yet finished "
            "(0 when all it took is finished): one that keeps growing is a stalled partition.",
            labels=["stage", "topic", "partition"],
        )
