"""Bearer tokens of the lookup service (connectors/lookup/tokens.py): staff tokens signed with the
archive's key, citizen tokens with the portal's, each refused with a reason code when its key,
audience, subject, role or expiry does not hold."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from connectors.lookup.tokens import (
    AUDIENCE,
    CITIZEN,
    MAX_LIFETIME_S,
    STAFF,
    TokenRefused,
    issue,
    verify,
)

STAFF_KEY = "staff-key-" + "s" * 32
PORTAL_KEY = "portal-key-" + "p" * 32


def signed(key: str, **claims: Any) -> str:
    """A token with exactly `claims` (issue() always sets them all)."""
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(key.encode()))


def refused(token: str, staff_key: str | None = STAFF_KEY,
            portal_key: str | None = PORTAL_KEY) -> str:  # fmt: skip
    """The reason code `token` is refused with."""
    with pytest.raises(TokenRefused) as refusal:
        verify(token, staff_key, portal_key)
    return refusal.value.reason


def test_a_staff_token_names_a_staff_member() -> None:
    caller = verify(issue(STAFF_KEY, STAFF, "wang", 600), STAFF_KEY, PORTAL_KEY)
    assert (caller.role, caller.subject) == (STAFF, "wang")
    assert caller.claims["aud"] == AUDIENCE


def test_a_citizen_token_names_a_citizen_with_the_portals_claims() -> None:
    token = issue(
        PORTAL_KEY, CITIZEN, "portal:8f3a", 600, name="张三", id_number="11010519491231002X"
    )
    caller = verify(token, STAFF_KEY, PORTAL_KEY)
    assert (caller.role, caller.subject, caller.claims["name"]) == (CITIZEN, "portal:8f3a", "张三")
    assert refused(issue(PORTAL_KEY, CITIZEN, "portal:8f3a", 600)) == "lookup-token-invalid"
    wrong = issue(PORTAL_KEY, CITIZEN, "portal:8f3a", 600, id_number="110105194912310021")
    assert refused(wrong) == "lookup-token-invalid"


def test_the_portal_key_cannot_make_a_staff_token() -> None:
    assert refused(issue(PORTAL_KEY, STAFF, "wang", 600)) == "lookup-token-invalid"


def test_the_staff_key_signs_staff_tokens_only() -> None:
    assert refused(issue(STAFF_KEY, CITIZEN, "portal:8f3a", 600)) == "lookup-token-invalid"


def test_a_token_signed_by_an_unknown_key_is_refused() -> None:
    assert refused(issue("another-key-" + "x" * 32, STAFF, "wang", 600)) == "lookup-token-invalid"


def test_an_expired_token_is_refused_as_expired() -> None:
    assert refused(issue(STAFF_KEY, STAFF, "wang", -5)) == "lookup-token-expired"
    assert refused(issue(PORTAL_KEY, CITIZEN, "portal:8f3a", -5)) == "lookup-token-expired"


def test_a_token_for_another_audience_is_refused() -> None:
    assert refused(issue(STAFF_KEY, STAFF, "wang", 600, aud="recordflow-gateway")) == (
        "lookup-token-invalid"
    )


def test_a_token_without_a_subject_or_an_expiry_is_refused() -> None:
    now = int(time.time())
    assert refused(signed(STAFF_KEY, aud=AUDIENCE, role=STAFF, exp=now + 600)) == (
        "lookup-token-invalid"
    )
    assert refused(signed(STAFF_KEY, aud=AUDIENCE, role=STAFF, sub="wang")) == (
        "lookup-token-invalid"
    )


def test_a_token_living_longer_than_allowed_is_refused() -> None:
    assert verify(issue(STAFF_KEY, STAFF, "wang", MAX_LIFETIME_S - 60), STAFF_KEY, PORTAL_KEY)
    with pytest.raises(TokenRefused) as refusal:
        verify(issue(STAFF_KEY, STAFF, "wang", MAX_LIFETIME_S + 60), STAFF_KEY, PORTAL_KEY)
    assert refusal.value.reason == "lookup-token-invalid"
    assert str(MAX_LIFETIME_S) in refusal.value.detail


UNSIGNED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."  # alg none


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "", UNSIGNED])
def test_what_is_not_a_signed_token_is_refused(garbage: str) -> None:
    assert refused(garbage) == "lookup-token-invalid"


def test_without_keys_every_token_is_refused() -> None:
    token = issue(STAFF_KEY, STAFF, "wang", 600)
    assert refused(token, None, None) == "lookup-token-invalid"
    assert refused(token, "", "") == "lookup-token-invalid"
    assert refused(token, None, STAFF_KEY) == "lookup-token-invalid"  # not a portal's token
