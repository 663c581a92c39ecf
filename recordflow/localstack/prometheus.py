"""The local stack's Prometheus (Debian's package, installed with apt): it scrapes the workers
that announce themselves in its file_sd targets folder and evaluates the pipeline's alert rules."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import httpx
import yaml

from recordflow.localstack.service import (
    PROBE_TIMEOUT_S,
    Report,
    Service,
    StackError,
    _require,
    _run_tool,
)
from recordflow.settings import PACKAGE_DIR, Settings

# The pipeline's Prometheus alert rules, shipped with the package (pyproject's package-data).
ALERT_RULES = PACKAGE_DIR / "alerts" / "pipeline.rules.yaml"


def prometheus_config(targets_dir: Path, rule_files: Sequence[Path] = (ALERT_RULES,)) -> str:
    """Scrape whatever workers announce as file_sd target files in `targets_dir`, and evaluate
    the pipeline's alert rules (shipped in recordflow/alerts/; alerts show on /alerts)."""
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "recordflow-workers",
                "file_sd_configs": [
                    {"files": [str(targets_dir / "*.json")], "refresh_interval": "5s"}
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def prometheus_targets_dir(settings: Settings) -> Path:
    """Where a worker of the local stack writes its file_sd target file, e.g. `<worker-id>.json`
    holding `[{"targets": ["127.0.0.1:<port>"], "labels": {...}}]`; Prometheus rereads it every
    5 s. Only workers told so write there: `recordflow worker --prometheus-targets DIR`, which the
    demo, bench and tests' launcher (recordflow/localstack/workers.py) passes; a deployed worker writes
    nothing and is found by its platform's service discovery."""
    return settings.home.resolve() / "data" / "prometheus" / "targets"


class Prometheus(Service):
    name = "prometheus"
    startup_timeout_s = 60.0

    @property
    def config_file(self) -> Path:
        return self.data_dir / "prometheus.yml"

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.prometheus_port}"

    @property
    def ports(self) -> list[int]:
        return [self.settings.prometheus_port]

    def installed(self) -> bool:
        return shutil.which("prometheus") is not None

    def install(self, report: Report) -> None:
        if os.geteuid() != 0:
            raise StackError(
                "`prometheus` not found on PATH: install it (apt-get install prometheus)"
            )
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
        report("apt-get install prometheus")
        try:
            _run_tool(install, self.install_log, report, env=apt)
        except StackError:  # most often stale package lists
            report("apt-get update")
            _run_tool(["apt-get", "update"], self.install_log, report, env=apt)
            _run_tool(install, self.install_log, report, env=apt)
        # The package may register a system service on the default port; we run our own.

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        targets = prometheus_targets_dir(self.settings)
        targets.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(prometheus_config(targets))

    def command(self) -> list[str]:
        return [
            _require("prometheus", "install it (apt-get install prometheus)"),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
        ]

    @property
    def marker(self) -> str:
        return f"--config.file={self.config_file}"

    def healthy(self) -> bool:
        try:
            ready = httpx.get(f"{self.address}/-/ready", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return ready.status_code == httpx.codes.OK
