"""The local stack's HTTP gateway: `recordflow gateway` on `gateway_port` (18090), started by
`stack up` after the servers and stopped by `stack down`. It is the project's own program, not a
server to install, and it waits for Kafka itself: until it has read the credentials topic it
answers 503, so it counts as up once it answers /healthz.

`running_gateway(settings)` serves a gateway for other Settings (a test's or the demo's own
topics) inside the calling process: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from recordflow.localstack.service import PROBE_TIMEOUT_S, Report, Service
from recordflow.localstack.workers import settings_environment
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.gateway.service import Gateway as GatewayService

READY_TIMEOUT_S = 60.0


class Gateway(Service):
    name = "gateway"
    startup_timeout_s = 60.0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def ports(self) -> list[int]:
        return [self.settings.gateway_port]

    def installed(self) -> bool:
        return True  # part of recordflow itself

    def install(self, report: Report) -> None:
        return None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "recordflow", "gateway", "--host", "127.0.0.1",
                "--port", str(self.settings.gateway_port), "--stack-home", str(self.data_dir)]  # fmt: skip

    @property
    def marker(self) -> str:
        return str(self.data_dir)

    def env(self) -> dict[str, str]:
        """The stack's settings, as a worker of the stack gets them (its home, ports, names)."""
        return {**super().env(), **settings_environment(self.settings)}

    def healthy(self) -> bool:
        try:
            answer = httpx.get(f"{self.address}/healthz", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return answer.status_code == httpx.codes.OK


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_gateway(settings: Settings, gateway: GatewayService | None = None,
                    *, wait_ready: bool = True) -> Iterator[str]:  # fmt: skip
    """The gateway's base URL while it runs; `gateway` as given, else started from `settings`."""
    import uvicorn  # only here: `stack` commands need neither uvicorn nor FastAPI

    from connectors.gateway.app import create_app

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
            if not thread.is_alive():
                raise RuntimeError("the gateway exited while starting; see its log above")
            try:
                answer = httpx.get(f"{url}/readyz", timeout=2)
                if answer.status_code == 200 or (not wait_ready and answer.status_code == 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway at {url} not ready in {READY_TIMEOUT_S:g} s")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
