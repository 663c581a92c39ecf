"""Prometheus metrics of the pipeline (docs/design.md, "Observability"): RED per stage.

Names are prefixed `recordflow_`, in base units, counters end in `_total`; labels are `agency`,
`stage`, `outcome`, `reason` where they apply. Consumer lag, the saturation signal, is what each
worker's consumer group has not committed of the partitions it reads (streams/lag.py refreshes it);
a stall — an input a stage took and cannot finish — shows as the age of the oldest unfinished
input per partition. A worker also serves prometheus_client's `process_*` series (CPU, memory).

Two commands that run and end, `recordflow verify` and `recordflow outbox flush`, write what they
found to a file in the text format (`--metrics-file`) for node_exporter's textfile collector, or
for a Pushgateway (`curl --data-binary @FILE`): VerifyMetrics and OutboxMetrics below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from recordflow.progress import InputProgress

# Addresses a server listens on for every interface, which a client cannot connect to as such.
WILDCARD_HOSTS = ("", "0.0.0.0", "::")

# What expect() starts at 0 for every agency beside its dead letters: intake's and the register
# stage's outcomes, the retention periods, and the receipts the workers write.
EXPECTED_EVENTS = (
    ("intake", "accepted"), ("intake", "review"), ("intake", "history"),
    ("register", "accepted"), ("register", "duplicate"), ("register", "flagged"),
)  # fmt: skip
RETENTION_PERIODS = ("Y", "D30", "D10")
WORKER_RECEIPTS = ("ARCHIVED", "REJECTED", "HELD_FOR_REVIEW", "APPRAISAL_DUE")
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
        self.consumer_lag = ConsumerLag()
        registry.register(self.consumer_lag)
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, _resident_memory_bytes …

    def expect(self, agencies: Iterable[str], dead_letters: Iterable[tuple[str, str]]) -> None:
        """Series each agency will have, at 0 from now on. A labelled counter otherwise appears
        first with its first increment, and Prometheus's increase() and rate() cannot see a
        series' first value: an agency's first rejection for a reason would never show on a
        dashboard or fire an alert. `dead_letters`: the (stage, reason) pairs a worker may give
        (recordflow/reasons.yaml). Called again for an agency onboarded while the worker runs."""
        for agency in agencies:
            for stage, reason in dead_letters:
                self.deadletters.labels(agency, stage, reason)
                self.events.labels(agency, stage, "rejected")
            for stage, outcome in EXPECTED_EVENTS:
                self.events.labels(agency, stage, outcome)
            for period in RETENTION_PERIODS:
                self.archived.labels(agency, period)
            for outcome in WORKER_RECEIPTS:
                self.receipts.labels(agency, outcome)
            self.archived_bytes.labels(agency)
            for stage in ("intake", "register"):
                self.stage_duration.labels(agency, stage)
            self.latency.labels(agency)


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


class ConsumerLag(Collector):
    """`recordflow_consumer_lag_messages{topic,partition}`: per partition this worker reads, the
    messages its consumer group has not committed yet, as last measured (streams/lag.py); the
    partitions of the last measurement only, so that one a rebalance moved elsewhere is not
    counted twice."""

    NAME = "recordflow_consumer_lag_messages"

    def __init__(self) -> None:
        # Replaced whole, never changed in place: the metrics server's thread reads it.
        self._lags: dict[tuple[str, int], int] = {}

    def update(self, lags: Mapping[tuple[str, int], int]) -> None:
        self._lags = dict(lags)

    def forget(self, tps: Iterable[tuple[str, int]]) -> None:
        """Partitions this worker no longer reads (revoked in a rebalance)."""
        gone = {(tp[0], tp[1]) for tp in tps}
        self._lags = {tp: lag for tp, lag in self._lags.items() if tp not in gone}

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for (topic, partition), lag in sorted(self._lags.items()):
            family.add_metric([topic, str(partition)], lag)
        yield family

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            self.NAME,
            "Messages of a partition this worker reads that its consumer group has not committed "
            "yet (end offset minus committed offset): one that keeps growing is a stage falling "
            "behind.",
            labels=["topic", "partition"],
        )


class VerifyMetrics:
    """What one `recordflow verify` run found (connectors/verify.py), per agency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.checked = Gauge(
            "recordflow_verify_checked_records",
            "Records the last `recordflow verify` run re-checked against the archive.",
            ["agency"],
            registry=registry,
        )
        self.failed = Gauge(
            "recordflow_verify_failed_records",
            "Records the last `recordflow verify` run found no longer matching the archive (a "
            "preservation alert each).",
            ["agency"],
            registry=registry,
        )
        self.finished = Gauge(
            "recordflow_verify_last_run_timestamp_seconds",
            "When the last `recordflow verify` run finished (Unix time).",
            registry=registry,
        )

    def record(self, results: Iterable[tuple[str, bool]], finished_at: float) -> None:
        """`results`: each record's agency and whether it still matches the archive."""
        for agency, ok in results:
            self.checked.labels(agency).inc()
            failed = self.failed.labels(agency)  # 0 for an agency whose records all match
            if not ok:
                failed.inc()
        self.finished.set(finished_at)


class OutboxMetrics:
    """What a producer's outbox (connectors/outbox.py) still holds, per agency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.pending = Gauge(
            "recordflow_outbox_pending_submissions",
            "Submissions the producer's outbox holds (accepted, not yet confirmed by Kafka).",
            ["agency"],
            registry=registry,
        )
        self.oldest = Gauge(
            "recordflow_outbox_oldest_pending_timestamp_seconds",
            "When the oldest submission the outbox holds was accepted (Unix time).",
            ["agency"],
            registry=registry,
        )

    def record(self, pending: Iterable[tuple[str, float]]) -> None:
        """`pending`: each held submission's agency and when it was accepted (Unix time)."""
        oldest: dict[str, float] = {}
        for agency, accepted_at in pending:
            self.pending.labels(agency).inc()
            oldest[agency] = min(accepted_at, oldest.get(agency, accepted_at))
        for agency, accepted_at in oldest.items():
            self.oldest.labels(agency).set(accepted_at)
