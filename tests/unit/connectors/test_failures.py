"""The failure taxonomy (connectors/failures.py): which failures are waited out (transient) and
which are rejected at once (permanent), each with its reason code."""

from __future__ import annotations

import errno
import socket

import httpx
import pytest
import urllib3.exceptions
from aiokafka import errors as aiokafka_errors
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError
from minio.error import S3Error, ServerError

from connectors.failures import PERMANENT, TRANSIENT, ScannerUnavailable, classify


def s3_error(code: str) -> S3Error:
    return S3Error(None, code, f"{code} message", "key", "request", "host")  # type: ignore[arg-type]


CASES: list[tuple[str, BaseException, str, str]] = [
    ("connection refused", ConnectionRefusedError(errno.ECONNREFUSED, "refused"), TRANSIENT,
     "network-unreachable"),
    ("reset", OSError(errno.ECONNRESET, "reset by peer"), TRANSIENT, "network-unreachable"),
    ("timeout", TimeoutError("timed out"), TRANSIENT, "network-unreachable"),
    ("dns", socket.gaierror(-2, "Name or service not known"), TRANSIENT, "network-unreachable"),
    ("urllib3", urllib3.exceptions.ProtocolError("aborted"), TRANSIENT, "network-unreachable"),
    ("httpx", httpx.ConnectError("refused"), TRANSIENT, "network-unreachable"),
    ("disk full", OSError(errno.ENOSPC, "No space left on device"), PERMANENT,
     "local-storage-error"),
    ("permission", PermissionError(errno.EACCES, "Permission denied"), PERMANENT,
     "local-storage-error"),
    ("read-only", OSError(errno.EROFS, "Read-only file system"), PERMANENT,
     "local-storage-error"),
    ("s3 slow down", s3_error("SlowDown"), TRANSIENT, "s3-unavailable"),
    ("s3 5xx", ServerError("bad gateway", 502), TRANSIENT, "s3-unavailable"),
    ("s3 denied", s3_error("AccessDenied"), PERMANENT, "s3-refused"),
    ("s3 bad lock date", s3_error("InvalidArgument"), PERMANENT, "s3-refused"),
    ("registry down", SchemaRegistryError(-1, -1, "connection refused"), TRANSIENT,
     "registry-unavailable"),
    ("registry 503", SchemaRegistryError(503, 50301, "unavailable"), TRANSIENT,
     "registry-unavailable"),
    ("registry 422", SchemaRegistryError(422, 42201, "invalid schema"), PERMANENT,
     "registry-refused"),
    ("kafka transport", KafkaException(KafkaError(KafkaError._TRANSPORT)), TRANSIENT,
     "kafka-unavailable"),
    ("kafka too large", KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)), PERMANENT,
     "kafka-refused"),
    ("kafka transaction to abort",
     KafkaException(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, txn_requires_abort=True)),
     TRANSIENT, "kafka-unavailable"),
    ("kafka failed delivery, not abortable", KafkaException(KafkaError(KafkaError._INCONSISTENT)),
     PERMANENT, "kafka-refused"),
    ("aiokafka connection", aiokafka_errors.KafkaConnectionError("down"), TRANSIENT,
     "kafka-unavailable"),
    ("aiokafka timeout", aiokafka_errors.KafkaTimeoutError(), TRANSIENT, "kafka-unavailable"),
    ("aiokafka too large", aiokafka_errors.MessageSizeTooLargeError(), PERMANENT,
     "kafka-refused"),
    ("scanner away", ScannerUnavailable("clamd unreachable"), TRANSIENT, "scanner-unavailable"),
    ("a bug", KeyError("title"), PERMANENT, "internal-error"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "kind", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_failure_has_its_kind_and_reason(exc: BaseException, kind: str, reason: str) -> None:
    failure = classify(exc)
    assert (failure.kind, failure.reason) == (kind, reason)
    assert failure.detail and "object at 0x" not in failure.detail
