"""The ACLs derived from the agency registry and the catalog (topics/acls.py), without Kafka."""

from __future__ import annotations

import datetime as dt

from confluent_kafka.admin import AclOperation, AclPermissionType, ResourcePatternType, ResourceType

from recordflow.agencies import load_registry
from recordflow.settings import Settings
from topics.acls import CLUSTER, AclSpec, desired_acls, missing_acls, receipts_group
from topics.catalog import desired_topics
from topics.reconcile import ADD_ACL, plan_acls

SETTINGS = Settings(topic_prefix="t1.")
REGISTRY = load_registry(SETTINGS.agencies_file)
ACLS = desired_acls(SETTINGS, REGISTRY)
CODES = [agency.code for agency in REGISTRY.agencies]
STAFF_WRITES = {SETTINGS.review_topic, SETTINGS.register_topic, SETTINGS.catalog_topic,
                SETTINGS.replay_ledger_topic, SETTINGS.audit_topic,
                SETTINGS.access_decisions_topic}  # fmt: skip
READERS = ("group", "t1.readers.", "prefixed", "read")


def grants(principal: str) -> set[tuple[str, str, str, str]]:
    return {(a.resource, a.name, a.pattern, a.operation) for a in ACLS if a.principal == principal}


def covers(spec: AclSpec, topic: str) -> bool:
    return topic == spec.name if spec.pattern == "literal" else topic.startswith(spec.name)


def test_an_agency_may_write_its_own_ingest_topic_and_read_its_own_receipts_only() -> None:
    for code in CODES:
        assert grants(f"User:agency-{code}") == {
            ("topic", SETTINGS.ingest_topic(code), "literal", "write"),
            ("cluster", CLUSTER, "literal", "idempotent-write"),
            ("topic", SETTINGS.receipts_topic(code), "literal", "read"),
            ("group", f"t1.receipts.{code}.", "prefixed", "read"),
            ("topic", SETTINGS.agencies_topic, "literal", "read"),  # the live registry
            READERS,
        }


def test_no_agency_reads_another_agencys_receipts_or_resumes_in_its_groups() -> None:
    for code in CODES:
        own = [a for a in ACLS if a.principal == f"User:agency-{code}" and a.operation == "read"]
        for other in CODES:
            if other == code:
                continue
            assert not any(
                covers(a, SETTINGS.receipts_topic(other)) for a in own if a.resource == "topic"
            )
            group = receipts_group(SETTINGS, other, "oa")
            assert not any(covers(a, group) for a in own if a.resource == "group")
        assert any(covers(a, receipts_group(SETTINGS, code, "oa")) for a in own)


def test_receipts_are_read_by_their_agency_and_the_gateway_only() -> None:
    for code in CODES:
        topic = SETTINGS.receipts_topic(code)
        readers = {
            a.principal
            for a in ACLS
            if a.resource == "topic" and a.operation == "read" and covers(a, topic)
        }
        assert readers == {f"User:agency-{code}", "User:gateway"}


def test_the_gateway_submits_for_every_agency_and_reads_receipts() -> None:
    assert grants("User:gateway") == {
        *(("topic", SETTINGS.ingest_topic(code), "literal", "write") for code in CODES),
        ("cluster", CLUSTER, "literal", "idempotent-write"),
        ("topic", "t1.receipts.", "prefixed", "read"),
        ("topic", SETTINGS.agencies_topic, "literal", "read"),
        ("topic", SETTINGS.gateway_credentials_topic, "literal", "read"),
        READERS,
    }


def test_every_catalog_topic_has_exactly_the_writers_its_owner_needs() -> None:
    for spec in desired_topics(SETTINGS, registry=REGISTRY):
        writers = {
            a.principal
            for a in ACLS
            if a.resource == "topic" and a.operation == "write" and covers(a, spec.name)
        }
        # Archive staff's tools write what a decision sends on, and replay dead letters to the
        # topics they came from (an ingest topic or the register topic); the gateway submits
        # for agencies; receipts come from the pipeline and from staff's decisions.
        staff = spec.name in STAFF_WRITES or spec.agency is not None
        if spec.source == "receipts.{agency}.v1":
            expected = {"User:pipeline", "User:archivist"}
        elif spec.agency is not None:
            expected = {f"User:agency-{spec.agency}", "User:archivist", "User:gateway"}
        else:
            expected = {"User:pipeline", *(["User:archivist"] if staff else [])}
        if spec.name == SETTINGS.audit_topic:  # the lookup service's trail of staff and citizens
            expected.add("User:lookup")
        assert writers == expected, spec.name


def test_verify_runs_are_written_by_whoever_writes_the_alerts_and_read_by_the_console() -> None:
    def principals(topic: str, operation: str) -> set[str]:
        return {a.principal for a in ACLS if a.resource == "topic" and a.operation == operation
                and covers(a, topic)}  # fmt: skip

    alerts, runs = SETTINGS.preservation_alert_topic, SETTINGS.verify_runs_topic
    assert principals(runs, "write") == principals(alerts, "write") == {"User:pipeline"}
    assert principals(runs, "read") == principals(alerts, "read") == {"User:archivist"}


def test_the_pipeline_reads_every_ingest_topic_and_its_internal_ones() -> None:
    pipeline = grants("User:pipeline")
    for code in CODES:
        assert ("topic", SETTINGS.ingest_topic(code), "literal", "read") in pipeline
    assert ("topic", "t1.recordflow.", "prefixed", "read") in pipeline
    assert ("group", SETTINGS.consumer_group, "literal", "read") in pipeline
    # Of records.*, only the catalog: a redelivered record is looked for there before publishing.
    records_read = {
        name for _, name, _, op in pipeline if name.startswith("t1.records.") and op == "read"
    }
    assert records_read == {SETTINGS.catalog_topic}


def test_the_pipeline_publishes_through_its_register_partitions_transactional_ids() -> None:
    pipeline = grants("User:pipeline")
    prefix = f"{SETTINGS.consumer_group}.register."
    assert ("transactional-id", prefix, "prefixed", "write") in pipeline
    assert [a for a in ACLS if a.resource == "transactional-id" and a.name == prefix] == [
        AclSpec("User:pipeline", "transactional-id", prefix, "prefixed", "write")
    ]
    assert READERS in pipeline  # the catalog is read by a reader of its own group


def test_a_subscriber_reads_only_the_two_published_topics() -> None:
    assert grants("User:subscriber") == {
        ("topic", SETTINGS.archival_ready_topic, "literal", "read"),
        ("topic", SETTINGS.catalog_topic, "literal", "read"),
        ("group", "t1.subscriber.", "prefixed", "read"),
        READERS,
    }


def test_the_archivist_decides_replays_and_reads_but_publishes_nothing() -> None:
    staff = grants("User:archivist")
    assert {(name, op) for kind, name, _, op in staff if kind == "topic"} == {
        *((topic, "read") for topic in (SETTINGS.catalog_topic, SETTINGS.archival_ready_topic,
                                        SETTINGS.review_topic, SETTINGS.deadletter_topic,
                                        SETTINGS.replay_ledger_topic,
                                        SETTINGS.agencies_topic, SETTINGS.audit_topic,
                                        SETTINGS.console_users_topic,
                                        SETTINGS.preservation_alert_topic,
                                        SETTINGS.verify_runs_topic,
                                        SETTINGS.access_decisions_topic)),
        *((topic, "write") for topic in STAFF_WRITES),
        *((SETTINGS.ingest_topic(code), "write") for code in CODES),
        ("t1.receipts.", "write"),  # a decision's receipt, in its transaction
    }  # fmt: skip
    assert {name for kind, name, _, _ in staff if kind == "transactional-id"} == {
        f"{SETTINGS.consumer_group}.review.",
        f"{SETTINGS.consumer_group}.deadletter-replay.",
    }
    assert READERS in staff and ("cluster", CLUSTER, "literal", "idempotent-write") in staff
    assert ("topic", SETTINGS.archival_ready_topic, "literal", "write") not in staff


def test_the_lookup_service_reads_two_topics_and_writes_only_its_audit_trail() -> None:
    # Exactly these: it writes no record, decision, review item or replay, runs no transaction
    # and does not read the trail back (the console does, as the archivist).
    assert grants("User:lookup") == {
        ("topic", SETTINGS.catalog_topic, "literal", "read"),
        ("topic", SETTINGS.access_decisions_topic, "literal", "read"),
        ("topic", SETTINGS.audit_topic, "literal", "write"),
        ("cluster", CLUSTER, "literal", "idempotent-write"),  # its audit producer is idempotent
        READERS,
    }
    # The group id its store's follower asks for (connectors/follower.py) is under that prefix.
    follower = SETTINGS.reader_group("lookup")
    assert any(a.resource == "group" and covers(a, follower) for a in ACLS
               if a.principal == "User:lookup")  # fmt: skip
    # Its audit producer (connectors/audit.py) takes producer_config(): idempotent, whence the
    # cluster grant; without it the producer would get no producer id and write nothing.
    assert SETTINGS.producer_config()["enable.idempotence"] is True


def test_an_offboarded_agency_keeps_its_reads_and_loses_its_writes() -> None:
    gone = REGISTRY.by_code["fy"].model_copy(update={"offboarded_at": dt.datetime.now(dt.UTC)})
    acls = desired_acls(SETTINGS, REGISTRY.merged([gone]))
    fy = {(a.resource, a.name, a.operation) for a in acls if a.principal == "User:agency-fy"}
    assert fy == {
        ("topic", SETTINGS.receipts_topic("fy"), "read"),
        ("group", "t1.receipts.fy.", "read"),
        ("topic", SETTINGS.agencies_topic, "read"),
        ("group", "t1.readers.", "read"),
    }
    ingest = SETTINGS.ingest_topic("fy")
    assert {a.principal for a in acls if a.name == ingest} == {"User:pipeline", "User:archivist"}


def test_no_principal_but_the_secure_profiles_is_named() -> None:
    principals = {a.principal for a in ACLS}
    assert principals == {
        "User:pipeline", "User:subscriber", "User:archivist", "User:gateway", "User:lookup",
        *(f"User:agency-{c}" for c in CODES),
    }  # fmt: skip
    assert len(ACLS) == len(set(ACLS)) and sorted(ACLS) == ACLS


def test_a_binding_round_trips_and_only_missing_ones_are_planned() -> None:
    for spec in ACLS:
        binding = spec.binding()
        assert binding.permission_type == AclPermissionType.ALLOW
        assert AclSpec.from_binding(binding) == spec
    prefixed = next(a for a in ACLS if a.pattern == "prefixed").binding()
    assert prefixed.resource_pattern_type == ResourcePatternType.PREFIXED
    cluster = next(a for a in ACLS if a.resource == "cluster").binding()
    assert (cluster.restype, cluster.operation) == (
        ResourceType.BROKER,
        AclOperation.IDEMPOTENT_WRITE,
    )
    assert missing_acls(ACLS, ACLS[3:]) == ACLS[:3]
    changes = plan_acls(ACLS, ACLS[1:])
    assert [(c.action, c.topic, c.new) for c in changes] == [
        (ADD_ACL, ACLS[0].name, ACLS[0].principal)
    ]
    assert plan_acls(ACLS, ACLS) == []


def test_principal_names_come_from_settings() -> None:
    """A production cluster names its users otherwise: every grant follows the settings."""
    named = Settings(topic_prefix="t1.", principal_pipeline="svc-recordflow",
                     principal_archivist="dag-staff", principal_gateway="svc-gateway",
                     principal_lookup="svc-lookup", principal_agency_prefix="org-")  # fmt: skip
    acls = desired_acls(named, REGISTRY)
    principals = {a.principal for a in acls}
    assert principals == {
        "User:svc-recordflow", "User:subscriber", "User:dag-staff", "User:svc-gateway",
        "User:svc-lookup", *(f"User:org-{c}" for c in CODES),
    }  # fmt: skip
    assert {(a.resource, a.name, a.pattern, a.operation)
            for a in acls if a.principal == "User:svc-lookup"} == grants("User:lookup")  # fmt: skip
