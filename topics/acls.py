"""Kafka ACLs derived from the agency registry and the topic catalog (docs/design.md, "Topics").

`desired_acls(settings, registry)` is pure: the ALLOW bindings each principal needs, and nothing
more. With StandardAuthorizer and `allow.everyone.if.no.acl.found=false`, everything else is
denied, so the list below is the whole access policy:

    agency-<code>  WRITE ingest.<code>.lifecycle.v1 (literal); IDEMPOTENT_WRITE on the cluster
                   (the SDK's producer is idempotent); READ receipts.<code>.v1 (literal: its
                   own receipts only) and consumer groups receipts.<code>.* (prefixed: an agency
                   system resumes its receipts where it stopped); READ recordflow.agencies.v1
                   (literal: the SDK finds an agency onboarded since installation) and reader
                   groups readers.*. Offboarded (connectors/onboarding.py), it keeps the reads
                   and loses the writes.
    pipeline       READ every ingest topic (literal, one per agency); READ and WRITE recordflow.*
                   (prefixed: intake → register, the tables' changelogs); WRITE records.*
                   (prefixed: archival-ready, catalog, dead letters, review, and the
                   preservation alerts and verify runs of `recordflow verify`); WRITE
                   receipts.* (prefixed: every outcome, told to its agency); READ its
                   consumer group (literal: faust's group is the app id); WRITE the transactional
                   ids <group>.register.* (prefixed: one producer per register partition) and
                   READ records.catalog.v1 (literal: did a redelivered record get published?)
    pipeline, subscriber, archivist, gateway, lookup
                   READ consumer groups readers.* (prefixed: a reader that assigns partitions and
                   never commits still needs a group id; Settings.reader_group)
    subscriber     READ records.archival-ready.v1 and records.catalog.v1 (literal); READ consumer
                   groups named subscriber.* (prefixed: one group per downstream system)
    archivist      archive staff's tools (connectors/review.py, connectors/deadletters.py): READ
                   the catalog, archival-ready, review, dead-letter and replay-ledger topics;
                   WRITE the review, register and catalog topics (a decision and what it sends
                   on), the replay ledger and every topic a dead letter can be replayed to (the
                   ingest topics, the register topic); WRITE the transactional ids
                   <group>.review.* and <group>.deadletter-replay.* (prefixed: one per item or
                   letter); WRITE receipts.* (prefixed: a decision's receipt is in its
                   transaction); READ recordflow.agencies.v1 (literal: a decision checks the
                   agency is registered); IDEMPOTENT_WRITE on the cluster. The web console
                   (`recordflow console`) is archive staff's tool and runs as this principal
                   too: it also READs and WRITEs recordflow.audit.v1 (its audit trail, which
                   it keeps a searchable copy of) and READs recordflow.console-users.v1 (its
                   accounts; only the admin writes them, by `console users add / disable`),
                   records.preservation-alert.v1 and records.verify-runs.v1 (the 校验 page).
                   `recordflow records access` (开放鉴定) READs and WRITEs
                   records.access-decisions.v1
    gateway        the HTTP gateway, submitting for agency systems in any language: WRITE every
                   active agency's ingest topic (literal; the gateway checks the caller's agency
                   itself); IDEMPOTENT_WRITE on the cluster; READ receipts.* (prefixed: it keeps
                   an index of every agency's receipts); READ recordflow.agencies.v1 and
                   recordflow.gateway-credentials.v1 (literal: who may submit, and their tokens'
                   digests; only the admin writes them, by `agencies onboard / credentials`)
    lookup         the lookup service (connectors/lookup/), internet-facing, so no more than it
                   uses: READ records.catalog.v1 and records.access-decisions.v1 (literal: its
                   store follows them with a reader group, readers.* above); WRITE
                   recordflow.audit.v1 (literal: staff's and citizens' use of records) and
                   IDEMPOTENT_WRITE on the cluster (its audit producer is idempotent, as every
                   producer here). It writes no record, decision or review, reads no queue and
                   no dead letter (tests/integration/secure/test_secure_lookup.py runs it as
                   this principal and checks what it is refused)
    admin          none: the super user

READ and WRITE imply DESCRIBE in Kafka, so no DESCRIBE bindings are listed. Every name carries
`settings.topic_prefix`, as the topics do. Principal names are the secure profile's
(recordflow/localstack/secure.py); a production cluster names its SCRAM or mTLS users the same way.

The reconciler (topics/reconcile.py) adds the bindings a cluster lacks and never deletes one.
A cluster without an authorizer (the plain local stack) has no ACLs to reconcile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from recordflow.agencies import AgencyRegistry
from recordflow.principals import Principals
from recordflow.settings import Settings

K = TypeVar("K")

CLUSTER = "kafka-cluster"
SUBSCRIBER_GROUP_PREFIX = "subscriber."
ANY_HOST = "*"

Resource = Literal["topic", "group", "cluster", "transactional-id"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "idempotent-write"]

RESOURCE_TYPES: dict[Resource, ResourceType] = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.BROKER,  # librdkafka's name for the cluster resource
    "transactional-id": ResourceType.TRANSACTIONAL_ID,
}
PATTERN_TYPES: dict[Pattern, ResourcePatternType] = {
    "literal": ResourcePatternType.LITERAL,
    "prefixed": ResourcePatternType.PREFIXED,
}
OPERATIONS: dict[Operation, AclOperation] = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "idempotent-write": AclOperation.IDEMPOTENT_WRITE,
}


@dataclass(frozen=True, order=True)
class AclSpec:
    """One ALLOW binding for any host."""

    principal: str  # e.g. "User:pipeline"
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def binding_fields(self) -> tuple[Any, ...]:
        return (
            RESOURCE_TYPES[self.resource],
            self.name,
            PATTERN_TYPES[self.pattern],
            self.principal,
            ANY_HOST,
            OPERATIONS[self.operation],
            AclPermissionType.ALLOW,
        )

    def binding(self) -> AclBinding:
        return AclBinding(*self.binding_fields())

    def describe(self) -> str:
        where = f"{self.name}*" if self.pattern == "prefixed" else self.name
        return f"{self.principal} may {self.operation} {self.resource} {where}"

    @classmethod
    def from_binding(cls, binding: AclBinding) -> AclSpec | None:
        """The spec for an observed ALLOW binding for any host; None for anything else."""
        if binding.permission_type != AclPermissionType.ALLOW or binding.host != ANY_HOST:
            return None
        resource = _key(RESOURCE_TYPES, binding.restype)
        pattern = _key(PATTERN_TYPES, binding.resource_pattern_type)
        operation = _key(OPERATIONS, binding.operation)
        if resource is None or pattern is None or operation is None:
            return None
        return cls(binding.principal, resource, binding.name, pattern, operation)


def _key(mapping: Mapping[K, object], value: object) -> K | None:
    return next((key for key, candidate in mapping.items() if candidate == value), None)


def user(name: str) -> str:
    return f"User:{name}"


def desired_acls(settings: Settings, registry: AgencyRegistry) -> list[AclSpec]:
    """Every binding the cluster should have for the pipeline's principals (sorted, unique)."""
    names = Principals.of(settings)
    pipeline, subscriber = user(names.pipeline), user(names.subscriber)
    gateway = user(names.gateway)
    specs: set[AclSpec] = set()
    for agency in registry.agencies:
        ingest = settings.ingest_topic(agency.code)
        own = user(names.agency(agency.code))
        if agency.active:  # offboarding revokes these (topics/reconcile.py, revoke_writes)
            specs.add(AclSpec(own, "topic", ingest, "literal", "write"))
            specs.add(AclSpec(own, "cluster", CLUSTER, "literal", "idempotent-write"))
            specs.add(AclSpec(gateway, "topic", ingest, "literal", "write"))
        # What it may still read once offboarded: its receipts, and the registry (the SDK looks
        # an agency onboarded since installation up there, as a reader).
        specs.add(AclSpec(own, "topic", settings.receipts_topic(agency.code), "literal", "read"))
        specs.add(AclSpec(own, "group", receipts_group(settings, agency.code, ""), "prefixed",
                          "read"))  # fmt: skip
        specs.add(AclSpec(own, "topic", settings.agencies_topic, "literal", "read"))
        specs.add(AclSpec(own, "group", settings.reader_group_prefix, "prefixed", "read"))
        specs.add(AclSpec(pipeline, "topic", ingest, "literal", "read"))
    specs |= staff_acls(settings, registry)
    specs |= lookup_acls(settings)
    internal, records = settings.topic("recordflow."), settings.topic("records.")
    receipts = receipts_prefix(settings)
    specs |= {
        AclSpec(pipeline, "topic", internal, "prefixed", "read"),
        AclSpec(pipeline, "topic", internal, "prefixed", "write"),
        AclSpec(pipeline, "topic", records, "prefixed", "write"),
        AclSpec(pipeline, "topic", receipts, "prefixed", "write"),
        AclSpec(gateway, "topic", receipts, "prefixed", "read"),
        AclSpec(gateway, "topic", settings.agencies_topic, "literal", "read"),
        AclSpec(gateway, "topic", settings.gateway_credentials_topic, "literal", "read"),
        AclSpec(gateway, "cluster", CLUSTER, "literal", "idempotent-write"),
        AclSpec(pipeline, "group", settings.consumer_group, "literal", "read"),
        # The register stage publishes each record in a transaction of its partition's producer
        # (streams/publish.py) and, on a redelivery, reads the catalog to see whether it did.
        AclSpec(
            pipeline,
            "transactional-id",
            register_transactional_prefix(settings),
            "prefixed",
            "write",
        ),
        AclSpec(pipeline, "topic", settings.catalog_topic, "literal", "read"),
        *(
            AclSpec(reader, "group", settings.reader_group_prefix, "prefixed", "read")
            for reader in (pipeline, subscriber, user(names.archivist), gateway, user(names.lookup))
        ),
        AclSpec(subscriber, "topic", settings.archival_ready_topic, "literal", "read"),
        AclSpec(subscriber, "topic", settings.catalog_topic, "literal", "read"),
        AclSpec(subscriber, "group", subscriber_group(settings, ""), "prefixed", "read"),
    }
    return sorted(specs)


def staff_acls(settings: Settings, registry: AgencyRegistry) -> set[AclSpec]:
    """What archive staff's tools need as the archivist principal, and no more."""
    staff = user(settings.principal_archivist)
    reads = [settings.catalog_topic, settings.archival_ready_topic, settings.review_topic,
             settings.deadletter_topic, settings.replay_ledger_topic,
             settings.agencies_topic, settings.audit_topic,
             settings.console_users_topic, settings.preservation_alert_topic,
             settings.verify_runs_topic, settings.access_decisions_topic]  # fmt: skip
    writes = [settings.review_topic, settings.register_topic, settings.catalog_topic,
              settings.replay_ledger_topic, settings.audit_topic, settings.access_decisions_topic,
              *(settings.ingest_topic(agency.code) for agency in registry.agencies)]  # fmt: skip
    transactions = [review_transactional_prefix(settings), replay_transactional_prefix(settings)]
    return {
        *(AclSpec(staff, "topic", topic, "literal", "read") for topic in reads),
        *(AclSpec(staff, "topic", topic, "literal", "write") for topic in writes),
        *(AclSpec(staff, "transactional-id", t, "prefixed", "write") for t in transactions),
        AclSpec(staff, "topic", receipts_prefix(settings), "prefixed", "write"),
        AclSpec(staff, "cluster", CLUSTER, "literal", "idempotent-write"),
    }


def lookup_acls(settings: Settings) -> set[AclSpec]:
    """What the lookup service needs as its own principal: follow the catalog and the access
    decisions (its reader group is granted with the other readers'), append to the audit trail."""
    lookup = user(settings.principal_lookup)
    return {
        AclSpec(lookup, "topic", settings.catalog_topic, "literal", "read"),
        AclSpec(lookup, "topic", settings.access_decisions_topic, "literal", "read"),
        AclSpec(lookup, "topic", settings.audit_topic, "literal", "write"),
        AclSpec(lookup, "cluster", CLUSTER, "literal", "idempotent-write"),
    }


def register_transactional_prefix(settings: Settings) -> str:
    """The transactional ids of the register stage's producers: `<group>.register.<partition>`."""
    return f"{settings.consumer_group}.register."


def review_transactional_prefix(settings: Settings) -> str:
    """A staff decision's transactional id: `<group>.review.<event id>` (connectors/review.py)."""
    return f"{settings.consumer_group}.review."


def replay_transactional_prefix(settings: Settings) -> str:
    """A dead-letter replay's: `<group>.deadletter-replay.<letter>` (connectors/deadletters.py)."""
    return f"{settings.consumer_group}.deadletter-replay."


def receipts_prefix(settings: Settings) -> str:
    """Every agency's receipts topic, `receipts.<code>.v1`, begins with it."""
    return settings.topic("receipts.")


def receipts_group(settings: Settings, agency_code: str, name: str) -> str:
    """The consumer group an agency system reads its receipts with, e.g. `receipts.zjj.oa`:
    under its agency's prefix, so that one agency cannot commit (or read) another's."""
    return settings.topic(f"receipts.{agency_code}.{name}")


def subscriber_group(settings: Settings, system: str) -> str:
    """The consumer group a downstream system reads with, e.g. `subscriber.portal`."""
    return settings.topic(f"{SUBSCRIBER_GROUP_PREFIX}{system}")


def missing_acls(desired: Iterable[AclSpec], observed: Iterable[AclSpec]) -> list[AclSpec]:
    """The desired bindings the cluster lacks. Extra bindings on the cluster are left alone."""
    have = set(observed)
    return [spec for spec in desired if spec not in have]


def any_binding() -> AclBindingFilter:
    """A filter that matches every binding (describe_acls)."""
    # None matches any name, principal and host; confluent-kafka's stubs say str.
    return AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
