"""Retrying (streams/resilience.py): after an item number is given, storing and publishing are
retried until they succeed, whatever the failure, so the number is used and the series has no gap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from recordflow.errors import RecordRejected
from streams import resilience
from streams.resilience import retry_until_done


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


def test_retries_unforeseen_and_transient_failures() -> None:
    calls, work = failing([KeyError("bug"), ConnectionError("reset"), ValueError("odd")], "ok")
    assert asyncio.run(retry_until_done(work, "register")) == "ok"
    assert calls == [1, 2, 3, 4]


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
