"""The series recordflow/metrics.py adds beside the stages' counters: the worker's consumer lag and
process_* series, and what `recordflow verify` and `recordflow outbox flush` write with
--metrics-file (recordflow/cli/verify.py, recordflow/cli/outbox.py)."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connectors.outbox import Outbox
from connectors.verify import Problem, RecordResult
from recordflow.cli import outbox as outbox_cli
from recordflow.cli import verify as verify_cli
from recordflow.metrics import ConsumerLag, PipelineMetrics
from streams.context import worker_dead_letters
from tests.unit.connectors.test_outbox import accept

REGISTER = "recordflow.register.v1"
INGEST = "ingest.zjj.lifecycle.v1"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scraped(registry: CollectorRegistry) -> Samples:
    return samples(generate_latest(registry).decode())


def lag(topic: str, partition: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ConsumerLag.NAME, (("partition", str(partition)), ("topic", topic))


def test_the_consumer_lag_is_the_last_measurement_of_the_partitions_the_worker_reads() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.consumer_lag.update({(REGISTER, 0): 12, (INGEST, 1): 0})
    found = scraped(metrics.registry)
    assert found[lag(REGISTER, 0)] == 12 and found[lag(INGEST, 1)] == 0
    metrics.consumer_lag.update({(REGISTER, 0): 3})  # partition 1 went elsewhere meanwhile
    found = scraped(metrics.registry)
    assert found[lag(REGISTER, 0)] == 3 and lag(INGEST, 1) not in found
    metrics.consumer_lag.forget({(REGISTER, 0)})  # revoked before the next measurement
    assert not any(name == ConsumerLag.NAME for name, _ in scraped(metrics.registry))


def test_a_worker_serves_its_process_cpu_and_memory() -> None:
    found = {name for name, _ in scraped(PipelineMetrics(CollectorRegistry()).registry)}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= found


def result(agency: str, *problems: Problem) -> RecordResult:
    now = dt.datetime.now(dt.UTC)
    return RecordResult(f"{agency}-code", agency, "D10", now, now, problems=list(problems))


def test_verify_writes_per_agency_what_it_checked_and_found_no_longer_matching(
    tmp_path: Path,
) -> None:
    mismatch = Problem("checksum-mismatch", "sha256 differs", 1)
    before = time.time()
    path = tmp_path / "verify.prom"
    verify_cli.write_metrics(path, [result("zjj"), result("zjj", mismatch), result("bgt")])
    found = samples(path.read_text())
    assert found["recordflow_verify_checked_records", (("agency", "zjj"),)] == 2
    assert found["recordflow_verify_failed_records", (("agency", "zjj"),)] == 1
    assert found["recordflow_verify_checked_records", (("agency", "bgt"),)] == 1
    assert found["recordflow_verify_failed_records", (("agency", "bgt"),)] == 0
    assert before <= found["recordflow_verify_last_run_timestamp_seconds", ()] <= time.time()


def test_the_flush_writes_per_agency_what_the_outbox_still_holds_and_since_when(
    tmp_path: Path,
) -> None:
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.7 notice " + os.urandom(64))
    with Outbox(tmp_path / "outbox") as outbox:
        accept(outbox, [document], event_id="e-1")
        time.sleep(0.01)
        accept(outbox, [document], event_id="e-2")
        accept(outbox, [document], event_id="e-3", agency="zjj", topic=INGEST)
        held = outbox.pending()
        path = tmp_path / "outbox.prom"
        outbox_cli.write_metrics(path, held)
    found = samples(path.read_text())
    first_bgt = min(e.accepted_at for e in held if e.agency == "bgt").timestamp()
    zjj = next(e.accepted_at for e in held if e.agency == "zjj").timestamp()
    assert found["recordflow_outbox_pending_submissions", (("agency", "bgt"),)] == 2
    assert found["recordflow_outbox_pending_submissions", (("agency", "zjj"),)] == 1
    assert found["recordflow_outbox_oldest_pending_timestamp_seconds", (("agency", "bgt"),)] == (
        first_bgt
    )
    assert found["recordflow_outbox_oldest_pending_timestamp_seconds", (("agency", "zjj"),)] == zjj


def test_an_empty_outbox_writes_no_agency(tmp_path: Path) -> None:
    path = tmp_path / "outbox.prom"
    outbox_cli.write_metrics(path, [])
    assert samples(path.read_text()) == {}


def test_an_agencys_series_are_there_at_zero_before_its_first_event() -> None:
    # Prometheus's increase() cannot see a series' first value: a first rejection would not show.
    metrics = PipelineMetrics(registry := CollectorRegistry())
    pairs = worker_dead_letters()
    assert ("validate", "unknown-document-type") in pairs
    assert ("check", "four-property-check-failed") in pairs
    assert not any(stage in ("sdk", "import", "gateway") for stage, _ in pairs)
    metrics.expect(["bgt"], pairs)
    found = samples(generate_latest(registry).decode())
    deadletter = ("recordflow_deadletters_total",
                  (("agency", "bgt"), ("reason", "unknown-document-type"), ("stage", "validate")))  # fmt: skip
    assert found[deadletter] == 0
    review = ("recordflow_events_total",
              (("agency", "bgt"), ("outcome", "review"), ("stage", "intake")))  # fmt: skip
    assert found[review] == 0
    assert (
        found[("recordflow_records_archived_total", (("agency", "bgt"), ("retention", "Y")))] == 0
    )
    assert not any(dict(labels).get("agency") == "zjj" for _, labels in found)
    metrics.expect(["zjj"], pairs)  # onboarded while the worker runs
    assert any(dict(labels).get("agency") == "zjj" for _, labels in samples(
        generate_latest(registry).decode()))  # fmt: skip
