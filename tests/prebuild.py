"""The slow builds a few tests need (helm, kube-apiserver, the container image: about a quarter
of an hour of CPU on a fresh machine), run ahead by .ci/run in the background. They overlap with
the tests that mostly wait on servers; the tests that need them run last (tests/conftest.py) and
wait on the builds' locks for whatever is not done yet. A build that fails here is tried again by
its test, which then fails with the build's log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.helm.apiserver import ensure_kube_apiserver
from tests.helm.chart import ensure_helm

ROOT = Path(__file__).resolve().parent.parent


def build_image() -> object:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["scripts/build-image.sh"], cwd=ROOT, env=env, check=True)


BUILDS: list[tuple[str, Callable[[], object]]] = [
    ("helm", ensure_helm),
    ("kube-apiserver", ensure_kube_apiserver),
    ("image", build_image),
]


def main() -> int:
    failed = 0
    for name, build in BUILDS:
        started = time.monotonic()
        try:
            build()
        except Exception as exc:  # reported; the test that needs it tries again
            print(f"{name}: failed: {exc}", flush=True)
            failed += 1
            continue
        print(f"{name}: ready after {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
