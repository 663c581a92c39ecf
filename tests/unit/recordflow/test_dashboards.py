"""The Grafana dashboards (recordflow/dashboards.py, dashboards/*.json): the committed files are what
the builder builds now; every panel's PromQL parses and reads only series recordflow exports; and
some panels, evaluated by promtool over synthetic series, compute what their titles say."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from recordflow.dashboards import DASHBOARDS, build
from tests.unit.recordflow.promql import exported_series, promtool, series_read

FOLDER = Path(__file__).resolve().parents[3] / "dashboards"
# What Grafana puts in for its variables when it runs a query; "All" is `.*` (allValue).
GRAFANA = {"$__rate_interval": "5m", "$__range": "1h"}


def dashboard(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def panels(name: str) -> list[dict[str, Any]]:
    return [panel for panel in dashboard(name)["panels"] if panel["type"] != "row"]


def expression(name: str, title: str, ref_id: str = "A") -> str:
    """A committed panel's query, found by the panel's title."""
    (panel,) = [panel for panel in panels(name) if panel["title"] == title]
    (target,) = [target for target in panel["targets"] if target["refId"] == ref_id]
    return str(target["expr"])


def concrete(expr: str, agency: str = ".*", instance: str = ".*") -> str:
    """The query as Grafana sends it, for the given variable values."""
    for variable, value in {**GRAFANA, "$agency": agency, "$instance": instance}.items():
        expr = expr.replace(variable, value)
    return expr


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_the_committed_dashboard_is_what_the_builder_builds(name: str) -> None:
    committed = (FOLDER / f"{name}.json").read_text(encoding="utf-8")
    assert committed == build(DASHBOARDS[name]), "stale: run `make dashboards` and commit"


def test_the_folder_holds_the_built_dashboards_only() -> None:
    assert {path.stem for path in FOLDER.glob("*.json")} == set(DASHBOARDS)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_query_parses_and_reads_only_series_recordflow_exports(name: str) -> None:
    exported = exported_series()
    queries = [
        (panel["title"], target["expr"]) for panel in panels(name) for target in panel["targets"]
    ]
    assert queries
    for title, expr in queries:
        assert "$" not in concrete(expr), f"{title}: a variable Grafana would not fill in"
        read = series_read(concrete(expr))
        assert read and read <= exported, f"{title} reads {read - exported}"
    for variable in dashboard(name)["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"])
            assert found and found[1] in exported, variable["query"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_says_what_it_shows_and_has_the_three_variables(name: str) -> None:
    built = dashboard(name)
    assert [v["name"] for v in built["templating"]["list"]] == ["datasource", "agency", "instance"]
    for panel in panels(name):
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    ids = [panel["id"] for panel in built["panels"]]
    assert len(set(ids)) == len(ids)


def test_the_transfer_flow_speaks_chinese_first_and_english_second() -> None:
    for panel in dashboard("transfer-flow")["panels"]:
        chinese, _, english = panel["title"].partition(" ")
        assert re.search(r"[\u4e00-\u9fff]", chinese) and not re.search(r"[A-Za-z]", chinese)
        assert re.match(r"[A-Z]", english), panel["title"]


def query(name: str, title: str, ref_id: str = "A", **variables: str) -> str:
    """A committed panel's query as Grafana would send it (variables not given: All)."""
    return concrete(expression(name, title, ref_id), **variables)


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{selector}}}", "values": values}


def sample(value: float, **labels: str) -> dict[str, Any]:
    return {"labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "value": value}


def evaluated(tmp_path: Path, inputs: list[dict[str, str]], cases: list[dict[str, Any]]) -> None:
    """promtool evaluates each case's expression at 1h over series sampled every 5 minutes (a
    counter's `0+10x12` is 10 more every 5 minutes: 120 in the hour) and compares the result."""
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "5m",
                "input_series": inputs,
                "promql_expr_test": [{"eval_time": "1h", **case} for case in cases],
            }
        ],
    }
    path = tmp_path / "panels.test.yaml"
    path.write_text(yaml.safe_dump(tests, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tested = promtool("test", "rules", str(path))
    assert tested.returncode == 0, tested.stdout + tested.stderr


W1 = {"job": "recordflow-worker", "instance": "w1"}
W2 = {"job": "recordflow-worker", "instance": "w2"}
INPUTS = "recordflow_stage_duration_seconds_count"
EVENTS = "recordflow_events_total"
DEAD = "recordflow_deadletters_total"
PER_AGENCY = "各单位移交情况 Per agency"


def test_per_agency_submitted_archived_rejected_and_held_count_what_they_say(
    tmp_path: Path,
) -> None:
    evaluated(
        tmp_path,
        [
            # zjj: 120 inputs in the hour from two workers, 24 of them lifecycle steps before
            # filing; 6 held for review, 12 dead letters, 84 archived.
            series(INPUTS, "0+6x12", **W1, stage="intake", agency="zjj"),
            series(INPUTS, "0+4x12", **W2, stage="intake", agency="zjj"),
            series(EVENTS, "0+2x12", **W1, stage="intake", agency="zjj", outcome="history"),
            series(EVENTS, "0+0.5x12", **W1, stage="intake", agency="zjj", outcome="review"),
            series(DEAD, "0+1x12", **W1, agency="zjj", stage="validate", reason="missing-title"),
            series(
                "recordflow_records_archived_total", "0+7x12", **W2, agency="zjj", retention="D10"
            ),
            # bgt: 60 submissions, none a lifecycle step (no history series at all); 24 dead
            # letters, at register.
            series(INPUTS, "0+5x12", **W1, stage="intake", agency="bgt"),
            series(
                DEAD, "0+2x12", **W1, agency="bgt", stage="register", reason="checksum-mismatch"
            ),
            # fy: dead letters counted before the hour, none in it.
            series(DEAD, "3x12", **W1, agency="fy", stage="validate", reason="missing-title"),
        ],
        [
            {
                "expr": query("transfer-flow", PER_AGENCY, "A"),
                "exp_samples": [sample(96, agency="zjj"), sample(60, agency="bgt")],
            },
            {
                "expr": query("transfer-flow", PER_AGENCY, "B"),
                "exp_samples": [sample(84, agency="zjj")],
            },
            {
                "expr": query("transfer-flow", PER_AGENCY, "C"),
                "exp_samples": [
                    sample(12, agency="zjj"),
                    sample(24, agency="bgt"),
                    sample(0, agency="fy"),
                ],
            },
            {
                "expr": query("transfer-flow", PER_AGENCY, "D"),
                "exp_samples": [sample(6, agency="zjj")],
            },
            {
                "expr": query("transfer-flow", "拒收原因 Rejection reasons"),
                "exp_samples": [
                    sample(24, agency="bgt", stage="register", reason="checksum-mismatch"),
                    sample(12, agency="zjj", stage="validate", reason="missing-title"),
                ],
            },
            {  # the agency variable narrows it down
                "expr": query("transfer-flow", "提交 Submitted", agency="zjj"),
                "exp_samples": [sample(96)],
            },
            {  # nothing archived: a zero, not "No data"
                "expr": query("transfer-flow", "归档 Archived", agency="bgt"),
                "exp_samples": [sample(0)],
            },
        ],
    )


def test_the_latency_quantiles_are_those_of_the_histogram(tmp_path: Path) -> None:
    # 300 records every 5 minutes: a quarter within 1 s, three quarters within 5 s, all within
    # 10 s. The median lies in (1, 5]: 1 + 4 × (50 − 25) / (75 − 25) = 3 s; p95 in (5, 10]:
    # 5 + 5 × (95 − 75) / (100 − 75) = 9 s. (Numbers whose arithmetic is exact in binary:
    # promtool compares floats exactly.)
    buckets = {"1": "0+75x12", "5": "0+225x12", "10": "0+300x12", "+Inf": "0+300x12"}
    latency = "端到端时延 End-to-end latency (p50, p95)"
    evaluated(
        tmp_path,
        [
            series(
                "recordflow_end_to_end_latency_seconds_bucket", values, **W1, agency="zjj", le=le
            )
            for le, values in buckets.items()
        ],
        [
            {
                "expr": query("transfer-flow", latency, "A"),
                "exp_samples": [sample(3, agency="zjj")],
            },
            {
                "expr": query("transfer-flow", latency, "B"),
                "exp_samples": [sample(9, agency="zjj")],
            },
            {
                "expr": query("transfer-flow", "所选时段95%时延 Latency p95 of the period"),
                "exp_samples": [sample(9)],
            },
        ],
    )


def test_lag_errors_and_held_submissions_add_up_as_titled(tmp_path: Path) -> None:
    lag = "recordflow_consumer_lag_messages"
    register, ingest = "recordflow.register.v1", "ingest.zjj.lifecycle.v1"
    oldest = "recordflow_outbox_oldest_pending_timestamp_seconds"
    node = {"job": "node", "instance": "oa-1:9100"}
    evaluated(
        tmp_path,
        [
            series(lag, "100x12", **W1, topic=register, partition="0"),
            series(lag, "250x12", **W2, topic=register, partition="1"),
            series(lag, "5x12", **W1, topic=ingest, partition="0"),
            # 30 rejected and 3 parked every 5 minutes; accepted ones are no errors.
            series(EVENTS, "0+30x12", **W1, agency="zjj", stage="validate", outcome="rejected"),
            series(EVENTS, "0+3x12", **W2, agency="bgt", stage="register", outcome="parked"),
            series(EVENTS, "0+90x12", **W2, agency="bgt", stage="register", outcome="accepted"),
            # Outboxes: bgt's oldest held submission accepted at 10 min, zjj's at 30 min.
            series(oldest, "600x12", **node, agency="bgt"),
            series(oldest, "1800x12", **node, agency="zjj"),
        ],
        [
            {
                "expr": query("pipeline-health", "Consumer lag by topic"),
                "exp_samples": [sample(350, topic=register), sample(5, topic=ingest)],
            },
            {  # one worker chosen: its own partitions only
                "expr": query("pipeline-health", "Consumer lag by topic", instance="w1"),
                "exp_samples": [sample(100, topic=register), sample(5, topic=ingest)],
            },
            {
                "expr": query("pipeline-health", "Errors: inputs rejected or parked per second"),
                "exp_samples": [
                    sample(0.1, stage="validate", outcome="rejected"),
                    sample(0.01, stage="register", outcome="parked"),
                ],
            },
            {
                "expr": query("pipeline-health", "Oldest held submission's age"),
                "exp_samples": [
                    sample(3000, instance="oa-1:9100", agency="bgt"),
                    sample(1800, instance="oa-1:9100", agency="zjj"),
                ],
            },
        ],
    )
