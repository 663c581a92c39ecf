"""The local stack's HTTP gateway: `recordflow gateway` on `gateway_port` (18090), started by
`stack up` after the servers and stopped by `stack down`. It is the project's own program, not a
server to install, and it waits for Kafka itself: until it has read the credentials topic it
answers 503, so it counts as up once it answers /healthz."""

from __future__ import annotations

import sys

import httpx

from recordflow.localstack.service import PROBE_TIMEOUT_S, Report, Service
from recordflow.localstack.workers import settings_environment


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
