"""The producer SDK: how an agency system hands a document to the archives.

`Submitter.submit(agency, files, metadata)` uploads each file to the staging bucket
(`<agency>/<upload-id>/<safe-filename>`), hashing it on the way (SHA-256 and SM3), then produces a
DocumentLifecycleEvent to `ingest.<agency>.lifecycle.v1` with an idempotent producer (acks=all)
and returns a receipt once the broker has confirmed it.

The event id is derived from the agency, document id, action and the files' digests, so sending
the same document again is recognisably the same event and the archive keeps one record of it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import mimetypes
import re
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from avro_schemas.codec import DOCUMENT_LIFECYCLE_EVENT, Codec, Subject, shared_types
from connectors.storage import Storage, safe_filename
from recordflow.agencies import Agency, AgencyRegistry, load_registry
from recordflow.errors import RecordRejected, SubmitError
from recordflow.settings import Settings
from streams.validate import (
    MetadataRules,
    load_metadata_rules,
    validate_components,
    validate_description,
    validate_entities,
)

EVENT_NAMESPACE = uuid.UUID("9b7f3c52-5a0e-4d8f-9a7c-2f1d6c0e8b41")
DELIVERY_TIMEOUT_S = 30.0
DESCRIPTION_FIELDS = {
    "title", "document_number", "responsible_party", "document_date", "document_type",
    "security_classification", "urgency", "keywords", "abstract", "unit_code", "year",
    "page_count", "language",
}  # fmt: skip
EVENT_FIELDS = {"document_id", "source_system", "actor", "action"}
# The rest of DA/T 46, each carried on the event as it is (v2 of the event), with its shared type.
DA_T_46_FIELDS = {
    "supplementary": ["null", "recordflow.common.SupplementaryDescription"],
    "file_details": {"type": "array", "items": "recordflow.common.FileDetail"},
    "history": {"type": "array", "items": "recordflow.common.BusinessActivity"},
    "agents": {"type": "array", "items": "recordflow.common.AgentEntity"},
    "relations": {"type": "array", "items": "recordflow.common.RecordRelation"},
}
OPTIONAL_TEXT_FIELDS = ("document_number", "urgency", "abstract")


@dataclass(frozen=True)
class FileToSubmit:
    path: Path
    name: str | None = None
    mime_type: str | None = None

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
    delivery: Future[Message] = field(default_factory=Future, repr=False)

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
            "partition": message.partition() if message else None,
            "offset": message.offset() if message else None,
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
    unknown = set(metadata) - DESCRIPTION_FIELDS - EVENT_FIELDS - set(DA_T_46_FIELDS)
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


def da_t_46_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The event's DA/T 46 fields beyond the RecordDescription (supplementary, file_details,
    history, agents, relations) from submission metadata, shaped by their shared Avro types:
    times as ISO 8601 strings with a zone become aware datetimes, a certificate is base64 text.
    Absent fields get their defaults; a wrong shape is a SubmitError naming where it is."""
    return {
        name: _convert(metadata.get(name), avro_type, name)
        for name, avro_type in DA_T_46_FIELDS.items()
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


class Submitter:
    """Reusable: one producer, codec and S3 client for many submissions. Close it when done."""

    def __init__(
        self,
        settings: Settings,
        registry: AgencyRegistry | None = None,
        metadata_rules: MetadataRules | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or load_registry(settings.agencies_file)
        self.metadata_rules = metadata_rules or load_metadata_rules(settings.metadata_rules_file)
        self.storage = Storage(settings)
        self.codec = Codec.from_url(settings.schema_registry_url)
        self.producer = Producer({**settings.producer_config(), "error_cb": self._on_error})
        self._fatal: KafkaError | None = None

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error

    def agency(self, code: str) -> Agency:
        agency = self.registry.get(code)
        if agency is None:
            known = ", ".join(sorted(self.registry.by_code))
            raise SubmitError(f"unknown agency {code!r}; registered agencies: {known}")
        return agency

    def describe(
        self, agency: Agency, metadata: dict[str, Any], *, validate: bool = True
    ) -> dict[str, Any]:
        """The RecordDescription for a submission's metadata, checked against the pipeline's
        metadata rules unless `validate` is false (SubmitError with the reason code)."""
        description = description_from_metadata(metadata)
        if validate:
            try:
                validate_description(description, agency, self.metadata_rules)
            except RecordRejected as exc:
                raise SubmitError(f"{exc.reason}: {exc.message}") from exc
        return description

    def entities(self, metadata: dict[str, Any], *, validate: bool = True) -> dict[str, Any]:
        """The event's other DA/T 46 fields (supplementary, file_details, history, agents,
        relations), checked against the metadata rules' entity domains unless `validate` is false."""
        extras = da_t_46_from_metadata(metadata)
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
            name = safe_filename(file.file_name)
            # The declared type is what the agency system says; the SDK does not guess one for it
            # (a guess from the extension could contradict the content and fail the check).
            content_type = (
                file.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            key = f"{agency.code}/{upload_id}/{sequence:02d}-{name}"
            with file.path.open("rb") as stream:
                digests = self.storage.stage(key, stream, file.path.stat().st_size, content_type)
            components.append(
                {
                    "sequence": sequence,
                    "is_main": sequence == 1,
                    "title": None,
                    "file_name": file.file_name,
                    "mime_type": file.mime_type,
                    "size_bytes": digests.size,
                    "checksums": [
                        {"algorithm": "SHA256", "value": digests.sha256.hexdigest()},
                        {"algorithm": "SM3", "value": digests.sm3.hexdigest()},
                    ],
                    "payload": {
                        "bucket": self.settings.staging_bucket,
                        "key": key,
                        "version_id": None,
                        "inline_content": None,
                    },
                }
            )
        return components

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
        description = self.describe(agency, metadata, validate=validate)
        extras = self.entities(metadata, validate=validate)
        if validate:
            try:
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
        event = {
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
        return self.produce_event(agency.code, event)

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
                receipt.delivery.set_exception(
                    SubmitError(f"Kafka refused the event: {error.str()}")
                )
            else:
                receipt.delivery.set_result(message)

        headers = {
            "ce_specversion": "1.0",
            "ce_id": event["event_id"],
            "ce_source": f"/agencies/{event['agency']['code']}/{event.get('source_system') or 'sdk'}",
            "ce_type": f"cn.gov.recordflow.document.{str(event['action']).lower()}.v1",
            "ce_time": event["event_time"].isoformat(),
            "content-type": "application/avro",
        }
        self.producer.produce(topic, value=value, key=event["document_id"].encode(), headers=headers,
                              on_delivery=delivered)  # fmt: skip
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
    ) -> Receipt:
        agency = self.agency(agency_code)
        if not files:
            raise SubmitError("a submission needs at least one file (the main document first)")
        # Metadata first: a submission the archives would refuse (a classified record, above all)
        # uploads nothing.
        self.describe(agency, metadata, validate=validate)
        self.entities(metadata, validate=validate)
        upload_id = uuid.uuid4().hex
        receipt = self.publish(agency, metadata, self.stage(agency, upload_id, files), upload_id,
                               validate=validate)  # fmt: skip
        if wait:
            self.flush()
            receipt.wait()
        return receipt

    def flush(self, timeout: float = DELIVERY_TIMEOUT_S) -> None:
        remaining = self.producer.flush(timeout)
        if remaining:
            raise SubmitError(
                f"{remaining} event(s) not acknowledged by Kafka within {timeout:.0f} s"
            )

    def close(self) -> None:
        self.flush()
