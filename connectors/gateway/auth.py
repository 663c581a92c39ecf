"""Who is calling: `Authorization: Bearer rfg_<token id>_<secret>`, verified against the
credentials every replica follows (connectors/gateway/credentials.py), then the agency's rate.

Why bearer tokens (docs/design.md, "Gateway"): every HTTP client of every language sends one
with a header; RFC 9421 message signatures need a signing library the agency's platform may not
have and are easy to get subtly wrong; client certificates need TLS terminated in front of
uvicorn (which cannot see the client's certificate) by a proxy that forwards the subject, one
more thing to run and to trust."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from connectors.gateway.service import Gateway
from connectors.problems import HttpProblem, unavailable

bearer = HTTPBearer(auto_error=False, description="rfg_<token id>_<secret>, from "
                    "`recordflow agencies credentials issue CODE`")  # fmt: skip


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    gateway: Annotated[Gateway, Depends(gateway_of)],
) -> str:
    """The calling agency's code; 401 without a valid token, 429 over its rate, 503 while the
    credentials have never been read (Kafka away since the replica started)."""
    if not gateway.credentials.ready:
        raise unavailable(gateway.settings.gateway_retry_after_s, "credentials not loaded yet")
    agency = gateway.credentials.agency_of(credentials.credentials) if credentials else None
    if agency is None:
        raise HttpProblem("unauthorized", 401, "a valid bearer token is required",
                             headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    request.state.agency = agency  # for the request's log line and metrics
    gateway.limiter.check(agency)
    return agency


Caller = Annotated[str, Depends(caller)]
GatewayDep = Annotated[Gateway, Depends(gateway_of)]
