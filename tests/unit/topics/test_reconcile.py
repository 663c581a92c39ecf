"""The reconciler's diff: desired TopicSpecs against observed topics, no Kafka needed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from recordflow.cli.topics import app
from recordflow.settings import Settings
from topics.catalog import TopicSpec, desired_topics
from topics.reconcile import (
    ADD_PARTITIONS,
    ALTER_CONFIG,
    CONFLICT,
    CREATE,
    KafkaUnavailable,
    ObservedTopic,
    plan,
    reconcile,
)

ACTIONS = {CREATE, ALTER_CONFIG, ADD_PARTITIONS, CONFLICT}

SPEC = TopicSpec(
    name="records.deadletter.v1",
    partitions=3,
    replication_factor=1,
    config={"cleanup.policy": "delete", "retention.ms": "7776000000"},
)


def observed_as(spec: TopicSpec, **changes: object) -> ObservedTopic:
    topic = ObservedTopic(spec.name, spec.partitions, spec.replication_factor, dict(spec.config))
    return replace(topic, **changes)  # type: ignore[arg-type]


def test_missing_topic_is_created() -> None:
    [change] = plan([SPEC], {})
    assert (change.action, change.topic) == (CREATE, SPEC.name)
    assert "partitions=3" in change.detail
    assert "retention.ms=7776000000" in change.detail


def test_matching_topic_needs_nothing() -> None:
    assert plan([SPEC], {SPEC.name: observed_as(SPEC)}) == []


def test_differing_config_is_altered() -> None:
    config = {**SPEC.config, "retention.ms": "604800000"}
    [change] = plan([SPEC], {SPEC.name: observed_as(SPEC, config=config)})
    assert change.action == ALTER_CONFIG
    assert (change.key, change.old, change.new) == ("retention.ms", "604800000", "7776000000")
    assert change.detail == "retention.ms: 604800000 → 7776000000"


def test_config_missing_on_cluster_is_set() -> None:
    [change] = plan([SPEC], {SPEC.name: observed_as(SPEC, config={"cleanup.policy": "delete"})})
    assert (change.action, change.key, change.old) == (ALTER_CONFIG, "retention.ms", None)


def test_config_keys_outside_the_catalog_are_left_alone() -> None:
    config = {**SPEC.config, "segment.ms": "1000"}
    assert plan([SPEC], {SPEC.name: observed_as(SPEC, config=config)}) == []


def test_list_configs_compare_without_spaces() -> None:
    spec = replace(SPEC, config={"cleanup.policy": "compact, delete"})
    observed = observed_as(spec, config={"cleanup.policy": "compact,delete"})
    assert plan([spec], {spec.name: observed}) == []


def test_more_partitions_are_added() -> None:
    [change] = plan([SPEC], {SPEC.name: observed_as(SPEC, partitions=1)})
    assert (change.action, change.old, change.new) == (ADD_PARTITIONS, 1, 3)


def test_fewer_partitions_is_a_conflict_not_a_change() -> None:
    [change] = plan([SPEC], {SPEC.name: observed_as(SPEC, partitions=12)})
    assert (change.action, change.old, change.new) == (CONFLICT, 12, 3)
    assert "cannot reduce" in change.detail


def test_forbidden_partition_increase_is_a_conflict() -> None:
    spec = replace(SPEC, allow_partition_increase=False)
    [change] = plan([spec], {spec.name: observed_as(spec, partitions=1)})
    assert (change.action, change.key) == (CONFLICT, "partitions")


def test_replication_factor_difference_is_a_conflict() -> None:
    spec = replace(SPEC, replication_factor=3)
    [change] = plan([spec], {spec.name: observed_as(SPEC)})
    assert (change.action, change.key, change.old, change.new) == (
        CONFLICT,
        "replication_factor",
        1,
        3,
    )


def test_topics_only_on_the_cluster_are_left_alone() -> None:
    other = ObservedTopic("someone.elses.topic", 1, 1, {})
    assert plan([SPEC], {SPEC.name: observed_as(SPEC), other.name: other}) == []


def test_whole_catalog_on_empty_cluster_creates_everything() -> None:
    specs = desired_topics(Settings(topic_prefix="p."))
    changes = plan(specs, {})
    assert [change.action for change in changes] == [CREATE] * len(specs)
    assert [change.topic for change in changes] == [spec.name for spec in specs]


def test_changes_serialize_to_json() -> None:
    changes = plan([SPEC], {SPEC.name: observed_as(SPEC, partitions=1, config={})})
    rows = json.loads(json.dumps([change.as_dict() for change in changes]))
    assert {row["action"] for row in rows} == {ALTER_CONFIG, ADD_PARTITIONS}
    assert set(rows[0]) == {"action", "topic", "detail", "key", "old", "new"}


observed_topics = st.builds(
    ObservedTopic,
    name=st.sampled_from([SPEC.name, "other.topic"]),
    partitions=st.integers(1, 20),
    replication_factor=st.integers(1, 3),
    config=st.dictionaries(
        st.sampled_from(["cleanup.policy", "retention.ms", "segment.ms"]),
        st.sampled_from(["delete", "compact", "1000", "-1"]),
    ),
)


@given(spec_partitions=st.integers(1, 20), observed=st.lists(observed_topics, max_size=3))
def test_nothing_ever_deletes_or_shrinks(
    spec_partitions: int, observed: list[ObservedTopic]
) -> None:
    spec = replace(SPEC, partitions=spec_partitions)
    current = {topic.name: topic for topic in observed}
    changes = plan([spec], current)
    assert {change.action for change in changes} <= ACTIONS
    assert {change.topic for change in changes} <= {spec.name}
    for change in changes:
        if change.action == ADD_PARTITIONS:
            assert isinstance(change.old, int) and isinstance(change.new, int)
            assert change.new > change.old
    if spec.name in current:
        assert CREATE not in {change.action for change in changes}


def test_unreachable_kafka_raises() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1")
    with pytest.raises(KafkaUnavailable, match="cannot reach Kafka"):
        reconcile(settings, dry_run=True, timeout=1)


def test_cli_reports_unreachable_kafka_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["apply", "--dry-run", "--timeout", "1"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "cannot reach Kafka" in result.stderr
