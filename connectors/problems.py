"""Errors of the HTTP doors (the gateway, the lookup service) as RFC 9457 problem details
(`application/problem+json`), each carrying the project's reason code (recordflow/reasons.yaml) in
`reason`, so an agency system handles a refusal from the gateway exactly as it handles one from
the SDK or a dead letter. Never a stack trace: what no rule foresaw is a 500 without detail,
logged by the service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from archival.reasons import catalog

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = (
    "urn:recordflow:reason:"  # + the reason code; docs/reason-codes.md says what each means
)
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    411: "Length required",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457), with the reason code beside."""

    type: str = Field(description="urn:recordflow:reason:<reason code>")
    title: str
    status: int
    detail: str | None = None
    reason: str = Field(description="The reason code (原因代码): docs/reason-codes.md")


class HttpProblem(Exception):
    """Raised anywhere in a request: the response is the problem it describes. `reason` comes
    first, as in RecordRejected, so that tests/unit/archival/test_reasons.py finds every code
    given here."""

    def __init__(self, reason: str, status: int, detail: str | None = None, *,
                 headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(f"{reason}: {detail}" if detail else reason)
        if catalog().get(reason) is None:  # a code nobody can look up is a bug, caught in tests
            raise ValueError(f"{reason!r} is not a reason code of recordflow/reasons.yaml")
        self.reason = reason
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def details(self) -> ProblemDetails:
        return ProblemDetails(
            type=TYPE_PREFIX + self.reason, title=TITLES.get(self.status, "Error"),
            status=self.status, detail=self.detail, reason=self.reason,
        )  # fmt: skip

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.details().model_dump(exclude_none=True), status_code=self.status,
            headers=self.headers, media_type=MEDIA_TYPE,
        )  # fmt: skip


def unavailable(retry_after_s: int, detail: str) -> HttpProblem:
    """Kafka, the registry or S3 is away: come back with the same Idempotency-Key."""
    return HttpProblem("service-unavailable", 503, detail,
                          headers={"Retry-After": str(retry_after_s)})  # fmt: skip


def internal_error() -> HttpProblem:
    """The answer to what no rule foresaw: no detail reaches the client (the log has it)."""
    return HttpProblem("internal-error", 500)


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The OpenAPI `responses` of a route's problem answers."""
    return {
        status: {
            "model": ProblemDetails,
            "description": TITLES[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }


def invalid_fields(errors: Sequence[Any]) -> str:
    """A request validation's errors (FastAPI's RequestValidationError.errors()) as one line:
    `query.sort: Input should be …; …`, at most 500 characters."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors
    )[:500]
