"""A test PKI for TLS to Kafka: a CA, a server certificate for 127.0.0.1 (an IP SAN, which both
librdkafka and Python's ssl check the address against) and a client certificate, all PEM with
unencrypted PKCS#8 keys, as Strimzi's KafkaUser Secrets hold them and as Kafka's PEM key stores
read them (ssl.keystore.type=PEM, Kafka 3.3 and later)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048
VALID_FOR = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Pki:
    """The files of one test PKI. `keystore`: the server's key and certificate in one file, the
    shape of Kafka's PEM key store file."""

    ca: Path
    server_cert: Path
    server_key: Path
    keystore: Path
    client_cert: Path
    client_key: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _issue(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
    *,
    usage: x509.ObjectIdentifier | None = None,
    ip: str | None = None,
) -> x509.Certificate:
    """A certificate for `key`: self-signed as a CA when `issuer` is None, else a leaf with the
    extended key usage `usage` (and an IP SAN `ip`) signed by the issuer's key."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signing_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                          key_agreement=False, encipher_only=False, decipher_only=False),
            critical=True,
        )  # fmt: skip
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if ip is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                critical=False,
            )
    return builder.sign(signing_key, hashes.SHA256())


def make_pki(directory: Path, *, client: str = "pipeline", ip: str = "127.0.0.1") -> Pki:
    """A CA, a server certificate for `ip` and a client certificate whose subject is CN=`client`
    (Kafka's principal User:CN=<client>), written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_cert = _issue("recordflow test CA", ca_key, None)
    issuer = (ca_cert.subject, ca_key)
    server_key = _key()
    server_cert = _issue("kafka", server_key, issuer, usage=ExtendedKeyUsageOID.SERVER_AUTH, ip=ip)
    client_key = _key()
    client_cert = _issue(client, client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    pki = Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        keystore=directory / "server-keystore.pem",
        client_cert=directory / "user.crt",
        client_key=directory / "user.key",
    )
    pki.ca.write_bytes(_pem_cert(ca_cert))
    pki.server_cert.write_bytes(_pem_cert(server_cert))
    pki.server_key.write_bytes(_pem_key(server_key))
    pki.keystore.write_bytes(_pem_key(server_key) + _pem_cert(server_cert))
    pki.client_cert.write_bytes(_pem_cert(client_cert))
    pki.client_key.write_bytes(_pem_key(client_key))
    for key in (pki.server_key, pki.keystore, pki.client_key):
        key.chmod(0o600)
    return pki
