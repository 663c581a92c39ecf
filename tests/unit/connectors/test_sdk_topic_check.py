"""An outbox submission whose ingest topic is not on the cluster is refused for good at once,
naming `recordflow topics apply` (connectors/sdk.py); a cluster that does not answer leaves the
deadline to decide, and a topic the cluster has is asked about once. Kafka and S3 are stand-ins
here; tests/integration/test_submit_missing_topic.py runs it on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from connectors import sdk
from connectors.outbox import FAILED, Outbox, SubmissionFailed, SubmissionHeld
from connectors.sdk import REJECTED, FileToSubmit, Submitter, TopicMissing, classify_failure
from connectors.storage import Digests
from recordflow.settings import Settings
from tests.examples import notice_metadata

METADATA = notice_metadata("BGT-TC-1")
EXISTS, MISSING, SILENT = "exists", "missing", "silent"


class MetadataProducer:
    """Stands in for confluent_kafka.Producer: never confirms an event (as for a topic that is
    not there, or a broker that is away) and answers metadata as `answer` says."""

    answer = MISSING

    def __init__(self, config: dict[str, Any]) -> None:
        self.waiting: list[Callable[..., None]] = []
        self.asked = 0
        self.purges = 0

    def produce(self, topic: str, *, on_delivery: Callable[..., None], **_: Any) -> None:
        self.waiting.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def purge(self) -> None:
        self.purges += 1
        for callback in self.waiting:
            callback(KafkaError(KafkaError._PURGE_QUEUE), None)
        self.waiting.clear()

    def flush(self, timeout: float = 0) -> int:
        return len(self.waiting)

    def list_topics(self, topic: str, timeout: float) -> Any:
        self.asked += 1
        if self.answer == SILENT:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        error = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART) if self.answer == MISSING else None
        return SimpleNamespace(topics={topic: SimpleNamespace(error=error)})


class StagingStandIn:
    def __init__(self) -> None:
        self.client = self

    def stage_hashed(
        self, key: str, stream: Any, length: int, content_type: str, etag: str
    ) -> bool:
        digests = Digests()
        digests.update(stream.read())
        return digests.expected_etag() == etag


class CodecStandIn:
    def encode(self, subject: Any, value: dict[str, Any]) -> bytes:
        return b"\x00\x00\x00\x00\x01" + value["event_id"].encode()


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "Producer", MetadataProducer)
    monkeypatch.setattr(sdk, "TOPIC_CHECK_AFTER_S", 0.05)
    monkeypatch.setattr(sdk, "TOPIC_RECHECK_S", 0.05)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox") as box:
        yield box


def submitter_for(outbox: Outbox, answer: str) -> Submitter:
    submitter = Submitter(Settings(kafka_bootstrap="127.0.0.1:9"), outbox=outbox)
    submitter.storage = StagingStandIn()  # type: ignore[assignment]
    submitter.codec = CodecStandIn()  # type: ignore[assignment]
    producer(submitter).answer = answer
    return submitter


def producer(submitter: Submitter) -> MetadataProducer:
    assert isinstance(submitter.producer, MetadataProducer)
    return submitter.producer


@pytest.fixture
def document(tmp_path: Path) -> list[FileToSubmit]:
    path = tmp_path / "通知.pdf"
    path.write_bytes(b"%PDF-1.7 notice")
    return [FileToSubmit(path)]


def test_a_missing_topic_is_a_refusal_for_good(
    outbox: Outbox, document: list[FileToSubmit]
) -> None:
    submitter = submitter_for(outbox, MISSING)
    with pytest.raises(SubmissionFailed) as failed:
        submitter.submit("bgt", document, METADATA, deadline_s=5)
    assert "topic ingest.bgt.lifecycle.v1 does not exist" in failed.value.reason
    assert "`recordflow topics apply`" in failed.value.reason
    (entry,) = outbox.entries()
    assert entry.state == FAILED and outbox.pending() == []
    assert classify_failure(TopicMissing("gone")).kind == REJECTED
    assert producer(submitter).asked == 2  # a topic created a moment ago gets a second look
    assert producer(submitter).purges == 1  # nothing of it goes out later
    assert producer(submitter).waiting == []


def test_a_silent_cluster_leaves_it_to_the_deadline(
    outbox: Outbox, document: list[FileToSubmit]
) -> None:
    submitter = submitter_for(outbox, SILENT)
    with pytest.raises(SubmissionHeld) as held:
        submitter.submit("bgt", document, METADATA, deadline_s=0.5)
    assert "no confirmation within the deadline (0.5 s)" in held.value.reason
    (entry,) = outbox.pending()
    assert entry.state == "staged"
    assert submitter._topics_seen == set()  # asked again by the next attempt


def test_a_topic_the_cluster_has_is_asked_about_once(
    outbox: Outbox, document: list[FileToSubmit]
) -> None:
    submitter = submitter_for(outbox, EXISTS)
    with pytest.raises(SubmissionHeld):  # the stand-in broker never confirms
        submitter.submit("bgt", document, METADATA, deadline_s=0.3)
    submitter.flush_outbox(deadline_s=0.3)
    assert producer(submitter).asked == 1
    assert submitter._topics_seen == {"ingest.bgt.lifecycle.v1"}
