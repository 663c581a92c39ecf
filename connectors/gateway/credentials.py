"""Per-agency bearer tokens for the gateway, issued by onboarding and stored only hashed.

A token reads `rfg_<token id>_<secret>`: the token id (hex) names the entry, the secret
(`secrets.token_urlsafe(32)`, 256 bits) is shown once and never stored. The entry, keyed by token
id on the compacted topic `recordflow.gateway-credentials.v1` (JSON), holds the agency, the
SHA-256 of the secret, when it was issued and, once revoked, when. A secret that random needs no
slow hash (bcrypt and friends slow down guessing a low-entropy password; nobody guesses 2^256).
Every gateway replica follows the topic through `CompactedView`, so a token issued or revoked
takes effect within a second, with no restart.

Rotation without downtime: issue a second token, switch the client over, revoke the first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from connectors.agency_registry import current_registry
from connectors.compacted import CompactedView
from recordflow.agencies import AgencyRegistry
from recordflow.settings import Settings
from recordflow.timeouts import DELIVERY_TIMEOUT_S

log = logging.getLogger(__name__)

PREFIX = "rfg"
TOKEN = re.compile(r"rfg_(?P<token_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})")


class CredentialError(Exception):
    """A credential could not be issued or revoked; the message says why."""


@dataclass(frozen=True)
class Credential:
    token_id: str
    agency: str
    secret_sha256: str
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["issued_at"] = self.issued_at.isoformat()
        values["revoked_at"] = self.revoked_at.isoformat() if self.revoked_at else None
        return values

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Credential:
        values = json.loads(raw)
        revoked = values.get("revoked_at")
        return cls(
            token_id=str(values["token_id"]), agency=str(values["agency"]),
            secret_sha256=str(values["secret_sha256"]),
            issued_at=dt.datetime.fromisoformat(values["issued_at"]),
            revoked_at=dt.datetime.fromisoformat(revoked) if revoked else None,
        )  # fmt: skip


def token_id_of(token: str) -> str:
    """The id in a token `rfg_<token id>_<secret>` (what `revoke` takes); ValueError otherwise."""
    match = TOKEN.fullmatch(token)
    if match is None:
        raise ValueError("not a gateway token")
    return match["token_id"]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(agency_code: str, now: dt.datetime | None = None) -> tuple[Credential, str]:
    """A fresh credential for `agency_code` and its token (the only time the secret exists)."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    credential = Credential(token_id, agency_code, digest(secret), now or dt.datetime.now(dt.UTC))
    return credential, f"{PREFIX}_{token_id}_{secret}"


class CredentialStore:
    """Verifies bearer tokens against credentials looked up by token id (`lookup`: a
    CompactedView's `get` in the gateway, a dict's in unit tests). `ready` is false until the
    credentials were read once: a gateway that cannot tell callers apart answers 503."""

    def __init__(self, lookup: Callable[[str], Credential | None], *,
                 ready: Callable[[], bool] = lambda: True) -> None:  # fmt: skip
        self._lookup = lookup
        self._ready = ready

    @property
    def ready(self) -> bool:
        return self._ready()

    def agency_of(self, token: str) -> str | None:
        """The agency a token stands for, or None: malformed, unknown, revoked or wrong secret."""
        match = TOKEN.fullmatch(token)
        if match is None:
            return None
        credential = self._lookup(match["token_id"])
        # The digests are compared in constant time, whatever the outcome, so that the time an
        # answer takes says nothing about the secret.
        expected = credential.secret_sha256 if credential is not None else "0" * 64
        same = hmac.compare_digest(digest(match["secret"]), expected)
        if credential is None or credential.revoked_at is not None or not same:
            return None
        return credential.agency


# --- the topic ------------------------------------------------------------------------------
def view(settings: Settings, interval_s: float = 1.0) -> CompactedView[Credential]:
    """The credentials topic as a view (not started)."""
    return CompactedView(settings, settings.gateway_credentials_topic, Credential.decode,
                         interval_s=interval_s)  # fmt: skip


def _all(settings: Settings) -> dict[str, Credential]:
    current = view(settings)
    try:
        current.refresh()
        return current.snapshot()
    finally:
        current.close()


def _write(settings: Settings, credentials: list[Credential]) -> None:
    """Write entries and wait for Kafka's confirmation of every one."""
    producer = Producer(settings.producer_config())
    failures: list[str] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error.str())

    for credential in credentials:
        producer.produce(settings.gateway_credentials_topic, key=credential.token_id.encode(),
                         value=credential.encode(), on_delivery=delivered)  # fmt: skip
    remaining = producer.flush(DELIVERY_TIMEOUT_S)
    if remaining or failures:
        raise CredentialError(
            f"Kafka did not confirm the credential(s) on {settings.gateway_credentials_topic}: "
            + ("; ".join(failures) or f"{remaining} unconfirmed")
        )


def issue(settings: Settings, agency_code: str,
          registry: AgencyRegistry | None = None) -> tuple[str, str]:  # fmt: skip
    """Issue a token for an active agency of `registry` (the live registry when None; onboarding
    gives the one its agency is joining): (token id, token). The token is returned once and never
    stored; give it to the agency's system over a secure channel."""
    agency = (registry or current_registry(settings)).get(agency_code)
    if agency is None:
        raise CredentialError(f"unknown agency {agency_code!r}: onboard it first")
    if not agency.active:
        raise CredentialError(f"agency {agency_code!r} was offboarded")
    credential, token = new_token(agency_code)
    _write(settings, [credential])
    return credential.token_id, token


def revoke(settings: Settings, token_id: str) -> Credential:
    """Revoke one token (at once on every gateway replica, within a second). Revoking a revoked
    token changes nothing and returns it as it is."""
    credential = _all(settings).get(token_id)
    if credential is None:
        raise CredentialError(f"no token {token_id!r}")
    if credential.revoked_at is not None:
        return credential
    revoked = replace(credential, revoked_at=dt.datetime.now(dt.UTC))
    _write(settings, [revoked])
    return revoked


def revoke_agency(settings: Settings, agency_code: str) -> list[Credential]:
    """Revoke every live token of an agency (offboarding); returns those revoked."""
    now = dt.datetime.now(dt.UTC)
    live = [
        replace(c, revoked_at=now) for c in tokens(settings, agency_code) if c.revoked_at is None
    ]
    if live:
        _write(settings, live)
    return live


def tokens(settings: Settings, agency_code: str) -> list[Credential]:
    """An agency's tokens, live and revoked, oldest first (digests only, never a secret)."""
    mine = [c for c in _all(settings).values() if c.agency == agency_code]
    return sorted(mine, key=lambda credential: credential.issued_at)
