"""Signing in and out (登录, 退出): throttled, audited, a new session each time.

A sign-in is refused while its account name or its client address is locked (too many failures:
auth.py's LoginThrottle); the answer does not tell whether the name is an account. Every attempt
is an audit event; a successful one only counts once Kafka has confirmed its event (audit.py).
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from connectors.audit import FAILURE, LOGIN, LOGOUT, REFUSED, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.web import Unavailable, client_address, console, render, session

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site: `next` must not send anyone elsewhere after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if session(request).signed_in:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})


@router.post("/login")
def login(request: Request, name: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:  # fmt: skip
    app = console(request)
    name = name.strip().lower()[:64]
    address = client_address(request)
    keys = [f"user:{name}", f"address:{address}"]

    def again(error: str, status: int) -> Response:
        return render(request, "login.html", {"next": _safe_next(next), "error": error,
                                              "name": name}, status=status)  # fmt: skip

    locked_s = max(app.user_throttle.locked_for(keys[0]), app.address_throttle.locked_for(keys[1]))
    if locked_s > 0:
        app.audit.try_append(audit_event(name, None, LOGIN, REFUSED, client_address=address,
                                         detail="账户或地址已锁定 locked after failed sign-ins"))  # fmt: skip
        minutes = math.ceil(locked_s / 60)
        return again(f"登录失败次数过多，已锁定，请 {minutes} 分钟后再试。"
                     f" Too many failed sign-ins: locked for {minutes} more minute(s).", 429)  # fmt: skip
    if not app.accounts.ready:
        raise Unavailable("账户信息尚未读取（Kafka 不可用？）The accounts are not read yet.")
    user = app.accounts.authenticate(name, password)
    if user is None:
        locked = app.user_throttle.failed(keys[0])
        locked = app.address_throttle.failed(keys[1]) or locked
        known = app.accounts.get(name)
        app.audit.try_append(audit_event(
            name, known.role if known else None, LOGIN, FAILURE, client_address=address,
            detail=("口令错误或账户不存在 wrong password or no such account"
                    + ("；已锁定 now locked" if locked else "")),
        ))  # fmt: skip
        return again("账户名或口令错误。Wrong account name or password.", 401)
    fresh = Session.new(time.time(), user.name, user.role)
    # Fails closed: a sign-in nobody can trace does not happen (AuditUnavailable → 503).
    app.audit.append(audit_event(user.name, user.role, LOGIN, SUCCESS, target=f"session:{fresh.sid}",
                                 client_address=address))  # fmt: skip
    app.user_throttle.succeeded(keys[0])
    request.state.new_session = fresh
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    current = session(request)
    app = console(request)
    if current.signed_in:
        app.store.end_session(current.sid)
        app.audit.try_append(audit_event(current.user or "", current.role, LOGOUT, SUCCESS,
                                         target=f"session:{current.sid}",
                                         client_address=client_address(request)))  # fmt: skip
    request.state.new_session = Session.new(time.time())
    return RedirectResponse("/login", status_code=303)
