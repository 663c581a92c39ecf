"""Sessions, CSRF tokens and sign-in throttling for the console; pure, no server.

**Sessions** are signed cookies: the session's fields as JSON, base64url, then an HMAC-SHA256 of
it with the console's secret key. Nothing is kept on the server, so any replica that shares the
key serves any session. A session carries a random id, its CSRF token, the account and role it was
signed in as, when it began and when it was last used: it ends after `idle` without a request, and
after `lifetime` whatever happens. A signed-out session's id is recorded (the audit trail's logout
event, which every replica's store reads), so a copy of its cookie is refused too.

Every visitor has a session, signed in or not, so that the sign-in form has a CSRF token too
(login CSRF: signing a victim in as the attacker). Signing in starts a new session, with a new id
and token (no session fixation).

**CSRF**: every POST carries the session's token, in the form field `csrf_token` or the header
`X-CSRF-Token` (htmx sends it from the page's `hx-headers`); compared in constant time.

**Throttling**: `LoginThrottle` counts failed sign-ins per key (an account name, a client address)
within a window; at the limit the key is locked for a while, whatever password comes. Counts are
per replica (in memory): a guesser spread over N replicas gets N times the tries, still a handful.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

COOKIE = "recordflow_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    started: float  # unix time
    seen: float
    user: str | None = None
    role: str | None = None

    @classmethod
    def new(cls, now: float, user: str | None = None, role: str | None = None) -> Session:
        return cls(secrets.token_urlsafe(16), secrets.token_urlsafe(32), now, now, user, role)

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    def touched(self, now: float) -> Session:
        return replace(self, seen=now)


class SessionCodec:
    """Turns sessions into cookie values and back, refusing forged, malformed and ended ones."""

    def __init__(self, key: bytes, *, idle_s: float, lifetime_s: float) -> None:
        if len(key) < 32:
            raise ValueError("the session key must have at least 32 bytes")
        self._key = key
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def encode(self, session: Session) -> str:
        payload = json.dumps(asdict(session), separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, value: str | None, now: float) -> Session | None:
        """The session of a cookie value; None when it is absent, forged, malformed or over."""
        if not value or value.count(".") != 1:
            return None
        encoded, mac = value.split(".")
        try:
            payload, given = _unb64(encoded), _unb64(mac)
        except ValueError:
            return None
        if not hmac.compare_digest(self._mac(payload), given):
            return None
        try:
            fields: dict[str, Any] = json.loads(payload)
            session = Session(**fields)
        except (ValueError, TypeError):
            return None
        if now - session.seen > self.idle_s or now - session.started > self.lifetime_s:
            return None
        return session


def csrf_ok(session: Session | None, given: str | None) -> bool:
    if session is None or not given:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, which anyone can send.
    return hmac.compare_digest(session.csrf.encode(), given.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


class LoginThrottle:
    """Failed sign-ins per key: `max_failures` within `window_s` lock the key for `lock_s`."""

    def __init__(self, max_failures: int, lock_s: float, *, window_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.max_failures = max_failures
        self.lock_s = lock_s
        self.window_s = window_s if window_s is not None else lock_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    # Keys whose failures are all older than the window are forgotten once this many are kept,
    # so that a scan over many names or addresses cannot grow the replica's memory for good.
    PRUNE_AT = 10_000

    def locked_for(self, key: str) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        with self._lock:
            return max(0.0, self._locked_until.get(key, 0.0) - self._clock())

    def failed(self, key: str) -> bool:
        """Count a failure; True when it locks the key."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked_until[key] = now + self.lock_s
                self._failures.pop(key, None)
                return True
            self._failures[key] = recent
            if len(self._failures) > self.PRUNE_AT:
                self._prune(now)
            return False

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if now - times[-1] >= self.window_s]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
