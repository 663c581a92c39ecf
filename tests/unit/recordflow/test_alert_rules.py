"""The pipeline's alert rules (recordflow/alerts/) pass promtool's checks and its unit tests
(tests/unit/recordflow/alert_rules.test.yaml: each alert fires when it should, and not when it should not),
read only series recordflow exports, and the local stack's Prometheus loads them. promtool comes with
Debian's prometheus package (scripts/install-system-deps.sh); a missing promtool fails these tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from recordflow.localstack.prometheus import ALERT_RULES, prometheus_config, prometheus_targets_dir
from recordflow.settings import Settings
from tests.unit.recordflow.promql import exported_series, promtool, series_read

RULE_TESTS = Path(__file__).with_name("alert_rules.test.yaml")
ALERTS = {
    "RecordflowWorkerDown",
    "RecordflowConsumerLagGrowing",
    "RecordflowStageRetrying",
    "RecordflowPartitionStalled",
    "RecordflowDeadLettersRising",
    "RecordflowDeadLetterRateHigh",
    "RecordflowVerifyFailed",
    "RecordflowOutboxHeld",
}
RECORDED = {
    "agency:recordflow_deadletters:ratio_rate30m",
    "agency:recordflow_deadletters:ratio_rate1d",
}
RULES = len(ALERTS) + len(RECORDED)


def rules() -> list[dict[str, object]]:
    document = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(ALERT_RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {RULES} rules found" in checked.stdout


def test_each_alert_fires_when_it_should_and_only_then() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    exercised = {
        case["alertname"]
        for test in cases["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    quiet = {
        case["alertname"]
        for test in cases["tests"]
        for case in test["alert_rule_test"]
        if not case["exp_alerts"]
    }
    assert exercised == quiet == ALERTS  # every alert seen firing, and seen quiet


def test_the_rules_read_only_series_recordflow_exports() -> None:
    by_name = {str(rule.get("alert") or rule["record"]): str(rule["expr"]) for rule in rules()}
    assert set(by_name) == ALERTS | RECORDED
    known = exported_series() | RECORDED | {"up"}  # `up`: Prometheus's own, per scrape target
    for name, expr in by_name.items():
        read = series_read(expr)
        assert read and read <= known, f"{name} reads {read - known}"


def test_the_local_prometheus_loads_the_rules_and_its_config_checks(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    targets = prometheus_targets_dir(settings)
    targets.mkdir(parents=True)
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(prometheus_config(targets))
    assert yaml.safe_load(config_file.read_text())["rule_files"] == [str(ALERT_RULES)]
    checked = promtool("check", "config", str(config_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {RULES} rules found" in checked.stdout
