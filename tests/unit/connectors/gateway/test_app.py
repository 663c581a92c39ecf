"""The gateway's application in process (no server): who may call, what each refusal looks
like, the catch-all, and that docs/openapi.json is the document the app serves."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.app import OPENAPI_PATH, REGENERATE, create_app, openapi_document
from connectors.gateway.credentials import CredentialStore, new_token
from connectors.gateway.service import Gateway
from recordflow.settings import Settings

ROOT = Path(__file__).resolve().parents[4]
EVENT = "5d2b1c7e-8f3a-5b6c-9d0e-1f2a3b4c5d6e"
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


class Receipts:
    """An in-memory receipts source."""

    def __init__(self, receipts: dict[str, Mapping[str, Any]]) -> None:
        self.receipts = receipts

    def latest(self, event_id: str) -> Mapping[str, Any] | None:
        if event_id == "0" * 8 + "-0000-5000-8000-" + "0" * 12:
            raise RuntimeError("secret internals at /srv/x.py line 3")
        return self.receipts.get(event_id)


@pytest.fixture
def tokens() -> dict[str, str]:
    return {}


@pytest.fixture
def client(tokens: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(gateway_rate_per_s=0.01, gateway_rate_burst=3)
    entries = {}
    for agency in ("bgt", "zjj"):
        credential, tokens[agency] = new_token(agency, NOW)
        entries[credential.token_id] = credential
    receipts = Receipts({EVENT: {
        "receipt_id": "r", "event_id": EVENT, "document_id": "GW-1", "agency_code": "bgt",
        "outcome": "ARCHIVED", "occurred_at": NOW, "archival_code": "Z101-WS·2026-D10-BGS-0001",
    }})  # fmt: skip
    gateway = Gateway(settings, CredentialStore(entries.get), receipts)
    with TestClient(create_app(settings, gateway), raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_owner_reads_its_status(client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["bgt"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "archived"
    assert answer.json()["archival_code"] == "Z101-WS·2026-D10-BGS-0001"


def test_a_token_is_checked_before_the_event_id(client: TestClient, tokens: dict[str, str]) -> None:
    """What `wait_accepted` (recordflow/localstack/gateway.py) relies on: a malformed event id
    with an unknown token is 401, with a known one 422."""
    assert client.get("/v1/submissions/none", headers=bearer("rfg_x_y")).status_code == 401
    assert client.get("/v1/submissions/none", headers=bearer(tokens["bgt"])).status_code == 422


def test_another_agency_is_403(client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["zjj"]))
    assert answer.status_code == 403
    assert answer.json()["reason"] == "forbidden-agency"


def test_no_token_or_a_bad_one_is_401(client: TestClient, tokens: dict[str, str]) -> None:
    for headers in (
        {},
        bearer("rfg_x_y"),
        bearer(tokens["bgt"] + "x"),
        {"Authorization": "Basic eA=="},
    ):
        answer = client.get(f"/v1/submissions/{EVENT}", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["reason"] == "unauthorized"


def test_over_the_rate_is_429(client: TestClient, tokens: dict[str, str]) -> None:
    statuses = [client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["bgt"])).status_code
                for _ in range(4)]  # fmt: skip
    assert statuses == [200, 200, 200, 429]
    limited = client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["bgt"]))
    assert int(limited.headers["retry-after"]) >= 1
    assert client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["zjj"])).status_code == 403


def test_what_no_rule_foresaw_is_a_500_without_detail(
    client: TestClient, tokens: dict[str, str]
) -> None:
    answer = client.get(f"/v1/submissions/{'0' * 8}-0000-5000-8000-{'0' * 12}",
                        headers=bearer(tokens["bgt"]))  # fmt: skip
    assert answer.status_code == 500
    assert answer.json() == {"type": "urn:recordflow:reason:internal-error",
                             "title": "Internal server error", "status": 500,
                             "reason": "internal-error"}  # fmt: skip
    assert "secret" not in answer.text and "Traceback" not in answer.text


def test_unknown_routes_and_bad_parameters_are_problems(
    client: TestClient, tokens: dict[str, str]
) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404 and missing.json()["reason"] == "not-found"
    bad = client.get("/v1/submissions/not-an-event-id", headers=bearer(tokens["bgt"]))
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid-request"


def test_credentials_not_read_yet_is_503(tokens: dict[str, str]) -> None:
    settings = Settings()
    gateway = Gateway(settings, CredentialStore(lambda _: None, ready=lambda: False), Receipts({}))
    with TestClient(create_app(settings, gateway)) as client:
        answer = client.get(f"/v1/submissions/{EVENT}", headers=bearer("rfg_x_y"))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == str(settings.gateway_retry_after_s)
        assert client.get("/readyz").status_code == 503


def test_metrics_label_routes_by_template(client: TestClient, tokens: dict[str, str]) -> None:
    client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["bgt"]))
    text = client.get("/metrics").text
    assert (
        'recordflow_gateway_requests_total{agency="bgt",route="/v1/submissions/{event_id}",'
        'status="200"} 1.0'
    ) in text
    assert EVENT not in text


def test_the_checked_in_openapi_document_is_current() -> None:
    checked_in = (ROOT / OPENAPI_PATH).read_text(encoding="utf-8")
    assert checked_in == openapi_document(), f"{OPENAPI_PATH} is stale: run `{REGENERATE}`"
    document = json.loads(checked_in)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/v1/submissions", "/v1/submissions/{event_id}", "/v1/uploads",
        "/v1/uploads/{upload_id}/files/{sequence}", "/v1/uploads/{upload_id}/commit",
    }  # fmt: skip


def test_every_request_is_logged_with_agency_event_and_outcome(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="connectors.gateway")
    client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["bgt"]))
    client.get(f"/v1/submissions/{EVENT}", headers=bearer(tokens["zjj"]))
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.gateway"]
    assert lines == [
        f"gateway: GET /v1/submissions/{{event_id}} agency=bgt event={EVENT} status=200 reason=-",
        f"gateway: GET /v1/submissions/{{event_id}} agency=zjj event={EVENT} status=403 "
        "reason=forbidden-agency",
    ]
