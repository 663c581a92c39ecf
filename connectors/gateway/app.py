"""The gateway's FastAPI application: routes, problem handlers, the request log and metrics,
and the services it starts (docs/design.md, "Gateway").

`create_app(settings)` builds the app without touching a server; its lifespan starts the
Gateway (S3 and Kafka clients, the credentials view) unless one is given, as tests do.
`openapi_document()` is docs/openapi.json (`recordflow gateway --openapi` writes it)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avro_schemas.codec import Codec
from connectors.agency_registry import RegistryView
from connectors.gateway import credentials, submissions, uploads
from connectors.gateway.metrics import GatewayMetrics
from connectors.gateway.service import Gateway
from connectors.problems import HttpProblem, internal_error, invalid_fields
from connectors.receipts import ReceiptIndex
from recordflow.agencies import AgencyRegistry
from recordflow.settings import Settings

log = logging.getLogger("connectors.gateway")
OPENAPI_PATH = "docs/openapi.json"
REGENERATE = f".venv/bin/recordflow gateway --openapi > {OPENAPI_PATH}"
DESCRIPTION = """\
The HTTP door to the city's electronic-records archive (城市电子文件归档接收平台) for agency
systems in any language: what the Python SDK does, over HTTP.

Authenticate with `Authorization: Bearer rfg_<token id>_<secret>` (issued by
`recordflow agencies credentials issue CODE`). Errors are RFC 9457 problem details whose
`reason` is a reason code (docs/reason-codes.md). On 503 and 429, wait `Retry-After` seconds and
retry with the same `Idempotency-Key`: a retried submission never makes a second event.
"""


class Observe:
    """Every request: its duration and outcome in the metrics (by route template) and one log
    line with agency, event id and status; and the last boundary, where an exception no handler
    took becomes a 500 problem without detail (its trace goes to the log, never the client)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status, started = time.perf_counter(), 500, False

        async def observed_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            log.exception("gateway: %s %s failed unexpectedly", scope["method"], scope["path"])
            status = 500
            if not started:
                await internal_error().response()(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            state = scope.get("state") or {}
            agency = str(state.get("agency") or "")
            self.metrics.observe(route, status, agency, time.perf_counter() - began)
            log.info("gateway: %s %s agency=%s event=%s status=%d reason=%s", scope["method"],
                     route, agency or "-", state.get("event_id") or "-", status,
                     state.get("reason") or ("internal-error" if status >= 500 else "-"))  # fmt: skip


def start_gateway(settings: Settings) -> Gateway:
    """A Gateway on real servers. It follows three topics, each read first on its own thread so
    that a replica started during a Kafka outage comes up (and answers 503 until it has read its
    credentials): the credentials, the agency registry (an agency onboarded while it runs is
    served at once, an offboarded one refused) and every agency's receipts (its status answers)."""
    retry_s = settings.gateway_retry_after_s
    tokens = credentials.view(settings).start(wait=False, retry_s=retry_s)
    index = ReceiptIndex(settings, Codec.from_url(settings.schema_registry_url))

    def follow_receipts(registry: AgencyRegistry) -> None:
        for agency in registry.agencies:
            index.add_agency(agency.code)

    registry = RegistryView(settings, on_change=follow_receipts)
    follow_receipts(registry.installed)
    registry.start(wait=False, retry_s=retry_s)

    def close() -> None:
        for view in (tokens, registry, index):
            view.close()

    store = credentials.CredentialStore(tokens.get, ready=tokens.ready.is_set)
    return Gateway(settings, store, index, registry=lambda: registry.registry, on_close=close)


def create_app(settings: Settings, gateway: Gateway | None = None,
               metrics: GatewayMetrics | None = None) -> FastAPI:  # fmt: skip
    metrics = metrics or GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = gateway is None
        app.state.gateway = gateway or start_gateway(settings)
        try:
            yield
        finally:
            if own:
                app.state.gateway.close()

    app = FastAPI(title="recordflow gateway", version="1", description=DESCRIPTION,
                  lifespan=lifespan)  # fmt: skip
    app.include_router(submissions.router)
    app.include_router(uploads.router)

    @app.exception_handler(HttpProblem)
    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpProblem)
        request.state.reason = exc.reason  # for the request's log line
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return HttpProblem("invalid-request", 422, invalid_fields(exc.errors())).response()

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = str(exc.detail)[:500]
        if exc.status_code == 404:
            return HttpProblem("not-found", 404, detail).response()
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return HttpProblem("invalid-request", status, detail).response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        ready = request.app.state.gateway.credentials.ready
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Observe, metrics=metrics)
    return app


def openapi_document(settings: Settings | None = None) -> str:
    """docs/openapi.json as it must read (OpenAPI 3.1)."""
    document: dict[str, Any] = create_app(settings or Settings()).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
