"""The worker's /ready and /metrics (streams/health.py), served for real on a free port; whether
a real worker turns ready is checked in tests/integration/test_metrics_endpoint.py."""

from __future__ import annotations

import types
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from streams.health import Readiness, start_http_server


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_ready_answers_what_readiness_says_and_metrics_are_everywhere_else() -> None:
    registry = CollectorRegistry()
    Counter("probe_things", "things", registry=registry).inc()
    answer = {"ready": False}
    server = start_http_server(0, "127.0.0.1", registry, lambda: answer["ready"])
    try:
        port = server.server_port
        status, body = get(port, "/ready")
        assert (status, body) == (503, "not ready: waiting for partitions and tables\n")
        answer["ready"] = True
        assert get(port, "/ready") == (200, "ready\n")
        status, body = get(port, "/metrics")
        assert status == 200 and "probe_things_total 1.0" in body
    finally:
        server.shutdown()


def app(rebalancing_count: int, rebalancing: bool) -> types.SimpleNamespace:
    return types.SimpleNamespace(rebalancing_count=rebalancing_count, rebalancing=rebalancing)


def test_ready_after_a_finished_rebalance_not_before_or_during_one() -> None:
    readiness = Readiness()
    assert not readiness()  # the app not built yet
    states = {(0, False): False, (1, True): False, (1, False): True, (2, True): False}
    for (count, rebalancing), ready in states.items():
        readiness.app = app(count, rebalancing)  # type: ignore[assignment]
        assert readiness() is ready, (count, rebalancing)
