"""The HTTP gateway against the real local stack: submissions over HTTP end on the ingest topic
as the SDK would send them; idempotency, agencies kept apart, bad tokens and bad metadata."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from connectors.gateway import credentials
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.gateway_harness import (
    PDF,
    bearer,
    ingest_events,
    running_gateway,
    submit,
    wait_accepted,
)


@pytest.fixture
def gateway_url(pipeline_settings: Settings) -> Iterator[str]:
    with running_gateway(pipeline_settings) as url:
        yield url


@pytest.fixture
def bgt_token(pipeline_settings: Settings, gateway_url: str) -> str:
    _, token = credentials.issue(pipeline_settings, "bgt")
    wait_accepted(gateway_url, token)
    return token


def test_a_submission_over_http_is_the_sdks_event(
    pipeline_settings: Settings, gateway_url: str, bgt_token: str
) -> None:
    attachment = b"attachment " * 1000
    answer = submit(gateway_url, bgt_token, notice_metadata("GW-1"),
                    [("通知.pdf", PDF, "application/pdf"), ("附件.txt", attachment, "text/plain")])  # fmt: skip
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert receipt["document_id"] == "GW-1" and receipt["agency"] == "bgt"
    assert receipt["status_url"] == f"/v1/submissions/{receipt['event_id']}"
    assert [f["sha256"] for f in receipt["files"]] == [
        hashlib.sha256(PDF).hexdigest(), hashlib.sha256(attachment).hexdigest()
    ]  # fmt: skip
    assert [f["sm3"] for f in receipt["files"]] == [
        hashlib.new("sm3", PDF).hexdigest(), hashlib.new("sm3", attachment).hexdigest()
    ]  # fmt: skip

    (event,) = ingest_events(pipeline_settings, "bgt")
    assert event["event_id"] == receipt["event_id"]
    assert event["document_id"] == "GW-1"
    assert event["description"]["title"] == notice_metadata("GW-1")["title"]
    components = event["components"]
    assert [c["file_name"] for c in components] == ["通知.pdf", "附件.txt"]
    assert [c["checksums"] for c in components] == [
        [{"algorithm": "SHA256", "value": f["sha256"]}, {"algorithm": "SM3", "value": f["sm3"]}]
        for f in receipt["files"]
    ]
    assert components[0]["payload"]["key"] == f"bgt/{receipt['upload_id']}/01-通知.pdf"
    assert components[0]["mime_type"] == "application/pdf"

    status = httpx.get(f"{gateway_url}{receipt['status_url']}", headers=bearer(bgt_token))
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "received"


def test_the_same_key_and_body_give_the_same_receipt_and_one_event(
    pipeline_settings: Settings, gateway_url: str, bgt_token: str
) -> None:
    files = [("通知.pdf", PDF, "application/pdf")]
    first = submit(gateway_url, bgt_token, notice_metadata("GW-2"), files, key="key-GW-2")
    again = submit(gateway_url, bgt_token, notice_metadata("GW-2"), files, key="key-GW-2")
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.json() == first.json()
    assert len(ingest_events(pipeline_settings, "bgt")) == 1

    other = submit(gateway_url, bgt_token, notice_metadata("GW-2", title="另一个标题的通知"), files,
                   key="key-GW-2")  # fmt: skip
    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["reason"] == "idempotency-conflict"
    other_file = submit(gateway_url, bgt_token, notice_metadata("GW-2"),
                        [("通知.pdf", PDF + b"%", "application/pdf")], key="key-GW-2")  # fmt: skip
    assert other_file.status_code == 409, other_file.text
    assert len(ingest_events(pipeline_settings, "bgt")) == 1


def test_an_agency_submits_and_reads_only_as_itself(
    pipeline_settings: Settings, gateway_url: str, bgt_token: str
) -> None:
    _, zjj_token = credentials.issue(pipeline_settings, "zjj")
    wait_accepted(gateway_url, zjj_token)
    as_other = submit(gateway_url, bgt_token, {**notice_metadata("GW-3"), "agency": "zjj"},
                      [("通知.pdf", PDF, "application/pdf")])  # fmt: skip
    assert as_other.status_code == 403, as_other.text
    assert as_other.json()["reason"] == "forbidden-agency"

    mine = submit(gateway_url, bgt_token, {**notice_metadata("GW-3"), "agency": "bgt"},
                  [("通知.pdf", PDF, "application/pdf")])  # fmt: skip
    assert mine.status_code == 202, mine.text
    status_url = gateway_url + mine.json()["status_url"]
    theirs = httpx.get(status_url, headers=bearer(zjj_token))
    assert theirs.status_code == 403, theirs.text
    assert theirs.json()["reason"] == "forbidden-agency"
    assert httpx.get(status_url, headers=bearer(bgt_token)).status_code == 200
    unknown = httpx.get(f"{gateway_url}/v1/submissions/00000000-0000-5000-8000-000000000000",
                        headers=bearer(bgt_token))  # fmt: skip
    assert unknown.status_code == 404 and unknown.json()["reason"] == "not-found"
    assert ingest_events(pipeline_settings, "zjj") == []


def test_a_bad_token_is_401(gateway_url: str, bgt_token: str) -> None:
    forged = bgt_token[:-4] + ("AAAA" if not bgt_token.endswith("AAAA") else "BBBB")
    for headers in ({}, bearer("nonsense"), bearer(forged)):
        answer = httpx.post(f"{gateway_url}/v1/uploads", headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        problem = answer.json()
        assert problem["reason"] == "unauthorized"
        assert problem["type"] == "urn:recordflow:reason:unauthorized"
        assert problem["status"] == 401


def test_metadata_the_rules_refuse_is_422_with_the_sdks_reason(
    pipeline_settings: Settings, gateway_url: str, bgt_token: str
) -> None:
    answer = submit(gateway_url, bgt_token, notice_metadata("GW-4", title=""),
                    [("通知.pdf", PDF, "application/pdf")])  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "missing-title"
    classified = submit(gateway_url, bgt_token,
                        notice_metadata("GW-4", security_classification="机密"),
                        [("通知.pdf", PDF, "application/pdf")])  # fmt: skip
    assert classified.status_code == 422, classified.text
    assert classified.json()["reason"] == "classified-not-accepted"
    not_json = submit(gateway_url, bgt_token, "{not json", [("通知.pdf", PDF, "application/pdf")])
    assert not_json.status_code == 400 and not_json.json()["reason"] == "invalid-request"
    assert ingest_events(pipeline_settings, "bgt") == []


def test_a_submission_above_the_limit_is_413(pipeline_settings: Settings) -> None:
    small = pipeline_settings.model_copy(update={"gateway_max_submission_bytes": 4096})
    with running_gateway(small) as url:
        _, token = credentials.issue(small, "bgt")
        wait_accepted(url, token)
        answer = submit(url, token, notice_metadata("GW-5"),
                        [("通知.pdf", PDF + b"x" * 8192, "application/pdf")])  # fmt: skip
        assert answer.status_code == 413, answer.text
        assert answer.json()["reason"] == "payload-too-large"

        def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it comes
            boundary = b"--b0undary"
            yield (
                boundary
                + b'\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
            )
            for _ in range(10):
                yield b"x" * 1024
            yield b"\r\n" + boundary + b"--\r\n"

        streamed = httpx.post(f"{url}/v1/submissions", content=chunked(), headers={
            **bearer(token), "Content-Type": "multipart/form-data; boundary=b0undary",
        })  # fmt: skip
        assert streamed.status_code == 413, streamed.text
        assert ingest_events(small, "bgt") == []


def test_rotation_without_downtime(pipeline_settings: Settings, gateway_url: str) -> None:
    """Issue a second token, switch the client, revoke the first: no request fails meanwhile."""
    first_id, first = credentials.issue(pipeline_settings, "bgt")
    wait_accepted(gateway_url, first)
    _, second = credentials.issue(pipeline_settings, "bgt")
    wait_accepted(gateway_url, second)
    assert httpx.post(f"{gateway_url}/v1/uploads", headers=bearer(first)).status_code == 201
    credentials.revoke(pipeline_settings, first_id)
    from tests.integration.gateway_harness import wait_refused

    wait_refused(gateway_url, first)
    assert httpx.post(f"{gateway_url}/v1/uploads", headers=bearer(second)).status_code == 201
    listed = credentials.tokens(pipeline_settings, "bgt")
    assert [c.token_id for c in listed if c.revoked_at is not None] == [first_id]

    assert [c.agency for c in credentials.revoke_agency(pipeline_settings, "bgt")] == ["bgt"]
    wait_refused(gateway_url, second)


def test_metrics_count_requests_by_route_template(gateway_url: str, bgt_token: str) -> None:
    upload = httpx.post(f"{gateway_url}/v1/uploads", headers=bearer(bgt_token)).json()
    httpx.put(f"{gateway_url}/v1/uploads/{upload['upload_id']}/files/1",
              params={"file_name": "a.pdf"}, content=PDF, headers=bearer(bgt_token))  # fmt: skip
    text = httpx.get(f"{gateway_url}/metrics").text
    assert (
        'recordflow_gateway_requests_total{agency="bgt",route="/v1/uploads/{upload_id}/files/'
        '{sequence}",status="200"} 1.0'
    ) in text
    assert 'recordflow_gateway_request_duration_seconds_count{route="/v1/uploads"}' in text
    assert upload["upload_id"] not in text


def test_the_credentials_cli_issues_lists_and_revokes(pipeline_settings: Settings) -> None:
    import json

    from tests.integration.cli import run_cli

    issued = run_cli(pipeline_settings, "agencies", "credentials", "issue", "bgt", "--json")
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)
    assert token["token"].startswith(f"rfg_{token['token_id']}_")
    listed = run_cli(pipeline_settings, "agencies", "credentials", "list", "bgt", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["token_id"] == token["token_id"] and entry["revoked_at"] is None
    assert token["token"].split("_", 2)[2] not in listed.stdout
    revoked = run_cli(pipeline_settings, "agencies", "credentials", "revoke", token["token_id"])
    assert revoked.returncode == 0, revoked.stderr
    (entry,) = json.loads(run_cli(pipeline_settings, "agencies", "credentials", "list", "bgt",
                                  "--json").stdout)  # fmt: skip
    assert entry["revoked_at"] is not None
    unknown = run_cli(pipeline_settings, "agencies", "credentials", "issue", "nosuch")
    assert unknown.returncode == 1 and "unknown agency" in unknown.stderr
