"""The local stack's HTTP gateway: `recordflow gateway` on `gateway_port` (18090), started by
`stack up` after the servers and stopped by `stack down`. It is the project's own program, not a
server to install, and it waits for Kafka itself: until it has read the credentials topic it
answers 503, so it counts as up once it answers /healthz.

`running_gateway(settings)` serves a gateway for other Settings (a test's or the demo's own
topics) inside the calling process: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from recordflow.localstack.webapp import WebService, program_process, serve_in_thread
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.gateway.service import Gateway as GatewayService


class Gateway(WebService):
    name = "gateway"

    @property
    def port(self) -> int:
        return self.settings.gateway_port


@contextmanager
def running_gateway(settings: Settings, gateway: GatewayService | None = None,
                    *, wait_ready: bool = True) -> Iterator[str]:  # fmt: skip
    """The gateway's base URL while it runs in this process; `gateway` as given, else started
    from `settings`."""
    from connectors.gateway.app import create_app

    with serve_in_thread(create_app(settings, gateway), "gateway", wait_ready=wait_ready) as url:
        yield url


@contextmanager
def gateway_process(settings: Settings) -> Iterator[str]:
    """A gateway for `settings` in a process of its own (`recordflow gateway` on a free port, as
    production runs it; the benchmark's, so that it shares no interpreter with the load); its
    base URL while it runs. Its log: `<home>/logs/gateway-<port>.log`."""
    with program_process(settings, ["gateway"], "gateway") as url:
        yield url


def wait_accepted(url: str, token: str, timeout_s: float = 15.0) -> None:
    """Until the gateway knows a token just issued (it follows the credentials topic every
    second): any answer but 401 to a request that needs a token and changes nothing."""
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token}"}
    while httpx.get(f"{url}/v1/submissions/none", headers=headers, timeout=10).status_code == 401:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway at {url} did not accept the token in {timeout_s:g} s")
        time.sleep(0.2)


def post_submission(client: httpx.Client, url: str, token: str, metadata: dict[str, Any],
                    paths: Sequence[Path], idempotency_key: str | None = None) -> str:  # fmt: skip
    """POST /v1/submissions as an agency system would (curl -F): the metadata and the files in
    one multipart request; the event id of the 202, or RuntimeError with the gateway's answer."""
    headers = {"Authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    answer = client.post(
        f"{url}/v1/submissions",
        headers=headers,
        data={"metadata": json.dumps(metadata, ensure_ascii=False)},
        files=[("file", (path.name, path.read_bytes(), "application/pdf")) for path in paths],
    )
    if answer.status_code != httpx.codes.ACCEPTED:
        raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:300]}")
    return str(answer.json()["event_id"])
