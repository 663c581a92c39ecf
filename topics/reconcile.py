"""Reconcile a Kafka cluster with the topic catalog: create, alter configs, add partitions, ACLs.

The diff is pure: `plan(desired, observed)` compares the catalog's TopicSpecs with what the
cluster has and returns a list of Changes, so it is tested without Kafka. `reconcile()` observes
the cluster with confluent-kafka's AdminClient, plans, and (unless `dry_run`) applies the plan.

Nothing here deletes a topic, removes a config or reduces partitions. What the reconciler will
not do on its own (fewer partitions, a partition increase the catalog forbids, a different
replication factor) is reported as a `conflict` for a person to resolve. Only the config keys
a catalog entry names are compared and set; everything else stays at the cluster's defaults.

On a cluster with an authorizer, the ACLs that `topics/acls.py` derives from the agency registry
and the catalog are reconciled too: missing bindings are added (`add-acl`), none is removed. A
cluster without one (the plain local stack, whose broker sets no `authorizer.class.name`) has no
ACLs to plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBindingFilter,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from recordflow.agencies import AgencyRegistry, load_registry
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S, POLL_INTERVAL_S
from topics.acls import AclSpec, any_binding, desired_acls, missing_acls, user
from topics.catalog import TopicSpec, desired_topics

log = logging.getLogger(__name__)

Action = Literal["create", "alter-config", "add-partitions", "add-acl", "conflict"]
CREATE: Action = "create"
ALTER_CONFIG: Action = "alter-config"
ADD_PARTITIONS: Action = "add-partitions"
ADD_ACL: Action = "add-acl"
AUTHORIZER_CONFIG = "authorizer.class.name"
CONFLICT: Action = "conflict"
PRODUCTION_REPLICATION_FACTOR = 3


class ReconcileError(Exception):
    """The cluster could not be observed or changed."""


class KafkaUnavailable(ReconcileError):
    """No broker answered."""


@dataclass(frozen=True)
class ObservedTopic:
    """A topic as the cluster has it: only the config keys asked about."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


@dataclass(frozen=True)
class Change:
    """One line of the plan. `old`/`new` are set for alter-config, add-partitions and conflicts."""

    action: Action
    topic: str
    detail: str
    key: str | None = None
    old: str | int | None = None
    new: str | int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "topic": self.topic,
            "detail": self.detail,
            "key": self.key,
            "old": self.old,
            "new": self.new,
        }


# --- the diff ------------------------------------------------------------------------------


def plan(desired: Iterable[TopicSpec], observed: Mapping[str, ObservedTopic]) -> list[Change]:
    """The changes that bring `observed` to `desired`. Topics only in `observed` are left alone."""
    changes: list[Change] = []
    for spec in desired:
        current = observed.get(spec.name)
        if current is None:
            changes.append(_create(spec))
        else:
            changes.extend(_diff(spec, current))
    return changes


def _create(spec: TopicSpec) -> Change:
    settings = " ".join(f"{key}={value}" for key, value in sorted(spec.config.items()))
    return Change(
        CREATE,
        spec.name,
        f"partitions={spec.partitions} replication_factor={spec.replication_factor} {settings}",
    )


def _diff(spec: TopicSpec, current: ObservedTopic) -> list[Change]:
    changes = []
    for key, value in sorted(spec.config.items()):
        old = current.config.get(key)
        if old is None or _normalize(old) != _normalize(value):
            shown = "(unset)" if old is None else old
            changes.append(
                Change(ALTER_CONFIG, spec.name, f"{key}: {shown} → {value}", key, old, value)
            )
    changes.extend(_partition_changes(spec, current))
    if current.replication_factor != spec.replication_factor:
        changes.append(
            Change(
                CONFLICT,
                spec.name,
                f"replication factor is {current.replication_factor}, wanted "
                f"{spec.replication_factor}: reassign replicas by hand (kafka-reassign-partitions)",
                "replication_factor",
                current.replication_factor,
                spec.replication_factor,
            )
        )
    return changes


def _partition_changes(spec: TopicSpec, current: ObservedTopic) -> list[Change]:
    old, new = current.partitions, spec.partitions
    if new == old:
        return []
    if new < old:
        reason = "Kafka cannot reduce partitions; left as is"
    elif not spec.allow_partition_increase:
        reason = "the catalog forbids adding partitions here (keys would move); left as is"
    else:
        return [
            Change(ADD_PARTITIONS, spec.name, f"partitions: {old} → {new}", "partitions", old, new)
        ]
    detail = f"partitions: cluster has {old}, wanted {new}: {reason}"
    return [Change(CONFLICT, spec.name, detail, "partitions", old, new)]


def plan_acls(desired: Iterable[AclSpec], observed: Iterable[AclSpec]) -> list[Change]:
    """An `add-acl` change (topic: the resource's name) for each binding the cluster lacks."""
    return [
        Change(ADD_ACL, spec.name, spec.describe(), spec.operation, None, spec.principal)
        for spec in missing_acls(desired, observed)
    ]


def _normalize(value: str) -> str:
    """List-valued configs come back as `a,b`; the catalog may write `a, b`."""
    return ",".join(part.strip() for part in value.split(","))


# --- the cluster ---------------------------------------------------------------------------


def admin_client(settings: Settings) -> AdminClient:
    # A Python logger keeps librdkafka's connection errors off stderr; the caller reports them.
    return AdminClient(
        {**settings.kafka_config(), "client.id": f"{settings.app_id}-topics"}, logger=log
    )


def allowed_replication_factor(admin: AdminClient, *, timeout: float = KAFKA_TIMEOUT_S) -> int:
    """Production's replication factor, 3, or every broker of a smaller cluster: 1 on the local
    stack, 3 on the replicated profile (`stack up --brokers 3`). More replicas than brokers
    cannot be placed, and Kafka refuses such a topic."""
    try:
        brokers = admin.list_topics(timeout=timeout).brokers
    except KafkaException as exc:
        raise KafkaUnavailable(f"cannot reach Kafka: {_message(exc)}") from exc
    return max(1, min(PRODUCTION_REPLICATION_FACTOR, len(brokers)))


def observe(
    admin: AdminClient, specs: Sequence[TopicSpec], *, timeout: float = KAFKA_TIMEOUT_S
) -> dict[str, ObservedTopic]:
    """The cluster's state of the topics in `specs` that exist, with the config keys they name."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(f"cannot reach Kafka: {_message(exc)}") from exc
    present = [spec for spec in specs if spec.name in metadata.topics]
    if not present:
        return {}
    resources = {spec.name: ConfigResource(ResourceType.TOPIC, spec.name) for spec in present}
    futures = admin.describe_configs(list(resources.values()), request_timeout=timeout)
    observed = {}
    for spec in present:
        entries = _result(futures[resources[spec.name]], f"describe configs of {spec.name}")
        partitions = metadata.topics[spec.name].partitions
        replicas = {len(partition.replicas) for partition in partitions.values()}
        observed[spec.name] = ObservedTopic(
            name=spec.name,
            partitions=len(partitions),
            replication_factor=max(replicas, default=0),
            config={
                key: entries[key].value
                for key in spec.config
                if key in entries and entries[key].value is not None
            },
        )
    return observed


def has_authorizer(admin: AdminClient, *, timeout: float = KAFKA_TIMEOUT_S) -> bool:
    """Whether the brokers enforce ACLs. (A broker without an authorizer answers DescribeAcls
    with no bindings rather than an error, so the broker's config is what tells.)"""
    try:
        nodes = admin.describe_cluster(request_timeout=timeout).result().nodes
        resource = ConfigResource(ResourceType.BROKER, str(nodes[0].id))
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result()
    except KafkaException as exc:
        raise ReconcileError(f"describe the broker's config: {_message(exc)}") from exc
    entry = entries.get(AUTHORIZER_CONFIG)
    return bool(entry is not None and entry.value)


def observe_acls(admin: AdminClient, *, timeout: float = KAFKA_TIMEOUT_S) -> list[AclSpec]:
    """The cluster's ALLOW bindings for any host (those the reconciler could have made)."""
    try:
        bindings = admin.describe_acls(any_binding(), request_timeout=timeout).result()
    except KafkaException as exc:
        raise ReconcileError(f"describe ACLs: {_message(exc)}") from exc
    return [spec for binding in bindings if (spec := AclSpec.from_binding(binding)) is not None]


def apply_acls(
    admin: AdminClient, missing: Sequence[AclSpec], *, timeout: float = KAFKA_TIMEOUT_S
) -> None:
    if not missing:
        return
    futures = admin.create_acls([spec.binding() for spec in missing], request_timeout=timeout)
    for binding, future in futures.items():
        _result(future, f"add ACL {binding}")


def revoke_writes(admin: AdminClient, principal: str, *,
                  timeout: float = KAFKA_TIMEOUT_S) -> list[AclSpec]:  # fmt: skip
    """Delete `principal`'s WRITE and IDEMPOTENT_WRITE bindings (an offboarded agency's), keeping
    what it may read (its receipts). The reconciler never deletes; offboarding does, by name."""
    revoked = [
        spec
        for spec in observe_acls(admin, timeout=timeout)
        if spec.principal == user(principal) and spec.operation in ("write", "idempotent-write")
    ]
    if revoked:
        filters = [AclBindingFilter(*spec.binding_fields()) for spec in revoked]
        for binding, future in admin.delete_acls(filters, request_timeout=timeout).items():
            _result(future, f"remove ACL {binding}")
    return revoked


def apply(
    admin: AdminClient,
    specs: Sequence[TopicSpec],
    changes: Sequence[Change],
    *,
    timeout: float = KAFKA_TIMEOUT_S,
) -> None:
    """Carry out the create, alter-config and add-partitions changes; conflicts are not acted on."""
    by_name = {spec.name: spec for spec in specs}
    creates = [by_name[change.topic] for change in changes if change.action == CREATE]
    if creates:
        new_topics = [
            NewTopic(spec.name, spec.partitions, spec.replication_factor, config=dict(spec.config))
            for spec in creates
        ]
        futures = admin.create_topics(
            new_topics, operation_timeout=timeout, request_timeout=timeout
        )
        for name, future in futures.items():
            _result(future, f"create {name}", tolerate=KafkaError.TOPIC_ALREADY_EXISTS)

    alters: dict[str, list[ConfigEntry]] = {}
    for change in changes:
        if change.action == ALTER_CONFIG and change.key is not None:
            entry = ConfigEntry(
                change.key, str(change.new), incremental_operation=AlterConfigOpType.SET
            )
            alters.setdefault(change.topic, []).append(entry)
    if alters:
        resources = [
            ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
            for name, entries in alters.items()
        ]
        config_futures = admin.incremental_alter_configs(resources, request_timeout=timeout)
        for resource, future in config_futures.items():
            _result(future, f"alter configs of {resource.name}")

    additions = [
        NewPartitions(change.topic, int(change.new))
        for change in changes
        if change.action == ADD_PARTITIONS and change.new is not None
    ]
    if additions:
        futures = admin.create_partitions(
            additions, operation_timeout=timeout, request_timeout=timeout
        )
        for name, future in futures.items():
            _result(future, f"add partitions to {name}")


def reconcile(
    settings: Settings,
    *,
    desired: Sequence[TopicSpec] | None = None,
    registry: AgencyRegistry | None = None,
    dry_run: bool = False,
    replication_factor: int | None = None,
    timeout: float = KAFKA_TIMEOUT_S,
    admin: AdminClient | None = None,
) -> list[Change]:
    """Bring the cluster in line with the catalog; return the plan applied (or, dry, to apply).

    Without a `replication_factor`, topics get the most replicas the cluster allows, up to
    production's 3 (allowed_replication_factor()).

    `desired` defaults to the packaged catalog expanded for `settings` and `registry` (the
    agencies' topics and ACLs; the installed agencies.yaml when None: a caller that knows the
    live registry, connectors/agency_registry.py, passes it). With `dry_run` nothing is
    changed. After applying, waits until the cluster reports the new state, so that a second
    reconcile right after plans nothing.
    """
    admin = admin or admin_client(settings)
    if desired is None and replication_factor is None:
        replication_factor = allowed_replication_factor(admin, timeout=timeout)
    specs = (
        list(desired)
        if desired is not None
        else desired_topics(settings, registry=registry, replication_factor=replication_factor)
    )
    registry = registry or load_registry(settings.agencies_file)
    changes = plan(specs, observe(admin, specs, timeout=timeout))
    acls: list[AclSpec] = []
    observed_acls: list[AclSpec] = []
    if has_authorizer(admin, timeout=timeout):
        acls = desired_acls(settings, registry)
        observed_acls = observe_acls(admin, timeout=timeout)
    missing = missing_acls(acls, observed_acls)
    changes += plan_acls(acls, observed_acls)
    if dry_run or not any(change.action != CONFLICT for change in changes):
        return changes
    apply(admin, specs, changes, timeout=timeout)
    apply_acls(admin, missing, timeout=timeout)
    touched = {change.topic for change in changes if change.action not in (CONFLICT, ADD_ACL)}
    _await_converged(admin, [spec for spec in specs if spec.name in touched], timeout=timeout)
    _await_acls(admin, acls if missing else [], timeout=timeout)
    return changes


def _await_converged(admin: AdminClient, specs: Sequence[TopicSpec], *, timeout: float) -> None:
    """Metadata and configs reach the broker a moment after the controller accepts a change."""
    deadline = time.monotonic() + timeout
    while True:
        pending = [
            c for c in plan(specs, observe(admin, specs, timeout=timeout)) if c.action != CONFLICT
        ]
        if not pending:
            return
        if time.monotonic() >= deadline:
            lines = "; ".join(f"{change.topic} {change.detail}" for change in pending)
            raise ReconcileError(
                f"cluster did not reach the catalog's state in {timeout:g}s: {lines}"
            )
        time.sleep(POLL_INTERVAL_S)


def _await_acls(admin: AdminClient, desired: Sequence[AclSpec], *, timeout: float) -> None:
    """The broker's authorizer learns new bindings from the metadata log a moment later."""
    deadline = time.monotonic() + timeout
    while desired:
        missing = missing_acls(desired, observe_acls(admin, timeout=timeout))
        if not missing:
            return
        if time.monotonic() >= deadline:
            lines = "; ".join(spec.describe() for spec in missing)
            raise ReconcileError(f"ACLs not in place after {timeout:g}s: {lines}")
        time.sleep(POLL_INTERVAL_S)


def _result(future: Future[Any], what: str, *, tolerate: int | None = None) -> Any:
    try:
        return future.result()
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if tolerate is not None and isinstance(error, KafkaError) and error.code() == tolerate:
            return None
        raise ReconcileError(f"{what}: {_message(exc)}") from exc


def _message(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)
