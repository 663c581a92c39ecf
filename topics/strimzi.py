"""Strimzi's custom resources for what `recordflow topics apply` makes: a KafkaTopic per topic and
a KafkaUser per principal (`recordflow topics render strimzi`, the chart's `strimzi.enabled`).

The topics are `desired_topics()` and the ACLs `desired_acls()`, the reconciler's own desired
state, so a cluster run by Strimzi's Topic and User Operators gets what `topics apply` would give
it. The API is kafka.strimzi.io/v1, which Strimzi 0.49.0 introduced for every custom resource.

Each KafkaUser authenticates with SCRAM-SHA-512 (the User Operator writes its password into a
Secret named as the user, key `password`) and lists its ACLs under simple authorization: the User
Operator then owns that principal's ACLs, and removes any the KafkaUser does not list.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import yaml

from recordflow.agencies import AgencyRegistry
from recordflow.settings import Settings
from topics.acls import AclSpec, Operation, Pattern, Resource, desired_acls
from topics.catalog import TopicSpec, desired_topics

API_VERSION = "kafka.strimzi.io/v1"
CLUSTER_LABEL = "strimzi.io/cluster"
DEFAULT_CLUSTER = "kafka"
# A Kubernetes object's name (a DNS-1123 subdomain), and a namespace's or a Kafka resource's (a
# DNS-1123 label: the operators name Services after the cluster).
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_OBJECT_NAME = 253
LABEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAME_HASH_LENGTH = 8

RESOURCE_TYPES: dict[Resource, str] = {
    "topic": "topic",
    "group": "group",
    "cluster": "cluster",
    "transactional-id": "transactionalId",
}
PATTERN_TYPES: dict[Pattern, str] = {"literal": "literal", "prefixed": "prefix"}
OPERATIONS: dict[Operation, str] = {
    "read": "Read",
    "write": "Write",
    "idempotent-write": "IdempotentWrite",
}


class StrimziError(ValueError):
    """An option that cannot name a Strimzi resource."""


def check_options(cluster: str, namespace: str | None, replication_factor: int | None) -> None:
    if not LABEL_NAME.match(cluster):
        raise StrimziError(f"--cluster {cluster!r} is not a Kafka resource's name (a-z, 0-9, -)")
    if namespace is not None and not LABEL_NAME.match(namespace):
        raise StrimziError(f"--namespace {namespace!r} is not a Kubernetes namespace name")
    if replication_factor is not None and replication_factor < 1:
        raise StrimziError(f"--replication-factor must be at least 1, got {replication_factor}")


def render(
    settings: Settings,
    registry: AgencyRegistry,
    *,
    cluster: str = DEFAULT_CLUSTER,
    namespace: str | None = None,
    replication_factor: int | None = None,
) -> list[dict[str, Any]]:
    """The KafkaTopics, then the KafkaUsers, for the catalog expanded with `registry`."""
    check_options(cluster, namespace, replication_factor)
    topics = desired_topics(settings, registry=registry, replication_factor=replication_factor)
    users = acls_by_user(desired_acls(settings, registry))
    return [
        *(kafka_topic(spec, cluster, namespace) for spec in topics),
        *(kafka_user(name, acls, cluster, namespace) for name, acls in sorted(users.items())),
    ]


def to_yaml(objects: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True)


def kafka_topic(spec: TopicSpec, cluster: str, namespace: str | None) -> dict[str, Any]:
    name = object_name(spec.name)
    body: dict[str, Any] = {"partitions": spec.partitions, "replicas": spec.replication_factor}
    if name != spec.name:
        body = {"topicName": spec.name, **body}
    if spec.config:
        body["config"] = dict(sorted(spec.config.items()))
    return _resource("KafkaTopic", name, cluster, namespace, body)


def kafka_user(
    name: str, acls: Iterable[AclSpec], cluster: str, namespace: str | None
) -> dict[str, Any]:
    if not is_object_name(name):
        # The user's Secret is named after it too, so no other name would do.
        raise StrimziError(f"principal {name!r} is not a Kubernetes name: rename it in Settings")
    body = {
        "authentication": {"type": "scram-sha-512"},
        "authorization": {"type": "simple", "acls": acl_rules(acls)},
    }
    return _resource("KafkaUser", name, cluster, namespace, body)


def acl_rules(acls: Iterable[AclSpec]) -> list[dict[str, Any]]:
    """One rule per resource pattern, its operations together (Read and Write on `recordflow.*`
    are one rule, as a person would write them)."""
    operations: dict[tuple[Resource, str, Pattern], set[Operation]] = defaultdict(set)
    for acl in acls:
        operations[acl.resource, acl.name, acl.pattern].add(acl.operation)
    order = list(OPERATIONS)
    return [
        {
            "resource": _acl_resource(resource, name, pattern),
            "operations": [OPERATIONS[op] for op in sorted(ops, key=order.index)],
        }
        for (resource, name, pattern), ops in sorted(operations.items())
    ]


def _acl_resource(resource: Resource, name: str, pattern: Pattern) -> dict[str, str]:
    if resource == "cluster":  # Strimzi's cluster resource has neither name nor pattern
        return {"type": RESOURCE_TYPES[resource]}
    return {"type": RESOURCE_TYPES[resource], "name": name, "patternType": PATTERN_TYPES[pattern]}


def acls_by_user(acls: Iterable[AclSpec]) -> dict[str, list[AclSpec]]:
    """Each principal's bindings, by the KafkaUser's name (`User:pipeline` → `pipeline`)."""
    users: dict[str, list[AclSpec]] = defaultdict(list)
    for acl in acls:
        users[acl.principal.removeprefix("User:")].append(acl)
    return dict(users)


def object_name(topic: str) -> str:
    """The KafkaTopic's name: the topic's own when Kubernetes allows it; else a lowercase form
    with a hash of the real name (so `A_b` and `a-b` differ), which then goes in `topicName`."""
    if is_object_name(topic):
        return topic
    digest = hashlib.sha256(topic.encode()).hexdigest()[:NAME_HASH_LENGTH]
    readable = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")
    return f"{readable[: MAX_OBJECT_NAME - NAME_HASH_LENGTH - 1]}-{digest}" if readable else digest


def is_object_name(name: str) -> bool:
    return len(name) <= MAX_OBJECT_NAME and OBJECT_NAME.match(name) is not None


def _resource(
    kind: str, name: str, cluster: str, namespace: str | None, spec: dict[str, Any]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = {CLUSTER_LABEL: cluster}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
