"""What every route of the console shares: the templates, the signed-in check and the role check
(FastAPI dependencies), and the refusals the app turns into pages (app.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Depends, Request
from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.responses import Response

from archival.transfer_register.build import short_size
from connectors.console.auth import CSRF_FIELD, CSRF_HEADER, Session
from connectors.console.roles import ROLE_LABELS, ROLE_NAMES, allowed
from connectors.console.service import Console

HERE = Path(__file__).resolve().parent

# The navigation: path, Chinese label, English label, the permission that shows it.
NAV = [
    ("/", "概览", "Overview", "overview.view"),
    ("/review", "待鉴定", "Review", "review.view"),
    ("/deadletters", "死信", "Dead letters", "deadletters.view"),
    ("/records", "档案", "Records", "records.view"),
    ("/verify", "校验", "Verify", "verify.view"),
    ("/agencies", "立档单位", "Agencies", "agencies.view"),
    ("/reports", "登记表", "Register", "reports.transfer"),
    ("/audit", "审计日志", "Audit log", "audit.view"),
]


class SignInRequired(Exception):
    """No signed-in session: to the sign-in page."""


class Refused(Exception):
    """The role may not do this: 403, with a page that says so."""

    def __init__(self, permission: str) -> None:
        super().__init__(permission)
        self.permission = permission


class Unavailable(Exception):
    """A server the console needs is away: 503, with a page that says which."""


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def session(request: Request) -> Session:
    """The request's session (app.py's middleware puts it there: signed in or not)."""
    found: Session = request.state.session
    return found


def require(permission: str) -> Any:
    """A dependency: the signed-in session, when its role has `permission`."""

    def signed_in_with(request: Request) -> Session:
        current = session(request)
        if not current.signed_in:
            raise SignInRequired()
        if not allowed(current.role, permission):
            raise Refused(permission)
        return current

    return Depends(signed_in_with)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every page carries agencies' text
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(ROLE_NAMES=ROLE_NAMES, ROLE_LABELS=ROLE_LABELS, CSRF_FIELD=CSRF_FIELD,
                       CSRF_HEADER=CSRF_HEADER, size=short_size)  # fmt: skip
    return env


TEMPLATES = Jinja2Blocks(env=_environment())


def local_time(zone: ZoneInfo) -> Callable[[Any, str], str]:
    def formatted(value: Any, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
        if value in (None, ""):
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return str(moment.strftime(pattern))
        return str(moment.astimezone(zone).strftime(pattern))

    return formatted


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status: int = 200, block: str | None = None) -> Response:  # fmt: skip
    """A page (or, for htmx, one block of it) with what the layout needs: the session, the
    navigation its role may see, and whether the store is still catching up."""
    current = session(request)
    app_console = console(request)
    full = {
        "request": request,
        "session": current,
        "nav": [item for item in NAV if allowed(current.role, item[3])]
        if current.signed_in
        else [],
        "path": request.url.path,
        "catching_up": not app_console.caught_up,
        "localtime": local_time(app_console.store.zone),
        "can": lambda permission: allowed(current.role, permission),
        **(context or {}),
    }
    response = TEMPLATES.TemplateResponse(request, name, full, status_code=status, block_name=block)
    return response
