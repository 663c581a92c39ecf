"""The gateway's own Prometheus series, on its own `/metrics` (docs/design.md, "Observability"):
requests by route template (never the raw path: ids would make a series each), status and
agency, and their durations by route."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from recordflow.metrics import STAGE_BUCKETS


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "recordflow_gateway_requests_total",
            "HTTP requests the gateway answered, by route template, status code and agency "
            "(empty before the caller is known).",
            ["route", "status", "agency"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "recordflow_gateway_request_duration_seconds",
            "Time the gateway took to answer a request, by route template.",
            ["route"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, status: int, agency: str, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status), agency=agency).inc()
        self.duration.labels(route=route).observe(seconds)
