"""`topics apply` against a real Kafka broker: create, converge, alter, add partitions, dry run.

Each test gets its own topic prefix, so tests share the stack's broker without seeing each
other's topics; a test deletes its own topics afterwards (the reconciler itself never deletes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from uuid import uuid4

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from typer.testing import CliRunner

from recordflow.cli.topics import app
from recordflow.settings import Settings
from topics.catalog import TopicSpec, desired_topics
from topics.reconcile import (
    ADD_PARTITIONS,
    ALTER_CONFIG,
    CONFLICT,
    CREATE,
    admin_client,
    reconcile,
)

TIMEOUT_S = 30


@pytest.fixture
def settings(stack_settings: Settings) -> Iterator[Settings]:
    prefix = f"t{uuid4().hex[:8]}."
    settings = Settings(**{**stack_settings.model_dump(), "topic_prefix": prefix})
    yield settings
    admin = admin_client(settings)
    ours = [name for name in admin.list_topics(timeout=TIMEOUT_S).topics if name.startswith(prefix)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=TIMEOUT_S).values():
            future.result()


@pytest.fixture
def admin(settings: Settings) -> AdminClient:
    return admin_client(settings)


def topics_with_prefix(admin: AdminClient, prefix: str) -> set[str]:
    return {name for name in admin.list_topics(timeout=TIMEOUT_S).topics if name.startswith(prefix)}


def cluster_state(admin: AdminClient, spec: TopicSpec) -> tuple[int, int, dict[str, str]]:
    """Partitions, replication factor and configs, read straight from the broker."""
    partitions = admin.list_topics(spec.name, timeout=TIMEOUT_S).topics[spec.name].partitions
    resource = ConfigResource(ResourceType.TOPIC, spec.name)
    entries = admin.describe_configs([resource])[resource].result()
    replication = {len(partition.replicas) for partition in partitions.values()}
    assert len(replication) == 1
    return len(partitions), replication.pop(), {key: entry.value for key, entry in entries.items()}


def with_spec(specs: list[TopicSpec], name: str, **changes: object) -> list[TopicSpec]:
    return [replace(spec, **changes) if spec.name == name else spec for spec in specs]  # type: ignore[arg-type]


def test_apply_creates_every_topic_as_the_catalog_says(
    settings: Settings, admin: AdminClient
) -> None:
    specs = desired_topics(settings)
    changes = reconcile(settings, timeout=TIMEOUT_S)

    assert [(change.action, change.topic) for change in changes] == [
        (CREATE, spec.name) for spec in specs
    ]
    assert topics_with_prefix(admin, settings.topic_prefix) == {spec.name for spec in specs}
    for spec in specs:
        partitions, replication_factor, config = cluster_state(admin, spec)
        assert (partitions, replication_factor) == (spec.partitions, spec.replication_factor)
        assert {key: config[key] for key in spec.config} == spec.config
    _, _, catalog_config = cluster_state(
        admin, next(s for s in specs if s.name == settings.catalog_topic)
    )
    assert catalog_config["cleanup.policy"] == "compact"


def test_second_apply_plans_nothing(settings: Settings) -> None:
    reconcile(settings, timeout=TIMEOUT_S)
    assert reconcile(settings, timeout=TIMEOUT_S) == []
    assert reconcile(settings, dry_run=True, timeout=TIMEOUT_S) == []


def test_changed_config_is_altered(settings: Settings, admin: AdminClient) -> None:
    reconcile(settings, timeout=TIMEOUT_S)
    one_day = str(24 * 3600 * 1000)
    changed = with_spec(
        desired_topics(settings),
        settings.deadletter_topic,
        config={
            **next(
                s for s in desired_topics(settings) if s.name == settings.deadletter_topic
            ).config,
            "retention.ms": one_day,
            "segment.ms": "3600000",
        },
    )

    changes = reconcile(settings, desired=changed, timeout=TIMEOUT_S)

    assert {(c.action, c.topic, c.key, c.new) for c in changes} == {
        (ALTER_CONFIG, settings.deadletter_topic, "retention.ms", one_day),
        (ALTER_CONFIG, settings.deadletter_topic, "segment.ms", "3600000"),
    }
    spec = next(s for s in changed if s.name == settings.deadletter_topic)
    _, _, config = cluster_state(admin, spec)
    assert (config["retention.ms"], config["segment.ms"]) == (one_day, "3600000")
    assert config["max.message.bytes"] == spec.config["max.message.bytes"]
    assert reconcile(settings, desired=changed, timeout=TIMEOUT_S) == []


def test_partitions_are_added_never_removed(settings: Settings, admin: AdminClient) -> None:
    reconcile(settings, timeout=TIMEOUT_S)
    specs = desired_topics(settings)
    topic = settings.ingest_topic("bgt")
    more = with_spec(specs, topic, partitions=5)

    [added] = reconcile(settings, desired=more, timeout=TIMEOUT_S)
    assert (added.action, added.topic, added.old, added.new) == (ADD_PARTITIONS, topic, 3, 5)
    spec = next(s for s in more if s.name == topic)
    assert cluster_state(admin, spec)[0] == 5

    [conflict] = reconcile(settings, timeout=TIMEOUT_S)  # the catalog again: 3 partitions
    assert (conflict.action, conflict.topic, conflict.old, conflict.new) == (CONFLICT, topic, 5, 3)
    assert cluster_state(admin, spec)[0] == 5


def test_forbidden_partition_increase_is_left_alone(settings: Settings, admin: AdminClient) -> None:
    reconcile(settings, timeout=TIMEOUT_S)
    topic = settings.item_numbers_changelog_topic
    more = with_spec(desired_topics(settings), topic, partitions=8)
    [conflict] = reconcile(settings, desired=more, timeout=TIMEOUT_S)
    assert (conflict.action, conflict.topic) == (CONFLICT, topic)
    assert cluster_state(admin, next(s for s in more if s.name == topic))[0] == 6


def test_dry_run_changes_nothing(settings: Settings, admin: AdminClient) -> None:
    specs = desired_topics(settings)
    planned = reconcile(settings, dry_run=True, timeout=TIMEOUT_S)
    assert [change.action for change in planned] == [CREATE] * len(specs)
    assert topics_with_prefix(admin, settings.topic_prefix) == set()

    reconcile(settings, timeout=TIMEOUT_S)
    changed = with_spec(specs, settings.catalog_topic, config={"cleanup.policy": "compact,delete"})
    [change] = reconcile(settings, desired=changed, dry_run=True, timeout=TIMEOUT_S)
    assert (change.action, change.key, change.old) == (ALTER_CONFIG, "cleanup.policy", "compact")
    spec = next(s for s in specs if s.name == settings.catalog_topic)
    assert cluster_state(admin, spec)[2]["cleanup.policy"] == "compact"


def test_cli_apply(settings: Settings, admin: AdminClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI builds its Settings from the environment, as in production.
    for field, value in settings.model_dump().items():
        if field.startswith("kafka_") and value is not None:
            secret = getattr(value, "get_secret_value", None)
            monkeypatch.setenv(f"RECORDFLOW_{field.upper()}", str(secret() if secret else value))
    monkeypatch.setenv("RECORDFLOW_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("RECORDFLOW_AGENCIES_FILE", str(settings.agencies_file))
    specs = desired_topics(settings)
    runner = CliRunner()

    dry = runner.invoke(app, ["apply", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert [row["action"] for row in json.loads(dry.stdout)] == [CREATE] * len(specs)
    assert topics_with_prefix(admin, settings.topic_prefix) == set()

    applied = runner.invoke(app, ["apply", "--json"])
    assert applied.exit_code == 0, applied.output
    assert {row["topic"] for row in json.loads(applied.stdout)} == {spec.name for spec in specs}
    assert topics_with_prefix(admin, settings.topic_prefix) == {spec.name for spec in specs}

    again = runner.invoke(app, ["apply"])
    assert again.exit_code == 0, again.output
    assert "nothing to change" in again.stdout
