"""The Grafana dashboards, as code (docs/design.md, "Observability"): *Transfer flow* (接收情况) for
archive staff and *Pipeline health* for platform engineers, written as plain JSON to `dashboards/`
for Grafana to import (or the Helm chart to provision).

`make dashboards` (`python -m recordflow.dashboards dashboards`) writes them. The panels are data
here (PanelSpec: a title, what it shows, its PromQL); grafana-foundation-sdk, a development
dependency, turns them into Grafana's JSON and is imported only then. tests/unit/recordflow/
test_dashboards.py checks that the committed files are what this builds, that every expression
parses and reads only series recordflow exports, and evaluates some of them with promtool.

Every dashboard has three variables: `datasource` (a Prometheus), `agency` and `instance` (a
worker; the verify and outbox series come from other machines and follow the agency only), each
multi-valued with "All" meaning `.*`.
"""

from __future__ import annotations

import json
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.models.dashboard import DataSourceRef, Panel

AGENCY = 'agency=~"$agency"'
INSTANCE = 'instance=~"$instance"'
WORKERS = 'job="recordflow-worker"'
REF_IDS = string.ascii_uppercase  # a panel's queries: A, B, C …


def picked(metric: str, *matchers: str) -> str:
    """A pipeline series of the chosen agencies and workers."""
    return f"{metric}{{{', '.join((*matchers, AGENCY, INSTANCE))}}}"


def at_workers(metric: str, *matchers: str) -> str:
    """A worker's series without an agency label (retries, lag, process_*): workers chosen only."""
    return f"{metric}{{{', '.join((*matchers, INSTANCE))}}}"


def of_agency(metric: str) -> str:
    """A series of a --metrics-file (verify, outbox): its instance is a machine, not a worker."""
    return f"{metric}{{{AGENCY}}}"


# An agency's submissions: the inputs intake took from its topic less the lifecycle steps before
# filing that it only noted (outcome="history"); `or` keeps agencies that sent no such step.
INPUTS = picked("recordflow_stage_duration_seconds_count", 'stage="intake"')
NOTED = picked("recordflow_events_total", 'stage="intake"', 'outcome="history"')
SUBMITTED = (
    f"(sum by (agency) (increase({INPUTS}[$__range])) - sum by (agency) "
    f"(increase({NOTED}[$__range]))) or sum by (agency) (increase({INPUTS}[$__range]))"
)
ARCHIVED = picked("recordflow_records_archived_total")
ARCHIVED_BYTES = picked("recordflow_archived_bytes_total")
DEAD_LETTERS = picked("recordflow_deadletters_total")
HELD = picked("recordflow_events_total", 'stage="intake"', 'outcome="review"')
LATENCY = picked("recordflow_end_to_end_latency_seconds_bucket")
STAGE_COUNT = picked("recordflow_stage_duration_seconds_count")
STAGE_SECONDS = picked("recordflow_stage_duration_seconds_bucket")
FAILED_EVENTS = picked("recordflow_events_total", 'outcome=~"rejected|parked"')
REFUSED = picked(
    "recordflow_deadletters_total", 'reason=~"s3-refused|kafka-refused|registry-refused"'
)
RETRIES = at_workers("recordflow_retries_total")


def total(expr: str) -> str:
    """The sum over every series, 0 (not "No data") when there is none."""
    return f"sum({expr}) or vector(0)"


def quantile(q: float, buckets: str, by: str) -> str:
    """The q-quantile of a histogram's `buckets` per `by` label, over the graph's interval."""
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({buckets}[$__rate_interval])))"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    kind: Literal["stat", "timeseries", "table", "piechart"]
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    width: int = 12
    height: int = 8
    columns: tuple[str, ...] = ()  # a table's: each query's value (Value #A, #B …) named in turn


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    since: str  # the default time range: from `since` until now
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]


def number(title: str, description: str, expr: str, unit: str = "short") -> PanelSpec:
    """One number (a stat panel), computed once for the dashboard's time range."""
    return PanelSpec("stat", title, description, (Query(expr),), unit, width=4, height=4)


def graph(
    title: str, description: str, *queries: Query, unit: str = "short", width: int = 12
) -> PanelSpec:
    """Lines over time (a time series panel)."""
    return PanelSpec("timeseries", title, description, queries, unit, width=width)


def table(title: str, description: str, columns: dict[str, str]) -> PanelSpec:
    """A table by label, one column per expression (column name: expression)."""
    queries = tuple(Query(expr) for expr in columns.values())
    return PanelSpec("table", title, description, queries, columns=tuple(columns))


TRANSFER_FLOW = DashboardSpec(
    uid="recordflow-transfer-flow",
    title="接收情况 Transfer flow",
    description="各单位移交、归档、拒收、待鉴定 What each agency sent, what was archived, what was "
    "rejected and why, what waits for review; latency and retention mix.",
    since="now-7d",
    rows=(
        (
            "所选时段合计 Totals of the selected period",
            (
                number(
                    "提交 Submitted",
                    "Submissions intake received (lifecycle steps before filing not counted).",
                    total(SUBMITTED),
                ),
                number(
                    "归档 Archived",
                    "Records published as archival-ready.",
                    total(f"increase({ARCHIVED}[$__range])"),
                ),
                number(
                    "拒收 Rejected",
                    "Inputs sent to the dead-letter topic, by any stage.",
                    total(f"increase({DEAD_LETTERS}[$__range])"),
                ),
                number(
                    "待鉴定 Held for review",
                    "Submissions no retention rule decides: archive staff decide them "
                    "(`recordflow review list`).",
                    total(f"increase({HELD}[$__range])"),
                ),
                number(
                    "归档数据量 Bytes archived",
                    "Content written to the archive bucket.",
                    total(f"increase({ARCHIVED_BYTES}[$__range])"),
                    unit="bytes",
                ),
                number(
                    "长期保存检测未通过 Failing the long-term check",
                    "Records the last `recordflow verify` run found no longer matching the archive.",
                    f"sum({of_agency('recordflow_verify_failed_records')})",
                ),
            ),
        ),
        (
            "各单位 Per agency",
            (
                table(
                    "各单位移交情况 Per agency",
                    "Over the selected period, per agency: submissions received, records "
                    "archived, inputs rejected (dead letters), submissions held for review.",
                    {
                        "提交 Submitted": SUBMITTED,
                        "归档 Archived": f"sum by (agency) (increase({ARCHIVED}[$__range]))",
                        "拒收 Rejected": f"sum by (agency) (increase({DEAD_LETTERS}[$__range]))",
                        "待鉴定 Held for review": f"sum by (agency) (increase({HELD}[$__range]))",
                    },
                ),
                table(
                    "拒收原因 Rejection reasons",
                    "Dead letters of the selected period by agency, the stage that rejected them "
                    "and reason code (docs/reason-codes.md, `recordflow reasons`); "
                    "`recordflow deadletters list --agency A --reason R` lists them.",
                    {
                        "件数 Dead letters": "sort_desc(sum by (agency, stage, reason) "
                        f"(increase({DEAD_LETTERS}[$__range])) > 0)"
                    },
                ),
                graph(
                    "每小时归档 Archived per hour",
                    "Records archived per hour, by agency.",
                    Query(
                        f"sum by (agency) (rate({ARCHIVED}[$__rate_interval])) * 3600", "{{agency}}"
                    ),
                ),
                graph(
                    "每小时拒收 Rejected per hour",
                    "Dead letters per hour, by agency and reason code.",
                    Query(
                        f"sum by (agency, reason) (rate({DEAD_LETTERS}[$__rate_interval])) * 3600",
                        "{{agency}} {{reason}}",
                    ),
                ),
                graph(
                    "每小时待鉴定 Held for review per hour",
                    "Submissions sent to archive staff's review per hour, by agency.",
                    Query(f"sum by (agency) (rate({HELD}[$__rate_interval])) * 3600", "{{agency}}"),
                ),
                graph(
                    "每小时归档数据量 Bytes archived per hour",
                    "Content written to the archive bucket per hour, by agency.",
                    Query(
                        f"sum by (agency) (rate({ARCHIVED_BYTES}[$__rate_interval])) * 3600",
                        "{{agency}}",
                    ),
                    unit="bytes",
                ),
            ),
        ),
        (
            "时效与保管期限 Latency and retention",
            (
                graph(
                    "端到端时延 End-to-end latency (p50, p95)",
                    "From the lifecycle event's time to its archival-ready record, by agency: "
                    "half of the records took less than p50, 95% less than p95.",
                    Query(quantile(0.5, LATENCY, "agency"), "{{agency}} p50"),
                    Query(quantile(0.95, LATENCY, "agency"), "{{agency}} p95"),
                    unit="s",
                ),
                number(
                    "所选时段95%时延 Latency p95 of the period",
                    "95% of the records archived in the selected period took less than this.",
                    f"histogram_quantile(0.95, sum by (le) (increase({LATENCY}[$__range])))",
                    unit="s",
                ),
                PanelSpec(
                    "piechart",
                    "保管期限构成 Retention mix",
                    "Records archived in the selected period by retention period: Y 永久 "
                    "permanent, D30 定期30年, D10 定期10年.",
                    (
                        Query(
                            f"sum by (retention) (increase({ARCHIVED}[$__range]))",
                            "{{retention}}",
                        ),
                    ),
                    width=8,
                ),
            ),
        ),
    ),
)

PIPELINE_HEALTH = DashboardSpec(
    uid="recordflow-pipeline-health",
    title="recordflow pipeline health",
    description="RED per stage (rate, errors, duration), consumer lag, retries and stalls, the "
    "workers' CPU and memory, outside services, producers' outboxes and the long-term check.",
    since="now-6h",
    rows=(
        (
            "Stages: rate, errors, duration",
            (
                graph(
                    "Rate: inputs handled per second, by stage",
                    "Inputs each stage finished with, whatever the outcome.",
                    Query(f"sum by (stage) (rate({STAGE_COUNT}[$__rate_interval]))", "{{stage}}"),
                    unit="ops",
                    width=8,
                ),
                graph(
                    "Errors: inputs rejected or parked per second",
                    "Rejected: dead-lettered, by the stage that rejected them (decode, validate, "
                    "intake, store, check, register). Parked: numbered, then refused for good "
                    "while storing or publishing; dead-lettered with its number kept, so counted "
                    "as rejected too.",
                    Query(
                        f"sum by (stage, outcome) (rate({FAILED_EVENTS}[$__rate_interval]))",
                        "{{stage}} {{outcome}}",
                    ),
                    unit="ops",
                    width=8,
                ),
                graph(
                    "Duration: time per input (p50, p95), by stage",
                    "Time a stage spent on one input, retries included.",
                    Query(quantile(0.5, STAGE_SECONDS, "stage"), "{{stage}} p50"),
                    Query(quantile(0.95, STAGE_SECONDS, "stage"), "{{stage}} p95"),
                    unit="s",
                    width=8,
                ),
            ),
        ),
        (
            "Saturation and stalls",
            (
                graph(
                    "Consumer lag by topic",
                    "Messages the consumer group has not committed yet, summed over each "
                    "topic's partitions (each worker measures its own every 15 s). Alert: "
                    "RecordflowConsumerLagGrowing.",
                    Query(
                        f"sum by (topic) ({at_workers('recordflow_consumer_lag_messages')})",
                        "{{topic}}",
                    ),
                ),
                graph(
                    "Oldest unfinished input by partition",
                    "Age of the oldest input a stage took from a partition and has not "
                    "finished: one that keeps growing is a stalled partition (alert "
                    "RecordflowPartitionStalled at 5 minutes).",
                    Query(
                        "max by (stage, topic, partition) "
                        f"({at_workers('recordflow_oldest_unfinished_input_age_seconds')})",
                        "{{stage}} {{topic}}/{{partition}}",
                    ),
                    unit="s",
                ),
                graph(
                    "Retries per second, by stage",
                    "Attempts a stage repeated after a failure that can pass: above zero for "
                    "long is a stage waiting on an outage (alert RecordflowStageRetrying).",
                    Query(f"sum by (stage) (rate({RETRIES}[$__rate_interval]))", "{{stage}}"),
                    unit="ops",
                ),
                graph(
                    "Partitions per worker",
                    "Partitions each worker was given at its last rebalance.",
                    Query(at_workers("recordflow_worker_assigned_partitions"), "{{instance}}"),
                ),
            ),
        ),
        (
            "Outside services and workers",
            (
                graph(
                    "S3, Kafka, schema registry, clamd: failures per second",
                    "Waited out (retried; reasons s3-unavailable, kafka-unavailable, "
                    "registry-unavailable, scanner-unavailable, network-unreachable) and refused "
                    "for good (dead-lettered; s3-refused, kafka-refused, registry-refused).",
                    Query(
                        f"sum by (reason) (rate({RETRIES}[$__rate_interval]))",
                        "{{reason}} (retried)",
                    ),
                    Query(
                        f"sum by (reason) (rate({REFUSED}[$__rate_interval]))",
                        "{{reason}} (dead-lettered)",
                    ),
                    unit="ops",
                    width=8,
                ),
                graph(
                    "Worker CPU",
                    "CPU time each worker process used per second (100% = one core).",
                    Query(
                        f"rate({at_workers('process_cpu_seconds_total', WORKERS)}[$__rate_interval])",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    width=8,
                ),
                graph(
                    "Worker memory (RSS)",
                    "Resident memory of each worker process.",
                    Query(at_workers("process_resident_memory_bytes", WORKERS), "{{instance}}"),
                    unit="bytes",
                    width=8,
                ),
            ),
        ),
        (
            "Producers' outboxes and the long-term check",
            (
                graph(
                    "Submissions held in outboxes",
                    "What each producer's outbox still held after its last `recordflow outbox "
                    "flush --metrics-file`, by machine and agency.",
                    Query(
                        f"sum by (instance, agency) ({of_agency('recordflow_outbox_pending_submissions')})",
                        "{{instance}} {{agency}}",
                    ),
                    width=8,
                ),
                graph(
                    "Oldest held submission's age",
                    "How long the oldest submission each outbox holds has waited (alert "
                    "RecordflowOutboxHeld at an hour).",
                    Query(
                        "time() - min by (instance, agency) "
                        f"({of_agency('recordflow_outbox_oldest_pending_timestamp_seconds')})",
                        "{{instance}} {{agency}}",
                    ),
                    unit="s",
                    width=8,
                ),
                graph(
                    "Long-term check: records failing",
                    "Records the last `recordflow verify` run found no longer matching the "
                    "archive, by agency (alert RecordflowVerifyFailed).",
                    Query(
                        f"sum by (agency) ({of_agency('recordflow_verify_failed_records')})",
                        "{{agency}}",
                    ),
                    width=8,
                ),
            ),
        ),
    ),
)

DASHBOARDS = {"transfer-flow": TRANSFER_FLOW, "pipeline-health": PIPELINE_HEALTH}


def build(spec: DashboardSpec) -> str:
    """The dashboard as Grafana's JSON (keys sorted, Chinese as is, a newline at the end)."""
    from grafana_foundation_sdk.builders import dashboard
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

    prometheus = DataSourceRef(type_val="prometheus", uid="${datasource}")
    built = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["recordflow"])
        .time(spec.since, "now")
        .refresh("1m")
        .timezone("browser")
        .with_variable(
            dashboard.DatasourceVariable("datasource")
            .label("数据源 Data source")
            .type("prometheus")
        )
    )
    for name, label, query in (
        ("agency", "单位 Agency", "label_values(recordflow_events_total, agency)"),
        (
            "instance",
            "实例 Instance",
            "label_values(recordflow_worker_assigned_partitions, instance)",
        ),
    ):
        built = built.with_variable(
            dashboard.QueryVariable(name)
            .label(label)
            .datasource(prometheus)
            .query(query)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    panel_id = 0
    for row_title, panels in spec.rows:
        panel_id += 1
        built = built.with_row(dashboard.Row(row_title).id(panel_id))
        for panel in panels:
            panel_id += 1
            built = built.with_panel(_panel(panel, panel_id, prometheus))
    encoded = json.dumps(
        built.build(), cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False
    )
    return encoded + "\n"


def _panel(spec: PanelSpec, panel_id: int, datasource: DataSourceRef) -> Builder[Panel]:
    from grafana_foundation_sdk.builders import dashboard, prometheus
    from grafana_foundation_sdk.models.dashboard import DataTransformerConfig
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

    panel = (
        dashboard.Panel()
        .type(spec.kind)
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(datasource)
        .unit(spec.unit)
        .span(spec.width)
        .height(spec.height)
        .options({})  # the panel type's defaults
    )
    instant = spec.kind != "timeseries"
    for ref_id, query in zip(REF_IDS, spec.queries, strict=False):
        target = prometheus.Dataquery().ref_id(ref_id).expr(query.expr)
        if query.legend:
            target = target.legend_format(query.legend)
        if instant:
            target = target.instant()
        if spec.kind == "table":
            target = target.format(PromQueryFormat.TABLE)
        panel = panel.with_target(target)
    if spec.columns:  # Grafana names a query's values "Value", or "Value #A" … beside others
        values = ["Value"] if len(spec.queries) == 1 else [f"Value #{ref}" for ref in REF_IDS]
        names = dict(zip(values, spec.columns, strict=False))
        panel = panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
        panel = panel.with_transformation(
            DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}, "renameByName": names},
            )
        )
    return panel


def main(argv: list[str]) -> None:
    """Write every dashboard to the folder given (default: dashboards/ here)."""
    folder = Path(argv[0] if argv else "dashboards")
    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in DASHBOARDS.items():
        (folder / f"{name}.json").write_text(build(spec), encoding="utf-8")
        print(folder / f"{name}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
