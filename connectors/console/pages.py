"""概览 The overview: records archived per agency, and how far the store is behind the topics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from connectors.console.auth import Session
from connectors.console.web import console, render, require

router = APIRouter()


@router.get("/")
def overview(request: Request, _: Annotated[Session, require("overview.view")]) -> Response:
    app = console(request)
    agencies = app.store.agencies()
    context = {"agencies": agencies, "total": sum(a["records"] for a in agencies),
               "lag": app.follower.last_lag if app.follower else {}}  # fmt: skip
    return render(request, "overview.html", context)
