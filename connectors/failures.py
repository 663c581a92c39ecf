"""One failure taxonomy for everything that talks to Kafka, the schema registry, S3 and clamd: the
workers (streams/resilience.py) and the producer SDK (connectors/sdk.py) both ask `classify`.

- transient: the infrastructure is away for a moment (a server unreachable or overloaded, a
  connection reset, a timeout). Waited out with backoff; nothing is wrong with the input.
- permanent: retrying the same call cannot succeed (a request the server refuses, a value too
  large, a full or read-only local disk, a bug). Rejected at once with a reason code, so the
  input is kept (a dead letter, a held submission) and the partition moves on.

Each failure carries a stable reason code (docs/reason-codes.md lists them all, with what staff
should do) and a short detail without object reprs.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Literal

import httpx
import urllib3.exceptions
from aiokafka import errors as aiokafka_errors
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError
from minio.error import S3Error, ServerError

Kind = Literal["transient", "permanent"]
TRANSIENT: Kind = "transient"
PERMANENT: Kind = "permanent"

# Errors of the network, not of this machine: worth waiting out.
NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN, errno.ENETRESET,
    errno.EPIPE, errno.ENOTCONN, errno.EADDRNOTAVAIL, errno.EAGAIN, errno.EINTR,
})  # fmt: skip
S3_TRANSIENT = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ServerError"}
)
KAFKA_TRANSIENT = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN, KafkaError._QUEUE_FULL, KafkaError._RESOLVE,
    KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,  # purged unsent: send again
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION, KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.CONCURRENT_TRANSACTIONS, KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
})  # fmt: skip


class ScannerUnavailable(ConnectionError):
    """clamd is configured but cannot be reached or did not answer: the file is not scanned, and
    a record is never archived unscanned while a scanner is configured, so this is waited out."""


@dataclass(frozen=True)
class Failure:
    kind: Kind
    reason: str  # a reason code: docs/reason-codes.md
    detail: str

    @property
    def transient(self) -> bool:
        return self.kind == TRANSIENT


def classify(exc: BaseException) -> Failure:
    """What a failure of a call to Kafka, the registry, S3, clamd or the local disk means."""
    if isinstance(exc, ScannerUnavailable):
        return Failure(TRANSIENT, "scanner-unavailable", str(exc))
    if isinstance(exc, KafkaException) and isinstance(exc.args[0], KafkaError):
        error: KafkaError = exc.args[0]
        detail = f"{error.name()}: {error.str()}"
        # An abortable transaction error (a broker restarted mid-commit: skipped sequence
        # numbers, a failed delivery) ends that transaction only: aborted, it can be tried again,
        # as a fenced producer's can with a new epoch (streams/publish.py).
        transient = (
            error.retriable() or error.txn_requires_abort() or error.code() in KAFKA_TRANSIENT
        )
        return (
            Failure(TRANSIENT, "kafka-unavailable", detail)
            if transient
            else Failure(PERMANENT, "kafka-refused", detail)
        )
    if isinstance(exc, aiokafka_errors.KafkaError):  # the workers' producer (faust's driver)
        detail = f"{type(exc).__name__}: {exc}"
        if exc.retriable or isinstance(exc, aiokafka_errors.KafkaTimeoutError):
            return Failure(TRANSIENT, "kafka-unavailable", detail)
        return Failure(PERMANENT, "kafka-refused", detail)
    if isinstance(exc, SchemaRegistryError):
        status = exc.http_status_code
        detail = f"HTTP {status}: {exc.error_message}"
        if status in (-1, 408, 429) or status >= 500:
            return Failure(TRANSIENT, "registry-unavailable", detail)
        return Failure(PERMANENT, "registry-refused", detail)
    if isinstance(exc, S3Error):
        detail = f"{exc.code}: {exc.message}"
        if exc.code in S3_TRANSIENT:
            return Failure(TRANSIENT, "s3-unavailable", detail)
        return Failure(PERMANENT, "s3-refused", detail)
    if isinstance(exc, ServerError):  # minio: an HTTP 5xx without an S3 error body
        return Failure(TRANSIENT, "s3-unavailable", f"HTTP {exc.status_code}: {exc}")
    if isinstance(exc, urllib3.exceptions.HTTPError | httpx.TransportError):
        return Failure(TRANSIENT, "network-unreachable", connection_detail(exc))
    if isinstance(exc, TimeoutError | socket.timeout | socket.gaierror | ConnectionError):
        return Failure(TRANSIENT, "network-unreachable", connection_detail(exc))
    if isinstance(exc, OSError):
        if exc.errno in NETWORK_ERRNOS:
            return Failure(TRANSIENT, "network-unreachable", connection_detail(exc))
        # A full, read-only or unreadable local disk (ENOSPC, EROFS, EACCES, EIO …): an operator
        # must mend it; the input is kept for replay meanwhile.
        return Failure(PERMANENT, "local-storage-error", f"{type(exc).__name__}: {exc}")
    return Failure(PERMANENT, "internal-error", f"{type(exc).__name__}: {exc}")


def connection_detail(exc: BaseException) -> str:
    """A connection failure in a few words, without urllib3's object reprs and URLs."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    text = str(exc)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        # "<HTTPConnection object at …>: Failed …: [Errno 111] …"
        text = text.rpartition(": ")[2] or text
    return text or type(exc).__name__
