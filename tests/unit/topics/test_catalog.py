"""The topic catalog as data: every file parses, templates expand, names get the prefix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from recordflow.agencies import AGENCY_CODE, load_registry
from recordflow.settings import Settings
from topics.catalog import (
    CATALOG_DIR,
    SCHEMA_RESOURCE,
    Catalog,
    CatalogError,
    SchemaVersion,
    TopicDefinition,
    UnknownTopic,
    desired_topics,
    load_catalog,
    value_schema_for,
)

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "avro_schemas"
CATALOG_FILES = sorted(CATALOG_DIR.glob("*.yaml"))

# docs/design.md, "Topics" and "Schemas": which record type each topic carries.
EXPECTED_RECORD_TYPES = {
    "ingest.{agency}.lifecycle.v1": "document_lifecycle_event",
    "receipts.{agency}.v1": "archival_receipt",
    "records.archival-ready.v1": "archival_record",
    "records.catalog.v1": "archival_record",
    "records.deadletter.v1": "dead_letter",
    "records.retention-review.v1": "retention_review",
    "records.preservation-alert.v1": "preservation_alert",
    "records.verify-runs.v1": "verify_run",
    "recordflow.register.v1": "document_lifecycle_event",
    "recordflow.item-numbers.changelog": None,
    "recordflow.lifecycle-history.changelog": None,
    "recordflow.deadletter-replays.v1": None,  # JSON, connectors/deadletters.py only
    "recordflow.agencies.v1": None,  # JSON, connectors/agency_registry.py only
    "recordflow.gateway-credentials.v1": None,  # JSON, connectors/gateway/credentials.py only
    "recordflow.audit.v1": "audit_event",
    "recordflow.console-users.v1": None,  # JSON, connectors/console/users.py only
    "records.access-decisions.v1": None,  # JSON, connectors/access_decisions.py only
}


def raw(name: str) -> dict:
    with (CATALOG_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def copy_catalog(tmp_path: Path) -> Path:
    directory = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    return directory


def rewrite(directory: Path, name: str, **changes: object) -> None:
    path = directory / f"{name}.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda path: path.name)
def test_every_file_parses(path: Path) -> None:
    definition = TopicDefinition.model_validate(yaml.safe_load(path.read_text("utf-8")))
    assert path.stem == definition.topic.replace("{agency}", "agency")
    assert all(isinstance(value, str) for value in definition.topic_creation_config.values())


def test_catalog_holds_the_design_topics() -> None:
    catalog = load_catalog()
    assert {definition.topic for definition in catalog.topics} == set(EXPECTED_RECORD_TYPES)
    assert len(catalog.topics) == len(CATALOG_FILES)


def test_names_match_settings() -> None:
    settings = Settings(topic_prefix="")
    names = {spec.name for spec in desired_topics(settings)}
    registry = load_registry(settings.agencies_file)
    assert names == {
        settings.archival_ready_topic,
        settings.catalog_topic,
        settings.deadletter_topic,
        settings.review_topic,
        settings.preservation_alert_topic,
        settings.verify_runs_topic,
        settings.register_topic,
        settings.item_numbers_changelog_topic,
        settings.lifecycle_history_changelog_topic,
        settings.topic("recordflow.deadletter-replays.v1"),
        settings.agencies_topic,
        settings.gateway_credentials_topic,
        settings.audit_topic,
        settings.console_users_topic,
        settings.access_decisions_topic,
        *(settings.ingest_topic(agency.code) for agency in registry.agencies),
        *(settings.receipts_topic(agency.code) for agency in registry.agencies),
    }


def test_template_expands_once_per_agency() -> None:
    settings = Settings(topic_prefix="")
    registry = load_registry(settings.agencies_file)
    ingest = [
        spec for spec in desired_topics(settings) if spec.source == "ingest.{agency}.lifecycle.v1"
    ]
    assert [spec.agency for spec in ingest] == [agency.code for agency in registry.agencies]
    for spec in ingest:
        assert spec.name == settings.ingest_topic(spec.agency or "")
        assert spec.partitions == 3
        assert spec.config == {
            "cleanup.policy": "delete",
            "retention.ms": str(7 * 24 * 3600 * 1000),
        }
        assert spec.value_schema == "document_lifecycle_event/v6.avsc"


def test_template_expands_for_a_smaller_registry() -> None:
    settings = Settings()
    registry = load_registry(settings.agencies_file)
    one = registry.model_copy(update={"agencies": registry.agencies[:1]})
    expanded = [spec.name for spec in desired_topics(settings, registry=one) if spec.agency]
    code = registry.agencies[0].code
    assert sorted(expanded) == [f"ingest.{code}.lifecycle.v1", f"receipts.{code}.v1"]


def test_receipts_topics_keep_every_outcome_a_week_and_the_latest_for_good() -> None:
    settings = Settings(topic_prefix="t1.")
    registry = load_registry(settings.agencies_file)
    receipts = [spec for spec in desired_topics(settings) if spec.source == "receipts.{agency}.v1"]
    assert [spec.name for spec in receipts] == [
        settings.receipts_topic(agency.code) for agency in registry.agencies
    ]
    for spec in receipts:
        assert spec.config == {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": str(7 * 24 * 3600 * 1000),
        }
        assert spec.value_schema == "archival_receipt/v1.avsc"


def test_prefix_applied_to_every_name() -> None:
    plain = desired_topics(Settings(topic_prefix=""))
    prefixed = desired_topics(Settings(topic_prefix="t1234abcd."))
    assert [spec.name for spec in prefixed] == [f"t1234abcd.{spec.name}" for spec in plain]
    assert len({spec.name for spec in prefixed}) == len(prefixed)


def test_invalid_prefix_rejected() -> None:
    with pytest.raises(CatalogError, match="invalid Kafka topic name"):
        desired_topics(Settings(topic_prefix="bad prefix/"))


def test_topic_properties() -> None:
    specs = {spec.name: spec for spec in desired_topics(Settings())}
    catalog = specs["records.catalog.v1"]
    assert catalog.config["cleanup.policy"] == "compact"
    assert catalog.partitions == 6
    assert not catalog.allow_partition_increase
    changelog = specs["recordflow.item-numbers.changelog"]
    assert changelog.config["cleanup.policy"] == "compact"
    assert changelog.value_schema is None
    assert specs["records.archival-ready.v1"].partitions == 6
    assert specs["records.deadletter.v1"].config["retention.ms"] == str(90 * 24 * 3600 * 1000)
    alerts = specs["records.preservation-alert.v1"]
    assert alerts.config == {"cleanup.policy": "delete", "retention.ms": "-1"}  # kept forever
    assert all(spec.replication_factor == 1 for spec in specs.values())


def test_replay_ledger_is_compacted_and_keeps_its_keys_in_place() -> None:
    ledger = {spec.name: spec for spec in desired_topics(Settings())}[
        "recordflow.deadletter-replays.v1"
    ]
    assert ledger.config == {"cleanup.policy": "compact"}  # kept for good, latest per letter
    assert not ledger.allow_partition_increase and ledger.value_schema is None


def test_changelog_partitions_equal_register_partitions() -> None:
    specs = {spec.name: spec for spec in desired_topics(Settings())}
    register = specs["recordflow.register.v1"]
    assert specs["recordflow.item-numbers.changelog"].partitions == register.partitions


@pytest.mark.parametrize("name", ["recordflow.item-numbers.changelog", "recordflow.register.v1"])
def test_copartition_mismatch_rejected(tmp_path: Path, name: str) -> None:
    directory = copy_catalog(tmp_path)
    rewrite(directory, name, partitions=raw(name)["partitions"] + 1)
    with pytest.raises(
        CatalogError, match=re.escape("must have as many as recordflow.register.v1")
    ):
        load_catalog(directory)


def test_copartition_with_unknown_topic_rejected() -> None:
    changelog = TopicDefinition.model_validate(raw("recordflow.item-numbers.changelog"))
    with pytest.raises(ValidationError, match="co-partitioned with unknown"):
        Catalog(topics=[changelog])


def test_duplicate_topics_rejected() -> None:
    definition = TopicDefinition.model_validate(raw("records.catalog.v1"))
    with pytest.raises(ValidationError, match="duplicate topics"):
        Catalog(topics=[definition, definition])


def test_file_name_must_match_topic(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    (directory / "records.catalog.v1.yaml").rename(directory / "catalog.yaml")
    with pytest.raises(CatalogError, match=re.escape("name it records.catalog.v1.yaml")):
        load_catalog(directory)


def test_config_values_must_be_strings() -> None:
    data = raw("records.deadletter.v1")
    data["topic_creation_config"]["retention.ms"] = 7776000000
    with pytest.raises(ValidationError, match="string"):
        TopicDefinition.model_validate(data)


def test_unknown_fields_rejected() -> None:
    with pytest.raises(ValidationError, match="retention"):
        TopicDefinition.model_validate({**raw("records.catalog.v1"), "retention": "7d"})


def test_min_insync_replicas_not_above_replication_factor() -> None:
    data = raw("records.catalog.v1")
    data["topic_creation_config"]["min.insync.replicas"] = "2"
    with pytest.raises(ValidationError, match=re.escape("min.insync.replicas=2")):
        TopicDefinition.model_validate(data)
    data["replication_factor"] = 3
    assert TopicDefinition.model_validate(data).topic_creation_config["min.insync.replicas"] == "2"


def test_replication_factor_override() -> None:
    specs = desired_topics(Settings(), replication_factor=3)
    assert {spec.replication_factor for spec in specs} == {3}
    with pytest.raises(CatalogError):
        desired_topics(Settings(), replication_factor=0)


def test_override_checks_min_insync_replicas() -> None:
    data = raw("records.catalog.v1")
    data["replication_factor"] = 3
    data["topic_creation_config"]["min.insync.replicas"] = "2"
    catalog = Catalog(topics=[TopicDefinition.model_validate(data)])
    with pytest.raises(CatalogError, match=re.escape("min.insync.replicas=2")):
        desired_topics(Settings(), catalog=catalog, replication_factor=1)


# --- schema resources ----------------------------------------------------------------------


@pytest.mark.parametrize("definition", load_catalog().topics, ids=lambda d: d.topic)
def test_schema_resources_named_consistently(definition: TopicDefinition) -> None:
    expected = EXPECTED_RECORD_TYPES[definition.topic]
    if expected is None:
        assert definition.schemas == []
        return
    assert [schema.version for schema in definition.schemas] == list(
        range(1, len(definition.schemas) + 1)
    )
    for schema in definition.schemas:
        match = SCHEMA_RESOURCE.match(schema.resource)
        assert match is not None
        assert match["record_type"] == expected
        assert int(match["version"]) == schema.version
        assert (SCHEMA_DIR / schema.resource).is_file(), f"missing avro_schemas/{schema.resource}"


def test_schema_version_must_match_resource() -> None:
    with pytest.raises(ValidationError, match="names resource"):
        SchemaVersion(
            version=2,
            type="avro",
            compatibility_mode="backward_transitive",
            resource="dead_letter/v1.avsc",
        )


def test_schema_versions_must_be_contiguous() -> None:
    data = raw("records.deadletter.v1")
    data["schemas"].append({**data["schemas"][0], "version": 3, "resource": "dead_letter/v3.avsc"})
    with pytest.raises(ValidationError, match="1, 2"):
        TopicDefinition.model_validate(data)


def test_schema_versions_must_name_one_record_type() -> None:
    data = raw("records.deadletter.v1")
    data["schemas"].append(
        {**data["schemas"][0], "version": 2, "resource": "archival_record/v2.avsc"}
    )
    with pytest.raises(ValidationError, match="different record types"):
        TopicDefinition.model_validate(data)


def test_value_schema_for() -> None:
    assert value_schema_for("records.catalog.v1") == "archival_record/v7.avsc"
    assert value_schema_for("recordflow.register.v1") == "document_lifecycle_event/v6.avsc"
    assert value_schema_for("records.retention-review.v1") == "retention_review/v3.avsc"
    assert value_schema_for("t1.records.deadletter.v1", topic_prefix="t1.") == "dead_letter/v1.avsc"
    assert value_schema_for("recordflow.item-numbers.changelog") is None
    with pytest.raises(UnknownTopic):
        value_schema_for("records.unknown.v1")
    with pytest.raises(UnknownTopic):
        value_schema_for("records.catalog.v1", topic_prefix="t1.")
    with pytest.raises(UnknownTopic):
        value_schema_for("ingest.BAD.lifecycle.v1")


@given(code=st.from_regex(AGENCY_CODE, fullmatch=True))
def test_value_schema_for_any_agency_ingest_topic(code: str) -> None:
    settings = Settings(topic_prefix="p.")
    resource = value_schema_for(settings.ingest_topic(code), topic_prefix=settings.topic_prefix)
    assert resource == "document_lifecycle_event/v6.avsc"
