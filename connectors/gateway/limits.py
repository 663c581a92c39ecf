"""Sizes and rates. Each replica keeps a token bucket per agency (RECORDFLOW_GATEWAY_RATE_PER_S,
_RATE_BURST): with N replicas an agency gets up to N times the rate, which is what a limit
against one runaway client needs, without a shared counter to keep. Request bodies are counted
as they arrive, so a body larger than its limit is refused (413) without being read to its end,
whatever its Content-Length claims."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.types import Message, Receive

from connectors.problems import HttpProblem


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; a request takes one."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.at = clock()

    def take(self) -> float:
        """0 when a token was taken; else the seconds until one will be there."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """A bucket per agency, made on first use."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, agency: str) -> None:
        """Take a token of `agency`'s bucket, or raise 429 with Retry-After (whole seconds)."""
        with self._lock:
            bucket = self._buckets.get(agency)
            if bucket is None:
                bucket = self._buckets[agency] = TokenBucket(self.rate, self.burst, self.clock)
            wait = bucket.take()
        if wait:
            raise HttpProblem(
                "rate-limited", 429,
                f"more than {self.rate:g} requests a second from agency {agency}",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )  # fmt: skip


def too_large(limit: int, what: str) -> HttpProblem:
    return HttpProblem("payload-too-large", 413, f"{what} is larger than {limit} bytes")


def check_declared_length(content_length: str | None, limit: int, what: str) -> None:
    """Refuse at once a body whose Content-Length is above `limit`."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit, what)


def limited(receive: Receive, limit: int, what: str) -> Receive:
    """`receive` that raises 413 once more than `limit` body bytes have come."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit, what)
        return message

    return receive_limited
