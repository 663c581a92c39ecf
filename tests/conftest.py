"""Fixtures for the integration tests: the real local stack, and per-test names.

The stack is brought up once per session by the project's own `Stack` (installing on first use).
A server that cannot be reached fails the test; nothing here ever skips. Each test gets its own
topic and bucket prefixes, so tests never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rich.console import Console

from recordflow.settings import Settings
from recordflow.setup import prepare
from recordflow.stack import Stack
from recordflow.workers import WorkerProcess


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings for a running local stack (started here if it is not running)."""
    settings = Settings()
    Stack(settings).ensure_up(Console(stderr=True))
    return settings


@pytest.fixture
def pipeline_settings(stack_settings: Settings) -> Settings:
    """A private pipeline on the shared stack: its own topics, schemas subjects and buckets."""
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings.model_copy(
        update={"topic_prefix": f"t{tag}.", "bucket_prefix": f"t{tag}-"}
    )
    prepare(settings, Console(stderr=True), local_stack=False)
    return settings


@pytest.fixture
def worker(pipeline_settings: Settings) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        pipeline_settings, name=f"test-{pipeline_settings.topic_prefix.rstrip('.')}"
    )
    process.start()
    process.wait_ready()
    yield process
    process.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: in this project that fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped; every test must run", red=True)
