"""What the dashboards and alerts read, from real processes on the real stack: a worker measures its
consumer group's lag (streams/lag.py) and serves its process_* series; `recordflow outbox flush`
and `recordflow verify` write what they found with --metrics-file.

Kafka "down" for the producer is a closed port on 127.0.0.1, as in test_outbox.py; the shared
stack's servers are never stopped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from avro_schemas.codec import Codec
from connectors.outbox import Outbox, SubmissionHeld
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.cli.common import EXIT_HELD
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli
from tests.integration.test_outbox import closed_port
from tests.unit.recordflow.test_metrics import samples

OUTCOME_TIMEOUT_S = 90.0
LAG_TIMEOUT_S = 60.0  # the worker measures every 15 s, and commits every few seconds
DOWN_DEADLINE_S = 3.0


def lags(worker: WorkerProcess) -> dict[str, float]:
    """The worker's consumer lag by topic, summed over its partitions."""
    by_topic: dict[str, float] = {}
    for (name, pairs), value in samples(worker.metrics()).items():
        if name == "recordflow_consumer_lag_messages":
            topic = dict(pairs)["topic"]
            by_topic[topic] = by_topic.get(topic, 0) + value
    return by_topic


@pytest.fixture
def outbox_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own outbox, for this process and every `run_cli` child."""
    path = tmp_path / "outbox"
    monkeypatch.setenv("RECORDFLOW_OUTBOX_DIR", str(path))
    return path


def test_a_worker_measures_its_lag_to_zero_and_serves_its_process_series(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.7 notice " + os.urandom(1024))
    submitter = Submitter(pipeline_settings)
    receipt = submitter.submit("bgt", [FileToSubmit(document)], notice_metadata("BGT-LAG-1"))
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {receipt.event_id},
                             timeout_s=OUTCOME_TIMEOUT_S)[receipt.event_id]  # fmt: skip
    assert outcome.status == "archived", outcome

    # Every partition the worker reads is measured, changelogs aside, and once the event is
    # archived and its offsets committed nothing is left behind.
    wanted = {pipeline_settings.ingest_topic("bgt"), pipeline_settings.register_topic}
    deadline = time.monotonic() + LAG_TIMEOUT_S
    measured = lags(worker)
    while time.monotonic() < deadline and not (
        wanted <= set(measured) and not any(measured.values())
    ):
        time.sleep(1)
        measured = lags(worker)
    assert wanted <= set(measured), measured
    assert not any(measured.values()), sorted(measured.items())
    assert not any("changelog" in topic for topic in measured)

    assert worker.metric("process_resident_memory_bytes") > 0
    assert worker.metric("process_cpu_seconds_total") > 0


def test_outbox_flush_and_verify_write_what_they_found(
    pipeline_settings: Settings, worker: WorkerProcess, outbox_dir: Path, tmp_path: Path
) -> None:
    document = tmp_path / "防汛通知.pdf"
    document.write_bytes(b"%PDF-1.7 flood-season notice " + os.urandom(2048))
    port = closed_port()
    down = pipeline_settings.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{port}", "outbox_dir": outbox_dir}
    )
    with Outbox(outbox_dir) as outbox:
        submitter = Submitter(down, outbox=outbox)
        with pytest.raises(SubmissionHeld) as held:
            submitter.submit("bgt", [FileToSubmit(document)], notice_metadata("BGT-MF-1"),
                             deadline_s=DOWN_DEADLINE_S)  # fmt: skip
        submitter.close()
    entry = held.value.entry

    # Kafka still away: the flush holds it, and says since when.
    outbox_file = tmp_path / "outbox.prom"
    still = run_cli(pipeline_settings, "outbox", "flush", "--deadline", str(DOWN_DEADLINE_S),
                    "--metrics-file", str(outbox_file),
                    env={"RECORDFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"})  # fmt: skip
    assert still.returncode == EXIT_HELD, still.stderr
    found = samples(outbox_file.read_text())
    assert found["recordflow_outbox_pending_submissions", (("agency", "bgt"),)] == 1
    oldest = found["recordflow_outbox_oldest_pending_timestamp_seconds", (("agency", "bgt"),)]
    assert oldest == entry.accepted_at.timestamp()

    # Kafka back: delivered, and the file says the outbox holds nothing.
    delivered = run_cli(pipeline_settings, "outbox", "flush", "--metrics-file", str(outbox_file))
    assert delivered.returncode == 0, delivered.stderr
    assert samples(outbox_file.read_text()) == {}

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {entry.event_id},
                             timeout_s=OUTCOME_TIMEOUT_S)[entry.event_id]  # fmt: skip
    assert outcome.status == "archived", outcome

    verify_file = tmp_path / "verify.prom"
    began = time.time()
    checked = run_cli(pipeline_settings, "verify", "--agency", "bgt",
                      "--metrics-file", str(verify_file))  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    found = samples(verify_file.read_text())
    assert found["recordflow_verify_checked_records", (("agency", "bgt"),)] == 1
    assert found["recordflow_verify_failed_records", (("agency", "bgt"),)] == 0
    assert began <= found["recordflow_verify_last_run_timestamp_seconds", ()] <= time.time()
