"""Strimzi's resources, from `recordflow topics render strimzi` and from the chart's
`strimzi.enabled`: valid against Strimzi 0.49.0's own CRDs (strict: an unknown field or a
misspelled operation fails), and the chart's the CLI's for the same names."""

from __future__ import annotations

import json
import os
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from recordflow.cli.topics import app
from tests.helm.chart import BUILD_TIMEOUT_S, CHART, MINIMAL, Helm, HelmError, merged
from tests.helm.strimzi import API_VERSION, crd, problems
from tests.helm.test_chart import KUBERNETES_VERSION

# The first test of a fresh machine builds helm (go install: about 5 min on two cores).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

KINDS = ("KafkaTopic", "KafkaUser")
RESOURCES = CHART / "files" / "strimzi" / "resources.yaml"
STRIMZI: dict[str, Any] = {"strimzi": {"enabled": True}}
# Every name the chart's values change, changed (a topic prefix Kubernetes cannot take as is).
RENAMED = merged(STRIMZI, {
    "strimzi": {"cluster": "main", "namespace": "kafka"},
    "names": {"topicPrefix": "City_", "appId": "archives"},
    "kafka": {"topicReplicationFactor": 2},
    "settings": {"principal_pipeline": "city-pipeline", "principal_archivist": "city-archivist",
                 "principal_subscriber": "city-subscriber", "principal_gateway": "city-gateway",
                 "principal_lookup": "city-lookup", "principal_agency_prefix": "city-agency-"},
})  # fmt: skip
# The same names as Settings, for the CLI.
RENAMED_ENV = {
    "RECORDFLOW_TOPIC_PREFIX": "City_",
    "RECORDFLOW_APP_ID": "archives",
    **{f"RECORDFLOW_{key.upper()}": value for key, value in RENAMED["settings"].items()},
}


def cli(*args: str, **env: str) -> str:
    """The CLI's output with the given RECORDFLOW_* and no other (as `make helm-files` runs it)."""
    cleared: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("RECORDFLOW_")
    }
    result = CliRunner().invoke(app, ["render", "strimzi", *args], env={**cleared, **env})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def strimzi_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]


def as_cli(obj: dict[str, Any]) -> dict[str, Any]:
    """A chart object without what Helm adds: its labels but the cluster's, its annotations."""
    metadata = {key: value for key, value in obj["metadata"].items() if key != "annotations"}
    metadata["labels"] = {"strimzi.io/cluster": metadata["labels"]["strimzi.io/cluster"]}
    return {**obj, "metadata": metadata}


def by_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """By kind and name, a user's rules in one order (a new app id sorts its group elsewhere in
    the chart's; the order means nothing to Strimzi)."""
    for obj in objects:
        if obj["kind"] == "KafkaUser":
            obj["spec"]["authorization"]["acls"].sort(key=lambda r: json.dumps(r, sort_keys=True))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_the_crds_serve_v1() -> None:
    for kind in KINDS:
        versions = {v["name"]: v for v in crd(kind)["spec"]["versions"]}
        assert versions["v1"]["served"] and versions["v1"]["storage"], kind
        assert f"{crd(kind)['spec']['group']}/v1" == API_VERSION


def test_cli_output_is_valid_against_strimzis_crds() -> None:
    for args, env in [((), {}), (("--cluster", "main", "--namespace", "kafka",
                                   "--replication-factor", "3"), RENAMED_ENV)]:  # fmt: skip
        objects = list(yaml.safe_load_all(cli(*args, **env)))
        assert {o["kind"] for o in objects} == set(KINDS)
        assert [p for obj in objects for p in problems(obj)] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda user: user["spec"]["authorization"]["acls"][0].update(operations=["Raed"]), "'Raed' is not one of"),
        (lambda user: user["spec"]["authorization"]["acls"][0].update(operation="Read"), "'operation' was unexpected"),
        (lambda user: user["spec"]["authorization"]["acls"][1]["resource"].update(patternType="prefixed"),
         "'prefixed' is not one of"),
        (lambda user: user["spec"]["authorization"]["acls"][1]["resource"].update(type="transactional-id"),
         "'transactional-id' is not one of"),
        (lambda user: user["spec"]["authentication"].update(type="scram-sha-256"), "'scram-sha-256' is not one of"),
        (lambda user: user["spec"].pop("authorization"), None),  # optional: a user without ACLs
        (lambda user: user.update(apiVersion="kafka.strimzi.io/v1beta2"), "apiVersion"),
    ],
)  # fmt: skip
def test_validation_refuses_what_strimzi_would(change: Any, message: str | None) -> None:
    user = next(o for o in yaml.safe_load_all(RESOURCES.read_text()) if o["kind"] == "KafkaUser")
    assert problems(user) == []
    change(user)
    found = problems(user)
    if message is None:
        assert found == []
    else:
        assert any(message in problem for problem in found), found


def test_validation_refuses_a_bad_topic() -> None:
    topic = next(o for o in yaml.safe_load_all(RESOURCES.read_text()) if o["kind"] == "KafkaTopic")
    topic["spec"]["partitions"] = 0
    topic["spec"]["retention"] = "7d"
    found = problems(topic)
    assert any("0 is less than the minimum of 1" in p for p in found), found
    assert any("'retention' was unexpected" in p for p in found), found


def test_chart_files_are_what_the_cli_renders_now() -> None:
    """files/strimzi/ is `make helm-files`' output for the repo's catalog and agency registry."""
    assert sorted(p.name for p in RESOURCES.parent.iterdir()) == ["resources.yaml"]
    assert RESOURCES.read_text() == cli(), "run `make helm-files`"


def test_chart_with_strimzi_makes_no_topics_job(helm: Helm) -> None:
    objects = helm.render(STRIMZI)
    assert not [o for o in objects if o["kind"] == "Job"]
    assert not [o for o in objects if o["metadata"]["name"].endswith("topics-agencies")]
    kinds = {o["kind"] for o in strimzi_objects(objects)}
    assert kinds == set(KINDS)
    assert [p for obj in strimzi_objects(objects) for p in problems(obj)] == []
    for obj in objects:
        if obj not in strimzi_objects(objects):
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_chart_without_strimzi_is_as_before(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    assert strimzi_objects(objects) == []
    (job,) = [o for o in objects if o["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "recordflow",
        "topics",
        "apply",
    ]


@pytest.mark.parametrize(
    ("values", "args", "env"),
    [
        (STRIMZI, ("--replication-factor", "3"), {}),  # the chart's default factor is 3
        (RENAMED, ("--cluster", "main", "--namespace", "kafka", "--replication-factor", "2"), RENAMED_ENV),
    ],
    ids=["defaults", "renamed"],
)  # fmt: skip
def test_chart_gives_what_the_cli_gives(helm: Helm, values: dict[str, Any], args: tuple[str, ...],
                                        env: dict[str, str]) -> None:  # fmt: skip
    chart = by_name([as_cli(o) for o in strimzi_objects(helm.render(values))])
    expected = by_name(list(yaml.safe_load_all(cli(*args, **env))))
    assert sorted(chart) == sorted(expected)
    for key, obj in expected.items():
        assert chart[key] == obj, key


def test_chart_applies_the_values(helm: Helm) -> None:
    objects = strimzi_objects(helm.render(RENAMED))
    assert [p for obj in objects for p in problems(obj)] == []
    for obj in objects:
        assert obj["metadata"]["namespace"] == "kafka"
        assert obj["metadata"]["labels"]["strimzi.io/cluster"] == "main"
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "rf"
    topics = {o["spec"].get("topicName"): o for o in objects if o["kind"] == "KafkaTopic"}
    catalog = topics["City_records.catalog.v1"]
    assert catalog["metadata"]["name"].startswith("city-records-catalog-v1-")
    assert catalog["spec"]["replicas"] == 2
    assert catalog["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    users = {o["metadata"]["name"]: o for o in objects if o["kind"] == "KafkaUser"}
    assert {"city-pipeline", "city-agency-bgt", "city-gateway"} <= set(users)
    assert "pipeline" not in users
    rules = users["city-pipeline"]["spec"]["authorization"]["acls"]
    assert {"resource": {"type": "group", "name": "City_archives", "patternType": "literal"},
            "operations": ["Read"]} in rules  # fmt: skip
    assert "annotations" not in users["city-pipeline"]["metadata"]


def test_chart_with_the_renderings_replication_factor(helm: Helm) -> None:
    objects = strimzi_objects(
        helm.render(merged(STRIMZI, {"kafka": {"topicReplicationFactor": 0}}))
    )
    assert {o["spec"]["replicas"] for o in objects if o["kind"] == "KafkaTopic"} == {3}
    objects = strimzi_objects(
        helm.render(merged(STRIMZI, {"kafka": {"topicReplicationFactor": 2}}))
    )
    assert {o["spec"]["replicas"] for o in objects if o["kind"] == "KafkaTopic"} == {2}


def test_chart_with_strimzi_lints(helm: Helm) -> None:
    result = helm.lint(RENAMED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (merged(STRIMZI, {"files": {"agencies": "version: 1\nagencies: []\n"}}), "with your own files.agencies"),
        (merged(STRIMZI, {"settings": {"principal_gateway": "Gate_way"}}), 'the Kafka user "Gate_way"'),
        (merged(STRIMZI, {"strimzi": {"cluster": "My_Kafka"}}), "cluster"),
        (merged(STRIMZI, {"strimzi": {"clsuter": "kafka"}}), "clsuter"),
        ({"names": {"topicPrefix": "city/"}}, "topicPrefix"),
    ],
)  # fmt: skip
def test_bad_strimzi_values_are_refused(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        helm.render(values)
