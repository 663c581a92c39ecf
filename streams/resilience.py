"""Telling bad input from a bad moment: rejected input goes to the dead-letter topic; an outage of
S3, the schema registry or the network is waited out, so that it never turns into dead letters.
Work that must not fail once an input has been accepted (storing and publishing a record that
already has its item number) is retried until it succeeds, whatever the failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
import httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError
from minio.error import S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3Error

from recordflow.errors import RecordRejected
from streams.context import PipelineContext
from streams.deadletter import Origin, dead_letter, dead_letter_headers

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure (worth waiting out), not of the input."""
    if isinstance(exc, SchemaRegistryError):
        return exc.http_status_code in (-1, 408, 429) or exc.http_status_code >= 500
    if isinstance(exc, S3Error):
        return exc.code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout")
    transient = (
        ServerError,
        Urllib3Error,
        httpx.TransportError,
        ConnectionError,
        TimeoutError,
        OSError,
    )
    return isinstance(exc, transient)


async def retry_transient(work: Callable[[], T], stage: str) -> T:
    """Run blocking `work` off the event loop; retry it while the failure is transient.

    RecordRejected passes straight through. Any other failure that is not transient is a bug or
    an input we did not foresee: it becomes a RecordRejected("internal-error") so the input is
    kept in the dead-letter topic and the worker carries on.
    """
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            return await asyncio.to_thread(work)
        except RecordRejected:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("%s: unexpected failure; dead-lettering the input", stage)
                raise RecordRejected(
                    "internal-error", f"{type(exc).__name__}: {exc}", stage
                ) from exc
            log.warning("%s: transient failure, retrying in %.1f s: %s", stage, backoff, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


async def retry_until_done(work: Callable[[], Awaitable[T]], stage: str) -> T:
    """Await `work()` until it succeeds, backing off as retry_transient does between attempts.

    For steps after the input was accepted and numbered: a failure there is the fault of the
    archive, the broker or this code, not of the input, so it is never dead-lettered (which would
    leave a gap in the series). The partition waits until the failure is mended.
    """
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            return await work()
        except Exception as exc:
            unforeseen = not isinstance(exc, RecordRejected) and not is_transient(exc)
            log.warning(
                "%s: failed, retrying in %.1f s: %s", stage, backoff, exc, exc_info=unforeseen
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


async def send_dead_letter(
    ctx: PipelineContext,
    deadletters: faust.TopicT,
    origin: Origin,
    rejection: RecordRejected,
    agency_code: str | None,
    event_id: str | None,
) -> None:
    record = dead_letter(origin, rejection, agency_code=agency_code, event_id=event_id,
                         exception=rejection.__cause__)  # fmt: skip
    value = await retry_transient(
        lambda: ctx.codec.encode(ctx.deadletter_subject, record), "deadletter"
    )
    delivery = await deadletters.send(
        key=origin.key, value=value, headers=dead_letter_headers(origin, rejection)
    )
    await delivery
    ctx.metrics.deadletters.labels(
        agency_code or "unknown", rejection.stage, rejection.reason
    ).inc()
    ctx.metrics.events.labels(agency_code or "unknown", rejection.stage, "rejected").inc()
    log.info("dead letter %s/%s@%s: %s", origin.topic, origin.partition, origin.offset, rejection)
