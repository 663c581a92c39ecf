"""The secure profile of the local stack: who may do what, and with which credentials.

`recordflow stack up --secure` runs a second Kafka (SASL/SCRAM-SHA-512 listeners, KRaft's
StandardAuthorizer, nothing allowed without an ACL) and a second versitygw (its internal IAM,
bucket policies) on ports of their own, beside the plain stack, which most tests share. It shares
the plain stack's installs and schema registry. Its home is `<plain home>/secure/`.

Principals, the same names on Kafka (SCRAM users) and S3 (access key ids):
    admin                the Kafka super user and the S3 root: sets up topics, ACLs, buckets
    pipeline             the workers: read the ingest topics, write records.* and recordflow.*
    subscriber           downstream systems: read records.archival-ready.v1 / records.catalog.v1
    archivist            archive staff's tools: review decisions and appraisals, dead-letter
                         replays, reading the records, the queues and the dead letters
    gateway              the HTTP gateway: submits for agency systems, reads their receipts
    lookup               the lookup service: reads the catalog and the access decisions, writes
                         the audit trail, reads archived versions (its download links)
    agency-<code>        one per agency in the registry: write its own ingest topic and its own
                         staging prefix, nothing else

Their passwords and secret keys are generated once per stack and kept in `<home>/secrets.json`
(mode 0600). They are never printed or logged: Settings holds them as SecretStr, and the only
copies outside that file are the Kafka server's own config (0600, its admin password) and the
servers' credential stores under `<home>/data/`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from recordflow.agencies import AgencyRegistry
from recordflow.principals import Principals
from recordflow.settings import Settings

ADMIN = "admin"
# The roles' names as Settings name them by default (tests sign in with them); model_construct:
# the defaults alone, not the environment.
DEFAULT_NAMES = Principals.of(Settings.model_construct())
PIPELINE = DEFAULT_NAMES.pipeline
SUBSCRIBER = DEFAULT_NAMES.subscriber
ARCHIVIST = DEFAULT_NAMES.archivist
LOOKUP = DEFAULT_NAMES.lookup
SCRAM_MECHANISM = "SCRAM-SHA-512"
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
SECURE_HOME = "secure"
SECRETS_FILE = "secrets.json"
SECRET_BYTES = 24  # token_urlsafe: letters, digits, '-' and '_' (safe in JAAS and --add-scram)
S3_ADMIN_TIMEOUT_S = 10.0

Kind = Literal["admin", "pipeline", "subscriber", "staff", "gateway", "lookup", "agency"]


class SecureProfileError(Exception):
    """The secure profile cannot be used as asked; the message says why."""


@dataclass(frozen=True)
class Principal:
    name: str
    kind: Kind
    agency: str | None = None  # the agency's code, for kind "agency"


def agency_principal(code: str) -> str:
    return DEFAULT_NAMES.agency(code)


def principals(settings: Settings, registry: AgencyRegistry) -> list[Principal]:
    """Every principal of the secure profile: admin, then the roles as `settings` name them
    (pipeline, subscriber, archivist, gateway, lookup) and one per agency."""
    names = Principals.of(settings)
    return [
        Principal(ADMIN, "admin"),
        Principal(names.pipeline, "pipeline"),
        Principal(names.subscriber, "subscriber"),
        Principal(names.archivist, "staff"),
        Principal(names.gateway, "gateway"),
        Principal(names.lookup, "lookup"),
        *(Principal(names.agency(a.code), "agency", a.code) for a in registry.agencies),
    ]


@dataclass(frozen=True)
class Credential:
    kafka_password: SecretStr
    s3_secret_key: SecretStr


class Secrets:
    """The profile's generated credentials, one per principal, in a 0600 JSON file."""

    def __init__(self, path: Path, credentials: dict[str, Credential]) -> None:
        self.path = path
        self.credentials = credentials

    def __repr__(self) -> str:  # never the values
        return f"Secrets({self.path}, principals={sorted(self.credentials)})"

    def __getitem__(self, principal: str) -> Credential:
        try:
            return self.credentials[principal]
        except KeyError:
            raise SecureProfileError(
                f"no credentials for {principal!r} in {self.path}; "
                "run `recordflow stack up --secure` (it adds new principals)"
            ) from None

    def values(self) -> list[str]:
        """Every secret, for tests that check none of them leaks."""
        return [
            secret.get_secret_value()
            for credential in self.credentials.values()
            for secret in (credential.kafka_password, credential.s3_secret_key)
        ]

    @classmethod
    def load(cls, path: Path) -> Secrets | None:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        credentials = {
            name: Credential(SecretStr(entry["kafka_password"]), SecretStr(entry["s3_secret_key"]))
            for name, entry in raw["principals"].items()
        }
        return cls(path, credentials)

    @classmethod
    def load_or_create(cls, path: Path, names: list[str]) -> Secrets:
        """The file's credentials, with new ones generated for principals it lacks."""
        existing = cls.load(path) or cls(path, {})
        missing = [name for name in names if name not in existing.credentials]
        if not missing:
            return existing
        for name in missing:
            existing.credentials[name] = Credential(
                SecretStr(secrets.token_urlsafe(SECRET_BYTES)),
                SecretStr(secrets.token_urlsafe(SECRET_BYTES)),
            )
        existing.save()
        return existing

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "principals": {
                name: {
                    "kafka_password": credential.kafka_password.get_secret_value(),
                    "s3_secret_key": credential.s3_secret_key.get_secret_value(),
                }
                for name, credential in sorted(self.credentials.items())
            }
        }
        partial = self.path.with_suffix(".tmp")
        # Created 0600 (not chmod-ed after): the secrets are never readable by others.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        partial.replace(self.path)


def secure_home(plain: Settings) -> Path:
    return plain.home.resolve() / SECURE_HOME


def secrets_path(settings: Settings) -> Path:
    """Where a secure-profile Settings' stack keeps its secrets."""
    return settings.home.resolve() / SECRETS_FILE


def secure_settings(
    plain: Settings,
    principal: str = ADMIN,
    *,
    registry: AgencyRegistry | None = None,
    create: bool = False,
) -> Settings:
    """Settings for `principal` on the secure profile beside the plain stack `plain` describes.

    Names (topic and bucket prefixes, app id) and the schema registry stay as in `plain`. With
    `create`, credentials are generated for principals the secrets file lacks (`registry`, the
    agency registry, names them); otherwise a missing file leaves the password unset.
    """
    if plain.stack_profile == "secure":
        raise SecureProfileError("secure_settings() takes the plain stack's Settings")
    home = secure_home(plain)
    path = home / SECRETS_FILE
    if create:
        if registry is None:
            from recordflow.agencies import load_registry

            registry = load_registry(plain.agencies_file)
        stored: Secrets | None = Secrets.load_or_create(
            path, [p.name for p in principals(plain, registry)]
        )
    else:
        stored = Secrets.load(path)
    credential = stored[principal] if stored is not None else None
    return plain.model_copy(
        update={
            "home": home,
            "stack_profile": "secure",
            "stack_shared_home": plain.home.resolve(),
            "kafka_bootstrap": f"127.0.0.1:{plain.secure_kafka_port}",
            "kafka_controller_port": plain.secure_kafka_controller_port,
            "kafka_security_protocol": SECURITY_PROTOCOL,
            "kafka_sasl_mechanism": SCRAM_MECHANISM,
            "kafka_sasl_username": principal,
            "kafka_sasl_password": credential.kafka_password if credential else None,
            "s3_port": plain.secure_s3_port,
            "s3_endpoint": f"127.0.0.1:{plain.secure_s3_port}",
            "s3_secure": False,
            "s3_access_key": principal,
            "s3_secret_key": credential.s3_secret_key if credential else SecretStr(""),
        }
    )


def as_principal(settings: Settings, principal: str) -> Settings:
    """The same secure-profile Settings (prefixes and all), signed in as another principal."""
    if settings.stack_profile != "secure":
        raise SecureProfileError("as_principal() takes a secure-profile Settings")
    stored = Secrets.load(secrets_path(settings))
    if stored is None:
        raise SecureProfileError(f"no {secrets_path(settings)}; run `recordflow stack up --secure`")
    credential = stored[principal]
    return settings.model_copy(
        update={
            "kafka_sasl_username": principal,
            "kafka_sasl_password": credential.kafka_password,
            "s3_access_key": principal,
            "s3_secret_key": credential.s3_secret_key,
        }
    )


# --- provisioning: the principals' credentials on the servers -------------------------------


def ensure_scram_users(admin_settings: Settings, stored: Secrets, names: list[str]) -> None:
    """Upsert each principal's SCRAM-SHA-512 credential (the admin's was set at format time).
    Idempotent: an upsert with the stored password leaves the user able to sign in as before."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({**admin_settings.kafka_config(), "log_level": 0})
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
            stored[name].kafka_password.get_secret_value().encode(),
        )
        for name in names
        if name != ADMIN
    ]
    if not upserts:
        return
    try:
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result()
    except KafkaException as exc:
        # The exception names the user and Kafka's error, never the password.
        raise SecureProfileError(f"could not set SCRAM credentials: {exc}") from exc


def create_principal(admin_settings: Settings, name: str) -> None:
    """A new principal (an onboarded agency's) on the running secure profile: its generated
    credentials in the secrets file, its SCRAM user and its S3 account."""
    stored = Secrets.load_or_create(secrets_path(admin_settings), [name])
    ensure_scram_users(admin_settings, stored, [name])
    ensure_s3_accounts(admin_settings, stored, [name])


def ensure_s3_accounts(admin_settings: Settings, stored: Secrets, names: list[str]) -> None:
    """Create (or reset the secret of) each principal's versitygw IAM account, role "user": an
    account that may do only what a bucket policy grants it. The admin is the gateway's root."""
    admin = S3Admin(admin_settings)
    existing = admin.list_users()
    for name in names:
        if name == ADMIN:
            continue
        secret = stored[name].s3_secret_key.get_secret_value()
        if name in existing:
            admin.update_user(name, secret)
        else:
            admin.create_user(name, secret, "user")


class S3Admin:
    """versitygw's admin API (`versitygw admin …` speaks it too): PATCH requests on the gateway's
    own port, signed with the root's credentials (SigV4, service s3)."""

    def __init__(self, settings: Settings) -> None:
        scheme = "https" if settings.s3_secure else "http"
        self.base = f"{scheme}://{settings.s3_endpoint}"
        self.settings = settings

    def _patch(self, path: str, body: bytes = b"") -> httpx.Response:
        from minio.credentials import Credentials
        from minio.signer import sign_v4_s3

        url = urlsplit(f"{self.base}{path}")
        digest = hashlib.sha256(body).hexdigest()
        now = dt.datetime.now(dt.UTC)
        headers = {
            "Host": url.netloc,
            "x-amz-content-sha256": digest,
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
        }
        credentials = Credentials(
            self.settings.s3_access_key, self.settings.s3_secret_key.get_secret_value()
        )
        signed = sign_v4_s3(
            method="PATCH",
            url=url,
            region=self.settings.s3_region,
            headers=headers,  # type: ignore[arg-type]
            credentials=credentials,
            content_sha256=digest,
            date=now,
        )
        response = httpx.request(
            "PATCH",
            url.geturl(),
            content=body,
            headers={k: str(v) for k, v in signed.items()},
            timeout=S3_ADMIN_TIMEOUT_S,
        )
        if response.status_code >= httpx.codes.BAD_REQUEST:
            code = _xml_text(response.content, "Code") or str(response.status_code)
            raise SecureProfileError(f"versitygw admin {path.split('?')[0]}: {code}")
        return response

    def list_users(self) -> set[str]:
        response = self._patch("/list-users")
        root = ET.fromstring(response.content)
        return {el.text or "" for el in root.iter() if _local(el.tag) == "Access"}

    def create_user(self, access: str, secret: str, role: str) -> None:
        account = ET.Element("Account")
        for tag, value in (("Access", access), ("Secret", secret), ("Role", role)):
            ET.SubElement(account, tag).text = value
        self._patch("/create-user", ET.tostring(account))

    def update_user(self, access: str, secret: str) -> None:
        props = ET.Element("MutableProps")
        ET.SubElement(props, "Secret").text = secret
        self._patch(f"/update-user?access={access}", ET.tostring(props))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_text(content: bytes, name: str) -> str | None:
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    return next((el.text for el in root.iter() if _local(el.tag) == name), None)
