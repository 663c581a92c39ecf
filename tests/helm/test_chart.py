"""The chart as a whole: `helm lint` and `helm template` for the defaults and for everything on;
every core object valid against Kubernetes' own OpenAPI schemas (strict: an unknown field fails);
the custom resources' structure; values the schema must refuse; the copies of the alert rules and
dashboards the same bytes as their sources."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml

from recordflow.settings import Settings
from tests.helm.chart import (
    ALL_ON,
    ALL_ON_KEDA,
    BUILD_TIMEOUT_S,
    CHART,
    MINIMAL,
    ROOT,
    Helm,
    HelmError,
    containers,
)

# The first test of a fresh machine builds helm (go install: about 5 min on two cores).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

KUBERNETES_VERSION = "1.37"
# Not in Kubernetes' schemas: the Prometheus Operator's and KEDA's custom resources.
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
}
VALUE_SETS = {"minimal": MINIMAL, "all-on": ALL_ON, "all-on-keda": ALL_ON_KEDA}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint(helm: Helm, name: str) -> None:
    result = helm.lint(VALUE_SETS[name])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VALUE_SETS)
def test_core_objects_are_valid_kubernetes(helm: Helm, name: str) -> None:
    objects = helm.render(VALUE_SETS[name])
    core = [o for o in objects if (o["apiVersion"], o["kind"]) not in CRDS]
    assert core
    problems = []
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {error.message}")
    assert not problems, "\n".join(problems)


def test_custom_resources_structure(helm: Helm) -> None:
    """kubernetes-validate has no schemas for CRDs: their apiVersion, kind and required fields are
    checked here by hand (the Prometheus Operator's and KEDA's required fields)."""
    crs = [o for o in helm.render(ALL_ON) + helm.render(ALL_ON_KEDA)
           if (o["apiVersion"], o["kind"]) in CRDS]  # fmt: skip
    assert {(o["apiVersion"], o["kind"]) for o in crs} == CRDS
    for obj in crs:
        assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}, obj["metadata"]["name"]
        spec = obj["spec"]
        if obj["kind"] == "ServiceMonitor":
            assert spec["selector"]["matchLabels"]
            for endpoint in spec["endpoints"]:
                assert endpoint["port"] in ("metrics", "http") and endpoint["path"] == "/metrics"
        elif obj["kind"] == "PrometheusRule":
            for group in spec["groups"]:
                assert group["name"] and group["rules"]
                for rule in group["rules"]:
                    assert "expr" in rule and len({"alert", "record"} & set(rule)) == 1
        else:
            assert spec["scaleTargetRef"]["name"].endswith("-worker")
            assert spec["maxReplicaCount"] <= 6
            (trigger,) = spec["triggers"]
            assert trigger["type"] == "prometheus"
            assert set(trigger["metadata"]) >= {"serverAddress", "query", "threshold"}
            assert isinstance(trigger["metadata"]["threshold"], str)  # KEDA wants a string


def test_hook_job_runs_topics_apply(helm: Helm) -> None:
    (job,) = [o for o in helm.render(MINIMAL) if o["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["recordflow", "topics", "apply"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RECORDFLOW_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["RECORDFLOW_KAFKA_BOOTSTRAP"] == "kafka-kafka-bootstrap:9092"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"workers": {"replicsa": 3}}, "replicsa"),  # a misspelled key
        ({"workers": {"replicas": "3"}}, "replicas"),  # a string where a number goes
        ({"kafka": {"securityProtocol": "TLS"}}, "securityProtocol"),
        ({"secrets": {"s3": {"name": ""}}}, "name"),
        ({"settings": {"s3_secret_key": "hunter2"}}, "s3_secret_key"),  # a secret as a value
        ({"settings": {"kafka_bootstrap": "x:9092"}}, "kafka_bootstrap"),  # what the chart sets
        ({"workers": {"replicas": 7}}, "workers.replicas (7) must be at most workers.partitions (6)"),
        ({"workers": {"autoscaling": {"enabled": True, "maxReplicas": 12}}},
         "workers.autoscaling.maxReplicas (12) must be at most workers.partitions (6)"),
        ({"kafka": {"sasl": {"mechanism": "SCRAM-SHA-512", "username": "p"}}}, "secrets.kafkaSasl.name"),
        ({"console": {"replicas": 2}, "secrets": {"consoleSecretKey": {"name": ""}}},
         "secrets.consoleSecretKey.name"),
        ({"kafka": {"tls": {"clientCertificate": {"secretName": "pipeline"}}}},
         "kafka.tls.clientCertificate.secretName is set: kafka.securityProtocol must be SSL or "
         "SASL_SSL (it is PLAINTEXT)"),
        ({"kafka": {"tls": {"clientCertificate": {"keyKey": ""}}}}, "keyKey"),
        ({"settings": {"kafka_ssl_ca_file": "/etc/ca.crt"}}, "kafka_ssl_ca_file"),  # the chart's
    ],
)  # fmt: skip
def test_bad_values_are_refused(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        helm.render(values)


def test_schema_errors_name_the_schema(helm: Helm) -> None:
    result = helm.template({"workers": {"replicsa": 3}})
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert "additional properties 'replicsa' not allowed" in result.stderr, result.stderr


def test_every_setting_the_chart_sets_exists(helm: Helm) -> None:
    """No invented settings: each RECORDFLOW_* the chart renders is a field of Settings (or the
    replication factor `topics apply` reads as its option's variable)."""
    fields = {f"RECORDFLOW_{name.upper()}" for name in Settings.model_fields}
    fields.add("RECORDFLOW_TOPIC_REPLICATION_FACTOR")
    rendered = set()
    for obj in helm.render(ALL_ON):
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-settings"):
            rendered |= set(obj["data"])
    for _, container in containers(helm.render(ALL_ON)):
        rendered |= {e["name"] for e in container["env"]}
    ours = {name for name in rendered if name.startswith("RECORDFLOW_")}
    assert len(ours) > 20
    assert ours <= fields, ours - fields


def test_chart_version_follows_the_project() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]


def test_partitions_follow_the_catalog() -> None:
    """workers.partitions is the register topic's partitions in the image's catalog."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    catalog = yaml.safe_load((ROOT / "topics/catalog/recordflow.register.v1.yaml").read_text())
    assert values["workers"]["partitions"] == catalog["partitions"]
    assert values["workers"]["replicas"] <= values["workers"]["partitions"]


def test_schema_is_draft_07_and_closed() -> None:
    """additionalProperties: false at every level of values a user sets (bar free maps)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    free = {"podSecurityContext", "containerSecurityContext", "commonLabels", "podAnnotations",
            "settings", "retention", "nodeSelector", "annotations", "labels", "requests", "limits"}  # fmt: skip

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if not isinstance(value, dict) or path.rsplit(".", 1)[-1] in free:
            return
        assert node.get("additionalProperties") is False, path
        assert set(value) <= set(node["properties"]), (path, set(value) - set(node["properties"]))
        for key, inner in value.items():
            walk(inner, node["properties"][key], f"{path}.{key}")

    walk(values, schema, "values")


@pytest.mark.parametrize(
    ("source", "copy", "pattern"),
    [
        ("recordflow/alerts", "helm/recordflow/files/alerts", "*.yaml"),
        ("dashboards", "helm/recordflow/files/dashboards", "*.json"),
    ],
)
def test_chart_copies_match_their_sources(source: str, copy: str, pattern: str) -> None:
    """The chart's copies are `make helm-files`' output: the same files, byte for byte."""
    sources = {p.name: p.read_bytes() for p in (ROOT / source).glob(pattern)}
    copies = {p.name: p.read_bytes() for p in (ROOT / copy).iterdir()}
    assert sources
    assert copies == sources, "run `make helm-files`"


def test_prometheus_rule_is_the_alert_rules(helm: Helm) -> None:
    (rule,) = [o for o in helm.render(ALL_ON) if o["kind"] == "PrometheusRule"]
    groups = []
    for path in sorted((ROOT / "recordflow/alerts").glob("*.yaml")):
        groups += yaml.safe_load(path.read_text())["groups"]
    assert rule["spec"]["groups"] == groups


def test_dashboards_are_the_dashboards(helm: Helm) -> None:
    maps = [
        o for o in helm.render(ALL_ON) if o["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert {name for m in maps for name in m["data"]} == {
        p.name for p in (ROOT / "dashboards").glob("*.json")
    }
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        for name, text in config_map["data"].items():
            assert json.loads(text) == json.loads((ROOT / "dashboards" / name).read_text())


# Keys whose contents are Kubernetes' own objects (documented by Kubernetes): their inner keys
# need no comment of ours.
KUBERNETES_BLOCKS = {"podSecurityContext", "containerSecurityContext", "resources", "to"}


def test_every_value_is_documented() -> None:
    """Every key of values.yaml has a comment on the line above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    parents: list[tuple[int, str]] = []
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z0-9_.-]+):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while parents and parents[-1][0] >= indent:
            parents.pop()
        inside = any(parent in KUBERNETES_BLOCKS for _, parent in parents)
        if not inside and not lines[number - 1].lstrip().startswith("#"):
            undocumented.append(".".join([p for _, p in parents] + [key]))
        parents.append((indent, key))
    assert not undocumented, undocumented
