"""The local stack's web console: `recordflow console` on `console_port` (18095), started by `stack
up` after the gateway and stopped by `stack down`. Like the gateway it is the project's own
program: it waits for Kafka itself (its store catches up, sign-ins answer 503 until the accounts
are read), so it counts as up once it answers /healthz. Its data folder (the store, the session
key) is the service's: `stack down --purge` deletes it, and the next start rebuilds the store.

`running_console(settings)` serves a console for other Settings (a test's own topics) inside the
calling process: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from recordflow.localstack.gateway import free_port
from recordflow.localstack.service import PROBE_TIMEOUT_S, Report, Service
from recordflow.localstack.workers import settings_environment
from recordflow.settings import Settings

READY_TIMEOUT_S = 60.0


class Console(Service):
    name = "console"
    startup_timeout_s = 60.0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.console_port}"

    @property
    def ports(self) -> list[int]:
        return [self.settings.console_port]

    def installed(self) -> bool:
        return True  # part of recordflow itself

    def install(self, report: Report) -> None:
        return None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "recordflow", "console", "--host", "127.0.0.1",
                "--port", str(self.settings.console_port), "--stack-home", str(self.data_dir)]  # fmt: skip

    @property
    def marker(self) -> str:
        return str(self.data_dir)

    def env(self) -> dict[str, str]:
        """The stack's settings, with the service's own data folder."""
        return {**super().env(), **settings_environment(self.settings),
                "RECORDFLOW_CONSOLE_DATA_DIR": str(self.data_dir)}  # fmt: skip

    def healthy(self) -> bool:
        try:
            answer = httpx.get(f"{self.address}/healthz", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return answer.status_code == httpx.codes.OK


@contextmanager
def running_console(settings: Settings) -> Iterator[str]:
    """The console's base URL while it runs, once ready (accounts read, store caught up)."""
    import uvicorn  # only here: `stack` commands need neither uvicorn nor FastAPI

    from connectors.console.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"console-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("the console exited while starting; see its log above")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == httpx.codes.OK:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the console at {url} not ready in {READY_TIMEOUT_S:g} s")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
