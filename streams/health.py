"""The worker's HTTP port: /metrics for Prometheus, and /ready for Kubernetes' readiness probe
(helm/recordflow/templates/workers.yaml), which asks whether the worker is doing its work yet."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

if TYPE_CHECKING:
    import faust

READY_PATH = "/ready"


class Readiness:
    """Ready once faust has finished a rebalance: the worker has its partitions (none, if the
    group has more workers than partitions) and has recovered its tables from their changelogs.
    Not ready while a later rebalance or recovery runs, when it processes nothing either."""

    def __init__(self) -> None:
        self.app: faust.App | None = None  # set once built; until then, not ready

    def __call__(self) -> bool:
        app = self.app
        # faust sets `rebalancing` when a rebalance starts and clears it when the tables'
        # recovery that follows has ended (faust.tables.recovery calls on_rebalance_end).
        return app is not None and app.rebalancing_count > 0 and not app.rebalancing


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A line per scrape and probe on stderr is noise."""


def start_http_server(
    port: int, addr: str, registry: CollectorRegistry, ready: Callable[[], bool]
) -> ThreadingWSGIServer:
    """Serve /ready (200 or 503, text) and, on every other path, the registry's metrics (as
    prometheus_client's own server does), on a daemon thread. `port` 0 picks a free one."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != READY_PATH:
            return metrics(environ, start_response)
        if ready():
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ready\n"]
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not ready: waiting for partitions and tables\n"]

    family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("Server", (ThreadingWSGIServer,), {"address_family": family})
    server: ThreadingWSGIServer = make_server(
        addr, port, app, server_class, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    return server
