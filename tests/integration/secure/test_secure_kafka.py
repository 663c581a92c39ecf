"""Kafka on the secure profile: who may write and read what, checked on the real broker.

Every principal kind does what the ACLs (topics/acls.py) allow it and is refused, with an
authorization error, everything else. The ACLs come from `recordflow topics apply`, which shows
them in its dry run and applies them idempotently.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from recordflow.cli.topics import app as topics_app
from recordflow.localstack.secure import ADMIN, PIPELINE, SUBSCRIBER, agency_principal, as_principal
from recordflow.settings import Settings
from topics.acls import subscriber_group
from topics.reconcile import ADD_ACL, ReconcileError, reconcile

AGENCIES = ["bgt", "zjj", "bdc", "zwfw", "fy"]
READ_TIMEOUT_S = 30.0
TOPIC_DENIED = KafkaError.TOPIC_AUTHORIZATION_FAILED
GROUP_DENIED = KafkaError.GROUP_AUTHORIZATION_FAILED
CLUSTER_DENIED = KafkaError.CLUSTER_AUTHORIZATION_FAILED


def produce(settings: Settings, topic: str) -> int | None:
    """Write one message; None when the broker took it, else Kafka's error code. A principal
    that may write no topic at all is refused earlier: its idempotent producer gets no producer
    id (a fatal CLUSTER_AUTHORIZATION_FAILED)."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**settings.producer_config(), "message.timeout.ms": 15000, "log_level": 0})
    producer.produce(topic, b"probe", key=b"probe", on_delivery=lambda e, _: outcome.append(e))
    try:
        producer.flush(20)
    except KafkaException as exc:
        return int(exc.args[0].code())
    assert outcome, f"no delivery report for {topic}"
    return outcome[0].code() if outcome[0] is not None else None


def read(settings: Settings, topic: str, group: str) -> int | None:
    """Read the first message of `topic` in consumer group `group`; None when a message came,
    else Kafka's error code."""
    consumer = Consumer({
        **settings.kafka_config(),
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 0,
    })  # fmt: skip
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None:
                return None
            if error.code() in (TOPIC_DENIED, GROUP_DENIED):
                return int(error.code())
        raise AssertionError(f"neither a message nor an error from {topic} as {group}")
    finally:
        consumer.close()


@pytest.fixture
def seeded(secure_pipeline: Settings) -> Settings:
    """The secure pipeline with one message in each topic the checks read (written as admin)."""
    for topic in [
        *(secure_pipeline.ingest_topic(code) for code in AGENCIES),
        secure_pipeline.archival_ready_topic,
        secure_pipeline.catalog_topic,
        secure_pipeline.deadletter_topic,
        secure_pipeline.register_topic,
    ]:
        assert produce(secure_pipeline, topic) is None
    return secure_pipeline


@pytest.mark.parametrize("code", AGENCIES)
def test_an_agency_writes_its_own_ingest_topic_and_nothing_else(
    seeded: Settings, code: str
) -> None:
    agency = as_principal(seeded, agency_principal(code))
    assert produce(agency, seeded.ingest_topic(code)) is None
    for other in AGENCIES:
        if other != code:
            assert produce(agency, seeded.ingest_topic(other)) == TOPIC_DENIED
    assert produce(agency, seeded.archival_ready_topic) == TOPIC_DENIED
    assert produce(agency, seeded.register_topic) == TOPIC_DENIED
    # It reads nothing, not even its own topic.
    group = subscriber_group(seeded, f"agency-{code}")
    assert read(agency, seeded.ingest_topic(code), group) in (TOPIC_DENIED, GROUP_DENIED)


def test_the_pipeline_reads_ingest_and_writes_records_and_internal_topics(
    seeded: Settings,
) -> None:
    pipeline = as_principal(seeded, PIPELINE)
    for code in AGENCIES:
        assert read(pipeline, seeded.ingest_topic(code), seeded.consumer_group) is None
    assert read(pipeline, seeded.register_topic, seeded.consumer_group) is None
    for topic in (
        seeded.archival_ready_topic,
        seeded.catalog_topic,
        seeded.deadletter_topic,
        seeded.review_topic,
        seeded.register_topic,
        seeded.item_numbers_changelog_topic,
    ):
        assert produce(pipeline, topic) is None, topic
    # Not an agency's topic, and not another consumer group.
    assert produce(pipeline, seeded.ingest_topic("bgt")) == TOPIC_DENIED
    assert read(pipeline, seeded.ingest_topic("bgt"), f"{seeded.consumer_group}-x") == GROUP_DENIED
    # The published records are downstream's to read, not the pipeline's.
    assert read(pipeline, seeded.archival_ready_topic, seeded.consumer_group) == TOPIC_DENIED


def test_a_subscriber_reads_only_the_published_records(seeded: Settings) -> None:
    subscriber = as_principal(seeded, SUBSCRIBER)
    group = subscriber_group(seeded, "portal")
    assert read(subscriber, seeded.archival_ready_topic, group) is None
    assert read(subscriber, seeded.catalog_topic, group) is None
    for topic in (seeded.deadletter_topic, seeded.register_topic, seeded.ingest_topic("bgt")):
        assert read(subscriber, topic, group) == TOPIC_DENIED, topic
    assert read(subscriber, seeded.archival_ready_topic, "portal") == GROUP_DENIED
    assert produce(subscriber, seeded.archival_ready_topic) == CLUSTER_DENIED
    assert produce(subscriber, seeded.catalog_topic) == CLUSTER_DENIED


@pytest.mark.parametrize("who", [PIPELINE, SUBSCRIBER, agency_principal("bgt")])
def test_only_the_admin_manages_the_cluster(secure_pipeline: Settings, who: str) -> None:
    settings = as_principal(secure_pipeline, who)
    admin = AdminClient({**settings.kafka_config(), "log_level": 0})
    topic = secure_pipeline.topic(f"ingest.{uuid.uuid4().hex[:6]}.lifecycle.v1")
    futures = admin.create_topics([NewTopic(topic, 1, 1)], request_timeout=15)
    with pytest.raises(KafkaException) as refused:
        futures[topic].result()
    assert refused.value.args[0].code() in (TOPIC_DENIED, CLUSTER_DENIED)
    with pytest.raises(ReconcileError, match=r"(?i)authoriz"):
        reconcile(settings, timeout=15)


def test_wrong_or_missing_credentials_are_refused(secure_pipeline: Settings) -> None:
    from pydantic import SecretStr

    wrong = secure_pipeline.model_copy(update={"kafka_sasl_password": SecretStr("not-it")})
    outcome = produce_or_error(wrong, secure_pipeline.ingest_topic("bgt"))
    assert outcome == KafkaError._AUTHENTICATION or outcome == KafkaError.SASL_AUTHENTICATION_FAILED
    anonymous = secure_pipeline.model_copy(
        update={"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_mechanism": None}
    )
    admin = AdminClient({**anonymous.kafka_config(), "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)


def produce_or_error(settings: Settings, topic: str) -> int | None:
    """Like produce(), but a client that cannot sign in reports through error_cb."""
    errors: list[KafkaError] = []
    producer = Producer({
        **settings.producer_config(),
        "message.timeout.ms": 10000,
        "error_cb": errors.append,
        "log_level": 0,
    })  # fmt: skip
    producer.produce(topic, b"probe")
    producer.flush(12)
    return int(errors[0].code()) if errors else None


def test_topics_apply_shows_the_acls_and_applies_them_once(
    secure_stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = secure_stack.model_copy(update={"topic_prefix": f"s{uuid.uuid4().hex[:8]}."})
    env = {
        "RECORDFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "RECORDFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "RECORDFLOW_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "RECORDFLOW_KAFKA_SASL_MECHANISM": str(settings.kafka_sasl_mechanism),
        "RECORDFLOW_KAFKA_SASL_USERNAME": ADMIN,
        "RECORDFLOW_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password.get_secret_value(),  # type: ignore[union-attr]
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    dry = runner.invoke(topics_app, ["apply", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    planned = [row for row in json.loads(dry.stdout) if row["action"] == ADD_ACL]
    wanted = {
        (f"User:{agency_principal('bgt')}", settings.ingest_topic("bgt"), "write"),
        (f"User:{PIPELINE}", settings.ingest_topic("bgt"), "read"),
        (f"User:{PIPELINE}", settings.topic("records."), "write"),
        (f"User:{SUBSCRIBER}", settings.catalog_topic, "read"),
    }
    assert wanted <= {(row["new"], row["topic"], row["key"]) for row in planned}
    assert not any(row["new"] == f"User:{agency_principal('bgt')}" and row["topic"] ==
                   settings.ingest_topic("zjj") for row in planned)  # fmt: skip

    applied = runner.invoke(topics_app, ["apply", "--json"])
    assert applied.exit_code == 0, applied.output
    assert len([r for r in json.loads(applied.stdout) if r["action"] == ADD_ACL]) == len(planned)
    again = runner.invoke(topics_app, ["apply", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == []
