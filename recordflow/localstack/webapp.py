"""What the local stack's web services share — the HTTP gateway, the console and the lookup
service: each is a `recordflow` command, not a server to install, that waits for Kafka itself (it
answers /healthz at once and /readyz once it has read what it needs), so it counts as up once
/healthz answers. And two ways to run one such program for other Settings (a test's, the demo's
or the benchmark's own topics, or another principal): `serve_in_thread`, its app inside the
calling process (uvicorn on a free port of 127.0.0.1, in a thread), and `program_process`, the
`recordflow` command in a process of its own, as production runs it."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from recordflow.localstack.service import PROBE_TIMEOUT_S, Report, Service
from recordflow.localstack.workers import STOP_TIMEOUT_S, child_environment, settings_environment
from recordflow.settings import Settings

READY_TIMEOUT_S = 60.0


class WebService(Service):
    """`recordflow <verb> --host 127.0.0.1 --port <port>` with the stack's settings."""

    startup_timeout_s = 60.0

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ports(self) -> list[int]:
        return [self.port]

    def installed(self) -> bool:
        return True  # part of recordflow itself

    def install(self, report: Report) -> None:
        return None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "recordflow", self.name, "--host", "127.0.0.1",
                "--port", str(self.port), "--stack-home", str(self.data_dir)]  # fmt: skip

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
def serve_in_thread(app: Any, name: str, *, wait_ready: bool = True) -> Iterator[str]:
    """The app's base URL while uvicorn serves it in a thread of this process, once /readyz
    answers 200 (or, unless `wait_ready`, answers at all: 503 while it waits for Kafka)."""
    import uvicorn  # only here: `stack` commands need neither uvicorn nor FastAPI

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{name}-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError(f"the {name} exited while starting; see its log above")
            try:
                answer = httpx.get(f"{url}/readyz", timeout=2)
                if answer.status_code == 200 or (not wait_ready and answer.status_code == 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} at {url} not ready in {READY_TIMEOUT_S:g} s")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def program_process(settings: Settings, verb: Sequence[str], name: str) -> Iterator[str]:
    """`recordflow VERB… --host 127.0.0.1 --port <a free port>` in a process of its own, its
    Settings() equal to `settings` (passed by environment, as production passes them: the
    credentials stay out of `ps`); its base URL once /readyz answers 200. Its log:
    `<home>/logs/<name>-<port>.log`. Stopped (SIGTERM, then SIGKILL) when the block ends."""
    port = free_port()
    log_path = settings.home / "logs" / f"{name}-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "recordflow", *verb, "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=child_environment(settings), start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not _ready(url):
            if process.poll() is not None:
                raise RuntimeError(f"the {name} on port {port} exited; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} on port {port} not ready in "
                                   f"{READY_TIMEOUT_S:g} s; see {log_path}")  # fmt: skip
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == httpx.codes.OK
    except httpx.TransportError:
        return False
