"""A real gateway for the gateway's integration tests: uvicorn serving `create_app` on a free
port of 127.0.0.1 in a thread of the test process (real HTTP, real Kafka and S3), and the
clients' side: tokens, files, the events on the ingest topic."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from avro_schemas.codec import Codec
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.gateway.app import create_app
from connectors.gateway.service import Gateway
from connectors.readback import read_topic
from recordflow.settings import Settings

READY_TIMEOUT_S = 60.0
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_gateway(settings: Settings, gateway: Gateway | None = None,
                    *, wait_ready: bool = True) -> Iterator[str]:  # fmt: skip
    """The gateway's base URL while it runs; `gateway` as given, else started from `settings`."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, gateway), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"gateway-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            assert thread.is_alive(), "the gateway exited while starting"
            try:
                answer = httpx.get(f"{url}/readyz", timeout=2)
                if answer.status_code == 200 or (not wait_ready and answer.status_code == 503):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_accepted(url: str, token: str, timeout_s: float = 10.0) -> None:
    """Until the gateway knows a token just issued (its view follows the topic every second):
    any answer but 401 to a request that needs one."""
    deadline = time.monotonic() + timeout_s
    while httpx.post(f"{url}/v1/uploads", headers=bearer(token), timeout=10).status_code == 401:
        assert time.monotonic() < deadline, "the gateway never accepted the token"
        time.sleep(0.2)


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
