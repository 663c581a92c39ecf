"""The producer SDK: how an agency system hands a document to the archives.

`Submitter.submit(agency, files, metadata)` uploads each file to the staging bucket
(`<agency>/<upload-id>/<safe-filename>`), hashing it on the way (SHA-256 and SM3), then produces a
DocumentLifecycleEvent to `ingest.<agency>.lifecycle.v1` with an idempotent producer (acks=all)
and returns a receipt once the broker has confirmed it.

The event id is derived from the agency, document id, action and the files' digests, so sending
the same document again is recognisably the same event and the archive keeps one record of it.

Given an `Outbox` (connectors/outbox.py), as `recordflow submit` does, a Submitter first copies
the submission into it and then delivers from there: transient failures of S3, the schema
registry or Kafka are retried with exponential backoff and jitter until a deadline, after which
the submission stays held in the outbox (`SubmissionHeld`) and `flush_outbox()` delivers it later,
also from another process after a restart. A submission the archives can never take as it is
fails at once with its reason and is not kept pending.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import logging
import mimetypes
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import certifi
import fastavro
import httpx
import urllib3
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from minio.error import S3Error
from pydantic import SecretStr

from archival.filenames import safe_filename
from archival.metadata import (
    MetadataRules,
    load_metadata_rules,
    validate_category,
    validate_components,
    validate_description,
    validate_entities,
    validate_transfer,
)
from avro_schemas.codec import Codec, Subject
from avro_schemas.records import ArchivalReceipt
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, parsed_schema, shared_types
from connectors import failures, receipts
from connectors.agency_registry import current_registry
from connectors.outbox import (
    ACCEPTED,
    FAILED,
    PUBLISHED,
    Backoff,
    Claim,
    Deadline,
    Entry,
    FlushOutcome,
    Outbox,
    OutboxError,
    SpooledFile,
    SubmissionFailed,
    SubmissionHeld,
    new_upload_id,
    redact,
)
from connectors.readback import ReadError
from connectors.storage import Storage
from recordflow.agencies import Agency, AgencyRegistry, load_registry
from recordflow.errors import RecordRejected, SubmitError
from recordflow.settings import Settings
from recordflow.timeouts import (
    DELIVERY_TIMEOUT_S,
    MESSAGE_TIMEOUT_MS,
    METADATA_TIMEOUT_S,
    POLL_INTERVAL_S,
    REGISTRY_TIMEOUT_S,
    S3_CONNECT_TIMEOUT_S,
    S3_READ_TIMEOUT_S,
    TOPIC_CHECK_AFTER_S,
    TOPIC_RECHECK_S,
)

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("9b7f3c52-5a0e-4d8f-9a7c-2f1d6c0e8b41")
DESCRIPTION_FIELDS = {
    "title", "document_number", "responsible_party", "document_date", "document_type",
    "security_classification", "urgency", "keywords", "abstract", "unit_code", "year",
    "page_count", "language",
}  # fmt: skip
EVENT_FIELDS = {"document_id", "source_system", "actor", "action"}
# What the retention schedule and the metadata rules need from the agency (v3 of the event).
RETENTION_FIELDS = ("retention_proposal", "issuer_relation", "business_matter_code")
# The rest of DA/T 46, each carried on the event as it is (v2 of the event), with its shared type.
DA_T_46_FIELDS = {
    "supplementary": ["null", "recordflow.common.SupplementaryDescription"],
    "file_details": {"type": "array", "items": "recordflow.common.FileDetail"},
    "history": {"type": "array", "items": "recordflow.common.BusinessActivity"},
    "agents": {"type": "array", "items": "recordflow.common.AgentEntity"},
    "relations": {"type": "array", "items": "recordflow.common.RecordRelation"},
}
# What a transfer of an existing record adds (v4 of the event): the 档号 it already has, kept,
# and its carrier with its paper twin.
TRANSFER_FIELDS = {
    "reference_code": ["null", "string"],
    "carrier": ["null", "recordflow.common.Carrier"],
}
# The archive category (门类, v5 of the event: null means WS) and a photo's or recording's
# content description (DA/T 54, DA/T 63).
CATEGORY_FIELDS = {
    "category": ["null", "string"],
    "media": ["null", "recordflow.common.MediaDescription"],
}
# The persons the record concerns (v6 of the event: 权利人/当事人, with their identity numbers).
PERSON_FIELDS = {"persons": {"type": "array", "items": "recordflow.common.PersonConcerned"}}
OPTIONAL_TEXT_FIELDS = ("document_number", "urgency", "abstract")


@dataclass(frozen=True)
class FileToSubmit:
    path: Path
    name: str | None = None
    mime_type: str | None = None
    # The file stays as it is until sent (a batch's scan, not a document being edited): the
    # outbox may hard-link it rather than copy it (Outbox.spool).
    unchanging: bool = False

    @property
    def file_name(self) -> str:
        return self.name or self.path.name


@dataclass
class Receipt:
    """What the archives acknowledged: the event and where the broker put it."""

    event_id: str
    document_id: str
    agency: str
    upload_id: str
    topic: str
    components: list[dict[str, Any]]
    delivery: Future[Message | None] = field(default_factory=Future, repr=False)
    # Where the event is, when it was delivered through the outbox (which records it).
    partition: int | None = None
    offset: int | None = None
    # The outbox had delivered this very event before; nothing was sent this time.
    already_delivered: bool = False

    def wait(self, timeout: float = DELIVERY_TIMEOUT_S) -> Receipt:
        self.delivery.result(timeout)
        return self

    def as_json(self) -> dict[str, Any]:
        message = self.delivery.result(0) if self.delivery.done() else None
        return {
            "event_id": self.event_id,
            "document_id": self.document_id,
            "agency": self.agency,
            "upload_id": self.upload_id,
            "topic": self.topic,
            "partition": message.partition() if message else self.partition,
            "offset": message.offset() if message else self.offset,
            "already_delivered": self.already_delivered,
            "files": [
                {
                    "file_name": component["file_name"],
                    "staged_key": component["payload"]["key"],
                    "size_bytes": component["size_bytes"],
                    **{c["algorithm"].lower(): c["value"] for c in component["checksums"]},
                }
                for component in self.components
            ],
        }


def description_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The RecordDescription for a submission's metadata (the JSON `recordflow submit` reads)."""
    unknown = (
        set(metadata) - DESCRIPTION_FIELDS - EVENT_FIELDS - set(DA_T_46_FIELDS)
        - {*RETENTION_FIELDS, "absent_elements"} - set(TRANSFER_FIELDS) - set(CATEGORY_FIELDS)
        - set(PERSON_FIELDS)
    )  # fmt: skip
    if unknown:
        raise SubmitError(f"unknown metadata field(s): {', '.join(sorted(unknown))}")
    try:
        document_date = dt.date.fromisoformat(str(metadata.get("document_date", "")))
    except ValueError as exc:
        raise SubmitError(f"document_date must be a date like 2026-03-01: {exc}") from exc
    keywords = metadata.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(word, str) for word in keywords):
        raise SubmitError("keywords must be a list of strings")
    for name in OPTIONAL_TEXT_FIELDS:
        if not isinstance(metadata.get(name), str | None):
            raise SubmitError(
                f"{name} must be a string or null, not {type(metadata[name]).__name__}"
            )
    year = metadata.get("year")
    year = document_date.year if year in (None, "") else whole_number("year", year)
    page_count = metadata.get("page_count")
    page_count = None if page_count is None else whole_number("page_count", page_count)
    return {
        "title": str(metadata.get("title") or ""),
        "document_number": metadata.get("document_number"),
        "responsible_party": str(metadata.get("responsible_party") or ""),
        "document_date": document_date,
        "document_type": str(metadata.get("document_type") or ""),
        "security_classification": str(metadata.get("security_classification") or "公开"),
        "urgency": metadata.get("urgency"),
        "keywords": keywords,
        "abstract": metadata.get("abstract"),
        "unit_code": str(metadata.get("unit_code") or ""),
        "year": year,
        "page_count": page_count,
        "language": str(metadata.get("language") or "zh"),
    }


def retention_fields_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The event's v3 fields: the agency's proposed period, the issuer's relation to it, the
    business-matter code, and the conditional elements it declares the document does not have."""
    fields: dict[str, Any] = {}
    for name in RETENTION_FIELDS:
        value = metadata.get(name)
        if not isinstance(value, str | None):
            raise SubmitError(f"{name} must be a string or null, not {type(value).__name__}")
        fields[name] = value or None
    absent = metadata.get("absent_elements") or []
    if not isinstance(absent, list) or not all(isinstance(name, str) for name in absent):
        raise SubmitError("absent_elements must be a list of metadata element names")
    fields["absent_elements"] = absent
    return fields


def da_t_46_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The event's DA/T 46 fields beyond the RecordDescription (supplementary, file_details,
    history, agents, relations; a transfer's reference_code and carrier; the persons it concerns)
    from submission metadata, shaped by their shared Avro types: times as ISO 8601 strings with a
    zone become aware datetimes, a certificate is base64 text.
    Absent fields get their defaults; a wrong shape is a SubmitError naming where it is."""
    return {
        name: _convert(metadata.get(name), avro_type, name)
        for name, avro_type in (
            DA_T_46_FIELDS | TRANSFER_FIELDS | CATEGORY_FIELDS | PERSON_FIELDS
        ).items()
    }


def _convert(value: Any, avro_type: Any, where: str) -> Any:
    """`value` (parsed JSON) as the Python value fastavro writes for `avro_type`."""
    if isinstance(avro_type, list):  # ["null", T]
        return None if value is None else _convert(value, avro_type[1], where)
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "timestamp-millis":
            return _aware_time(value, where)
        if avro_type["type"] == "array":
            if value is None:
                return []
            if not isinstance(value, list):
                raise SubmitError(f"{where} must be a list, not {type(value).__name__}")
            items = avro_type["items"]
            return [_convert(item, items, f"{where}[{n}]") for n, item in enumerate(value)]
        raise AssertionError(f"unexpected Avro type {avro_type!r}")  # pragma: no cover
    if avro_type == "string":
        if not isinstance(value, str):
            raise SubmitError(f"{where} must be a string, not {type(value).__name__}")
        return value
    if avro_type == "boolean":
        if not isinstance(value, bool):
            raise SubmitError(f"{where} must be true or false, not {value!r}")
        return value
    if avro_type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SubmitError(f"{where} must be a whole number, not {value!r}")
        return value
    if avro_type == "bytes":
        try:
            if not isinstance(value, str):
                raise ValueError(f"not {type(value).__name__}")
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SubmitError(f"{where} must be base64 text: {exc}") from exc
    return _convert_record(value, shared_types()[avro_type], where)


def _convert_record(value: Any, record: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SubmitError(f"{where} must be an object, not {type(value).__name__}")
    fields = {spec["name"]: spec for spec in record["fields"]}
    if unknown := set(value) - set(fields):
        raise SubmitError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    converted = {}
    for name, spec in fields.items():
        if name not in value and "default" not in spec:
            raise SubmitError(f"{where}.{name} is required")
        converted[name] = _convert(value.get(name, spec.get("default")), spec["type"],
                                   f"{where}.{name}")  # fmt: skip
    return converted


def _aware_time(value: Any, where: str) -> dt.datetime:
    example = "like 2026-05-18T09:30:00+08:00"
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise SubmitError(f"{where} must be an ISO 8601 time {example}, not {value!r}")
    if moment.tzinfo is None:
        raise SubmitError(f"{where} must carry its time zone, {example}: {value!r}")
    return moment


def whole_number(name: str, value: object) -> int:
    """An int, a float without a fractional part, or a string of ASCII digits, as an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    raise SubmitError(f"year and page_count must be whole numbers: {name} is {value!r}")


def event_id_for(agency: str, document_id: str, action: str, sha256s: Sequence[str]) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, "|".join([agency, document_id, action, *sha256s])))


def staged_key(agency_code: str, upload_id: str, sequence: int, file_name: str) -> str:
    """Where a submission's file goes in the staging bucket."""
    return f"{agency_code}/{upload_id}/{sequence:02d}-{safe_filename(file_name)}"


def content_type(file_name: str, mime_type: str | None) -> str:
    # The declared type is what the agency system says; the SDK does not guess one for it (a
    # guess from the extension could contradict the content and fail the check). The guess is
    # only what S3 serves the staged object as.
    return mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def component(
    sequence: int,
    file_name: str,
    mime_type: str | None,
    *,
    size_bytes: int,
    sha256: str,
    sm3: str,
    bucket: str,
    key: str,
) -> dict[str, Any]:
    """The event's Component record for one staged file."""
    return {
        "sequence": sequence,
        "is_main": sequence == 1,
        "title": None,
        "file_name": file_name,
        "mime_type": mime_type,
        "size_bytes": size_bytes,
        "checksums": [
            {"algorithm": "SHA256", "value": sha256},
            {"algorithm": "SM3", "value": sm3},
        ],
        "payload": {"bucket": bucket, "key": key, "version_id": None, "inline_content": None},
    }


def spooled_components(
    files: Sequence[SpooledFile], agency_code: str, upload_id: str, bucket: str
) -> list[dict[str, Any]]:
    """The Component records of an outbox submission, from the digests taken when it was spooled."""
    return [
        component(
            file.sequence, file.file_name, file.mime_type, size_bytes=file.size_bytes,
            sha256=file.sha256, sm3=file.sm3, bucket=bucket,
            key=staged_key(agency_code, upload_id, file.sequence, file.file_name),
        )
        for file in files
    ]  # fmt: skip


def event_headers(event: dict[str, Any]) -> dict[str, str | bytes | None]:
    """CloudEvents binary-mode headers for a lifecycle event."""
    return {
        "ce_specversion": "1.0",
        "ce_id": event["event_id"],
        "ce_source": f"/agencies/{event['agency']['code']}/{event.get('source_system') or 'sdk'}",
        "ce_type": f"cn.gov.recordflow.document.{str(event['action']).lower()}.v1",
        "ce_time": event["event_time"].isoformat(),
        "content-type": "application/avro",
    }


def secrets_of(settings: Settings) -> list[str]:
    """The secret values in `settings`, for `redact`: nothing the outbox stores or prints
    carries them, whatever an error message from a client library quotes."""
    secrets = [value.get_secret_value() for _, value in settings if isinstance(value, SecretStr)]
    password = httpx.URL(settings.schema_registry_url).password
    if password:
        secrets.append(password)
    return secrets


# --- telling a bad moment from a bad submission ------------------------------------------------
TRANSIENT, HELD, REJECTED = "transient", "held", "rejected"
KAFKA_REJECTS = {
    KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG, KafkaError.INVALID_RECORD,
    KafkaError.RECORD_LIST_TOO_LARGE, KafkaError._BAD_MSG, KafkaError._INVALID_ARG,
}  # fmt: skip
S3_REJECTS = {"EntityTooLarge"}


class KafkaDeliveryError(SubmitError):
    """Kafka refused an event (in its delivery report, or when it was handed to the producer)."""

    def __init__(self, error: KafkaError) -> None:
        super().__init__(f"Kafka refused the event: {error.str()}")
        self.error = error


class KafkaUnconfirmed(SubmitError):
    """No delivery report came before the deadline: the brokers are unreachable, most likely."""


class SpoolDamaged(SubmitError):
    """The outbox's copy of a file is gone, or no longer what was accepted."""


class TopicMissing(SubmitError):
    """The event's ingest topic is not on the cluster: librdkafka would hold the event, waiting
    for the topic to appear, until the deadline, and no retry delivers it until an operator
    creates the topic. A permanent refusal (classify_failure: a SubmitError), never held."""

    @classmethod
    def of(cls, topic: str) -> TopicMissing:
        return cls(
            f"topic {topic} does not exist on the cluster: create the agency's ingest topic with "
            "`recordflow topics apply`"
        )


@dataclass(frozen=True)
class Failure:
    """What a failed delivery attempt means: `transient` (retry after a pause, while the deadline
    allows), `held` (stop now and keep the submission pending: an operator can mend the cause,
    e.g. credentials, a missing bucket or topic, a bug), `rejected` (the submission itself can
    never be taken: not pending any more)."""

    kind: str
    reason: str
    unexpected: bool = False  # no rule foresaw it: a bug, most likely


def classify_failure(exc: BaseException) -> Failure:
    """The SDK's reading of the shared failure taxonomy (connectors/failures.py): a transient
    failure is retried while the deadline allows; of the permanent ones, what the archives can
    never take is `rejected`, and what an operator can mend (credentials, a bucket, a full disk,
    a bug) is `held`."""
    if isinstance(exc, SpoolDamaged):
        return Failure(REJECTED, str(exc))
    if isinstance(exc, KafkaUnconfirmed):
        return Failure(TRANSIENT, str(exc))
    if isinstance(exc, BufferError):
        return Failure(TRANSIENT, f"the producer's queue is full: {exc}")
    if isinstance(exc, KafkaDeliveryError):
        exc = KafkaException(exc.error)
    elif isinstance(exc, SubmitError):  # unknown agency, invalid metadata, no ingest topic …
        return Failure(REJECTED, str(exc))
    if isinstance(exc, KafkaException) and isinstance(error := exc.args[0], KafkaError):
        if error.code() in KAFKA_REJECTS:
            return Failure(REJECTED, f"{error.name()}: {error.str()}")
        if error.fatal():  # the producer is replaced on the next attempt
            return Failure(TRANSIENT, f"{error.name()}: {error.str()}")
    if isinstance(exc, S3Error) and exc.code in S3_REJECTS:
        return Failure(REJECTED, f"{exc.code}: {exc.message}")
    failure = failures.classify(exc)
    if failure.transient:
        return Failure(TRANSIENT, failure.detail)
    unexpected = failure.reason == "internal-error"
    detail = f"unexpected {failure.detail}" if unexpected else failure.detail
    return Failure(HELD, detail, unexpected=unexpected)


class _LibrdkafkaLog:
    """librdkafka's own log lines (for an outbox submitter), through Python logging at INFO or
    below: what they tell (brokers down, connections refused) the outbox reports once, in its
    own words, instead of a stream of lines on stderr."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(f"{__name__}.librdkafka")

    def log(self, level: int, message: str, *args: object) -> None:
        self.logger.log(min(level, logging.INFO), message, *args)


def bounded_http() -> urllib3.PoolManager:
    """An HTTP pool for S3 whose calls end in bounded time (minio's default waits five minutes to
    connect and retries five times), so that the outbox's deadline holds when S3 is unreachable."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=S3_CONNECT_TIMEOUT_S, read=S3_READ_TIMEOUT_S),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),  # as minio's default does
        retries=False,  # the outbox retries, with backoff, and without a warning each time
    )


def _json_data(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` as the outbox stores it (JSON text), read back."""
    try:
        stored = json.loads(json.dumps(metadata, ensure_ascii=False, default=str))
    except (TypeError, ValueError) as exc:
        raise SubmitError(f"metadata must be JSON data: {exc}") from exc
    if not isinstance(stored, dict):
        raise SubmitError("metadata must be a JSON object")
    return stored


def _check_encodable(event: dict[str, Any]) -> None:
    """Encode the event with the local schema (no registry needed): what would not encode later,
    when the outbox delivers it, is refused now."""
    try:
        fastavro.schemaless_writer(io.BytesIO(), parsed_schema(DOCUMENT_LIFECYCLE_EVENT), event)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SubmitError(f"the event does not fit its schema: {str(exc)[:300]}") from exc


class Submitter:
    """Reusable: one producer, codec and S3 client for many submissions. Close it when done.

    Without an outbox, `submit` stages and publishes directly and raises SubmitError when a
    server fails. With one, `submit` copies the submission into the outbox first and delivers it
    from there, retrying transient failures until the deadline (`Settings.submit_deadline_s`);
    it then returns the receipt, or raises SubmissionHeld (kept, `flush_outbox` delivers it) or
    SubmissionFailed (refused for good). The outbox belongs to the caller, who closes it.
    """

    def __init__(
        self,
        settings: Settings,
        registry: AgencyRegistry | None = None,
        metadata_rules: MetadataRules | None = None,
        *,
        outbox: Outbox | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or load_registry(settings.agencies_file)
        self.metadata_rules = metadata_rules or load_metadata_rules(settings.metadata_rules_file)
        self.outbox = outbox
        self.storage = storage or Storage(
            settings, http_client=None if outbox is None else bounded_http()
        )
        if outbox is None:
            self.codec = Codec.from_url(settings.schema_registry_url)
        else:
            self.codec = Codec(
                SchemaRegistryClient(
                    {"url": settings.schema_registry_url, "timeout": REGISTRY_TIMEOUT_S}
                )
            )
        self._secrets = secrets_of(settings)
        self._fatal: KafkaError | None = None
        self._kafka_trouble: KafkaError | None = None
        self._topics_seen: set[str] = set()  # ingest topics the cluster said it has
        self.producer = self._new_producer()

    def _new_producer(self) -> Producer:
        config: dict[str, Any] = {**self.settings.producer_config(), "error_cb": self._on_error}
        if self.outbox is not None:
            config |= {"message.timeout.ms": MESSAGE_TIMEOUT_MS, "logger": _LibrdkafkaLog()}
        return Producer(config)

    def _on_error(self, error: KafkaError) -> None:
        self._kafka_trouble = error
        if error.fatal():
            self._fatal = error

    def agency(self, code: str) -> Agency:
        agency = self.registry.get(code)
        if agency is None:
            # Onboarded since installation? Asked only then: a submission held in the outbox
            # while Kafka is away must not wait on the registry topic.
            with suppress(ReadError):
                self.registry = current_registry(self.settings)
            agency = self.registry.get(code)
        if agency is None:
            known = ", ".join(sorted(self.registry.by_code))
            raise SubmitError(f"unknown agency {code!r}; registered agencies: {known}")
        if not agency.active:
            raise SubmitError(f"agency {code!r} was offboarded on {agency.offboarded_at:%Y-%m-%d}"
                              " and may no longer submit")  # fmt: skip
        return agency

    def describe(
        self, agency: Agency, metadata: dict[str, Any], *, validate: bool = True
    ) -> dict[str, Any]:
        """The RecordDescription for a submission's metadata, checked against the pipeline's
        metadata rules unless `validate` is false (SubmitError with the reason code)."""
        description = description_from_metadata(metadata)
        if validate:
            try:
                absent = retention_fields_from_metadata(metadata)["absent_elements"]
                validate_description(description, agency, self.metadata_rules, absent=absent)
            except RecordRejected as exc:
                raise SubmitError(f"{exc.reason}: {exc.message}") from exc
        return description

    def entities(self, metadata: dict[str, Any], *, validate: bool = True) -> dict[str, Any]:
        """The event's other DA/T 46 fields (supplementary, file_details, history, agents,
        relations), checked against the metadata rules' entity domains unless `validate` is false."""
        extras = {**da_t_46_from_metadata(metadata), **retention_fields_from_metadata(metadata)}
        if validate:
            try:
                validate_entities(extras, self.metadata_rules)
            except RecordRejected as exc:
                raise SubmitError(f"{exc.reason}: {exc.message}") from exc
        return extras

    def stage(
        self, agency: Agency, upload_id: str, files: Sequence[FileToSubmit]
    ) -> list[dict[str, Any]]:
        """Upload files to staging, hashing them on the way; return their Component records."""
        components = []
        for sequence, file in enumerate(files, start=1):
            if not file.path.is_file():
                raise SubmitError(f"{file.path}: no such file")
            key = staged_key(agency.code, upload_id, sequence, file.file_name)
            with file.path.open("rb") as stream:
                digests = self.storage.stage(
                    key,
                    stream,
                    file.path.stat().st_size,
                    content_type(safe_filename(file.file_name), file.mime_type),
                )
            components.append(
                component(
                    sequence, file.file_name, file.mime_type, size_bytes=digests.size,
                    sha256=digests.sha256.hexdigest(), sm3=digests.sm3.hexdigest(),
                    bucket=self.settings.staging_bucket, key=key,
                )
            )  # fmt: skip
        return components

    def build_event(
        self,
        agency: Agency,
        metadata: dict[str, Any],
        components: list[dict[str, Any]],
        upload_id: str,
        *,
        validate: bool = True,
        event_time: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The lifecycle event for staged components, checked unless `validate` is false."""
        description = self.describe(agency, metadata, validate=validate)
        extras = self.entities(metadata, validate=validate)
        if validate:
            try:
                validate_transfer(extras, agency)
                validate_category({**extras, "description": description}, self.metadata_rules)
                validate_components(
                    components,
                    agency,
                    max_file_bytes=self.settings.max_file_bytes,
                    staging_bucket=self.settings.staging_bucket,
                )
            except RecordRejected as exc:
                raise SubmitError(f"{exc.reason}: {exc.message}") from exc
        document_id = str(metadata.get("document_id") or "").strip()
        if not document_id:
            raise SubmitError(
                "metadata needs a document_id: the document's id in the agency system"
            )
        action = str(metadata.get("action") or "FILED")
        sha256s = [component["checksums"][0]["value"] for component in components]
        return {
            "event_id": event_id_for(agency.code, document_id, action, sha256s),
            "action": action,
            "event_time": event_time or dt.datetime.now(dt.UTC),
            "agency": {"code": agency.code, "name": agency.name},
            "document_id": document_id,
            "upload_id": upload_id,
            "source_system": metadata.get("source_system"),
            "actor": metadata.get("actor"),
            "description": description,
            "components": components,
            **extras,
        }

    def publish(
        self,
        agency: Agency,
        metadata: dict[str, Any],
        components: list[dict[str, Any]],
        upload_id: str,
        *,
        validate: bool = True,
        event_time: dt.datetime | None = None,
    ) -> Receipt:
        """Produce the lifecycle event for staged components. The receipt's delivery completes
        when the broker acknowledges it (all in-sync replicas)."""
        if self._fatal is not None:
            raise SubmitError(f"the Kafka producer failed fatally: {self._fatal.str()}")
        event = self.build_event(
            agency, metadata, components, upload_id, validate=validate, event_time=event_time
        )
        return self.produce_event(agency.code, event)

    def require_topic(self, topic: str) -> None:
        """TopicMissing at once when the cluster says twice, TOPIC_RECHECK_S apart, that it has no
        `topic` (librdkafka would hold the event until its timeout); asked once per topic and
        process. Kafka unreachable or another error: nothing is said here, and the delivery
        report tells."""
        if topic in self._topics_seen:
            return
        for attempt in range(2):
            if attempt:
                time.sleep(TOPIC_RECHECK_S)
            try:
                metadata = self.producer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
            except KafkaException:
                return
            info = metadata.topics.get(topic)
            if info is not None and info.error is None:
                self._topics_seen.add(topic)
                return
            if info is None or info.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                return
        raise TopicMissing.of(topic)

    def warm_up(self, timeout_s: float = 10.0) -> None:
        """Connect to the broker and look up every registered agency's schema id now, which the
        first submission would otherwise wait for (optional: a system that submits all day may
        call it as it starts). Raises KafkaException when the broker does not answer in time."""
        for agency in self.registry.agencies:
            topic = self.settings.ingest_topic(agency.code)
            self.codec.register(Subject.for_topic(topic, DOCUMENT_LIFECYCLE_EVENT))
        self.producer.list_topics(timeout=timeout_s)

    def produce_event(self, topic_owner: str, event: dict[str, Any]) -> Receipt:
        """Encode and produce an event to `topic_owner`'s ingest topic, as it stands."""
        topic = self.settings.ingest_topic(topic_owner)
        value = self.codec.encode(Subject.for_topic(topic, DOCUMENT_LIFECYCLE_EVENT), event)
        receipt = Receipt(
            event["event_id"], event["document_id"], topic_owner, event["upload_id"], topic,
            event["components"],
        )  # fmt: skip

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                receipt.delivery.set_exception(KafkaDeliveryError(error))
            else:
                receipt.delivery.set_result(message)

        self.producer.produce(topic, value=value, key=event["document_id"].encode(),
                              headers=event_headers(event), on_delivery=delivered)  # fmt: skip
        self.producer.poll(0)
        return receipt

    def submit(
        self,
        agency_code: str,
        files: Sequence[FileToSubmit],
        metadata: dict[str, Any],
        *,
        validate: bool = True,
        wait: bool = True,
        deadline_s: float | None = None,
    ) -> Receipt:
        """Hand a document over. With an outbox, see the class: `wait` must stay true, and
        `deadline_s` (default `Settings.submit_deadline_s`) bounds the retries."""
        agency = self.agency(agency_code)
        if not files:
            raise SubmitError("a submission needs at least one file (the main document first)")
        # Metadata first: a submission the archives would refuse (a classified record, above all)
        # uploads nothing.
        self.describe(agency, metadata, validate=validate)
        self.entities(metadata, validate=validate)
        if self.outbox is not None:
            if not wait:
                raise ValueError("with an outbox, submit waits for Kafka's confirmation")
            deadline = Deadline.after(
                self.settings.submit_deadline_s if deadline_s is None else deadline_s
            )
            claim = self._accept(agency, files, metadata, validate=validate, deadline=deadline)
            with claim:
                return self._deliver(claim, deadline)
        self.require_topic(self.settings.ingest_topic(agency.code))  # before staging any file
        upload_id = uuid.uuid4().hex
        receipt = self.publish(agency, metadata, self.stage(agency, upload_id, files), upload_id,
                               validate=validate)  # fmt: skip
        if wait:
            self.flush()
            receipt.wait()
        return receipt

    # --- through the outbox -------------------------------------------------------------------
    def _accept(
        self,
        agency: Agency,
        files: Sequence[FileToSubmit],
        metadata: dict[str, Any],
        *,
        validate: bool,
        deadline: Deadline,
    ) -> Claim:
        """Copy the files into the outbox, build and check the event from the copies, record it:
        from here on the submission no longer needs the caller or its files."""
        outbox = self._outbox()
        for file in files:
            if not file.path.is_file():
                raise SubmitError(f"{file.path}: no such file")
        upload_id = new_upload_id()
        try:
            spooled = outbox.spool(upload_id, [(f.path, f.file_name, f.mime_type) for f in files],
                                   link=all(f.unchanging for f in files))  # fmt: skip
        except OSError as exc:
            raise SubmitError(f"cannot copy the files into the outbox: {exc}") from exc
        try:
            event_time = dt.datetime.now(dt.UTC)
            bucket = self.settings.staging_bucket
            components = spooled_components(spooled, agency.code, upload_id, bucket)
            event = self.build_event(agency, metadata, components, upload_id, validate=validate,
                                     event_time=event_time)  # fmt: skip
            stored = _json_data(metadata)
            again = self.build_event(agency, stored, components, upload_id, validate=False,
                                     event_time=event_time)  # fmt: skip
            if again != event:
                raise SubmitError("metadata must be JSON data: it reads back differently")
            _check_encodable(event)
        except BaseException:
            outbox.discard_spool(upload_id)
            raise
        claim = outbox.add(
            upload_id=upload_id, event_id=event["event_id"], agency=agency.code,
            document_id=event["document_id"], title=event["description"]["title"],
            topic=self.settings.ingest_topic(agency.code), bucket=bucket, metadata=stored,
            event_time=event_time, files=spooled, wait_s=deadline.remaining(),
        )  # fmt: skip
        if claim is None:
            raise SubmitError(
                f"the same document (event {event['event_id']}) is in the outbox already and "
                "another process is delivering it now"
            )
        return claim

    def _outbox(self) -> Outbox:
        if self.outbox is None:
            raise SubmitError("this Submitter has no outbox")
        return self.outbox

    def deliver(self, claim: Claim, deadline: Deadline) -> Receipt:
        """Deliver a claimed outbox submission: stage its files unless staged, then produce its
        event and wait for Kafka's confirmation, retrying transient failures with backoff until
        the deadline. Returns the receipt; raises SubmissionHeld or SubmissionFailed."""
        return self._deliver(claim, deadline)

    def _deliver(self, claim: Claim, deadline: Deadline) -> Receipt:
        outbox = self._outbox()
        backoff = Backoff()
        while True:
            entry = claim.entry
            if entry.state == PUBLISHED:
                return self._receipt(entry, already_delivered=True)
            if entry.state == FAILED:
                raise SubmissionFailed(entry, entry.last_error or "failed earlier")
            self._check_destination(entry)
            phase = "outbox"
            try:
                event = self._event_for(entry)
                if entry.state == ACCEPTED:
                    phase = f"S3 {self.settings.s3_endpoint}"
                    self._stage_entry(entry)
                    entry = outbox.mark_staged(entry.upload_id)
                if entry.event_value is None:
                    phase = "schema registry"
                    subject = Subject.for_topic(entry.topic, DOCUMENT_LIFECYCLE_EVENT)
                    entry = outbox.set_event_value(
                        entry.upload_id, self.codec.encode(subject, event)
                    )
                phase = f"Kafka {self.settings.kafka_bootstrap}"
                message = self._produce_and_wait(entry, event, deadline)
                entry = outbox.mark_published(
                    entry.upload_id, message.partition() or 0, message.offset() or 0
                )
                log.info("outbox: delivered %s (event %s)", entry.document_id, entry.event_id)
                return self._receipt(entry)
            except (OutboxError, sqlite3.Error):
                raise  # the outbox itself, not the delivery: nothing to retry
            except Exception as exc:
                failure = classify_failure(exc)
                if failure.unexpected:
                    log.warning("outbox: %s failed unexpectedly", phase, exc_info=True)
                where = "outbox" if isinstance(exc, SpoolDamaged) else phase
                reason = redact(f"{where}: {failure.reason}", self._secrets)
                if failure.kind == REJECTED:
                    entry = outbox.mark_failed(entry.upload_id, reason)
                    log.info("outbox: %s refused for good: %s", entry.document_id, reason)
                    raise SubmissionFailed(entry, reason) from exc
                entry = outbox.record_attempt(entry.upload_id, reason)
                if failure.kind == HELD or not backoff.pause(deadline):
                    log.info("outbox: %s held: %s", entry.document_id, reason)
                    raise SubmissionHeld(entry, reason) from exc
                log.info("outbox: %s, attempt %d failed, retrying: %s",
                         entry.document_id, entry.attempts, reason)  # fmt: skip

    def _check_destination(self, entry: Entry) -> None:
        """An entry goes where it was addressed when accepted, or nowhere: a process configured
        for other topics or buckets (another environment, a test's prefixes) leaves it alone."""
        topic, bucket = self.settings.ingest_topic(entry.agency), self.settings.staging_bucket
        if (entry.topic, entry.bucket) != (topic, bucket):
            raise SubmissionHeld(
                entry,
                f"accepted for topic {entry.topic} and bucket {entry.bucket}, but these settings "
                f"deliver to {topic} and {bucket}; flush it with the settings it was submitted with",
            )

    def _event_for(self, entry: Entry) -> dict[str, Any]:
        """The entry's event, rebuilt as it was built at acceptance (same time, same upload id)."""
        components = spooled_components(entry.files, entry.agency, entry.upload_id, entry.bucket)
        return self.build_event(self.agency(entry.agency), entry.metadata, components,
                                entry.upload_id, validate=False, event_time=entry.event_time)  # fmt: skip

    def _stage_entry(self, entry: Entry) -> None:
        """Upload the spooled copies to the entry's keys. After a failed attempt a file that is
        already there with the same bytes (its ETag says so) is not sent again."""
        outbox = self._outbox()
        for file in entry.files:
            path = outbox.spooled_path(entry, file)
            key = staged_key(entry.agency, entry.upload_id, file.sequence, file.file_name)
            try:
                size = path.stat().st_size
            except FileNotFoundError as exc:
                raise SpoolDamaged(f"{file.file_name}: the outbox's copy {path} is gone") from exc
            if size != file.size_bytes:
                raise SpoolDamaged(
                    f"{file.file_name}: the outbox's copy {path} has {size} bytes, not the "
                    f"{file.size_bytes} accepted"
                )
            if entry.attempts and self._is_staged(entry.bucket, key, file):
                continue
            with path.open("rb") as stream:
                same = self.storage.stage_hashed(
                    key, stream, size, content_type(file.spool_name, file.mime_type), file.etag
                )
            if not same:
                raise SpoolDamaged(
                    f"{file.file_name}: the outbox's copy {path} is no longer the file accepted "
                    f"(S3 read other bytes than its MD5 ETag {file.etag} at acceptance)"
                )

    def _is_staged(self, bucket: str, key: str, file: SpooledFile) -> bool:
        try:
            stat = self.storage.client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                return False
            raise
        return (stat.etag or "").strip('"') == file.etag and stat.size == file.size_bytes

    def _produce_and_wait(self, entry: Entry, event: dict[str, Any], deadline: Deadline) -> Message:
        """Send the entry's stored event bytes and wait for the delivery report until the
        deadline; then purge it from the producer, so that nothing is left to send later."""
        if self._fatal is not None:  # an idempotent producer that failed fatally is done for
            self.producer, self._fatal = self._new_producer(), None
        assert entry.event_value is not None
        delivery: Future[Message] = Future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            if delivery.done():
                return
            if error is not None:
                delivery.set_exception(KafkaDeliveryError(error))
            else:
                delivery.set_result(message)

        self._kafka_trouble = None
        try:
            self.producer.produce(entry.topic, value=entry.event_value,
                                  key=entry.document_id.encode(), headers=event_headers(event),
                                  on_delivery=delivered)  # fmt: skip
        except KafkaException as exc:
            raise KafkaDeliveryError(exc.args[0]) from exc
        check_topic_at, topic_checked = Deadline.after(TOPIC_CHECK_AFTER_S), False
        while not delivery.done():
            remaining = deadline.remaining()
            if remaining <= 0:
                self.producer.purge()
                self.producer.poll(0)
                trouble = self._kafka_trouble
                raise KafkaUnconfirmed(
                    f"no confirmation within the deadline ({deadline.seconds:g} s)"
                    + (f"; last error: {trouble.str()}" if trouble is not None else "")
                )
            if (
                not topic_checked
                and check_topic_at.expired
                and entry.topic not in self._topics_seen
            ):
                topic_checked = True
                if self._topic_exists(entry.topic, delivery, deadline):
                    self._topics_seen.add(entry.topic)
            self.producer.poll(min(remaining, POLL_INTERVAL_S))
        return delivery.result()

    def _topic_exists(self, topic: str, delivery: Future[Message], deadline: Deadline) -> bool:
        """Whether the cluster's metadata has `topic`: True when it says so (or the event was
        confirmed meanwhile); False when it does not answer (Kafka unreachable: the deadline
        deals with that) or answers with another error. When it answers twice, TOPIC_RECHECK_S
        apart (a topic created a moment ago may not be known to every broker yet), that it has
        no such topic, the waiting event is purged and TopicMissing raised."""
        for attempt in range(2):
            if attempt:
                pause = Deadline.after(TOPIC_RECHECK_S)
                while not pause.expired and not delivery.done():
                    self.producer.poll(pause.remaining())
                if delivery.done():
                    return True
                if deadline.expired:
                    return False
            try:
                metadata = self.producer.list_topics(
                    topic, timeout=max(min(deadline.remaining(), METADATA_TIMEOUT_S), 0.1)
                )
            except KafkaException:
                return False
            info = metadata.topics.get(topic)
            if info is not None and info.error is None:
                return True
            if info is None or info.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                return False
        self.producer.purge()  # nothing of it may go out later, should the topic appear
        self.producer.poll(0)
        raise TopicMissing.of(topic)

    def _receipt(self, entry: Entry, *, already_delivered: bool = False) -> Receipt:
        receipt = Receipt(
            entry.event_id, entry.document_id, entry.agency, entry.upload_id, entry.topic,
            spooled_components(entry.files, entry.agency, entry.upload_id, entry.bucket),
            partition=entry.partition, offset=entry.offset, already_delivered=already_delivered,
        )  # fmt: skip
        receipt.delivery.set_result(None)
        return receipt

    def flush_outbox(
        self,
        deadline_s: float | None = None,
        on_outcome: Callable[[FlushOutcome], None] | None = None,
    ) -> list[FlushOutcome]:
        """Deliver what is pending in the outbox, oldest first, within one deadline (default
        `Settings.submit_deadline_s`): what it does not reach stays pending. A submission that
        another process is delivering is left to it ("busy")."""
        outbox = self._outbox()
        outbox.sweep()
        deadline = Deadline.after(
            self.settings.submit_deadline_s if deadline_s is None else deadline_s
        )
        outcomes = []
        for entry in outbox.pending():
            outcome = self._flush_one(entry, deadline)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes

    def _flush_one(self, entry: Entry, deadline: Deadline) -> FlushOutcome:
        if deadline.expired:
            return FlushOutcome(entry, "not-attempted", "the deadline passed first")
        claim = self._outbox().claim(entry.upload_id)
        if claim is None:
            return FlushOutcome(entry, "busy", "another process is delivering it")
        with claim:
            try:
                receipt = self._deliver(claim, deadline)
            except SubmissionHeld as exc:
                return FlushOutcome(exc.entry, "held", exc.reason)
            except SubmissionFailed as exc:
                return FlushOutcome(exc.entry, "failed", exc.reason)
            status = "already-delivered" if receipt.already_delivered else "delivered"
            return FlushOutcome(claim.entry, status)

    # --- receipts (归档回执) ----------------------------------------------------------------------
    def receipts(self, agency_code: str, *, name: str = "default",
                 idle_timeout_s: float | None = None, stop: Callable[[], bool] | None = None,
                 from_beginning: bool = True) -> Iterator[ArchivalReceipt]:  # fmt: skip
        """The agency's archival receipts as they arrive: every outcome of its submissions
        (ARCHIVED with the 档号, REJECTED with the reason code, HELD_FOR_REVIEW, DECIDED,
        APPRAISAL_DUE). Read in the consumer group `<prefix>receipts.<agency>.<name>`, so an
        agency system that stops and starts again resumes where it stopped (each receipt is
        committed once the next is asked for: at least once). Ends when `stop()` is true, or
        after `idle_timeout_s` without a receipt (None: it waits for ever)."""
        agency = self.agency(agency_code)
        return receipts.follow(self.settings, self.codec, agency.code, name=name,
                               idle_timeout_s=idle_timeout_s, stop=stop,
                               from_beginning=from_beginning)  # fmt: skip

    def status(self, event_id: str, agency_code: str | None = None) -> ArchivalReceipt | None:
        """The latest receipt of a submitted event (`Receipt.event_id`), or None: None means
        received but no outcome yet (intake or the register stage is still at it), or an event
        the archives do not know (never delivered, or its receipt compacted away with a later
        one of the same document). `agency_code` defaults to the agency the outbox has the event
        under; a submission the outbox still holds (not yet delivered to Kafka) is None at once,
        without reading the topic."""
        entry = self._outbox_entry(event_id)
        if entry is not None and entry.state != PUBLISHED:
            return None
        code = agency_code or (entry.agency if entry is not None else None)
        if code is None:
            raise SubmitError(f"say which agency submitted event {event_id} (agency_code)")
        return receipts.latest_receipt(self.settings, self.codec, self.agency(code).code,
                                       event_id)  # fmt: skip

    def _outbox_entry(self, event_id: str) -> Entry | None:
        if self.outbox is None:
            return None
        found = [entry for entry in self.outbox.entries() if entry.event_id == event_id]
        return found[-1] if found else None

    def flush(self, timeout: float = DELIVERY_TIMEOUT_S) -> None:
        remaining = self.producer.flush(timeout)
        if remaining:
            raise SubmitError(
                f"{remaining} event(s) not acknowledged by Kafka within {timeout:.0f} s"
            )

    def close(self) -> None:
        if self.outbox is not None:
            # Whatever Kafka has not confirmed is still pending in the outbox: drop it here
            # rather than wait for it (an interrupted submit ends at once, and is flushed later).
            self.producer.purge()
            self.producer.poll(0)
            return
        self.flush()
