"""The console's FastAPI application: routers, the session and CSRF checks every request passes,
the refusals as pages, static files, health and metrics (docs/design.md, "Console").

`create_app(settings)` builds the app without touching a server; its lifespan starts the Console
(service.py) unless one is given, as the unit tests do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from connectors.audit import ACCESS, REFUSED, AuditUnavailable, audit_event
from connectors.console import (
    agencies,
    agency_onboarding,
    auditlog,
    dead_letters,
    login,
    overview,
    preservation,
    records,
    reports,
    review_queue,
)
from connectors.console.auth import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, csrf_ok
from connectors.console.service import Console, start_console
from connectors.console.web import (
    HERE,
    Refused,
    SignInRequired,
    Unavailable,
    client_address,
    console,
    is_htmx,
    render,
    session,
)
from recordflow.settings import Settings

log = logging.getLogger("connectors.console")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Paths that need no session: no cookie is read or set for them.
OPEN = ("/static/", "/healthz", "/readyz", "/metrics")
# Scripts and styles from this site only (htmx is vendored; its inline indicator style is
# turned off in base.html), and never inside another site's frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


async def csrf_protect(request: Request) -> None:
    """Every POST carries the session's token (form field or header), or is refused."""
    if request.method not in UNSAFE:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()  # cached on the request: the route's Form() reads it again
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_ok(session(request), given):
        raise CsrfRefused()


def create_app(settings: Settings, app_console: Console | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = app_console is None
        app.state.console = app_console or start_console(settings)
        try:
            yield
        finally:
            if own:
                app.state.console.close()

    app = FastAPI(title="recordflow console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, dependencies=[Depends(csrf_protect)])  # fmt: skip
    for router in (login.router, overview.router, records.router, review_queue.router,
                   dead_letters.router, preservation.router, agencies.router,
                   agency_onboarding.router, auditlog.router, reports.router):  # fmt: skip
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def sessions(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:  # fmt: skip
        if request.url.path.startswith(OPEN):
            return await call_next(request)
        app_console = console(request)
        now = time.time()
        current = app_console.sessions.decode(request.cookies.get(COOKIE), now)
        if current is not None and current.signed_in and not app_console.still_valid(current):
            current = None
        request.state.session = current.touched(now) if current else Session.new(now)
        response = await call_next(request)
        # Sliding: each request renews the idle time (login and logout put a new session here).
        out: Session = getattr(request.state, "new_session", None) or request.state.session
        response.set_cookie(COOKIE, app_console.sessions.encode(out), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/",
                            max_age=int(app_console.sessions.lifetime_s))  # fmt: skip
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):  # htmx follows this header with a full page load
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={_quoted(target)}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        current = session(request)
        event = audit_event(
            current.user or "", current.role, ACCESS, REFUSED, target=request.url.path,
            client_address=client_address(request), detail=f"需要权限 needs {exc.permission}",
        )  # fmt: skip
        # In a worker thread: waiting for Kafka's confirmation must not hold the event loop.
        await run_in_threadpool(console(request).audit.try_append, event)
        return render(request, "error.html", {
            "title": "无权访问 Forbidden",
            "message": "您的角色无权访问此页面或执行此操作。Your role may not open this page or do this.",
        }, status=403)  # fmt: skip

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: Exception) -> Response:
        return render(request, "error.html", {
            "title": "请求已拒绝 Request refused",
            "message": "表单已过期或来源不明，请刷新页面后重试。The form is stale or did not come from "
                       "this console: reload the page and try again.",
        }, status=403)  # fmt: skip

    @app.exception_handler(Unavailable)
    @app.exception_handler(AuditUnavailable)
    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("console: %s %s: %s", request.method, request.url.path, exc)
        message = (
            str(exc)
            if isinstance(exc, Unavailable)
            else (
                "审计日志暂不可写，此操作未执行。The audit log cannot be written now: nothing was done."
            )
        )
        return render(request, "error.html", {"title": "暂不可用 Unavailable", "message": message},
                      status=503)  # fmt: skip

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not hasattr(request.state, "session"):  # an open path: no page layout
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        title = "未找到 Not found" if exc.status_code == 404 else "请求有误 Bad request"
        return render(request, "error.html", {"title": title, "message": str(exc.detail)},
                      status=exc.status_code)  # fmt: skip

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Ready once the accounts are read and the store has caught up with the topics."""
        app_console = console(request)
        ready = app_console.accounts.ready and app_console.caught_up
        return JSONResponse({"ready": ready, "accounts": app_console.accounts.ready,
                             "store": app_console.caught_up}, status_code=200 if ready else 503)  # fmt: skip

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(console(request).metrics), media_type=CONTENT_TYPE_LATEST)

    return app


def _quoted(path: str) -> str:
    return quote(path, safe="/")
