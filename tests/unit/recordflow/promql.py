"""What the tests of the dashboards and of the alert rules share: the names of the series recordflow
exports, the series a PromQL expression reads (parsed with promql-parser), and promtool (Debian's
prometheus package, scripts/install-system-deps.sh; a missing promtool fails the tests)."""

from __future__ import annotations

import shutil
import subprocess

import promql_parser
from prometheus_client import CollectorRegistry

from connectors.gateway.metrics import GatewayMetrics
from recordflow.metrics import OutboxMetrics, PipelineMetrics, VerifyMetrics

# The series a metric family of each type is exposed as (`_created` aside: nothing reads it).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}


def exported_series() -> set[str]:
    """Every series name a worker (with prometheus_client's process_* series), the gateway, and
    the --metrics-file of `recordflow verify` and `recordflow outbox flush` may expose."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    VerifyMetrics(registry)
    OutboxMetrics(registry)
    GatewayMetrics(registry)
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def series_read(expr: str) -> set[str]:
    """The metric names the expression selects; a selector without a name fails the parse check."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr!r}"
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool not found: apt-get install prometheus (scripts/install-system-deps.sh)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
