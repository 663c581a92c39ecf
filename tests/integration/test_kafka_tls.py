"""TLS to a real Kafka broker from Settings alone: the CA file and the client certificate
(kafka_ssl_ca_file, kafka_ssl_cert_file, kafka_ssl_key_file) work for the confluent-kafka
clients (kafka_config: the SDK, gateway, console, lookup, `topics apply`, the readers) and for
the workers (kafka_ssl_context through faust's credentials, which faust's aiokafka driver uses).

A private single-node Kafka of this module's own (recordflow/localstack/kafka.py's service, from
the plain stack's installed jars, on free ports under a temporary home, as
test_readers_deadline.py starts one) with a test PKI (tests/tls.py) and two client listeners:
SSL (the broker's certificate only) and MTLS (SSL with ssl.client.auth=required, as a Strimzi
listener with `authentication: tls`). Inter-broker and controller traffic stays PLAINTEXT on
listeners of their own. Its key and trust stores are the PEM files themselves
(ssl.keystore.type=PEM, ssl.truststore.type=PEM).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from rich.console import Console

from recordflow.localstack.kafka import Kafka, kafka_server_properties
from recordflow.localstack.service import PROBE_TIMEOUT_S, port_open
from recordflow.settings import Settings
from streams.app import _credentials
from tests.conftest import stack_lock
from tests.integration.test_readers_deadline import PrivateKafka, free_port
from tests.tls import Pki, make_pki

TIMEOUT_S = 30.0
# How long a client that cannot get through is given before the test says it did not.
REFUSED_WITHIN_S = 10.0


class TlsKafka(Kafka):
    """The Kafka service with an SSL and an MTLS client listener (kafka_bootstrap: the SSL one)."""

    def __init__(self, settings: Settings, pki: Pki, mtls_port: int, internal_port: int) -> None:
        super().__init__(settings)
        self.pki = pki
        self.mtls_port = mtls_port
        self.internal_port = internal_port

    @property
    def ports(self) -> list[int]:
        return [*super().ports, self.mtls_port, self.internal_port]

    def server_properties(self, admin_password: str | None) -> str:
        host = "127.0.0.1"
        listeners = {"SSL": self.port, "MTLS": self.mtls_port, "INTERNAL": self.internal_port}
        advertised = ",".join(f"{name}://{host}:{port}" for name, port in listeners.items())
        tls = {
            "listeners": f"{advertised},CONTROLLER://{host}:{self.controller_port}",
            "advertised.listeners": advertised,
            "listener.security.protocol.map": (
                "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SSL:SSL,MTLS:SSL"
            ),
            "inter.broker.listener.name": "INTERNAL",
            # PEM files as the stores; the key unencrypted (no ssl.key.password), as Strimzi's and
            # cert-manager's are.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.pki.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.pki.ca),
            "listener.name.mtls.ssl.client.auth": "required",
        }
        return kafka_server_properties(self.port, self.controller_port, self.data_dir, extra=tls)

    def healthy(self) -> bool:
        if not port_open(self.port):
            return False
        admin = AdminClient({**self.settings.kafka_config(), "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=PROBE_TIMEOUT_S)
        except KafkaException:
            return False
        return self.node_id in metadata.brokers


@dataclass
class TlsBroker:
    kafka: PrivateKafka
    pki: Pki
    mtls_port: int

    @property
    def ssl(self) -> Settings:
        """TLS with the test CA, no client certificate, to the SSL listener."""
        return self.kafka.settings

    @property
    def mtls(self) -> Settings:
        """TLS with the test CA and the client certificate, to the MTLS listener."""
        return self.ssl.model_copy(update={
            "kafka_bootstrap": f"127.0.0.1:{self.mtls_port}",
            "kafka_ssl_cert_file": self.pki.client_cert,
            "kafka_ssl_key_file": self.pki.client_key,
        })  # fmt: skip


def plain_stack_home() -> Path:
    """The plain stack's home, where its Kafka jars are (`.recordflow` of the checkout in CI),
    with Kafka installed there if it is not yet: nothing of the stack is started."""
    plain = Settings()
    kafka = Kafka(plain)
    if not kafka.installed():
        with stack_lock(plain):
            if not kafka.installed():
                kafka.install(Console(stderr=True).print)
    return plain.home.resolve()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    home = tmp_path_factory.mktemp("kafka-tls")
    pki = make_pki(home / "pki")
    settings = Settings(
        home=home / "kafka",
        stack_shared_home=plain_stack_home(),
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=pki.ca,
    )
    mtls_port = free_port()
    service = TlsKafka(settings, pki, mtls_port, internal_port=free_port())
    kafka = PrivateKafka(settings, service)
    try:  # stopped even when it never became healthy
        kafka.start()
        yield TlsBroker(kafka, pki, mtls_port)
    finally:
        kafka.stop()


def create_topic(settings: Settings) -> str:
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({**settings.kafka_config()})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(TIMEOUT_S)
    return topic


def round_trip(settings: Settings, topic: str, value: bytes) -> bytes:
    """Produce `value` with settings.producer_config() and read it back with a consumer built
    from settings.kafka_config(), as the SDK and the readers do."""
    producer = Producer(settings.producer_config())
    producer.produce(topic, key=b"k", value=value)
    assert producer.flush(TIMEOUT_S) == 0
    consumer = Consumer({**settings.kafka_config(), "group.id": f"tls-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    try:
        consumer.subscribe([topic])
        message = consumer.poll(TIMEOUT_S)
        assert message is not None, "no message within the timeout"
        assert message.error() is None, message.error()
        read = message.value()
        assert isinstance(read, bytes)
        return read
    finally:
        consumer.close()


def refusal(settings: Settings) -> str:
    """The errors librdkafka reports when a client built from `settings` cannot get through (an
    AssertionError when it can), from its error callback, which says why."""
    errors: list[str] = []
    config: dict[str, Any] = {**settings.kafka_config(), "log_level": 0,
                              "error_cb": lambda error: errors.append(str(error))}  # fmt: skip
    admin = AdminClient(config)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=REFUSED_WITHIN_S)
    admin.poll(1)  # serves the callbacks
    return " | ".join(dict.fromkeys(errors))  # it retries: the same error many times


def test_confluent_clients_with_the_ca_and_a_client_certificate(broker: TlsBroker) -> None:
    config = broker.mtls.kafka_config()
    assert config["ssl.certificate.location"] == str(broker.pki.client_cert)
    assert round_trip(broker.mtls, create_topic(broker.mtls), b"mutual TLS") == b"mutual TLS"
    # The SSL listener wants no client certificate; the CA file alone does.
    assert round_trip(broker.ssl, create_topic(broker.ssl), b"server TLS") == b"server TLS"


def test_without_the_ca_the_broker_is_not_trusted(broker: TlsBroker) -> None:
    """Without kafka_ssl_ca_file, librdkafka verifies against the system's CAs, which do not
    know the test CA."""
    system_cas = broker.ssl.model_copy(update={"kafka_ssl_ca_file": None})
    assert "ssl.ca.location" not in system_cas.kafka_config()
    assert "certificate verify failed" in refusal(system_cas)


def test_librdkafka_does_not_read_ssl_cert_file(
    broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the chart sets RECORDFLOW_KAFKA_SSL_CA_FILE beside SSL_CERT_FILE: the librdkafka of
    confluent-kafka's wheel (its own OpenSSL) ignores SSL_CERT_FILE, which Python's ssl and minio
    read. Before kafka_ssl_ca_file, a private CA in tls.caBundle reached the workers but not the
    gateway, console, lookup or `topics apply`."""
    monkeypatch.setenv("SSL_CERT_FILE", str(broker.pki.ca))
    system_cas = broker.ssl.model_copy(update={"kafka_ssl_ca_file": None})
    assert "certificate verify failed" in refusal(system_cas)
    # Python's ssl does read it (the default context loads the default verify paths).
    context = system_cas.kafka_ssl_context()
    assert context is not None
    assert handshake(context, broker.kafka.port)["subjectAltName"] == (("IP Address", "127.0.0.1"),)


def test_without_a_client_certificate_the_mtls_listener_refuses(broker: TlsBroker) -> None:
    no_certificate = broker.mtls.model_copy(
        update={"kafka_ssl_cert_file": None, "kafka_ssl_key_file": None}
    )
    assert "ssl.certificate.location" not in no_certificate.kafka_config()
    # The client trusts the broker; the broker ends the handshake (TLS alert 42).
    assert "alert bad certificate" in refusal(no_certificate)


def handshake(context: ssl.SSLContext, port: int) -> dict[str, object]:
    """A TLS handshake with the broker's port; the broker's certificate."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        certificate = tls.getpeercert()
        assert certificate is not None
        return dict(certificate)


def test_the_workers_context_completes_the_handshake(broker: TlsBroker) -> None:
    context = broker.mtls.kafka_ssl_context()
    assert context is not None
    certificate = handshake(context, broker.mtls_port)
    assert certificate["subjectAltName"] == (("IP Address", "127.0.0.1"),)
    system = broker.ssl.model_copy(update={"kafka_ssl_ca_file": None}).kafka_ssl_context()
    assert system is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(system, broker.mtls_port)


@pytest.mark.parametrize("listener", ["ssl", "mtls"])
def test_the_workers_client_round_trips_over_tls(broker: TlsBroker, listener: str) -> None:
    """faust's own producer (its aiokafka driver, with the credentials `recordflow worker` gives
    it: streams/app.py's _credentials) writes over TLS; a consumer with the same credentials
    reads it back. With SSL and no SASL the workers used to get no TLS at all."""
    settings: Settings = getattr(broker, listener)
    topic = create_topic(settings)
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)

    async def run() -> bytes:
        app = faust.App(f"tls-{uuid.uuid4().hex[:8]}", broker=f"kafka://{settings.kafka_bootstrap}",
                        broker_credentials=credentials, producer_acks=-1)  # fmt: skip
        producer = app.producer
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"k", b"faust over TLS", partition=None,
                                         timestamp=None, headers=None)  # fmt: skip
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    **credentials_to_aiokafka_auth(credentials))  # fmt: skip
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), TIMEOUT_S)
        finally:
            await consumer.stop()
        assert isinstance(message.value, bytes)
        return message.value

    assert asyncio.run(run()) == b"faust over TLS"
