"""A stall shows on a real worker's /metrics: with its configured virus scanner down, the register
stage takes a record and cannot scan it (it waits until the scanner is back), and
recordflow_oldest_unfinished_input_age_seconds for that partition grows while no other event
comes; once the scanner answers the record is archived and the age falls to 0."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from avro_schemas.codec import Codec
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.metrics import OldestUnfinishedInput
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.fakes import FakeClamd, scanning_worker

GAUGE = OldestUnfinishedInput.NAME
STUCK_TIMEOUT_S = 60.0
OUTCOME_TIMEOUT_S = 120.0


def gauge_labels(worker: WorkerProcess, stage: str) -> list[dict[str, str]]:
    """The label sets of the gauge's samples for `stage` on the worker's /metrics."""
    return [
        sample.labels
        for family in text_string_to_metric_families(worker.metrics())
        for sample in family.samples
        if sample.name == GAUGE and sample.labels["stage"] == stage
    ]


def test_a_record_stuck_in_register_shows_as_an_ageing_unfinished_input(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    clamd = FakeClamd()
    settings, worker = scanning_worker(pipeline_settings, clamd, "stall")
    try:
        assert gauge_labels(worker, "register") == []  # nothing taken yet: no series
        path = tmp_path / "stuck.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(256))
        submitter = Submitter(settings)
        receipt = submitter.submit("bgt", [FileToSubmit(path)], notice_metadata("BGT-STALL-1"))
        submitter.close()

        deadline = time.monotonic() + STUCK_TIMEOUT_S
        stuck: list[dict[str, str]] = []
        while time.monotonic() < deadline and not stuck:
            stuck = [labels for labels in gauge_labels(worker, "register")
                     if worker.metric(GAUGE, **labels) > 0]  # fmt: skip
            time.sleep(0.5)
        assert len(stuck) == 1, f"no unfinished register input on {worker.metrics_url}"
        [labels] = stuck
        assert labels["topic"] == pipeline_settings.register_topic
        first = worker.metric(GAUGE, **labels)
        time.sleep(3)
        assert worker.metric(GAUGE, **labels) >= first + 2.5  # ageing between scrapes, no event
        clamd.answer()  # the scanner is back: the waiting record is scanned and archived
        codec = Codec.from_url(settings.schema_registry_url)
        outcomes = watch_outcomes(settings, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S)
        assert outcomes[receipt.event_id].status == "archived"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.metric(GAUGE, **labels) != 0:
            time.sleep(0.5)
        assert worker.metric(GAUGE, **labels) == 0  # acked: nothing unfinished, the series stays
    finally:
        worker.stop()
        clamd.close()
