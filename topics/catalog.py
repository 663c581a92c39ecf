"""The topic catalog: one YAML file per topic in `topics/catalog/`, loaded, validated and expanded.

A file follows the shape sentry-kafka-schemas uses (topic, description, producers, consumers,
schemas, topic_creation_config) plus the partition count and replication factor. A topic named
with `{agency}` is a template, expanded once per agency in the agency registry. Every name gets
`settings.topic_prefix`, so tests can run side by side on one cluster.

`desired_topics()` is what the reconciler applies; `value_schema_for()` tells the codec which
schema resource (under `avro_schemas/`) a topic's values are written with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recordflow.agencies import AGENCY_CODE, AgencyRegistry, load_registry
from recordflow.settings import Settings

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
AGENCY_PLACEHOLDER = "{agency}"
# Kafka's legal topic characters; a template may also hold the one placeholder.
TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
TOPIC_TEMPLATE = re.compile(r"^[a-zA-Z0-9._-]*(\{agency\}[a-zA-Z0-9._-]*)?$")
MAX_TOPIC_NAME_LENGTH = 249
SCHEMA_RESOURCE = re.compile(r"^(?P<record_type>[a-z][a-z0-9_]*)/v(?P<version>[1-9][0-9]*)\.avsc$")
MIN_INSYNC_REPLICAS = "min.insync.replicas"


class CatalogError(ValueError):
    """The catalog (or a name derived from it) is invalid."""


class UnknownTopic(LookupError):
    """A topic name that no catalog entry describes."""


class SchemaVersion(BaseModel):
    """One version of a topic's value schema; `resource` is relative to `avro_schemas/`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    type: Literal["avro"]
    compatibility_mode: Literal["backward_transitive"]
    resource: str = Field(pattern=SCHEMA_RESOURCE.pattern)

    @model_validator(mode="after")
    def _resource_names_version(self) -> SchemaVersion:
        if self.resource_version != self.version:
            raise ValueError(f"schema version {self.version} names resource {self.resource}")
        return self

    @property
    def record_type(self) -> str:
        """The schema's folder in `avro_schemas/`, e.g. `document_lifecycle_event`."""
        return self.resource.split("/", 1)[0]

    @property
    def resource_version(self) -> int:
        match = SCHEMA_RESOURCE.match(self.resource)
        assert match is not None  # the field pattern guarantees it
        return int(match["version"])


class TopicDefinition(BaseModel):
    """One catalog file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(pattern=TOPIC_TEMPLATE.pattern, max_length=MAX_TOPIC_NAME_LENGTH)
    description: str = Field(min_length=1)
    key: str = Field(min_length=1)
    producers: list[str] = Field(min_length=1)
    consumers: list[str] = Field(min_length=1)
    schemas: list[SchemaVersion]
    topic_creation_config: dict[str, str]
    partitions: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    # False where new partitions would move keys away from their state (compacted topics,
    # co-partitioned tables); the reconciler then reports a conflict instead of adding them.
    allow_partition_increase: bool = True
    # Another catalog topic that must have the same partition count (a faust table's changelog
    # and the stream that updates the table).
    copartitioned_with: str | None = None

    @field_validator("schemas")
    @classmethod
    def _contiguous(cls, schemas: list[SchemaVersion]) -> list[SchemaVersion]:
        versions = [schema.version for schema in schemas]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"schema versions must be 1, 2, … in order, got {versions}")
        record_types = sorted({schema.record_type for schema in schemas})
        if len(record_types) > 1:
            raise ValueError(f"schema versions name different record types: {record_types}")
        return schemas

    @model_validator(mode="after")
    def _min_insync_within_replication(self) -> TopicDefinition:
        check_min_insync(self.topic, self.topic_creation_config, self.replication_factor)
        return self

    @property
    def is_template(self) -> bool:
        return AGENCY_PLACEHOLDER in self.topic

    @property
    def value_schema(self) -> SchemaVersion | None:
        """The latest schema version, the one producers write with."""
        return self.schemas[-1] if self.schemas else None

    def matches(self, name: str) -> bool:
        """Whether an unprefixed topic name is this entry (or an expansion of this template)."""
        if not self.is_template:
            return name == self.topic
        before, after = self.topic.split(AGENCY_PLACEHOLDER)
        pattern = re.escape(before) + AGENCY_CODE.pattern.strip("^$") + re.escape(after)
        return re.fullmatch(pattern, name) is not None


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    topics: list[TopicDefinition]

    @field_validator("topics")
    @classmethod
    def _consistent(cls, topics: list[TopicDefinition]) -> list[TopicDefinition]:
        names = [definition.topic for definition in topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate topics: {', '.join(duplicates)}")
        by_name = dict(zip(names, topics, strict=True))
        for definition in topics:
            partner_name = definition.copartitioned_with
            if partner_name is None:
                continue
            partner = by_name.get(partner_name)
            if partner is None:
                raise ValueError(
                    f"{definition.topic} is co-partitioned with unknown {partner_name}"
                )
            if partner.partitions != definition.partitions:
                raise ValueError(
                    f"{definition.topic} has {definition.partitions} partitions but must have as "
                    f"many as {partner_name} ({partner.partitions})"
                )
        return topics

    def find(self, name: str) -> TopicDefinition:
        """The entry for an unprefixed topic name (a template entry for an ingest topic)."""
        for definition in self.topics:
            if definition.matches(name):
                return definition
        raise UnknownTopic(f"no catalog entry for topic {name!r}")


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it should exist on the cluster: the reconciler's desired state."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    schemas: tuple[SchemaVersion, ...] = ()
    source: str = ""  # the catalog entry's topic, e.g. "ingest.{agency}.lifecycle.v1"
    agency: str | None = None
    allow_partition_increase: bool = True
    description: str = field(default="", compare=False)

    @property
    def value_schema(self) -> str | None:
        """The latest schema resource (under `avro_schemas/`), or None for a schemaless topic."""
        return self.schemas[-1].resource if self.schemas else None


def check_min_insync(topic: str, config: dict[str, str], replication_factor: int) -> None:
    """min.insync.replicas above the replication factor makes every acks=all write fail."""
    value = config.get(MIN_INSYNC_REPLICAS)
    if value is None:
        return
    if not value.isdigit() or not 1 <= int(value) <= replication_factor:
        raise CatalogError(
            f"{topic}: {MIN_INSYNC_REPLICAS}={value} must be between 1 and the replication "
            f"factor ({replication_factor})"
        )


def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    """Parse and validate every `*.yaml` in the catalog folder."""
    definitions = []
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise CatalogError(f"no topic files in {directory}")
    for path in paths:
        try:
            with path.open(encoding="utf-8") as handle:
                definition = TopicDefinition.model_validate(yaml.safe_load(handle))
        except (ValidationError, CatalogError, yaml.YAMLError) as exc:
            raise CatalogError(f"{path.name}: {exc}") from exc
        expected = definition.topic.replace(AGENCY_PLACEHOLDER, "agency")
        if path.stem != expected:
            raise CatalogError(f"{path.name} describes {definition.topic}; name it {expected}.yaml")
        definitions.append(definition)
    try:
        return Catalog(topics=definitions)
    except ValidationError as exc:
        raise CatalogError(str(exc)) from exc


@cache
def default_catalog() -> Catalog:
    """The catalog shipped with the package, loaded once."""
    return load_catalog()


def desired_topics(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    registry: AgencyRegistry | None = None,
    replication_factor: int | None = None,
) -> list[TopicSpec]:
    """Every topic the cluster should have: templates expanded per agency, names prefixed.

    `replication_factor`, when given, replaces the catalog's (1, for the single-node local
    stack) on every topic, e.g. 3 on a production cluster.
    """
    catalog = catalog or default_catalog()
    if registry is None:
        registry = load_registry(settings.agencies_file)
    if replication_factor is not None and replication_factor < 1:
        raise CatalogError(f"replication factor must be at least 1, got {replication_factor}")
    specs: list[TopicSpec] = []
    for definition in catalog.topics:
        agencies: list[str | None] = (
            [agency.code for agency in registry.agencies] if definition.is_template else [None]
        )
        for agency in agencies:
            unprefixed = definition.topic.replace(AGENCY_PLACEHOLDER, agency or "")
            specs.append(_spec(settings, definition, unprefixed, agency, replication_factor))
    return specs


def _spec(
    settings: Settings,
    definition: TopicDefinition,
    unprefixed: str,
    agency: str | None,
    replication_factor: int | None,
) -> TopicSpec:
    name = settings.topic(unprefixed)
    if not TOPIC_NAME.match(name) or len(name) > MAX_TOPIC_NAME_LENGTH:
        raise CatalogError(f"invalid Kafka topic name {name!r} (check RECORDFLOW_TOPIC_PREFIX)")
    factor = replication_factor or definition.replication_factor
    check_min_insync(name, definition.topic_creation_config, factor)
    return TopicSpec(
        name=name,
        partitions=definition.partitions,
        replication_factor=factor,
        config=dict(definition.topic_creation_config),
        schemas=tuple(definition.schemas),
        source=definition.topic,
        agency=agency,
        allow_partition_increase=definition.allow_partition_increase,
        description=definition.description,
    )


def value_schema_for(
    topic_name: str, *, topic_prefix: str = "", catalog: Catalog | None = None
) -> str | None:
    """The latest value-schema resource for a topic, e.g. `document_lifecycle_event/v1.avsc`.

    `topic_name` is the name on the cluster, with `topic_prefix` (`settings.topic_prefix`) in
    front. None for a catalog topic without an Avro schema (a faust changelog); UnknownTopic for
    a name the catalog does not describe.
    """
    if not topic_name.startswith(topic_prefix):
        raise UnknownTopic(f"topic {topic_name!r} does not start with prefix {topic_prefix!r}")
    definition = (catalog or default_catalog()).find(topic_name[len(topic_prefix) :])
    schema = definition.value_schema
    return schema.resource if schema else None
