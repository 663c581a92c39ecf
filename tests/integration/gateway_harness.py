"""The clients' side of the gateway's integration tests: tokens, files, the events on the ingest
topic. The gateway itself runs in the test process (recordflow/localstack/gateway.py,
`running_gateway`: real HTTP on a free port, real Kafka and S3)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from avro_schemas.codec import Codec
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.readback import read_topic
from recordflow.localstack.gateway import running_gateway, wait_accepted
from recordflow.localstack.webapp import free_port
from recordflow.settings import Settings

__all__ = ["free_port", "running_gateway", "wait_accepted"]

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_refused(url: str, token: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.post(f"{url}/v1/uploads", headers=bearer(token), timeout=10).status_code != 401:
        assert time.monotonic() < deadline, "the gateway still accepts the revoked token"
        time.sleep(0.2)


def submit(url: str, token: str, metadata: dict[str, Any] | str,
           files: list[tuple[str, bytes, str]], key: str | None = None) -> httpx.Response:  # fmt: skip
    """POST /v1/submissions as any client would: multipart, metadata as a JSON text part."""
    import json

    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    text = metadata if isinstance(metadata, str) else json.dumps(metadata, ensure_ascii=False)
    return httpx.post(
        f"{url}/v1/submissions", headers=headers, data={"metadata": text},
        files=[("file", (name, body, mime)) for name, body, mime in files], timeout=60,
    )  # fmt: skip


def ingest_events(settings: Settings, agency: str) -> list[dict[str, Any]]:
    """The lifecycle events on an agency's ingest topic, decoded."""
    codec = Codec.from_url(settings.schema_registry_url)
    return [
        codec.decode(value, DOCUMENT_LIFECYCLE_EVENT)
        for _, value in read_topic(settings, settings.ingest_topic(agency))
        if value is not None
    ]
