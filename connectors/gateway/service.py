"""What the gateway does for a request, once it knows the calling agency: the producer SDK's
steps (connectors/sdk.py `Submitter`: the same metadata rules, staged keys, digests and event),
with the gateway's records (connectors/gateway/objects.py) and its answers as problems.

Blocking calls (S3, Kafka): the routes run these methods in a worker thread. Every wait is
bounded: S3 calls through the SDK's bounded HTTP pool, Kafka's confirmation within
`gateway_kafka_timeout_s`. Kafka, the registry or S3 away is 503 with Retry-After; the client
retries with its Idempotency-Key. There is no outbox here: a replica's disk does not survive it
in Kubernetes, and the agency system is the one place that holds the document until it has
its 202 (docs/design.md, "Gateway").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from confluent_kafka import Producer

from archival.reasons import catalog
from connectors.gateway import objects as keys
from connectors.gateway.credentials import CredentialStore
from connectors.gateway.idempotency import IdempotencyRecords, fingerprint
from connectors.gateway.limits import RateLimiter
from connectors.gateway.objects import GatewayObjects
from connectors.gateway.pipe import BodyPipe
from connectors.gateway.status import ReceiptSource, SubmissionStatus, status_of
from connectors.problems import HttpProblem, unavailable
from connectors.readback import quiet_logger
from connectors.sdk import (
    TRANSIENT,
    KafkaDeliveryError,
    Receipt,
    Submitter,
    TopicMissing,
    bounded_http,
    classify_failure,
    component,
    content_type,
    staged_key,
)
from connectors.storage import Digests, Storage
from recordflow.agencies import Agency, AgencyRegistry
from recordflow.errors import ReasonedError, SubmitError
from recordflow.settings import Settings

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
# What curl and most HTTP libraries send for a file whose type the caller did not give: taken
# as "not declared", as the SDK leaves a file's type undeclared unless told.
UNDECLARED = {"", "application/octet-stream"}


@dataclass(frozen=True)
class IncomingFile:
    """One file of a request, spooled by the server (memory up to 1 MiB, then a temporary file)."""

    file_name: str
    mime_type: str | None
    stream: IO[bytes]
    size: int


def declared_type(value: str | None) -> str | None:
    value = (value or "").split(";")[0].strip().lower()
    return None if value in UNDECLARED else value


class GatewaySubmitter(Submitter):
    """The SDK's Submitter with the gateway's bounds: S3 calls that end within seconds, and a
    producer that reports an event it could not deliver within `gateway_kafka_timeout_s`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, storage=Storage(settings, http_client=bounded_http()))

    def _new_producer(self) -> Producer:
        timeout_ms = int(self.settings.gateway_kafka_timeout_s * 1000)
        return Producer({**self.settings.producer_config(), "error_cb": self._on_error,
                         "message.timeout.ms": timeout_ms,
                         # librdkafka's lines (a line per failed connection) at debug level: an
                         # outage is reported once per request, as its 503
                         "logger": quiet_logger()})  # fmt: skip


@contextlib.contextmanager
def answering(settings: Settings) -> Iterator[None]:
    """Failures of the SDK and the servers as the problems a client can act on; anything else
    goes on up (a 500 without detail, logged)."""
    try:
        yield
    except HttpProblem:
        raise
    except TopicMissing as exc:  # onboarding is unfinished: an operator creates the topic
        raise unavailable(
            settings.gateway_retry_after_s, "the agency's ingest topic is not ready"
        ) from exc
    except Exception as exc:
        failure = classify_failure(exc)
        if failure.kind == TRANSIENT:
            log.warning("gateway: a server is away: %s", failure.reason)
            raise unavailable(
                settings.gateway_retry_after_s,
                "Kafka, the schema registry or S3 is unreachable; retry with the same Idempotency-Key",
            ) from exc
        if isinstance(exc, SubmitError) and not isinstance(exc, KafkaDeliveryError):
            raise refused(exc) from exc
        raise


def refused(exc: SubmitError) -> HttpProblem:
    """A submission the rules refuse: 422 with the code the SDK and intake give (the SDK's
    message starts with it, "missing-title: …"), or invalid-request for a malformed value."""
    code, _, message = str(exc).partition(": ")
    if catalog().get(code) is None:
        return HttpProblem("invalid-request", 422, str(exc))
    rule = ReasonedError(code, message)
    return HttpProblem(rule.reason, 422, rule.message)


class Gateway:
    def __init__(self, settings: Settings, credentials: CredentialStore, receipts: ReceiptSource,
                 submitter: Submitter | None = None, *,
                 registry: Callable[[], AgencyRegistry] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:  # fmt: skip
        """`registry`: the agency registry now (the live one, followed, in a served gateway);
        by default the submitter's."""
        self.settings = settings
        self._on_close = on_close
        self.credentials = credentials
        self.receipts = receipts
        self.submitter = submitter or GatewaySubmitter(settings)
        self.registry = registry or (lambda: self.submitter.registry)
        self.objects = GatewayObjects(self.submitter.storage)
        self.idempotency = IdempotencyRecords(self.objects)
        self.limiter = RateLimiter(settings.gateway_rate_per_s, settings.gateway_rate_burst)

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
        self.submitter.producer.flush(1)

    # --- metadata ---------------------------------------------------------------------------
    def agency(self, code: str) -> Agency:
        agency = self.registry().get(code)
        if agency is None:  # a token of an agency no longer registered
            raise HttpProblem("forbidden-agency", 403, f"agency {code} is not registered")
        if not agency.active:  # its tokens are revoked too; this covers the second between
            raise HttpProblem("forbidden-agency", 403, f"agency {code} was offboarded")
        return agency

    def checked_metadata(self, caller: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The metadata without its `agency` (which must be the caller's), checked by the SDK's
        rules before anything is staged: 403, or 422 with the rule's reason code."""
        metadata = dict(metadata)
        claimed = metadata.pop("agency", caller)
        if claimed != caller:
            raise HttpProblem("forbidden-agency", 403,
                                 f"agency {caller} may submit only as itself, not as {claimed}")  # fmt: skip
        agency = self.agency(caller)
        with answering(self.settings):
            self.submitter.describe(agency, metadata)
            self.submitter.entities(metadata)
        return metadata

    # --- one step -------------------------------------------------------------------------
    def submit(self, caller: str, metadata: Mapping[str, Any], files: Sequence[IncomingFile],
               idempotency_key: str | None) -> dict[str, Any]:  # fmt: skip
        """POST /v1/submissions: stage the files (hashing them on the way), produce the event,
        and return the receipt (or the one given before for this key and request)."""
        metadata = self.checked_metadata(caller, metadata)
        agency = self.agency(caller)
        with answering(self.settings):
            stored = self.idempotency.lookup(caller, idempotency_key) if idempotency_key else None
            if stored is not None:  # the files are hashed here, not staged: nothing is sent again
                replay = self.idempotency.replayed(stored, _one_step(metadata, [
                    (f.file_name, f.mime_type, _sha256(f.stream)) for f in files
                ]))  # fmt: skip
                if replay is not None:
                    return replay
            self.submitter.require_topic(self.settings.ingest_topic(caller))
            upload_id = uuid.uuid4().hex
            components = [
                self._stage(
                    caller,
                    upload_id,
                    sequence,
                    file.file_name,
                    file.mime_type,
                    file.stream,
                    file.size,
                )
                for sequence, file in enumerate(files, start=1)
            ]
            receipt = self._publish(agency, metadata, components, upload_id)
            if idempotency_key:
                request = _one_step(metadata, [
                    (c["file_name"], c["mime_type"], c["checksums"][0]["value"]) for c in components
                ])  # fmt: skip
                self.idempotency.remember(caller, idempotency_key, request, receipt)
        return receipt

    # --- two steps ------------------------------------------------------------------------
    def create_upload(self, caller: str) -> dict[str, Any]:
        self.agency(caller)
        upload_id = uuid.uuid4().hex
        record = {"upload_id": upload_id, "agency": caller,
                  "created_at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
        with answering(self.settings):
            self.objects.put(keys.upload_key(upload_id), record)
        return record

    def _owned_upload(self, caller: str, upload_id: str) -> dict[str, Any]:
        upload = self.objects.get(keys.upload_key(upload_id))
        if upload is None:
            raise HttpProblem("not-found", 404, f"no upload {upload_id}")
        if upload["agency"] != caller:
            raise HttpProblem("forbidden-agency", 403, "the upload is another agency's")
        return upload

    def put_file(self, caller: str, upload_id: str, sequence: int, file_name: str,
                 mime_type: str | None, stream: BodyPipe, size: int) -> dict[str, Any]:  # fmt: skip
        """PUT /v1/uploads/{id}/files/{sequence}: stage one file of an upload as its body comes
        (`size` -1: not declared); PUT again to replace it before the commit."""
        with answering(self.settings):
            self._owned_upload(caller, upload_id)
            if self.objects.get(keys.commit_key(upload_id)) is not None:
                raise HttpProblem("upload-committed", 409, f"upload {upload_id} was committed")
            staged = self._stage(caller, upload_id, sequence, file_name, mime_type, stream, size)
            self.objects.put(keys.upload_file_key(upload_id, sequence), staged)
        return _file_receipt(staged)

    def commit(self, caller: str, upload_id: str, metadata: Mapping[str, Any],
               idempotency_key: str | None) -> dict[str, Any]:  # fmt: skip
        """POST /v1/uploads/{id}/commit: the event for the upload's files and this metadata.
        Committing again with the same metadata gives the same receipt; with other, 409."""
        with answering(self.settings):
            self._owned_upload(caller, upload_id)
        metadata = self.checked_metadata(caller, metadata)
        agency = self.agency(caller)
        request = fingerprint(upload_id=upload_id, metadata=metadata)
        with answering(self.settings):
            committed = self.objects.get(keys.commit_key(upload_id))
            if committed is not None:
                if committed["fingerprint"] != request:
                    raise HttpProblem("upload-committed", 409,
                                         f"upload {upload_id} was committed with other metadata")  # fmt: skip
                return dict(committed["receipt"])
            if idempotency_key:
                stored = self.idempotency.lookup(caller, idempotency_key)
                replay = self.idempotency.replayed(stored, request)
                if replay is not None:
                    return replay
            components = self.objects.under(keys.upload_files_prefix(upload_id))
            if not components:
                raise HttpProblem("no-content", 422, "PUT at least one file before the commit")
            self.submitter.require_topic(self.settings.ingest_topic(caller))
            receipt = self._publish(agency, metadata, components, upload_id)
            self.objects.put(
                keys.commit_key(upload_id), {"fingerprint": request, "receipt": receipt}
            )
            if idempotency_key:
                self.idempotency.remember(caller, idempotency_key, request, receipt)
        return receipt

    # --- status ---------------------------------------------------------------------------
    def status(self, caller: str, event_id: str) -> SubmissionStatus:
        receipt = self.receipts.latest(event_id)
        with answering(self.settings):
            record = (
                None if receipt is not None else self.objects.get(keys.submission_key(event_id))
            )
        if receipt is not None:
            owner, document_id = str(receipt["agency_code"]), str(receipt["document_id"])
        elif record is not None:
            owner, document_id = str(record["agency"]), str(record["document_id"])
        else:
            raise HttpProblem("not-found", 404, f"no submission {event_id}")
        if owner != caller:
            raise HttpProblem("forbidden-agency", 403, "the submission is another agency's")
        return status_of(event_id, owner, document_id, receipt)

    # --- the SDK's steps --------------------------------------------------------------------
    def _stage(self, agency: str, upload_id: str, sequence: int, file_name: str,
               mime_type: str | None, stream: IO[bytes] | BodyPipe, size: int) -> dict[str, Any]:  # fmt: skip
        """Stream one file to its staged key, hashing it on the way; its Component record."""
        key = staged_key(agency, upload_id, sequence, file_name)
        digests: Digests = self.submitter.storage.stage(
            key, cast(BinaryIO, stream), size, content_type(file_name, mime_type)
        )
        return component(
            sequence, file_name, mime_type, size_bytes=digests.size,
            sha256=digests.sha256.hexdigest(), sm3=digests.sm3.hexdigest(),
            bucket=self.settings.staging_bucket, key=key,
        )  # fmt: skip

    def _publish(self, agency: Agency, metadata: dict[str, Any],
                 components: list[dict[str, Any]], upload_id: str) -> dict[str, Any]:  # fmt: skip
        """Produce the event as the SDK does, wait for Kafka's confirmation, keep the record."""
        receipt: Receipt = self.submitter.publish(agency, metadata, components, upload_id)
        self.submitter.producer.flush(self.settings.gateway_kafka_timeout_s + 5)
        receipt.wait(timeout=5)
        answer = receipt.as_json()
        answer.pop("already_delivered", None)
        answer["status_url"] = f"/v1/submissions/{receipt.event_id}"
        self.objects.put(keys.submission_key(receipt.event_id), {
            "agency": agency.code, "document_id": receipt.document_id, "receipt": answer,
        })  # fmt: skip
        log.info("gateway: %s submitted %s (event %s)", agency.code, receipt.document_id,
                 receipt.event_id)  # fmt: skip
        return answer


def _one_step(metadata: Mapping[str, Any], files: list[tuple[str, str | None, str]]) -> str:
    return fingerprint(metadata=metadata, files=files)


def _sha256(stream: IO[bytes]) -> str:
    sha256 = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        sha256.update(chunk)
    stream.seek(0)
    return sha256.hexdigest()


def _file_receipt(staged: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sequence": staged["sequence"], "file_name": staged["file_name"],
        "staged_key": staged["payload"]["key"], "size_bytes": staged["size_bytes"],
        **{c["algorithm"].lower(): c["value"] for c in staged["checksums"]},
    }  # fmt: skip
