"""Delivering from the outbox (Submitter with an Outbox, connectors/sdk.py): retries with backoff
until the deadline, holding what the servers did not take, failing for good only what can never
be taken, and resending after a restart the very bytes of the first attempt.

Kafka, S3 and the schema registry are stand-ins here (the integration tests use the real ones);
the outbox is the real one, on tmp_path."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError
from minio.error import S3Error, ServerError
from pydantic import SecretStr

from connectors import sdk
from connectors.outbox import (
    ACCEPTED,
    DATABASE,
    FAILED,
    PUBLISHED,
    STAGED,
    Backoff,
    Outbox,
    SubmissionFailed,
    SubmissionHeld,
)
from connectors.sdk import (
    HELD,
    REJECTED,
    TRANSIENT,
    FileToSubmit,
    KafkaUnconfirmed,
    SpoolDamaged,
    Submitter,
    classify_failure,
)
from connectors.storage import Digests
from recordflow.errors import SubmitError
from recordflow.settings import Settings

SECRET = "s3-secret-never-shown-9f2"
METADATA: dict[str, Any] = {
    "document_id": "BGT-OB-1",
    "title": "关于做好2026年防汛工作的通知",
    "document_number": "市府办发〔2026〕7号",
    "responsible_party": "市人民政府办公厅",
    "document_date": "2026-05-06",
    "document_type": "通知",
    "unit_code": "BGS",
}
NEVER = "never"  # a delivery report that does not come (Kafka unreachable)


class FakeMessage:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def partition(self) -> int:
        return 1

    def offset(self) -> int:
        return self._offset


class FakeProducer:
    """Stands in for confluent_kafka.Producer. `reports` scripts each produced message's delivery
    report: "ok", NEVER, or a KafkaError; unscripted messages are confirmed."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.reports: list[Any] = []
        self.produced: list[dict[str, Any]] = []
        self.waiting: list[tuple[Callable[..., None], Any]] = []
        self.purges = 0

    def produce(self, topic: str, *, value: bytes, key: bytes, headers: dict[str, Any],
                on_delivery: Callable[..., None]) -> None:  # fmt: skip
        self.produced.append({"topic": topic, "value": value, "key": key, "headers": headers})
        self.waiting.append((on_delivery, self.reports.pop(0) if self.reports else "ok"))

    def poll(self, timeout: float = 0) -> int:
        # (Never compare a KafkaError with a str: confluent-kafka's __eq__ then leaves a pending
        # exception behind that surfaces later as a SystemError.)
        due = [(c, r) for c, r in self.waiting if not (isinstance(r, str) and r == NEVER)]
        self.waiting = [(c, r) for c, r in self.waiting if isinstance(r, str) and r == NEVER]
        for callback, report in due:
            if isinstance(report, KafkaError):
                callback(report, None)
            else:
                callback(None, FakeMessage(len(self.produced) - 1))
        served = len(due)
        if not served and timeout:
            import time

            time.sleep(min(timeout, 0.02))
        return served

    def purge(self) -> None:
        self.purges += 1
        for callback, _ in self.waiting:
            callback(KafkaError(KafkaError._PURGE_QUEUE), None)
        self.waiting.clear()

    def flush(self, timeout: float = 0) -> int:
        self.poll(0)
        return len(self.waiting)


class FakeS3:
    """Stands in for Storage (and its minio client, for stat_object). `failures` are raised by
    the next stage calls, in turn."""

    def __init__(self) -> None:
        self.client = self
        self.objects: dict[str, bytes] = {}
        self.stage_calls: list[str] = []
        self.failures: list[BaseException] = []

    def stage_hashed(
        self, key: str, stream: Any, length: int, content_type: str, etag: str
    ) -> bool:
        self.stage_calls.append(key)
        if self.failures:
            raise self.failures.pop(0)
        data = stream.read()
        assert len(data) == length
        digests = Digests()
        digests.update(data)
        self.objects[key] = data
        return digests.expected_etag() == etag

    def stat_object(self, bucket: str, key: str) -> Any:
        if key not in self.objects:
            raise s3_error("NoSuchKey", "The specified key does not exist.")
        digests = Digests()
        digests.update(self.objects[key])
        return type("Stat", (), {"etag": f'"{digests.expected_etag()}"',
                                 "size": len(self.objects[key])})()  # fmt: skip


class FakeCodec:
    """Stands in for the registry-backed codec: every encoding is different bytes, so a resend
    that encoded again would show."""

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, subject: Any, value: dict[str, Any]) -> bytes:
        self.encoded += 1
        return b"\x00" + self.encoded.to_bytes(4, "big") + value["event_id"].encode()


def s3_error(code: str, message: str) -> S3Error:
    return S3Error(urllib3.response.HTTPResponse(status=503), code, message, "/k", "r", "h")


REFUSED = urllib3.exceptions.NewConnectionError(
    None,  # type: ignore[arg-type]
    "Failed to establish a new connection: [Errno 111] Connection refused",
)


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Fake producer; quick, recorded backoff pauses."""
    monkeypatch.setattr(sdk, "Producer", FakeProducer)
    pauses: list[float] = []

    class QuickBackoff(Backoff):
        def __init__(self) -> None:
            super().__init__(first_s=0.01, max_s=0.02, rng=random.Random(1))

        def pause(self, deadline: Any, sleep: Any = None) -> bool:
            return super().pause(deadline, sleep=lambda delay: pauses.append(delay))

    monkeypatch.setattr(sdk, "Backoff", QuickBackoff)
    return pauses


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(kafka_bootstrap="127.0.0.1:9", s3_secret_key=SecretStr(SECRET),
                    outbox_dir=tmp_path / "outbox", submit_deadline_s=5)  # fmt: skip


@pytest.fixture
def outbox(settings: Settings) -> Iterator[Outbox]:
    with Outbox(settings.outbox_path) as box:
        yield box


@pytest.fixture
def s3() -> FakeS3:
    return FakeS3()


def submitter_for(settings: Settings, outbox: Outbox, s3: FakeS3) -> Submitter:
    submitter = Submitter(settings, outbox=outbox)
    submitter.storage = s3  # type: ignore[assignment]
    submitter.codec = FakeCodec()  # type: ignore[assignment]
    return submitter


def producer(submitter: Submitter) -> FakeProducer:
    assert isinstance(submitter.producer, FakeProducer)
    return submitter.producer


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "防汛通知.pdf"
    path.write_bytes(b"%PDF-1.7 flood-season notice " + os.urandom(2048))
    return path


def test_delivered_at_once_leaves_nothing_pending(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path
) -> None:
    submitter = submitter_for(settings, outbox, s3)
    receipt = submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    assert (receipt.partition, receipt.offset, receipt.already_delivered) == (1, 0, False)
    assert receipt.as_json()["offset"] == 0
    (entry,) = outbox.entries()
    assert (entry.state, entry.upload_id, entry.attempts) == (PUBLISHED, receipt.upload_id, 0)
    assert s3.objects == {f"bgt/{receipt.upload_id}/01-防汛通知.pdf": document.read_bytes()}
    (sent,) = producer(submitter).produced
    assert sent["topic"] == settings.ingest_topic("bgt") and sent["key"] == b"BGT-OB-1"
    assert sent["headers"]["ce_id"] == receipt.event_id
    assert producer(submitter).config["message.timeout.ms"] == sdk.MESSAGE_TIMEOUT_MS
    assert outbox.pending() == []
    assert list(outbox.spool_dir.iterdir()) == []


def test_transient_s3_failures_are_retried_with_backoff(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, stand_ins: list[float]
) -> None:
    s3.failures = [REFUSED, s3_error("ServiceUnavailable", "Please reduce your request rate."),
                   ServerError("bad gateway", 502)]  # fmt: skip
    submitter = submitter_for(settings, outbox, s3)
    receipt = submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    key = f"bgt/{receipt.upload_id}/01-防汛通知.pdf"
    assert s3.stage_calls == [key] * 4  # one upload id throughout
    assert len(stand_ins) == 3 and stand_ins[1] >= stand_ins[0] / 2
    (entry,) = outbox.entries()
    assert (entry.state, entry.attempts, entry.last_error) == (PUBLISHED, 3, None)


def test_a_retry_uploads_only_what_is_not_staged_yet(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    attachment = tmp_path / "值班表.csv"
    attachment.write_text("日期,值班人\n2026-06-01,张三\n", encoding="utf-8")
    submitter = submitter_for(settings, outbox, s3)
    real_stage = s3.stage_hashed

    def second_file_fails_once(key: str, *args: Any) -> bool:
        if key.endswith("02-值班表.csv") and s3.stage_calls.count(key) == 0:
            s3.stage_calls.append(key)
            raise REFUSED
        return real_stage(key, *args)

    monkeypatch.setattr(s3, "stage_hashed", second_file_fails_once)
    receipt = submitter.submit("bgt", [FileToSubmit(document), FileToSubmit(attachment)], METADATA)
    prefix = f"bgt/{receipt.upload_id}/"
    assert s3.stage_calls == [prefix + "01-防汛通知.pdf", prefix + "02-值班表.csv",
                              prefix + "02-值班表.csv"]  # fmt: skip
    assert sorted(s3.objects) == [prefix + "01-防汛通知.pdf", prefix + "02-值班表.csv"]


def test_kafka_down_holds_then_a_restarted_process_sends_the_same_bytes_once(
    settings: Settings, s3: FakeS3, document: Path
) -> None:
    """Held past the deadline with the files staged; after a 'restart' (a new Outbox and
    Submitter) a flush sends, without uploading again or encoding again, the very event the
    first attempt produced; a second flush sends nothing."""
    with Outbox(settings.outbox_path) as outbox:
        first = submitter_for(settings, outbox, s3)
        producer(first).reports = [NEVER]
        with pytest.raises(SubmissionHeld) as held:
            first.submit("bgt", [FileToSubmit(document)], METADATA, deadline_s=0.3)
        first.close()
    entry = held.value.entry
    assert entry.state == STAGED and entry.attempts == 1
    assert "Kafka 127.0.0.1:9: no confirmation within the deadline (0.3 s)" in held.value.reason
    assert producer(first).purges >= 1  # nothing left queued in the dead process's producer
    (attempt,) = producer(first).produced
    staged_before = list(s3.stage_calls)
    document.unlink()  # the caller is done with its file

    with Outbox(settings.outbox_path) as outbox:
        second = submitter_for(settings, outbox, s3)
        (outcome,) = second.flush_outbox(deadline_s=5)
        assert outcome.status == "delivered" and outcome.entry.state == PUBLISHED
        (resent,) = producer(second).produced
        assert resent == attempt  # value, key, headers: byte for byte
        assert second.codec.encoded == 0  # type: ignore[attr-defined]
        assert s3.stage_calls == staged_before  # staged once, not again
        assert second.flush_outbox(deadline_s=5) == []
        assert len(producer(second).produced) == 1


def test_a_resubmitted_delivered_document_is_not_sent_again(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path
) -> None:
    submitter = submitter_for(settings, outbox, s3)
    first = submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    again = submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    assert again.already_delivered and (again.event_id, again.offset) == (first.event_id, 0)
    assert len(producer(submitter).produced) == 1
    assert len(outbox.entries()) == 1 and list(outbox.spool_dir.iterdir()) == []


def test_a_refused_event_fails_for_good_without_retrying(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, stand_ins: list[float]
) -> None:
    submitter = submitter_for(settings, outbox, s3)
    producer(submitter).reports = [KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large")]
    with pytest.raises(SubmissionFailed, match="MSG_SIZE_TOO_LARGE") as failed:
        submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    assert failed.value.entry.state == FAILED
    assert len(producer(submitter).produced) == 1 and stand_ins == []
    assert outbox.pending() == []
    assert submitter.flush_outbox() == []


def test_a_configuration_problem_holds_at_once(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, stand_ins: list[float]
) -> None:
    s3.failures = [s3_error("AccessDenied", "Access Denied.")]
    submitter = submitter_for(settings, outbox, s3)
    with pytest.raises(SubmissionHeld, match="AccessDenied") as held:
        submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    assert stand_ins == [] and len(s3.stage_calls) == 1  # not retried in this run
    assert held.value.entry.state == ACCEPTED
    assert [entry.upload_id for entry in outbox.pending()] == [held.value.entry.upload_id]
    # Mended (credentials fixed), the next flush delivers it.
    (outcome,) = submitter.flush_outbox()
    assert outcome.status == "delivered"


def test_a_lost_spool_copy_fails_the_submission(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path
) -> None:
    s3.failures = [REFUSED] * 100
    submitter = submitter_for(settings, outbox, s3)
    with pytest.raises(SubmissionHeld) as held:
        submitter.submit("bgt", [FileToSubmit(document)], METADATA, deadline_s=0.05)
    entry = held.value.entry
    outbox.spooled_path(entry, entry.files[0]).unlink()
    s3.failures = []
    (outcome,) = submitter.flush_outbox()
    assert outcome.status == "failed" and "the outbox's copy" in (outcome.reason or "")
    assert outbox.pending() == [] and producer(submitter).produced == []


@pytest.mark.parametrize(
    ("agency", "changes", "message"),
    [
        ("nope", {}, "unknown agency 'nope'"),
        ("bgt", {"security_classification": "机密"}, "classified-not-accepted"),
        ("bgt", {"document_date": "yesterday"}, "document_date must be a date"),
        ("bgt", {"document_id": ""}, "metadata needs a document_id"),
    ],
)
def test_a_refused_submission_never_enters_the_outbox(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, agency: str,
    changes: dict[str, Any], message: str,
) -> None:  # fmt: skip
    submitter = submitter_for(settings, outbox, s3)
    with pytest.raises(SubmitError, match=message) as refused:
        submitter.submit(agency, [FileToSubmit(document)], {**METADATA, **changes})
    assert not isinstance(refused.value, SubmissionHeld | SubmissionFailed)
    assert outbox.entries() == [] and list(outbox.spool_dir.iterdir()) == []
    assert s3.stage_calls == [] and producer(submitter).produced == []


def test_a_missing_or_oversized_file_never_enters_the_outbox(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path, tmp_path: Path
) -> None:
    submitter = submitter_for(settings, outbox, s3)
    with pytest.raises(SubmitError, match="no such file"):
        submitter.submit("bgt", [FileToSubmit(tmp_path / "gone.pdf")], METADATA)
    small = submitter_for(settings.model_copy(update={"max_file_bytes": 100}), outbox, s3)
    with pytest.raises(SubmitError, match="size-limit"):
        small.submit("bgt", [FileToSubmit(document)], METADATA)
    assert outbox.entries() == [] and list(outbox.spool_dir.iterdir()) == []
    assert s3.stage_calls == []


def test_secrets_never_reach_the_outbox_or_its_messages(
    settings: Settings, outbox: Outbox, s3: FakeS3, document: Path
) -> None:
    s3.failures = [s3_error("SignatureDoesNotMatch", f"computed with secret {SECRET}")]
    submitter = submitter_for(settings, outbox, s3)
    with pytest.raises(SubmissionHeld) as held:
        submitter.submit("bgt", [FileToSubmit(document)], METADATA)
    assert SECRET not in str(held.value) and "***" in str(held.value)
    assert SECRET not in (held.value.entry.last_error or "")
    assert SECRET not in str(held.value.entry.as_json())
    for path in outbox.directory.glob(f"{DATABASE}*"):  # the database, its WAL
        assert SECRET.encode() not in path.read_bytes()


def test_a_submission_addressed_elsewhere_is_left_alone(
    settings: Settings, s3: FakeS3, document: Path
) -> None:
    with Outbox(settings.outbox_path) as outbox:
        submitter = submitter_for(settings, outbox, s3)
        producer(submitter).reports = [NEVER]
        with pytest.raises(SubmissionHeld):
            submitter.submit("bgt", [FileToSubmit(document)], METADATA, deadline_s=0.1)
        before = outbox.pending()

        other = submitter_for(settings.model_copy(update={"topic_prefix": "t2."}), outbox, s3)
        (outcome,) = other.flush_outbox()
        assert outcome.status == "held"
        assert "flush it with the settings it was submitted with" in (outcome.reason or "")
        assert outbox.pending() == before and producer(other).produced == []


def test_a_flush_leaves_what_another_process_delivers_and_stops_at_its_deadline(
    settings: Settings, outbox: Outbox, s3: FakeS3, tmp_path: Path
) -> None:
    submitter = submitter_for(settings, outbox, s3)
    for number in range(3):
        path = tmp_path / f"d{number}.pdf"
        path.write_bytes(b"%PDF-1.7 " + os.urandom(64))
        producer(submitter).reports = [NEVER]
        with pytest.raises(SubmissionHeld):
            submitter.submit("bgt", [FileToSubmit(path)],
                             {**METADATA, "document_id": f"BGT-OB-{number}"}, deadline_s=0.05)  # fmt: skip
    first, second, third = outbox.pending()
    with Outbox(settings.outbox_path) as elsewhere:
        claim = elsewhere.claim(first.upload_id)  # another process is delivering the first
        producer(submitter).reports = [NEVER]  # and Kafka is still down for the second
        outcomes = submitter.flush_outbox(deadline_s=0.3)
        assert claim is not None
        claim.release()
    assert [(o.entry.upload_id, o.status) for o in outcomes] == [
        (first.upload_id, "busy"), (second.upload_id, "held"), (third.upload_id, "not-attempted"),
    ]  # fmt: skip
    assert len(outbox.pending()) == 3


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (REFUSED, TRANSIENT),
        (urllib3.exceptions.MaxRetryError(None, "/k", REFUSED), TRANSIENT),  # type: ignore[arg-type]
        (ConnectionRefusedError(111, "Connection refused"), TRANSIENT),
        (httpx.ConnectError("refused"), TRANSIENT),
        (s3_error("SlowDown", "slow down"), TRANSIENT),
        (s3_error("InternalError", "oops"), TRANSIENT),
        (ServerError("bad gateway", 502), TRANSIENT),
        (s3_error("NoSuchBucket", "no bucket"), HELD),
        (s3_error("InvalidAccessKeyId", "who?"), HELD),
        (s3_error("EntityTooLarge", "too big"), REJECTED),
        (KafkaUnconfirmed("no confirmation"), TRANSIENT),
        (sdk.KafkaDeliveryError(KafkaError(KafkaError._MSG_TIMED_OUT)), TRANSIENT),
        (sdk.KafkaDeliveryError(KafkaError(KafkaError._TRANSPORT)), TRANSIENT),
        (sdk.KafkaDeliveryError(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS)), TRANSIENT),
        (sdk.KafkaDeliveryError(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), HELD),
        (sdk.KafkaDeliveryError(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)), REJECTED),
        (KafkaException(KafkaError(KafkaError._QUEUE_FULL)), TRANSIENT),
        (BufferError("queue full"), TRANSIENT),
        (SchemaRegistryError(503, 50301, "unavailable"), TRANSIENT),
        (SchemaRegistryError(409, 409, "incompatible schema"), HELD),
        (SchemaRegistryError(401, 401, "unauthorized"), HELD),
        (SpoolDamaged("copy gone"), REJECTED),
        # The shared taxonomy: a full or read-only disk is for an operator to mend, not a moment
        (OSError(28, "No space left on device"), HELD),
        (PermissionError(13, "Permission denied"), HELD),
        (SubmitError("unknown agency 'x'"), REJECTED),
        (KeyError("bug"), HELD),
    ],
)  # fmt: skip
def test_classify_failure(failure: BaseException, kind: str) -> None:
    classified = classify_failure(failure)
    assert classified.kind == kind
    assert "\n" not in classified.reason and "object at 0x" not in classified.reason
    assert classified.unexpected == isinstance(failure, KeyError)


def test_every_secret_setting_is_redacted() -> None:
    settings = Settings(
        kafka_sasl_password=SecretStr("sasl-pw"), s3_secret_key=SecretStr("s3-key"),
        schema_registry_url="https://reader:registry-pw@registry.example/apis/ccompat/v7",
    )  # fmt: skip
    assert sorted(sdk.secrets_of(settings)) == ["registry-pw", "s3-key", "sasl-pw"]
