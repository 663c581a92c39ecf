"""Each worker process keeps its RocksDB tables in its own folder; a killed worker's is swept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from recordflow.settings import Settings
from streams.app import process_datadir


def test_a_worker_gets_its_own_folder_and_sweeps_those_of_dead_workers(tmp_path: Path) -> None:
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / "worker" / "other-group" / f"{host}-{gone.stdout.strip()}"
    living = tmp_path / "worker" / "other-group" / f"{host}-{os.getppid()}"
    for folder in (dead, living):
        (folder / "v1").mkdir(parents=True)

    settings = Settings(home=tmp_path)
    own = process_datadir(settings)

    group = settings.consumer_group
    assert own == tmp_path.resolve() / "worker" / group / f"{host}-{os.getpid()}"
    assert own.is_dir()
    assert not dead.exists()
    assert living.exists()
