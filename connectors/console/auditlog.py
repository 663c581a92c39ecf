"""审计日志 The audit log, for the security auditor only: every event of `recordflow.audit.v1` as
the store holds it, newest first, filtered by account, action and day."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from connectors.audit import ACTIONS, OUTCOMES
from connectors.console.auth import Session
from connectors.console.store import AuditQuery
from connectors.console.web import console, is_htmx, render, require

router = APIRouter()


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


@router.get("/audit")
def audit_log(request: Request, _: Annotated[Session, require("audit.view")], actor: str = "",
              action: str = "", day: str = "", page: int = 1) -> Response:  # fmt: skip
    query = AuditQuery(actor=actor.strip().lower(), action=action if action in ACTIONS else "",
                       day=_day(day), page=page)  # fmt: skip
    found = console(request).store.audit_events(query)
    context = {"found": found, "query": {"actor": actor, "action": action, "day": day},
               "ACTIONS": ACTIONS, "OUTCOMES": OUTCOMES}  # fmt: skip
    return render(request, "audit.html", context, block="results" if is_htmx(request) else None)
