"""Passwords, sessions, CSRF tokens and sign-in throttling of the console, without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.console.auth import LoginThrottle, Session, SessionCodec, csrf_ok
from connectors.console.roles import PERMISSIONS, ROLES, allowed
from connectors.console.users import User, UserError, new_user, verify
from tests.unit.connectors.console.console_parts import PASSWORD, disabled

CODEC = SessionCodec(b"k" * 32, idle_s=1800, lifetime_s=12 * 3600)


def test_passwords_are_argon2id_hashes_that_verify_only_the_password() -> None:
    user = new_user("wang.dangan", "staff", PASSWORD)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert new_user("wang.dangan", "staff", PASSWORD).password_hash != user.password_hash  # salted
    assert verify(user, PASSWORD) == user
    assert verify(user, PASSWORD + "x") is None
    assert verify(None, PASSWORD) is None  # no such account: still one verification, no answer
    assert verify(disabled(user), PASSWORD) is None
    assert User.decode(user.encode()) == user


@pytest.mark.parametrize(("name", "role", "password"), [
    ("Wang", "staff", PASSWORD), ("w", "staff", PASSWORD), ("wang", "root", PASSWORD),
    ("wang", "staff", "short"),
])  # fmt: skip
def test_bad_accounts_are_refused(name: str, role: str, password: str) -> None:
    with pytest.raises(UserError):
        new_user(name, role, password)


def test_a_session_round_trips_and_a_forged_one_is_refused() -> None:
    session = Session.new(1000.0, "wang", "staff")
    cookie = CODEC.encode(session)
    assert CODEC.decode(cookie, 1001.0) == session
    payload, mac = cookie.split(".")
    as_admin = CODEC.encode(Session(**{**session.__dict__, "role": "admin"})).split(".")[0]
    for forged in (f"{as_admin}.{mac}", f"{payload}.{mac[:-2]}AA", payload, "", "a.b.c", "!.!"):
        assert CODEC.decode(forged, 1001.0) is None, forged
    other_key = SessionCodec(b"o" * 32, idle_s=1800, lifetime_s=3600)
    assert other_key.decode(cookie, 1001.0) is None


def test_a_session_ends_when_idle_and_at_its_lifetime_whatever_happens() -> None:
    session = Session.new(0.0, "wang", "staff")
    assert CODEC.decode(CODEC.encode(session), 1799.0) is not None
    assert CODEC.decode(CODEC.encode(session), 1801.0) is None  # 30 minutes without a request
    used = session
    for now in range(1500, 12 * 3600, 1500):  # used every 25 minutes
        used = used.touched(float(now))
        assert CODEC.decode(CODEC.encode(used), now + 1.0) is not None
    assert CODEC.decode(CODEC.encode(used.touched(12 * 3600 + 1.0)), 12 * 3600 + 2.0) is None


def test_csrf_tokens_are_the_sessions_own() -> None:
    session = Session.new(0.0)
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, Session.new(0.0).csrf)
    assert not csrf_ok(session, "")
    assert not csrf_ok(session, None)
    assert not csrf_ok(None, session.csrf)
    assert not csrf_ok(session, "令牌")  # non-ASCII: refused, not a TypeError


def test_five_failures_lock_a_key_for_the_lock_time() -> None:
    now = [0.0]
    throttle = LoginThrottle(5, lock_s=900, clock=lambda: now[0])
    assert [throttle.failed("user:wang") for _ in range(4)] == [False] * 4
    assert throttle.locked_for("user:wang") == 0
    assert throttle.failed("user:wang")  # the fifth
    assert throttle.locked_for("user:wang") == 900
    assert throttle.locked_for("user:li") == 0  # others are not
    now[0] = 899.0
    assert throttle.locked_for("user:wang") == pytest.approx(1.0)
    now[0] = 900.0
    assert throttle.locked_for("user:wang") == 0


def test_failures_outside_the_window_and_before_a_success_do_not_count() -> None:
    now = [0.0]
    throttle = LoginThrottle(3, lock_s=60, clock=lambda: now[0])
    throttle.failed("k")
    throttle.failed("k")
    now[0] = 61.0  # the first two are older than the window
    assert not throttle.failed("k")
    throttle.succeeded("k")
    assert not throttle.failed("k") and not throttle.failed("k")
    assert throttle.failed("k")


def test_many_keys_are_forgotten_once_their_failures_are_old() -> None:
    now = [0.0]
    throttle = LoginThrottle(5, lock_s=60, clock=lambda: now[0])
    for n in range(LoginThrottle.PRUNE_AT):
        throttle.failed(f"address:{n}")
    now[0] = 120.0
    throttle.failed("address:new")
    throttle.failed("address:newer")
    assert len(throttle._failures) == 2


def test_the_three_roles_are_kept_apart() -> None:
    assert set(ROLES) == {"staff", "admin", "auditor"}
    assert [role for role in ROLES if allowed(role, "audit.view")] == ["auditor"]
    assert [role for role in ROLES if allowed(role, "records.export")] == ["staff"]
    assert [role for role in ROLES if allowed(role, "deadletters.replay")] == ["admin"]
    assert [role for role in ROLES if allowed(role, "review.decide")] == ["staff"]
    assert [role for role in ROLES if allowed(role, "reports.transfer")] == ["staff"]
    # The auditor acts on nothing: every permission it has is to view.
    assert all(p.endswith(".view") for p, roles in PERMISSIONS.items() if "auditor" in roles)
    assert not allowed("staff", "no.such.permission") and not allowed(None, "overview.view")


def test_an_account_entry_reads_back_disabled() -> None:
    user = disabled(new_user("li", "auditor", PASSWORD))
    back = User.decode(user.encode())
    assert not back.active and isinstance(back.disabled_at, dt.datetime)
