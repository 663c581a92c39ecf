"""Worker processes started by the demo, the benchmark and the tests: real `recordflow worker`
processes, so that they can be killed and restarted like in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console

from recordflow.settings import Settings

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def _env_value(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


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
        # By environment, not argv: the credentials among them stay out of `ps`.
        env = {
            **os.environ,
            **{
                f"RECORDFLOW_{k.upper()}": _env_value(v)
                for k, v in self._overrides().items()
                if v is not None
            },
        }
        command = [sys.executable, "-m", "recordflow", "worker", "--metrics-port", str(self.metrics_port),
                   "--port-file", str(self.port_file), "--loglevel", self.loglevel]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)  # fmt: skip

    def _overrides(self) -> dict[str, object]:
        """The settings that differ from the environment's, passed on to the child."""
        return {
            "home": self.settings.home.resolve(),
            "topic_prefix": self.settings.topic_prefix,
            "bucket_prefix": self.settings.bucket_prefix,
            "kafka_bootstrap": self.settings.kafka_bootstrap,
            "schema_registry_url": self.settings.schema_registry_url,
            "s3_endpoint": self.settings.s3_endpoint,
            "agencies_file": self.settings.agencies_file,
            "retention_dir": self.settings.retention_dir,
            # Who the worker is: the plain stack's anonymous client, or the secure profile's
            # pipeline principal.
            "stack_profile": self.settings.stack_profile,
            "kafka_security_protocol": self.settings.kafka_security_protocol,
            "kafka_sasl_mechanism": self.settings.kafka_sasl_mechanism,
            "kafka_sasl_username": self.settings.kafka_sasl_username,
            "kafka_sasl_password": self.settings.kafka_sasl_password,
            "s3_access_key": self.settings.s3_access_key,
            "s3_secret_key": self.settings.s3_secret_key,
        }

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port_file.read_text().strip()}/metrics"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())

    def wait_ready(
        self, console: Console | None = None, timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        """Wait until the worker has joined its consumer group and been given partitions."""
        deadline = time.monotonic() + timeout_s
        with (console or Console(stderr=True)).status(f"启动处理进程 Starting worker {self.name}…"):
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"worker {self.name} exited; see {self.log_path}")
                if self.port_file.exists() and self.assigned_partitions() > 0:
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
