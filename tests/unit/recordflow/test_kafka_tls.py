"""TLS to Kafka from Settings: the CA and client-certificate files reach librdkafka's keys
(kafka_config) and the workers' ssl context (kafka_ssl_context, faust's credentials), and a bad
combination stops a command at its start with one line. Against a real broker:
tests/integration/test_kafka_tls.py."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from recordflow import cli
from recordflow.settings import Settings
from streams.app import _credentials
from tests.tls import Pki, make_pki

TLS_KEYS = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def mtls(pki: Pki, protocol: str = "SSL", **more: Any) -> Settings:
    return Settings(kafka_security_protocol=protocol, kafka_ssl_ca_file=pki.ca,
                    kafka_ssl_cert_file=pki.client_cert, kafka_ssl_key_file=pki.client_key,
                    **more)  # fmt: skip


def test_plaintext_has_no_tls_keys() -> None:
    settings = Settings()
    config = settings.kafka_config()
    assert config["security.protocol"] == "PLAINTEXT"
    assert not set(TLS_KEYS) & set(config)
    assert settings.kafka_ssl_context() is None
    assert _credentials(settings) is None


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL", "ssl"])
def test_the_files_become_librdkafka_keys(pki: Pki, protocol: str) -> None:
    more = {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "pipeline"}
    settings = mtls(pki, protocol, **(more if protocol == "SASL_SSL" else {}))
    config = settings.kafka_config()
    assert config["security.protocol"] == protocol
    assert (config["ssl.ca.location"], config["ssl.certificate.location"],
            config["ssl.key.location"]) == (str(pki.ca), str(pki.client_cert), str(pki.client_key))  # fmt: skip
    producer = settings.producer_config()
    assert all(producer[key] == config[key] for key in TLS_KEYS)


def test_tls_with_the_system_cas_sets_no_file(pki: Pki) -> None:
    """No CA file: librdkafka's own default (the system's CAs) and Python's, not an empty path."""
    settings = Settings(kafka_security_protocol="SASL_SSL")
    assert not set(TLS_KEYS) & set(settings.kafka_config())
    context = settings.kafka_ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    only_ca = Settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pki.ca)
    assert set(only_ca.kafka_config()) & set(TLS_KEYS) == {"ssl.ca.location"}


def test_the_context_trusts_the_ca_file_alone(pki: Pki) -> None:
    context = mtls(pki).kafka_ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [ca["subject"] for ca in context.get_ca_certs()] == [
        ((("commonName", "recordflow test CA"),),)
    ]


@pytest.mark.parametrize(
    ("protocol", "sasl", "kind", "aiokafka_protocol"),
    [
        ("SSL", None, faust.SSLCredentials, "SSL"),
        ("SASL_SSL", "SCRAM-SHA-512", faust.SASLCredentials, "SASL_SSL"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512", faust.SASLCredentials, "SASL_PLAINTEXT"),
    ],
)  # fmt: skip
def test_the_workers_credentials(pki: Pki, protocol: str, sasl: str | None, kind: type,
                                 aiokafka_protocol: str) -> None:  # fmt: skip
    """SSL alone gives the workers TLS too (faust used to get TLS only with SASL)."""
    tls = protocol.endswith("SSL")
    sasl_user = {"kafka_sasl_mechanism": sasl, "kafka_sasl_username": "pipeline"}
    settings = (
        mtls(pki, protocol, **sasl_user)
        if tls
        else Settings(kafka_security_protocol=protocol, **sasl_user)  # type: ignore[arg-type]
    )
    credentials = _credentials(settings)
    assert isinstance(credentials, kind)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == aiokafka_protocol
    context = auth["ssl_context"]
    assert (context is not None) == tls
    if tls:
        assert [ca["subject"] for ca in context.get_ca_certs()] == [
            ((("commonName", "recordflow test CA"),),)
        ]


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[tuple[int, list[str]]]:
    """A TLS server on 127.0.0.1 that requires a client certificate signed by the test CA, as a
    broker with ssl.client.auth=required does; it records each client's subject CN (or the
    handshake's error)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    seen: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    peer: Any = tls.getpeercert()
                    seen.append(dict(rdn[0] for rdn in peer["subject"])["commonName"])
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError) as exc:
                seen.append(f"refused: {exc}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    listener.close()
    thread.join(10)


def handshake(context: ssl.SSLContext, port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.recv(2)


def test_the_context_completes_a_mutual_handshake(pki: Pki, mtls_server: tuple[int, list[str]],
                                                  tmp_path: Path) -> None:  # fmt: skip
    port, seen = mtls_server
    context = mtls(pki).kafka_ssl_context()
    assert context is not None
    assert handshake(context, port) == b"ok"
    assert seen == ["pipeline"]
    # The system's CAs do not know the test CA: the server is not trusted.
    system = Settings(kafka_security_protocol="SSL").kafka_ssl_context()
    assert system is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(system, port)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "client_cert"},
         "kafka_ssl_cert_file and kafka_ssl_key_file go together (a client certificate and its "
         "key): only kafka_ssl_cert_file is set"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "ca",
          "kafka_ssl_key_file": "client_key"},
         "only kafka_ssl_key_file is set"),
        ({"kafka_ssl_ca_file": "ca"},
         "kafka_ssl_ca_file set, but kafka_security_protocol is PLAINTEXT: TLS files need SSL or "
         "SASL_SSL"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_ssl_cert_file": "client_cert",
          "kafka_ssl_key_file": "client_key"},
         "kafka_ssl_cert_file, kafka_ssl_key_file set, but kafka_security_protocol is "
         "SASL_PLAINTEXT"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_ssl_ca_file": "missing"},
         "kafka_ssl_ca_file {missing}: no such file"),
    ],
)  # fmt: skip
def test_bad_combinations_are_refused(pki: Pki, tmp_path: Path, given: dict[str, str],
                                      message: str) -> None:  # fmt: skip
    files = {"ca": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key,
             "missing": tmp_path / "nowhere" / "ca.crt"}  # fmt: skip
    values = {k: files.get(v, v) for k, v in given.items()}
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    assert message.format(missing=files["missing"]) in str(refused.value)


def test_a_refused_setting_is_one_line_without_the_values(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pydantic's own message repeats every input given, the SASL password too: the CLI's last
    boundary says only which setting is wrong and why."""
    monkeypatch.setenv("RECORDFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("RECORDFLOW_KAFKA_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("RECORDFLOW_KAFKA_SSL_CERT_FILE", str(pki.client_cert))
    monkeypatch.delenv("RECORDFLOW_TRACEBACK", raising=False)
    monkeypatch.setattr(sys, "argv", ["recordflow", "records", "list"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "error: ValidationError: Settings: kafka_ssl_cert_file and kafka_ssl_key_file go together"
    )
    assert "hunter2-secret" not in err
