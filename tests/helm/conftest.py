"""The chart tests' helm: built once per machine (a missing Go or a failed build fails the tests,
never skips them)."""

from __future__ import annotations

import sys

import pytest

from tests.helm.chart import Helm, ensure_helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary, seconds = ensure_helm()
    if seconds is not None:
        print(f"\nbuilt helm with go install in {seconds:.0f} s", file=sys.stderr)
    return Helm(binary, tmp_path_factory.mktemp("helm"))
