"""Every panel of the Grafana dashboards (recordflow/dashboards.py) asked of the local stack's real
Prometheus after traffic has flowed through a worker (issue 16): each expression is accepted; the
panels of the traffic (submitted, archived, rejected and why, held for review, latency, bytes,
stages, lag, the worker's CPU and memory) return data for that very worker; and every series a
panel reads is on the worker's /metrics, but the ones `recordflow verify` and `recordflow outbox
flush` write to a --metrics-file, which no worker serves."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from avro_schemas.codec import Codec
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.dashboards import DASHBOARDS
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.unit.recordflow.promql import series_read

OUTCOME_TIMEOUT_S = 120.0
SCRAPED_TIMEOUT_S = 90.0  # the worker measures its lag every 15 s; Prometheus scrapes every 5 s
# Panels of trouble, empty while all is well: a stage retrying, a server refusing, a re-check
# failing, submissions held in an outbox. The series of verify's and the outbox's metrics files.
TROUBLE = re.compile(r"recordflow_retries_total|-refused|verify_failed|outbox_")
FILE_SERIES = re.compile(r"recordflow_(verify|outbox)_")
MEMO: dict[str, Any] = {
    "document_id": "BGT-DASH-MEMO", "title": "窗口服务工作备忘录", "responsible_party": "市人民政府办公厅",
    "document_date": "2026-09-09", "document_type": "备忘录", "unit_code": "BGS",
}  # fmt: skip  # no rule decides a 备忘录: it waits for archive staff


def test_every_panel_answers_from_the_real_prometheus(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    # Prometheus watching before the traffic: a counter's first scraped value is no increase.
    url = f"http://127.0.0.1:{pipeline_settings.prometheus_port}/api/v1/query"
    instance = urlsplit(worker.metrics_url).netloc
    wait_for(url, f'recordflow_deadletters_total{{instance="{instance}", agency="bgt"}}')
    submissions: list[dict[str, Any]] = [notice_metadata("BGT-DASH-1"), notice_metadata("BGT-DASH-2"), MEMO,
                   notice_metadata("BGT-DASH-3", document_type="便条")]  # fmt: skip
    submitter = Submitter(pipeline_settings)
    ids = []
    for metadata in submissions:
        path = tmp_path / f"{metadata['document_id']}.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(2048))
        receipt = submitter.submit("bgt", [FileToSubmit(path)], metadata, validate=False)
        ids.append(receipt.event_id)
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(pipeline_settings, codec, set(ids), timeout_s=OUTCOME_TIMEOUT_S)
    assert sorted(o.status for o in outcomes.values()) == [
        "archived", "archived", "rejected", "review",
    ]  # fmt: skip

    # Scraped after the traffic, with the lag measured: the rates have their points.
    scraped = (f'recordflow_records_archived_total{{instance="{instance}"}} == 2 and on() '
               f'count(recordflow_consumer_lag_messages{{instance="{instance}"}}) > 0')  # fmt: skip
    wait_for(url, scraped)

    served = worker.metrics()
    empty, unserved = [], []
    for dashboard in DASHBOARDS.values():
        for _, panels in dashboard.rows:
            for panel in panels:
                for spec in panel.queries:
                    expr = as_grafana_would(spec.expr, instance)
                    answer = query(url, expr)
                    if not answer and not TROUBLE.search(spec.expr):
                        empty.append(f"{panel.title}: {spec.expr}")
                    unserved += [
                        f"{panel.title}: {name}"
                        for name in series_read(expr)
                        if not FILE_SERIES.match(name) and name not in served
                    ]
    assert not empty, "\n".join(empty)
    assert not unserved, "\n".join(unserved)


def as_grafana_would(expr: str, instance: str) -> str:
    """The expression with the dashboard's variables as Grafana sets them: every agency, this
    worker, the last 10 minutes."""
    worker = re.escape(instance).replace("\\", "\\\\")  # in a PromQL string, \\. is a regex \.
    return (
        expr.replace("$agency", ".*")
        .replace("$instance", worker)
        .replace("$__range", "10m")
        .replace("$__rate_interval", "1m")
    )


def wait_for(url: str, expr: str) -> None:
    deadline = time.monotonic() + SCRAPED_TIMEOUT_S
    while time.monotonic() < deadline and not query(url, expr):
        time.sleep(1)
    assert query(url, expr), f"Prometheus has no {expr} after {SCRAPED_TIMEOUT_S:g} s"


def query(url: str, expr: str) -> list[object]:
    answer = httpx.get(url, params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])
