"""Worker processes started by the demo, the benchmark and the tests: real `recordflow worker`
processes, so that they can be killed and restarted like in production."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from http import HTTPStatus
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console

from recordflow.localstack.prometheus import prometheus_targets_dir
from recordflow.metrics import scrape_address
from recordflow.settings import Settings
from streams.health import READY_PATH

ENV_PREFIX = "RECORDFLOW_"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every field of `settings` as the `RECORDFLOW_*` variable a child's Settings() reads back:
    secrets unwrapped, paths resolved (the child may start elsewhere), lists and mappings as
    JSON; a field that is None is left out."""
    env = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = value.resolve()
        elif isinstance(value, list | tuple | set | dict):
            value = json.dumps(list(value) if isinstance(value, set | tuple) else value)
        env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    return env


def child_environment(settings: Settings) -> dict[str, str]:
    """A child's environment: this process's, with every setting of `settings` in place of any
    RECORDFLOW_* variable of the same name, so that the child's Settings() equals `settings`. By
    environment, not argv: the credentials among them stay out of `ps`."""
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in type(settings).model_fields}
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in fields}
    return {**inherited, **settings_environment(settings)}


class WorkerProcess:
    def __init__(
        self, settings: Settings, *, name: str, metrics_port: int = 0, loglevel: str = "info"
    ) -> None:
        self.settings = settings
        self.loglevel = loglevel
        self.name = name
        self.metrics_port = metrics_port
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = settings.home / "logs" / f"worker-{name}.log"
        self.port_file = settings.home / "run" / f"worker-{name}.port"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            env=self.environment(), start_new_session=True)  # fmt: skip

    def command(self) -> list[str]:
        return [sys.executable, "-m", "recordflow", "worker", "--metrics-port", str(self.metrics_port),
                "--port-file", str(self.port_file), "--loglevel", self.loglevel,
                # A worker of the local stack: announced to its Prometheus, which scrapes it.
                "--prometheus-targets", str(prometheus_targets_dir(self.settings))]  # fmt: skip

    def environment(self) -> dict[str, str]:
        return child_environment(self.settings)

    @property
    def metrics_url(self) -> str:
        return f"{self._base_url}/metrics"

    @property
    def _base_url(self) -> str:
        port = int(self.port_file.read_text().strip())
        return f"http://{scrape_address(self.settings.metrics_host, port)}"

    def ready(self) -> bool:
        """What the worker's /ready says (streams/health.py): its partitions given and its tables
        recovered. False while it cannot be asked."""
        try:
            with urllib.request.urlopen(f"{self._base_url}{READY_PATH}", timeout=5) as response:
                return bool(response.status == HTTPStatus.OK)
        except (OSError, ValueError):  # 503 (an HTTPError), refused, or no port file yet
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())

    def wait_ready(
        self, console: Console | None = None, timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        """Wait until the worker has joined its consumer group, been given its partitions and
        recovered its tables: until its /ready answers 200, as Kubernetes' probe waits."""
        deadline = time.monotonic() + timeout_s
        with (console or Console(stderr=True)).status(f"启动处理进程 Starting worker {self.name}…"):
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"worker {self.name} exited; see {self.log_path}")
                if self.port_file.exists() and self.ready():
                    return
                time.sleep(0.5)
        raise TimeoutError(
            f"worker {self.name} not ready after {timeout_s:.0f} s; see {self.log_path}"
        )

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the worker's metrics (0 when it has none yet), e.g.
        `metric("recordflow_events_total", agency="zjj", stage="register", outcome="duplicate")`."""
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return 0.0

    def assigned_partitions(self) -> float:
        """Partitions the worker was given at its last rebalance; 0 while it cannot be asked."""
        try:
            return self.metric("recordflow_worker_assigned_partitions")
        except OSError:
            return 0.0

    def kill(self) -> None:
        """SIGKILL: the crash a test wants, with no chance to commit or clean up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
