"""Retrying (streams/resilience.py): after an item number is given, storing and publishing are
retried while the failure can pass, so the number is used and the series has no gap; a failure
that cannot pass parks the record (its number kept) instead of stalling the partition."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable

import pytest
from minio.error import S3Error
from prometheus_client import CollectorRegistry

from recordflow.errors import RecordRejected
from recordflow.metrics import PipelineMetrics
from streams import resilience
from streams.resilience import Parked, retry_until_done


@pytest.fixture(autouse=True)
def tiny_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resilience, "FIRST_BACKOFF_S", 0.001)
    monkeypatch.setattr(resilience, "MAX_BACKOFF_S", 0.002)


def failing(
    failures: list[BaseException], result: str
) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    """An async callable that raises each of `failures` in turn, then returns `result`."""
    calls: list[int] = []

    async def work() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return calls, work


def test_retries_rejections_until_done(caplog: pytest.LogCaptureFixture) -> None:
    calls, work = failing(
        [
            RecordRejected("store-verify-failed", "ETag differs", "store"),
            RecordRejected("store-unversioned", "no version id", "store"),
        ],
        "v1",
    )
    with caplog.at_level(logging.WARNING, logger=resilience.__name__):
        assert asyncio.run(retry_until_done(work, "register")) == "v1"
    assert calls == [1, 2, 3]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "store-verify-failed" in warnings[0].getMessage()
    assert "store-unversioned" in warnings[1].getMessage()


def test_retries_transient_failures_and_counts_them() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    outage: list[BaseException] = [
        ConnectionError("reset"),
        OSError(errno.ECONNREFUSED, "refused"),
        S3Error(None, "SlowDown", "slow down", "k", "r", "h"),  # type: ignore[arg-type]
    ]
    calls, work = failing(outage, "ok")
    assert asyncio.run(retry_until_done(work, "register", metrics)) == "ok"
    assert calls == [1, 2, 3, 4]
    retried = {
        sample.labels["reason"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "recordflow_retries_total"
    }
    assert retried == {"network-unreachable": 2.0, "s3-unavailable": 1.0}


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (KeyError("bug"), "internal-error"),
        (OSError(errno.ENOSPC, "No space left on device"), "local-storage-error"),
        (S3Error(None, "AccessDenied", "denied", "k", "r", "h"), "s3-refused"),  # type: ignore[arg-type]
    ],
)
def test_a_failure_no_retry_can_mend_parks_the_record(failure: Exception, reason: str) -> None:
    calls, work = failing([failure], "never")
    with pytest.raises(Parked) as parked:
        asyncio.run(retry_until_done(work, "register"))
    assert calls == [1]
    assert (parked.value.reason, parked.value.stage) == (reason, "register")


def test_first_success_is_not_repeated() -> None:
    calls, work = failing([], "once")
    assert asyncio.run(retry_until_done(work, "register")) == "once"
    assert calls == [1]


def test_backoff_doubles_up_to_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resilience, "FIRST_BACKOFF_S", 0.001)
    monkeypatch.setattr(resilience, "MAX_BACKOFF_S", 0.003)
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(resilience.asyncio, "sleep", recording_sleep)
    _, work = failing([RecordRejected("r", "m")] * 4, "ok")
    assert asyncio.run(retry_until_done(work, "register")) == "ok"
    assert slept == [0.001, 0.002, 0.003, 0.003]


def test_cancellation_is_not_retried() -> None:
    calls, work = failing([asyncio.CancelledError()], "never")
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retry_until_done(work, "register"))
    assert calls == [1]
