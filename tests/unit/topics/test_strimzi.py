"""The catalog and its ACLs as Strimzi's KafkaTopics and KafkaUsers (topics/strimzi.py), and
`recordflow topics render strimzi`. Validation against Strimzi's own CRDs: tests/helm/test_strimzi.py."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from recordflow.agencies import load_registry
from recordflow.cli.topics import app
from recordflow.principals import Principals
from recordflow.settings import Settings
from topics.acls import AclSpec, desired_acls
from topics.catalog import desired_topics
from topics.strimzi import (
    CLUSTER_LABEL,
    OPERATIONS,
    PATTERN_TYPES,
    RESOURCE_TYPES,
    StrimziError,
    object_name,
    render,
)

SETTINGS = Settings(topic_prefix="t1.")
REGISTRY = load_registry(SETTINGS.agencies_file)
OBJECTS = render(SETTINGS, REGISTRY)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


TOPICS = of_kind(OBJECTS, "KafkaTopic")
USERS = of_kind(OBJECTS, "KafkaUser")


def test_a_kafka_topic_for_every_topic_the_reconciler_would_create() -> None:
    specs = desired_topics(SETTINGS, registry=REGISTRY)
    assert len(TOPICS) == len(specs) == len([o for o in OBJECTS if o["kind"] == "KafkaTopic"])
    for spec in specs:
        assert TOPICS[spec.name]["spec"] == {
            "partitions": spec.partitions,
            "replicas": spec.replication_factor,
            "config": spec.config,
        }


def test_the_catalog_topic_appears_as_the_catalog_describes_it() -> None:
    catalog = TOPICS["t1.records.catalog.v1"]
    assert catalog["apiVersion"] == "kafka.strimzi.io/v1"
    assert catalog["metadata"]["labels"] == {CLUSTER_LABEL: "kafka"}
    assert catalog["spec"] == {
        "partitions": 6,
        "replicas": 1,
        "config": {"cleanup.policy": "compact"},
    }
    # Templates expand per agency, with the prefix.
    assert {f"t1.ingest.{a.code}.lifecycle.v1" for a in REGISTRY.agencies} <= set(TOPICS)


def test_options_set_cluster_namespace_and_replication_factor() -> None:
    objects = render(SETTINGS, REGISTRY, cluster="main", namespace="kafka", replication_factor=3)
    for obj in objects:
        assert obj["metadata"]["labels"] == {CLUSTER_LABEL: "main"}
        assert obj["metadata"]["namespace"] == "kafka"
    assert {o["spec"]["replicas"] for o in objects if o["kind"] == "KafkaTopic"} == {3}
    assert all("namespace" not in o["metadata"] for o in OBJECTS)


def test_a_kafka_user_for_every_principal_with_scram() -> None:
    assert set(USERS) == set(Principals.of(SETTINGS).everyone(REGISTRY))
    for user in USERS.values():
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"


def to_specs(name: str, user: dict[str, Any]) -> set[AclSpec]:
    """A KafkaUser's rules back as the reconciler's bindings."""
    resources = {v: k for k, v in RESOURCE_TYPES.items()}
    patterns = {v: k for k, v in PATTERN_TYPES.items()}
    operations = {v: k for k, v in OPERATIONS.items()}
    return {
        AclSpec(
            f"User:{name}",
            resources[rule["resource"]["type"]],
            rule["resource"].get("name", "kafka-cluster"),
            patterns[rule["resource"].get("patternType", "literal")],
            operations[operation],
        )
        for rule in user["spec"]["authorization"]["acls"]
        for operation in rule["operations"]
    }


def test_the_users_acls_are_exactly_the_reconcilers() -> None:
    converted = set().union(*(to_specs(name, user) for name, user in USERS.items()))
    assert converted == set(desired_acls(SETTINGS, REGISTRY))


def test_acl_conversion_to_strimzis_names() -> None:
    rules = USERS["pipeline"]["spec"]["authorization"]["acls"]
    assert {"resource": {"type": "topic", "name": "t1.recordflow.", "patternType": "prefix"},
            "operations": ["Read", "Write"]} in rules  # fmt: skip
    assert {"resource": {"type": "transactionalId", "name": "t1.recordflow.register.",
                         "patternType": "prefix"}, "operations": ["Write"]} in rules  # fmt: skip
    assert {"resource": {"type": "group", "name": "t1.recordflow", "patternType": "literal"},
            "operations": ["Read"]} in rules  # fmt: skip
    agency = USERS["agency-bgt"]["spec"]["authorization"]["acls"]
    assert {"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]} in agency
    assert {"resource": {"type": "topic", "name": "t1.ingest.bgt.lifecycle.v1",
                         "patternType": "literal"}, "operations": ["Write"]} in agency  # fmt: skip
    names = {rule["resource"].get("name") for rule in agency}
    assert "t1.ingest.zjj.lifecycle.v1" not in names


def test_an_offboarded_agency_keeps_its_reads_and_loses_its_writes() -> None:
    import datetime as dt

    (bgt,) = [a for a in REGISTRY.agencies if a.code == "bgt"]
    gone = bgt.model_copy(update={"offboarded_at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)})
    registry = REGISTRY.merged([gone])
    rules = of_kind(render(SETTINGS, registry), "KafkaUser")["agency-bgt"]["spec"]["authorization"]
    operations = {op for rule in rules["acls"] for op in rule["operations"]}
    assert operations == {"Read"}


def test_kafka_topic_names_kubernetes_cannot_take_are_hashed() -> None:
    assert object_name("records.catalog.v1") == "records.catalog.v1"
    odd = object_name("City_records.catalog.v1")
    assert (
        odd.startswith("city-records-catalog-v1-")
        and len(odd) == len("city-records-catalog-v1-") + 8
    )
    assert object_name("A_b") != object_name("a-b") == "a-b"
    assert len(object_name("X" * 249)) <= 253

    topics = of_kind(render(Settings(topic_prefix="City_"), REGISTRY), "KafkaTopic")
    catalog = topics[object_name("City_records.catalog.v1")]
    assert catalog["spec"]["topicName"] == "City_records.catalog.v1"


def test_a_principal_kubernetes_cannot_name_is_refused() -> None:
    with pytest.raises(StrimziError, match="Pipeline_1"):
        render(Settings(principal_pipeline="Pipeline_1"), REGISTRY)


def invoke(*args: str, **env: str) -> Any:
    # The caller's RECORDFLOW_* left out: the defaults, and what the test sets.
    cleared: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("RECORDFLOW_")
    }
    return CliRunner().invoke(app, ["render", "strimzi", *args], env={**cleared, **env})


def test_cli_prints_the_rendered_objects_as_yaml() -> None:
    result = invoke("--cluster", "main", "--replication-factor", "3", RECORDFLOW_TOPIC_PREFIX="t1.")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n---\n") == len(OBJECTS) - 1
    printed = list(yaml.safe_load_all(result.stdout))
    assert printed == render(SETTINGS, REGISTRY, cluster="main", replication_factor=3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "My_Kafka"], "--cluster 'My_Kafka' is not a Kafka resource's name"),
        (["--cluster", ""], "--cluster '' is not"),
        (["--namespace", "Kafka"], "--namespace 'Kafka' is not a Kubernetes namespace name"),
        (["--replication-factor", "0"], "--replication-factor must be at least 1, got 0"),
    ],
)
def test_cli_refuses_bad_options_in_one_line(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("topics render strimzi failed:")
    assert message in result.stderr


def test_cli_reports_a_bad_principal_in_one_line() -> None:
    result = invoke(RECORDFLOW_PRINCIPAL_GATEWAY="Gate way")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "'Gate way' is not a Kubernetes name" in result.stderr
