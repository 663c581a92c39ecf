"""Running the `recordflow` console script as a user does, against a test's own pipeline."""

from __future__ import annotations

import os
import subprocess
import sys

from recordflow.settings import Settings

TIMEOUT_S = 600


def run_cli(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`recordflow ARGS…` in a child process, seeing this test's topics and buckets (and `env`
    on top of the environment)."""
    env = {
        **os.environ,
        "RECORDFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "RECORDFLOW_BUCKET_PREFIX": settings.bucket_prefix,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "recordflow", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
