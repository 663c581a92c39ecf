"""Telling bad input from a bad moment (connectors/failures.py): rejected input goes to the
dead-letter topic; an outage of Kafka, the schema registry, S3, clamd or the network is waited out,
so that it never turns into dead letters. Every wait is counted in `recordflow_retries_total
{stage,reason}` and logged, so that a stage waiting on an outage shows.

Once an input has its item number, storing and publishing it are retried while the failure can
pass; a failure that cannot (a request the server refuses, a value too large, a bug) parks the
record instead (`Parked`): the register stage dead-letters it with its number kept, so archive
staff see it and finish it by replaying the letter once the cause is mended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
from faust.types import AppT

from avro_schemas.records import ArchivalReceipt
from connectors.failures import classify
from recordflow.errors import RecordRejected
from recordflow.metrics import PipelineMetrics
from recordflow.timeouts import FIRST_BACKOFF_S, MAX_BACKOFF_S
from streams.context import PipelineContext
from topics import receipts
from topics.deadletter import Origin, dead_letter, dead_letter_headers

log = logging.getLogger(__name__)

T = TypeVar("T")
PARKED_CODE_HEADER = "recordflow.reference-code"  # the 档号 a parked record keeps
RECEIPT_STAGE = "receipt"


class Parked(RecordRejected):
    """A numbered record whose storing or publishing failed in a way no retry can mend."""

    reference_code: str | None = None  # the 档号 it keeps, set by the register stage


async def retry_transient(
    work: Callable[[], T], stage: str, metrics: PipelineMetrics | None = None
) -> T:
    """Run blocking `work` off the event loop, as `retry_sending` runs an async one."""
    return await retry_sending(lambda: asyncio.to_thread(work), stage, metrics)


async def retry_sending(
    work: Callable[[], Awaitable[T]], stage: str, metrics: PipelineMetrics | None = None
) -> T:
    """Await `work()`; retry it while the failure is transient.

    RecordRejected passes straight through. Any other failure that is not transient becomes a
    RecordRejected with its reason code (connectors/failures.py: s3-refused, internal-error …),
    so that the input is kept in the dead-letter topic and the worker carries on.
    """
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            return await work()
        except RecordRejected:
            raise
        except Exception as exc:
            failure = classify(exc)
            if not failure.transient:
                log.exception("%s: %s; dead-lettering the input", stage, failure.reason)
                raise RecordRejected(failure.reason, failure.detail, stage) from exc
            _count(metrics, stage, failure.reason)
            log.warning("%s: %s, retrying in %.1f s: %s", stage, failure.reason, backoff,
                        failure.detail)  # fmt: skip
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


async def retry_until_done(
    work: Callable[[], Awaitable[T]], stage: str, metrics: PipelineMetrics | None = None
) -> T:
    """Await `work()` until it succeeds, backing off as retry_transient does between attempts.

    For steps after the input was numbered: a transient failure, or a RecordRejected of the
    archive's own checks (a write that did not verify), is retried, as the partition must not
    leave the number unused; any other failure is Parked, with its reason code.
    """
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            return await work()
        except RecordRejected as rejection:
            reason = rejection.reason
            log.warning("%s: %s, retrying in %.1f s", stage, rejection, backoff)
        except Exception as exc:
            failure = classify(exc)
            if not failure.transient:
                log.exception("%s: %s after numbering; parking the record", stage, failure.reason)
                raise Parked(failure.reason, failure.detail, stage) from exc
            reason = failure.reason
            log.warning("%s: %s, retrying in %.1f s: %s", stage, reason, backoff, failure.detail)
        _count(metrics, stage, reason)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)


def _count(metrics: PipelineMetrics | None, stage: str, reason: str) -> None:
    if metrics is not None:
        metrics.retries.labels(stage, reason).inc()


async def send_dead_letter(
    ctx: PipelineContext,
    deadletters: faust.TopicT,
    origin: Origin,
    rejection: RecordRejected,
    agency_code: str | None,
    event_id: str | None,
    reference_code: str | None = None,
) -> None:
    record = dead_letter(origin, rejection, agency_code=agency_code, event_id=event_id,
                         exception=rejection.__cause__)  # fmt: skip
    value = await retry_transient(
        lambda: ctx.codec.encode(ctx.deadletter_subject, record), "deadletter", ctx.metrics
    )
    headers = dead_letter_headers(origin, rejection)
    if reference_code is not None:  # a parked record: the number it keeps
        headers[PARKED_CODE_HEADER] = reference_code.encode()

    async def send() -> None:
        await (await deadletters.send(key=origin.key, value=value, headers=headers))

    await retry_sending(send, "deadletter", ctx.metrics)  # the broker restarting: wait it out
    ctx.metrics.deadletters.labels(
        agency_code or "unknown", rejection.stage, rejection.reason
    ).inc()
    ctx.metrics.events.labels(agency_code or "unknown", rejection.stage, "rejected").inc()
    log.info("dead letter %s/%s@%s: %s", origin.topic, origin.partition, origin.offset, rejection)
    # The agency learns of the rejection, when it is an agency we know (its own receipts topic);
    # the document id is the event's, or the input's key (the ingest topics' key is the document
    # id) when the event could not be decoded.
    document_id = rejection.document_id or (origin.key or b"").decode(errors="replace")
    if agency_code and ctx.agencies.get(agency_code) is not None and document_id:
        receipt = receipts.rejected(record, agency_code, document_id)
        await send_receipt(ctx, deadletters.app, receipt)


async def send_receipt(ctx: PipelineContext, app: AppT, receipt: ArchivalReceipt) -> None:
    """Publish an outcome's receipt on its agency's receipts topic, after the outcome itself is
    durable (the review item, the dead letter), waiting out transient failures like any output.
    One that cannot be sent at all is logged and counted, not dead-lettered: the input was
    handled, and a receipt tells of an outcome, it is not one (the outcome's topic still has it)."""
    try:
        encoded = await retry_transient(
            lambda: receipts.encode(ctx.settings, ctx.codec, receipt), RECEIPT_STAGE, ctx.metrics
        )
        topic = app.topic(encoded.topic, key_serializer="raw", value_serializer="raw")

        async def send() -> None:
            await (await topic.send(key=encoded.key, value=encoded.value))

        await retry_sending(send, RECEIPT_STAGE, ctx.metrics)
    except RecordRejected as failure:
        log.error("receipt %s for %s not sent: %s", receipt["receipt_id"],
                  receipt["agency_code"], failure)  # fmt: skip
        ctx.metrics.events.labels(receipt["agency_code"], RECEIPT_STAGE, "failed").inc()
        return
    ctx.metrics.receipts.labels(receipt["agency_code"], receipt["outcome"]).inc()
