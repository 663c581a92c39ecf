"""The two-step form on the real stack: create an upload, PUT each file (streamed to S3,
hashed on the way), commit with the metadata; only the creating agency may touch it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest

from connectors.gateway import credentials
from connectors.storage import Storage
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.gateway_harness import (
    PDF,
    bearer,
    ingest_events,
    running_gateway,
    wait_accepted,
)


@pytest.fixture
def gateway_url(pipeline_settings: Settings) -> Iterator[str]:
    with running_gateway(pipeline_settings) as url:
        yield url


def test_upload_put_commit(pipeline_settings: Settings, gateway_url: str) -> None:
    _, bgt = credentials.issue(pipeline_settings, "bgt")
    _, zjj = credentials.issue(pipeline_settings, "zjj")
    wait_accepted(gateway_url, bgt)
    wait_accepted(gateway_url, zjj)
    created = httpx.post(f"{gateway_url}/v1/uploads", headers=bearer(bgt))
    assert created.status_code == 201, created.text
    upload_id = created.json()["upload_id"]
    files_url = f"{gateway_url}/v1/uploads/{upload_id}/files"

    large = os.urandom(3 * 1024 * 1024 + 17)  # more than the 1 MiB the gateway keeps in memory

    def body() -> Iterator[bytes]:  # chunked, as a client streaming a large file sends it
        for start in range(0, len(large), 256 * 1024):
            yield large[start : start + 256 * 1024]

    main = httpx.put(f"{files_url}/1", params={"file_name": "通知.pdf"}, content=PDF,
                     headers={**bearer(bgt), "Content-Type": "application/pdf"})  # fmt: skip
    assert main.status_code == 200, main.text
    second = httpx.put(f"{files_url}/2", params={"file_name": "扫描件.bin"}, content=body(),
                       headers=bearer(bgt), timeout=60)  # fmt: skip
    assert second.status_code == 200, second.text
    assert second.json()["sha256"] == hashlib.sha256(large).hexdigest()
    assert second.json()["sm3"] == hashlib.new("sm3", large).hexdigest()
    assert second.json()["size_bytes"] == len(large)

    # Another agency may neither add to the upload nor commit it.
    theirs = httpx.put(f"{files_url}/3", params={"file_name": "x.pdf"}, content=PDF,
                       headers=bearer(zjj))  # fmt: skip
    assert theirs.status_code == 403 and theirs.json()["reason"] == "forbidden-agency"
    stolen = httpx.post(f"{gateway_url}/v1/uploads/{upload_id}/commit", headers=bearer(zjj),
                        json={**notice_metadata("UP-1"), "agency": "zjj"})  # fmt: skip
    assert stolen.status_code == 403, stolen.text

    commit = httpx.post(f"{gateway_url}/v1/uploads/{upload_id}/commit", headers=bearer(bgt),
                        json=notice_metadata("UP-1"), timeout=60)  # fmt: skip
    assert commit.status_code == 202, commit.text
    receipt = commit.json()
    assert receipt["upload_id"] == upload_id
    (event,) = ingest_events(pipeline_settings, "bgt")
    assert event["event_id"] == receipt["event_id"]
    assert [c["size_bytes"] for c in event["components"]] == [len(PDF), len(large)]
    assert event["components"][1]["checksums"][0]["value"] == hashlib.sha256(large).hexdigest()
    assert event["components"][0]["mime_type"] == "application/pdf"
    assert event["components"][1]["mime_type"] is None

    # Committed: the same commit is the same receipt; other metadata or another file, 409.
    again = httpx.post(f"{gateway_url}/v1/uploads/{upload_id}/commit", headers=bearer(bgt),
                       json=notice_metadata("UP-1"))  # fmt: skip
    assert again.status_code == 202 and again.json() == receipt
    other = httpx.post(f"{gateway_url}/v1/uploads/{upload_id}/commit", headers=bearer(bgt),
                       json=notice_metadata("UP-2"))  # fmt: skip
    assert other.status_code == 409 and other.json()["reason"] == "upload-committed"
    late = httpx.put(f"{files_url}/3", params={"file_name": "x.pdf"}, content=PDF,
                     headers=bearer(bgt))  # fmt: skip
    assert late.status_code == 409, late.text
    assert len(ingest_events(pipeline_settings, "bgt")) == 1

    status = httpx.get(gateway_url + receipt["status_url"], headers=bearer(zjj))
    assert status.status_code == 403


def test_unknown_upload_and_empty_commit(pipeline_settings: Settings, gateway_url: str) -> None:
    _, bgt = credentials.issue(pipeline_settings, "bgt")
    wait_accepted(gateway_url, bgt)
    unknown = httpx.put(f"{gateway_url}/v1/uploads/{'0' * 32}/files/1",
                        params={"file_name": "a.pdf"}, content=PDF, headers=bearer(bgt))  # fmt: skip
    assert unknown.status_code == 404 and unknown.json()["reason"] == "not-found"
    upload_id = httpx.post(f"{gateway_url}/v1/uploads", headers=bearer(bgt)).json()["upload_id"]
    empty = httpx.post(f"{gateway_url}/v1/uploads/{upload_id}/commit", headers=bearer(bgt),
                       json=notice_metadata("UP-3"))  # fmt: skip
    assert empty.status_code == 422 and empty.json()["reason"] == "no-content"


def test_a_file_above_the_limit_is_413_and_not_staged(pipeline_settings: Settings) -> None:
    small = pipeline_settings.model_copy(update={"max_file_bytes": 100_000})
    with running_gateway(small) as url:
        _, bgt = credentials.issue(small, "bgt")
        wait_accepted(url, bgt)
        upload_id = httpx.post(f"{url}/v1/uploads", headers=bearer(bgt)).json()["upload_id"]

        def body() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
            for _ in range(40):
                yield b"x" * 8192

        answer = httpx.put(f"{url}/v1/uploads/{upload_id}/files/1", params={"file_name": "big.bin"},
                           content=body(), headers=bearer(bgt))  # fmt: skip
        assert answer.status_code == 413, answer.text
        assert answer.json()["reason"] == "payload-too-large"
        declared = httpx.put(f"{url}/v1/uploads/{upload_id}/files/1", params={"file_name": "big.bin"},
                             content=b"x" * 100_001, headers=bearer(bgt))  # fmt: skip
        assert declared.status_code == 413, declared.text
        storage = Storage(small)
        staged = list(storage.client.list_objects(small.staging_bucket, f"bgt/{upload_id}/",
                                                  recursive=True))  # fmt: skip
        assert staged == []
