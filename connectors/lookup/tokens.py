"""Who calls the lookup service: a bearer token (JWT, HS256) signed by someone the archive
trusts, or nobody (the public).

- **staff** tokens are signed with `lookup_staff_token_key`, which only the archive holds;
  `recordflow lookup token NAME` issues one. Staff see every record but state secrets.
- **citizen** tokens are signed by the e-government portal with `lookup_portal_token_key`, once
  it has authenticated the person, and name them by their identity number (claim `id_number`);
  a portal key signs nothing else, so a leaked portal key cannot make a staff token. The service
  keeps no number: it looks for the keyed hash of it (archival/persons.py).

Every token names its audience (`aud: recordflow-lookup`), its subject and an expiry no more
than MAX_LIFETIME_S ahead; anything else is refused with a reason code, never served as public.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from archival.persons import valid_id_number

AUDIENCE = "recordflow-lookup"
MAX_LIFETIME_S = 12 * 3600
STAFF, CITIZEN = "staff", "citizen"


class TokenRefused(Exception):
    """The token cannot be trusted: `reason` is the reason code (recordflow/reasons.yaml)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Caller:
    role: Literal["staff", "citizen"]
    subject: str
    claims: dict[str, Any]


def issue(key: str, role: str, subject: str, lifetime_s: int, **claims: Any) -> str:
    now = int(time.time())
    body = {"aud": AUDIENCE, "sub": subject, "role": role, "iat": now, "exp": now + lifetime_s,
            **claims}  # fmt: skip
    return jwt.encode({"alg": "HS256"}, body, OctKey.import_key(key.encode()))


def verify(token: str, staff_key: str | None, portal_key: str | None) -> Caller:
    """The caller the token names, if one of the keys signed it and its claims hold."""
    for key, role in ((staff_key, STAFF), (portal_key, CITIZEN)):
        if not key:
            continue
        try:
            claims = jwt.decode(token, OctKey.import_key(key.encode()), algorithms=["HS256"]).claims
        except JoseError:
            continue  # not this key's: try the other
        except ValueError as exc:
            raise TokenRefused("lookup-token-invalid", f"not a token: {exc}") from exc
        return _caller(claims, role)
    raise TokenRefused("lookup-token-invalid", "no key the lookup service trusts signed this token")


def _caller(claims: dict[str, Any], role: str) -> Caller:
    now = time.time()
    try:
        jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": AUDIENCE}, sub={"essential": True},
            exp={"essential": True}, role={"essential": True, "value": role},
        ).validate(claims)  # fmt: skip
    except JoseError as exc:
        detail = f"{exc.error}: {exc.description or ''}".strip(": ")
        if isinstance(exc, ExpiredTokenError):
            raise TokenRefused("lookup-token-expired", detail) from exc
        raise TokenRefused("lookup-token-invalid", detail) from exc
    if float(claims["exp"]) - now > MAX_LIFETIME_S:
        raise TokenRefused("lookup-token-invalid", f"expires more than {MAX_LIFETIME_S} s from now")
    if role == CITIZEN and not valid_id_number(str(claims.get("id_number") or "")):
        raise TokenRefused("lookup-token-invalid",
                           "a citizen token names the person by a valid id_number claim")  # fmt: skip
    return Caller(role, str(claims["sub"]), claims)  # type: ignore[arg-type]
