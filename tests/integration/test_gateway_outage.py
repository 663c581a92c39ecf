"""While Kafka or S3 is unreachable the gateway answers 503 with Retry-After, and the client's
retry with the same Idempotency-Key, once they are back, makes the one event. An unreachable
server here is a real one: a closed port of 127.0.0.1, where nothing listens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from connectors.gateway import credentials
from connectors.gateway.credentials import CredentialStore
from connectors.gateway.service import Gateway
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.gateway_harness import (
    PDF,
    bearer,
    free_port,
    ingest_events,
    running_gateway,
    submit,
    wait_accepted,
)

FILES = [("通知.pdf", PDF, "application/pdf")]


class NoReceipts:
    """No outcome is asked for here."""

    def latest(self, event_id: str) -> None:
        return None


@contextmanager
def gateway_with(settings: Settings, credentials_from: Settings) -> Iterator[str]:
    """A gateway on `settings` whose tokens are read with `credentials_from` (a replica that
    read its credentials before the outage began)."""
    view = credentials.view(credentials_from).start()
    gateway = Gateway(settings, CredentialStore(view.get), NoReceipts(), on_close=view.close)
    try:
        with running_gateway(settings, gateway) as url:
            yield url
    finally:
        gateway.close()


def test_kafka_away_is_503_and_the_retry_sends_one_event(pipeline_settings: Settings) -> None:
    _, token = credentials.issue(pipeline_settings, "bgt")
    kafka_away = pipeline_settings.model_copy(update={
        "kafka_bootstrap": f"127.0.0.1:{free_port()}", "gateway_kafka_timeout_s": 2.0,
    })  # fmt: skip
    with gateway_with(kafka_away, pipeline_settings) as url:
        wait_accepted(url, token)
        answer = submit(url, token, notice_metadata("OUT-1"), FILES, key="out-1")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == str(kafka_away.gateway_retry_after_s)
        assert answer.json()["reason"] == "service-unavailable"
        assert "Traceback" not in answer.text
    with running_gateway(pipeline_settings) as url:
        retry = submit(url, token, notice_metadata("OUT-1"), FILES, key="out-1")
        assert retry.status_code == 202, retry.text
        again = submit(url, token, notice_metadata("OUT-1"), FILES, key="out-1")
        assert again.json() == retry.json()
    (event,) = ingest_events(pipeline_settings, "bgt")
    assert event["event_id"] == retry.json()["event_id"]


def test_s3_away_is_503(pipeline_settings: Settings) -> None:
    _, token = credentials.issue(pipeline_settings, "bgt")
    s3_away = pipeline_settings.model_copy(update={"s3_endpoint": f"127.0.0.1:{free_port()}"})
    with gateway_with(s3_away, pipeline_settings) as url:
        wait_accepted(url, token)
        for key in ("out-2", None):
            answer = submit(url, token, notice_metadata("OUT-2"), FILES, key=key)
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == str(s3_away.gateway_retry_after_s)
            assert answer.json()["reason"] == "service-unavailable"
        upload = httpx.post(f"{url}/v1/uploads", headers=bearer(token))
        assert upload.status_code == 503, upload.text
    assert ingest_events(pipeline_settings, "bgt") == []


def test_credentials_never_read_is_503(pipeline_settings: Settings) -> None:
    """A replica that started while Kafka was away cannot tell callers apart: 503, not 401."""
    kafka_away = pipeline_settings.model_copy(update={
        "kafka_bootstrap": f"127.0.0.1:{free_port()}", "read_deadline_s": 1.0,
    })  # fmt: skip
    with running_gateway(kafka_away, wait_ready=False) as url:
        answer = httpx.post(f"{url}/v1/uploads", headers=bearer("rfg_0123456789abcdef_" + "a" * 43))
        assert answer.status_code == 503, answer.text
        assert "retry-after" in answer.headers
        assert answer.json()["reason"] == "service-unavailable"
