"""The pipeline's state for the overview, as Prometheus sees it: the workers it scrapes (up, memory,
records in flight), the backlog (consumer lag per topic) and the alerts firing.

Asked of Prometheus rather than of each worker: it already finds the workers (file_sd locally,
the platform's service discovery on a cluster) and keeps what a worker said before it died. Only
this pipeline's series count: the workers label theirs `app=<consumer group>` (streams/app.py).
Prometheus away is a state to show, not an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from recordflow.settings import Settings

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Worker:
    instance: str
    up: bool
    resident_bytes: float | None


@dataclass(frozen=True)
class Health:
    reachable: bool
    workers: list[Worker] = field(default_factory=list)
    backlog: dict[str, int] = field(default_factory=dict)  # topic → messages not yet committed
    alerts: list[str] = field(default_factory=list)  # names of the alerts firing
    problem: str = ""

    @property
    def workers_up(self) -> int:
        return sum(worker.up for worker in self.workers)

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())


def pipeline_health(settings: Settings) -> Health:
    app = f'app="{settings.consumer_group}"'
    try:
        with httpx.Client(base_url=settings.prometheus_url, timeout=TIMEOUT_S) as client:

            def query(promql: str) -> list[dict[str, Any]]:
                answer = client.get("/api/v1/query", params={"query": promql})
                answer.raise_for_status()
                return list(answer.json()["data"]["result"])

            memory = {
                series["metric"].get("instance_name", ""): float(series["value"][1])
                for series in query(f"process_resident_memory_bytes{{{app}}}")
            }
            workers = sorted(
                (
                    Worker(name, series["value"][1] == "1", memory.get(name))
                    for series in query(f"up{{{app}}}")
                    for name in [series["metric"].get("instance_name", "")]
                ),
                key=lambda worker: worker.instance,
            )
            backlog = {
                series["metric"]["topic"]: int(float(series["value"][1]))
                for series in query(f"sum by (topic) (recordflow_consumer_lag_messages{{{app}}})")
            }
            alerts = sorted(
                {
                    series["metric"]["alertname"]
                    for series in query(
                        # this pipeline's, and those of no pipeline (verify's, the outbox's)
                        f'ALERTS{{alertstate="firing", app=~"{settings.consumer_group}|"}}'
                    )
                }
            )
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return Health(reachable=False, problem=f"{settings.prometheus_url}: {exc}")
    return Health(True, workers, backlog, alerts)
