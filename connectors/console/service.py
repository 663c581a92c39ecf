"""What a console replica holds while it runs, in one object the routes reach through the app:
its settings, its store and the thread that follows the topics into it, the accounts, the audit
trail, the Avro codec, the session codec and the sign-in throttles. `start_console(settings)`
builds it on real servers; tests build it from parts (a dict of accounts, a list as the audit
trail)."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry

from avro_schemas.codec import Codec
from avro_schemas.records import AuditEvent
from connectors.audit import AuditLog
from connectors.console import users
from connectors.console.auth import LoginThrottle, Session, SessionCodec
from connectors.console.health import Health, pipeline_health
from connectors.console.store import Store, StoreFollower
from connectors.console.users import UserDirectory
from connectors.storage import Storage
from recordflow.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE = "session.key"


class AuditSink(Protocol):
    def append(self, event: AuditEvent) -> None: ...

    def try_append(self, event: AuditEvent) -> None: ...


class Console:
    def __init__(self, settings: Settings, *, store: Store, accounts: UserDirectory,
                 audit: AuditSink, key: bytes, follower: StoreFollower | None = None,
                 storage: Callable[[], Storage] | None = None, codec: Codec | None = None,
                 metrics: CollectorRegistry | None = None,
                 health: Callable[[], Health] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.store = store
        # Decodes letters and encodes decisions (asks the registry only when it is used).
        self.codec = codec or Codec.from_url(settings.schema_registry_url)
        self.accounts = accounts
        self.audit = audit
        self.follower = follower
        self.metrics = metrics or CollectorRegistry()
        self.sessions = SessionCodec(key, idle_s=settings.console_session_idle_minutes * 60,
                                     lifetime_s=settings.console_session_max_hours * 3600)  # fmt: skip
        lock_s = settings.console_login_lock_minutes * 60
        self.user_throttle = LoginThrottle(settings.console_login_max_failures, lock_s)
        self.address_throttle = LoginThrottle(settings.console_login_max_failures_per_address,
                                              lock_s)  # fmt: skip
        self._storage_factory = storage or (lambda: Storage(settings))
        self._storage: Storage | None = None
        self._storage_lock = threading.Lock()
        self.health = health or (lambda: pipeline_health(settings))  # asked per overview page
        self._on_close = on_close

    @property
    def storage(self) -> Storage:
        """The S3 client, made on first use (a download): a console without S3 still serves pages."""
        with self._storage_lock:
            if self._storage is None:
                self._storage = self._storage_factory()
            return self._storage

    @property
    def caught_up(self) -> bool:
        return self.follower is None or self.follower.caught_up.is_set()

    def still_valid(self, session: Session) -> bool:
        """A signed-in session holds while it was not signed out and its account is still active
        in the role it signed in with (a disabled account, or a new role, signs in again)."""
        user = self.accounts.get(session.user or "")
        return (
            user is not None and user.active and user.role == session.role
            and not self.store.session_ended(session.sid)
        )  # fmt: skip

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()


def session_key(settings: Settings) -> bytes:
    """The key that signs session cookies: `console_secret_key`, or one kept in the data folder
    (made on first start, mode 0600) so that sessions survive a restart of this replica."""
    if settings.console_secret_key is not None:
        return settings.console_secret_key.get_secret_value().encode()
    path: Path = settings.console_path / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def start_console(settings: Settings) -> Console:
    """A Console on real servers. The accounts and the store follow their topics on threads of
    their own, so a console started before Kafka (or before `topics apply`) comes up, answers
    503 to a sign-in until it has read its accounts, and shows its store catching up."""
    codec = Codec.from_url(settings.schema_registry_url)
    metrics = CollectorRegistry()
    accounts = users.view(settings).start(wait=False, retry_s=5.0)
    store = Store.for_settings(settings)
    follower = StoreFollower(store, settings, codec, metrics).start()
    audit = AuditLog(settings, codec)

    def close() -> None:
        follower.close()
        accounts.close()
        audit.close()

    return Console(settings, store=store, accounts=UserDirectory(accounts.get,
                   ready=accounts.ready.is_set), audit=audit, key=session_key(settings),
                   follower=follower, codec=codec, metrics=metrics, on_close=close)  # fmt: skip
