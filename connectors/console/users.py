"""The console's accounts: a name, a role and an argon2 hash of the password, on a compacted topic.

An account, keyed by its name on `recordflow.console-users.v1` (JSON), holds its role, the argon2id
hash of its password (argon2-cffi's PasswordHasher defaults: RFC 9106's second recommendation,
64 MiB, 3 passes; a person's password is guessable, so the hash must be slow), when it was created
and, once disabled, when. Every console replica follows the topic through `CompactedView`, as the
gateway follows its credentials (connectors/gateway/credentials.py): an account added or disabled
takes effect within a second everywhere, with no restart and no shared disk. `recordflow console
users add / list / disable` writes and reads it; the console itself only reads.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from confluent_kafka import KafkaError, Message, Producer

from connectors.compacted import CompactedView
from connectors.console.roles import ROLES, Role
from recordflow.settings import Settings
from recordflow.timeouts import DELIVERY_TIMEOUT_S

NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD_LENGTH = 12
HASHER = PasswordHasher()
# Verified when the name is no account, so that a wrong name takes as long as a wrong password
# and the time of an answer does not tell which names exist.
_DUMMY_HASH = HASHER.hash("no such account: a password nobody has")


class UserError(Exception):
    """An account could not be added, changed or read; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["created_at"] = self.created_at.isoformat()
        values["disabled_at"] = self.disabled_at.isoformat() if self.disabled_at else None
        return values

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> User:
        values = json.loads(raw)
        if values["role"] not in ROLES:
            raise ValueError(f"unknown role {values['role']!r}")
        disabled = values.get("disabled_at")
        return cls(
            name=str(values["name"]), role=cast(Role, values["role"]),
            password_hash=str(values["password_hash"]),
            created_at=dt.datetime.fromisoformat(values["created_at"]),
            disabled_at=dt.datetime.fromisoformat(disabled) if disabled else None,
        )  # fmt: skip


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(
            f"account name {name!r}: 2-32 characters, lowercase letters, digits, '.', '_' or '-', "
            "beginning with a letter"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def new_user(name: str, role: str, password: str, now: dt.datetime | None = None) -> User:
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")
    return User(check_name(name), cast(Role, role), HASHER.hash(check_password(password)),
                now or dt.datetime.now(dt.UTC))  # fmt: skip


def verify(user: User | None, password: str) -> User | None:
    """The account if it is active and the password is its own, else None. A missing or disabled
    account costs one argon2 verification all the same."""
    try:
        HASHER.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return user


class UserDirectory:
    """Looks accounts up by name (`lookup`: a CompactedView's `get` in the console, a dict's in
    unit tests). `ready` is false until the accounts were read once: until then nobody can sign
    in (503), rather than everybody being told their password is wrong."""

    def __init__(self, lookup: Callable[[str], User | None], *,
                 ready: Callable[[], bool] = lambda: True) -> None:  # fmt: skip
        self._lookup = lookup
        self._ready = ready

    @property
    def ready(self) -> bool:
        return self._ready()

    def get(self, name: str) -> User | None:
        return self._lookup(name)

    def authenticate(self, name: str, password: str) -> User | None:
        return verify(self._lookup(name), password)


# --- the topic ------------------------------------------------------------------------------
def view(settings: Settings, interval_s: float = 1.0) -> CompactedView[User]:
    """The accounts topic as a view (not started)."""
    return CompactedView(settings, settings.console_users_topic, User.decode, interval_s=interval_s)


def users(settings: Settings) -> list[User]:
    """Every account, active and disabled, by name (hashes only, never a password)."""
    current = view(settings)
    try:
        current.refresh()
        return sorted(current.snapshot().values(), key=lambda user: user.name)
    finally:
        current.close()


def _write(settings: Settings, user: User) -> None:
    """Write one entry and wait for Kafka's confirmation."""
    producer = Producer(settings.producer_config())
    failures: list[str] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error.str())

    producer.produce(settings.console_users_topic, key=user.name.encode(), value=user.encode(),
                     on_delivery=delivered)  # fmt: skip
    remaining = producer.flush(DELIVERY_TIMEOUT_S)
    if remaining or failures:
        raise UserError(
            f"Kafka did not confirm the account on {settings.console_users_topic}: "
            + ("; ".join(failures) or f"{remaining} unconfirmed")
        )


def add(settings: Settings, name: str, role: str, password: str, *,
        replace_existing: bool = False) -> User:  # fmt: skip
    """Add an account (or, with `replace_existing`, give an existing one a new role and password
    and enable it again). The password is hashed here and never written anywhere."""
    user = new_user(name, role, password)
    existing = {u.name: u for u in users(settings)}.get(name)
    if existing is not None and not replace_existing:
        raise UserError(f"account {name!r} exists; --replace gives it a new password and role")
    _write(settings, user)
    return user


def disable(settings: Settings, name: str) -> User:
    """Disable an account: every replica refuses it within a second, its open sessions too.
    Disabling a disabled account changes nothing."""
    existing = {u.name: u for u in users(settings)}.get(name)
    if existing is None:
        raise UserError(f"no account {name!r}")
    if not existing.active:
        return existing
    disabled = replace(existing, disabled_at=dt.datetime.now(dt.UTC))
    _write(settings, disabled)
    return disabled
