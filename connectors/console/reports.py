"""登记表 The receiving register (电子档案移交与接收登记表) from the console: the form, and the register
of an agency for a period as the printable HTML page or the PDF that `recordflow report transfer`
writes (archival/transfer_register/), built the same way (connectors/transfer_register.py).

Unlike a page, a register reads its topics to their end: it must count exactly what the topics
hold when it is made, not what the console's store has caught up with. Producing one is an
export, recorded in the audit log like a package download; a register nobody can trace is not
handed out (AuditUnavailable → 503).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from archival.transfer_register.build import archives_today, parse_period
from archival.transfer_register.pdf import FontUnusable, load_font, render_pdf
from archival.transfer_register.render import render_html
from connectors.agency_registry import current_registry
from connectors.audit import EXPORT, FAILURE, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.web import Unavailable, client_address, console, render, require
from connectors.deadletters import DeadLetterError
from connectors.readback import ReadError
from connectors.transfer_register import transfer_register

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/reports")
def report_form(request: Request, _: Annotated[Session, require("reports.transfer")]) -> Response:
    app = console(request)
    today = archives_today(dt.datetime.now(dt.UTC))
    return render(request, "reports.html", {
        "agencies": app.store.facets()["agencies"], "first": today.replace(day=1), "last": today,
    })  # fmt: skip


@router.get("/reports/transfer")
def transfer(
    request: Request,
    current: Annotated[Session, require("reports.transfer")],
    agency: str,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
    format: Literal["html", "pdf"] = "html",
) -> Response:
    """The register as a file to keep (a sync route: it reads Kafka). Both kinds are downloads:
    the HTML page carries its own print styles, which the console's pages may not."""
    app = console(request)
    settings = app.settings
    now = dt.datetime.now(dt.UTC)

    def refused(message: str) -> Response:
        return render(request, "error.html", {"title": "无法生成登记表 Cannot make the register",
                      "message": message}, status=400)  # fmt: skip

    try:
        period = parse_period(first, last, archives_today(now))
        font = (
            load_font(settings.report_font_file, settings.report_font_index)
            if format == "pdf"
            else None
        )
    except (ValueError, FontUnusable) as exc:
        return refused(str(exc))
    target = f"transfer:{agency}:{period.first}..{period.last}"

    def audited(outcome: str, detail: str) -> Any:
        return audit_event(current.user or "", current.role, EXPORT, outcome, target=target,
                           client_address=client_address(request), detail=detail)  # fmt: skip

    try:
        registry = current_registry(settings)
        found = registry.get(agency)
        if found is None:
            return refused(f"未登记的立档单位 unknown agency {agency!r}")
        register = transfer_register(settings, app.codec, agency=found, archives=registry.archives,
                                     period=period, prepared_by=current.user, produced_at=now)  # fmt: skip
    except (ReadError, DeadLetterError) as exc:
        app.audit.try_append(audited(FAILURE, str(exc)[:500]))
        raise Unavailable(f"登记表暂不能生成 The register cannot be made now: {exc}") from exc
    # Fails closed: a register nobody can trace is not handed out.
    app.audit.append(audited(SUCCESS, f"{format.upper()} {register.items} 件"))
    name = quote(f"移交接收登记表-{agency}-{period.first}-{period.last}.{format}")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    if font is not None:
        return Response(render_pdf(register, font), media_type="application/pdf", headers=headers)
    return Response(render_html(register), media_type="text/html; charset=utf-8", headers=headers)
