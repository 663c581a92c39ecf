"""Where a worker serves /metrics and who is told about it: `recordflow worker` listens on
RECORDFLOW_METRICS_HOST and announces itself to nobody; the local stack's launcher
(recordflow/localstack/workers.py) has it write a target file for the local Prometheus."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path

import pytest

from recordflow.localstack.prometheus import prometheus_targets_dir
from recordflow.localstack.workers import WorkerProcess, settings_environment
from recordflow.settings import Settings

PORT_FILE_TIMEOUT_S = 60.0


def target_file(settings: Settings, pid: int) -> Path:
    return prometheus_targets_dir(settings) / f"worker-{socket.gethostname()}-{pid}.json"


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_worker_run_by_hand_listens_on_its_host_and_is_announced_nowhere(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    # 127.0.0.2: another loopback address, so that "listens where told" differs from the default.
    settings = pipeline_settings.model_copy(update={"metrics_host": "127.0.0.2"})
    port_file = tmp_path / "port"
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "recordflow", "worker", "--metrics-port", "0",
         "--port-file", str(port_file)],
        env={**os.environ, **settings_environment(settings)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + PORT_FILE_TIMEOUT_S
        while time.monotonic() < deadline and not port_file.exists():
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as response:
            assert b"recordflow_worker_assigned_partitions" in response.read()
        assert refused("127.0.0.1", port)
        assert not target_file(settings, process.pid).exists()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def test_the_local_stack_s_worker_is_announced_to_its_prometheus(
    pipeline_settings: Settings, worker: WorkerProcess
) -> None:
    assert worker.process is not None
    target = target_file(pipeline_settings, worker.process.pid)
    [group] = json.loads(target.read_text())
    port = int(worker.port_file.read_text())
    assert group["targets"] == [f"127.0.0.1:{port}"]
    assert group["labels"]["app"] == pipeline_settings.consumer_group
    worker.stop()
    assert not target.exists()  # removed as the worker exits


def test_a_worker_turns_ready_once_it_has_its_partitions(pipeline_settings: Settings) -> None:
    worker = WorkerProcess(pipeline_settings, name=f"ready-{os.getpid()}")
    worker.start()
    try:
        worker.wait_ready()  # /ready answered 200
        assert worker.assigned_partitions() > 0
    finally:
        worker.stop()


def test_a_worker_is_not_ready_while_it_starts_but_serves_metrics(
    pipeline_settings: Settings,
) -> None:
    """From the moment its port opens until its first rebalance and recovery are over (loading
    its rules, joining the group, reading its tables' changelogs: seconds), /ready says 503."""
    worker = WorkerProcess(pipeline_settings, name=f"starting-{os.getpid()}")
    worker.start()
    try:
        deadline = time.monotonic() + PORT_FILE_TIMEOUT_S
        while not worker.port_file.exists():
            assert time.monotonic() < deadline, worker.log_path.read_text()
            time.sleep(0.05)
        with pytest.raises(urllib.error.HTTPError) as unready:
            urllib.request.urlopen(worker.metrics_url.replace("/metrics", "/ready"), timeout=5)
        assert unready.value.code == HTTPStatus.SERVICE_UNAVAILABLE
        assert "recordflow_worker_assigned_partitions" in worker.metrics()
        worker.wait_ready()
    finally:
        worker.stop()
