"""Fixtures for the integration tests: the real local stack, and per-test names.

The stack is brought up once per session by the project's own `Stack` (installing on first use).
A server that cannot be reached fails the test; nothing here ever skips. Each test gets its own
topic and bucket prefixes, so tests never see each other's data.
"""

from __future__ import annotations

import fcntl
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table

from recordflow.localstack.setup import prepare
from recordflow.localstack.stack import Stack
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings


@contextmanager
def stack_lock(settings: Settings) -> Iterator[None]:
    """One test process at a time brings the stack up (`make test` runs two): the first installs
    and starts it, the others then find it running."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / "stack.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings for a running local stack (started here if it is not running)."""
    settings = Settings()
    with stack_lock(settings):
        Stack(settings).ensure_up(Console(stderr=True))
    return settings


@pytest.fixture
def pipeline_settings(stack_settings: Settings) -> Iterator[Settings]:
    """A private pipeline on the shared stack: its own topics, schemas subjects and buckets. Its
    topics are deleted afterwards: a broker holding every test's partitions (thousands by the end
    of a run) creates topics, elects leaders and restarts ever more slowly."""
    yield from private_pipeline(stack_settings, "t")


def private_pipeline(base: Settings, letter: str) -> Iterator[Settings]:
    """`base` with topics, subjects and buckets of its own (prefixed `letter` and a random tag),
    prepared; its topics deleted when the generator resumes."""
    tag = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={"topic_prefix": f"{letter}{tag}.", "bucket_prefix": f"{letter}{tag}-"}
    )
    prepare(settings, Console(stderr=True), local_stack=False)
    yield settings
    delete_topics(settings)


def delete_topics(settings: Settings) -> None:
    """Delete the topics of `settings`' prefix, without waiting for the broker to finish."""
    admin = AdminClient({**settings.kafka_config(), "log_level": 0})
    try:
        topics = admin.list_topics(timeout=10).topics
    except KafkaException:
        return  # the broker away (a test stopped it): the topics stay, nothing is wrong
    ours = [name for name in topics if name.startswith(settings.topic_prefix)]
    if ours:
        admin.delete_topics(ours, operation_timeout=0)


@pytest.fixture
def worker(pipeline_settings: Settings) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        pipeline_settings, name=f"test-{pipeline_settings.topic_prefix.rstrip('.')}"
    )
    process.start()
    process.wait_ready()
    yield process
    process.stop()


# Markers by where a test lives, so that `-m "not integration and not chaos"` needs no
# server and a new test file cannot forget its marker.
MARKERS_BY_FOLDER = {"integration": "integration", "chaos": "chaos", "fuzz": "fuzz"}


# Tests that need a slow build (tests/prebuild.py, which CI starts in the background first).
NEEDS_A_BUILD = ("helm/", "integration/test_image.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder. The chaos suite stops and starts the shared servers, so it
    runs after everything else; before it, the tests that need a slow build, so the build has
    the whole run to finish in."""
    tests = Path(__file__).resolve().parent
    for item in items:
        folder = Path(str(item.path)).resolve().relative_to(tests).parts[0]
        if folder in MARKERS_BY_FOLDER:
            item.add_marker(MARKERS_BY_FOLDER[folder])

    def needs_a_build(item: pytest.Item) -> bool:
        path = Path(str(item.path)).resolve().relative_to(tests).as_posix()
        return path.startswith(NEEDS_A_BUILD)

    items.sort(key=lambda item: (item.get_closest_marker("chaos") is not None, needs_a_build(item)))


WORKER_LOG_ENTRIES = 30  # the last warnings and errors of each worker, for a failing test
# the broker client reconnecting while a broker is away; pypdf on the tests' made-up PDFs
NOISE = (
    "Unable connect to node",
    "Unable to update metadata",
    "NodeNotReadyError",
    "EOF marker not found",
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
    None, pytest.TestReport, pytest.TestReport
]:  # fmt: skip
    """A failing test's report carries the warnings and errors (with their tracebacks) its
    workers logged: the workers run as processes whose logs stay on the machine, and CI shows
    only the report."""
    report = yield
    if report.when == "call" and report.failed:
        since = time.time() - call.duration - 5
        for log in sorted(Path(Settings().home, "logs").glob("worker-*.log")):
            if log.stat().st_mtime >= since and (entries := worrying_entries(log)):
                report.sections.append(
                    (f"{log.name}: its last {WORKER_LOG_ENTRIES} warnings and errors",
                     "\n".join(entries[-WORKER_LOG_ENTRIES:]))
                )  # fmt: skip
    return report


def worrying_entries(log: Path) -> list[str]:
    """The log's WARNING, ERROR and CRITICAL entries, each with the lines that follow it (a
    traceback), but for the client's reconnection noise while a broker is away."""
    entries: list[str] = []
    keep = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("["):  # a new entry: [time] [pid] [LEVEL] …
            keep = any(f"[{level}]" in line for level in ("WARNING", "ERROR", "CRITICAL"))
            keep = keep and not any(noise in line for noise in NOISE)
            if keep:
                entries.append(line)
        elif keep:
            entries[-1] += "\n" + line
    return entries


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The chaos suite's ledger, one row per fault, when it ran."""
    from tests.chaos.test_chaos import LEDGERS

    if not LEDGERS:
        return
    table = Table(title="混沌测试台账 Chaos ledger")
    for column in ("fault", "submitted", "archived", "dead-lettered", "duplicated", "lost",
                   "series", "gaps", "fixity failures", "held in outbox", "stalled partitions",
                   "published twice", "seconds"):  # fmt: skip
        table.add_column(
            column, justify="left" if column == "fault" else "right", no_wrap=column == "fault"
        )
    for ledger in LEDGERS:
        table.add_row(
            ledger.fault, str(ledger.submitted), str(ledger.archived), str(ledger.dead_lettered),
            str(ledger.duplicated), str(ledger.lost), str(ledger.series), str(len(ledger.gaps)),
            str(ledger.fixity_failures), str(ledger.held), str(len(ledger.stalled)),
            str(ledger.published_twice), f"{ledger.seconds:.0f}",
            style=None if ledger.clean else "red",
        )  # fmt: skip
    console = Console(file=terminalreporter._tw, force_terminal=False, width=200)
    console.print(table)
    for ledger in LEDGERS:
        for partition in ledger.stalled:
            console.print(f"{ledger.fault}: stalled {partition}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: in this project that fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped; every test must run", red=True)
