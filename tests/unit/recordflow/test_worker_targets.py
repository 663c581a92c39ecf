"""What `serve_metrics` (streams/app.py) tells the local stack's Prometheus: a target file only when
given the target folder, with an address a scraper on this machine can reach, and none left
behind by killed workers. The HTTP server is a stand-in: what is bound where is checked on a real
worker (tests/integration/test_metrics_endpoint.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import streams.app
from recordflow.metrics import scrape_address
from recordflow.settings import Settings
from streams.app import serve_metrics


class _Server:
    server_port = 40123


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    calls: list[tuple[int, str]] = []

    def start_http_server(port: int, addr: str, registry: Any, ready: Any) -> _Server:
        calls.append((port, addr))
        return _Server()

    monkeypatch.setattr(streams.app, "start_http_server", start_http_server)
    return calls


def test_without_a_target_folder_nothing_is_written(
    bound: list[tuple[int, str]], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, metrics_host="0.0.0.0")
    assert serve_metrics(settings, None, 0, None) == 40123  # type: ignore[arg-type]
    assert bound == [(0, "0.0.0.0")]
    assert list(tmp_path.rglob("*.json")) == []


def test_the_target_file_names_a_reachable_address_and_killed_workers_files_go(
    bound: list[tuple[int, str]], tmp_path: Path
) -> None:
    host = socket.gethostname()
    targets = tmp_path / "targets"
    targets.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    dead = targets / f"worker-{host}-{gone}.json"
    living = targets / f"worker-{host}-{os.getppid()}.json"
    elsewhere = targets / f"worker-other-host-{gone}.json"
    for path in (dead, living, elsewhere):
        path.write_text("[]")

    settings = Settings(home=tmp_path, topic_prefix="t1.", metrics_host="0.0.0.0")
    serve_metrics(settings, None, 0, targets)  # type: ignore[arg-type]
    [group] = json.loads((targets / f"worker-{host}-{os.getpid()}.json").read_text())
    assert group["targets"] == ["127.0.0.1:40123"]  # bound to every interface, scraped locally
    assert group["labels"]["app"] == "t1.recordflow"
    assert not dead.exists() and living.exists() and elsewhere.exists()


def test_scrape_addresses() -> None:
    assert scrape_address("127.0.0.1", 1) == "127.0.0.1:1"
    assert scrape_address("0.0.0.0", 2) == "127.0.0.1:2"
    assert scrape_address("", 3) == "127.0.0.1:3"
    assert scrape_address("::", 4) == "127.0.0.1:4"
    assert scrape_address("::1", 5) == "[::1]:5"
    assert scrape_address("10.0.0.7", 6) == "10.0.0.7:6"
