"""待鉴定 The review queue: documents no retention rule decides (RETENTION) and archived records
whose period has ended (APPRAISAL, 到期鉴定), as the store keeps them, and the decisions on them.

A decision is connectors/review.py's, the very transaction `recordflow review decide | appraise`
makes, with the signed-in account as the one who decides; a second decision on an item is
refused there, and its message (the first decision) is shown. Every decision, made or refused,
is an audit event (`review.decide`, `review.appraise`) whose target is the event id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from archival.retention import PERIODS
from connectors.audit import FAILURE, REFUSED, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.store import ReviewQuery
from connectors.console.web import client_address, console, is_htmx, render, require
from connectors.review import (
    APPRAISAL,
    DESTROY,
    EXTEND,
    EXTEND_PERIODS,
    RETENTION,
    AlreadyDecided,
    ReviewError,
    appraise,
    decide,
)

log = logging.getLogger(__name__)
router = APIRouter()

DECIDE, APPRAISE = "review.decide", "review.appraise"
KINDS = {
    RETENTION: ("保管期限待定", "Retention undecided"),
    APPRAISAL: ("到期鉴定", "Due for appraisal"),
}
PERIOD_NAMES = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
OUTCOME_NAMES = {DESTROY: "到期销毁", EXTEND: "延长保管期限"}
NOTE_CHARS = 2000


@router.get("/review")
def queue(request: Request, _: Annotated[Session, require("review.view")],
          kind: str = RETENTION, agency: str = "", page: int = 1) -> Response:  # fmt: skip
    store = console(request).store
    kind = kind if kind in KINDS else RETENTION
    found = store.review_queue(ReviewQuery(kind=kind, agency=agency.strip(), page=page))
    context = {"query": {"kind": kind, "agency": agency}, "found": found,
               "counts": store.review_counts(), "KINDS": KINDS}  # fmt: skip
    return render(request, "review.html", context, block="results" if is_htmx(request) else None)


@router.get("/review/{event_id}")
def item_page(
    request: Request, event_id: str, _: Annotated[Session, require("review.view")]
) -> Response:
    item = console(request).store.review_item(event_id)
    if item is None:
        return render(request, "error.html", {"title": "未找到 Not found",
                      "message": f"没有事件 {event_id} 的鉴定事项。No review item for event {event_id}."},
                      status=404)  # fmt: skip
    return render(request, "review_item.html", _item_context(item))


def _item_context(item: dict[str, Any]) -> dict[str, Any]:
    return {"item": item, "event": item.get("event") or {}, "KINDS": KINDS,
            "PERIOD_NAMES": PERIOD_NAMES, "OUTCOME_NAMES": OUTCOME_NAMES, "PERIODS": PERIODS,
            "EXTEND_PERIODS": EXTEND_PERIODS, "NOTE_CHARS": NOTE_CHARS}  # fmt: skip


@router.post("/review/{event_id}/decide")
def decide_retention(
    request: Request,
    event_id: str,
    current: Annotated[Session, require("review.decide")],
    period: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=NOTE_CHARS)] = "",
) -> Response:
    """The period of a RETENTION item: `recordflow review decide EVENT --period P --by USER`."""
    app = console(request)

    def act() -> str:
        decided = decide(app.settings, app.codec, event_id, period, current.user or "",
                         note.strip() or None)  # fmt: skip
        return f"{decided['title']}: {period} ({PERIOD_NAMES.get(period, period)})"

    return _decision(request, current, DECIDE, event_id, act, done=(
        "已鉴定，文件已送交编号归档。", "Decided: the document is sent on to be numbered and archived."
    ))  # fmt: skip


@router.post("/review/{event_id}/appraise")
def appraise_record(
    request: Request,
    event_id: str,
    current: Annotated[Session, require("review.decide")],
    outcome: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=NOTE_CHARS)] = "",
) -> Response:
    """An APPRAISAL item's outcome: `recordflow review appraise EVENT --outcome O [--period P]`."""
    app = console(request)

    def act() -> str:
        done = appraise(app.settings, app.codec, app.storage, event_id, outcome,
                        (period or None) if outcome == EXTEND else None, current.user or "",
                        note.strip() or None)  # fmt: skip
        record = done.record
        what = OUTCOME_NAMES.get(outcome, outcome) + (f" {period}" if outcome == EXTEND else "")
        return (f"{record['reference_code']} {record['description']['title']}: {what}; "
                f"{done.objects_locked} object(s) locked longer")  # fmt: skip

    return _decision(request, current, APPRAISE, event_id, act, done=(
        "已鉴定。", "Appraised: the decision and the record's new state are in the catalog."
    ))  # fmt: skip


def _decision(request: Request, current: Session, action: str, event_id: str,
              act: Callable[[], str], done: tuple[str, str]) -> Response:  # fmt: skip
    """Run a decision (a sync route: it runs in a worker thread, as Kafka and S3 block), audit
    it with its outcome, and say what happened."""
    app = console(request)

    def audited(outcome: str, detail: str) -> None:
        app.audit.try_append(audit_event(current.user or "", current.role, action, outcome,
                                         target=event_id, client_address=client_address(request),
                                         detail=detail[:500]))  # fmt: skip

    try:
        what = act()
    except AlreadyDecided as exc:
        audited(REFUSED, str(exc))
        return render(request, "error.html", {"title": "已鉴定过 Already decided",
                      "message": f"此事项已有鉴定结论，本次未记录。{exc}"}, status=409)  # fmt: skip
    except ReviewError as exc:  # refused by the rules, or not recorded: nothing was decided
        audited(FAILURE, str(exc))
        return render(request, "error.html", {"title": "未鉴定 Not decided",
                      "message": f"本次鉴定未记录。{exc}"}, status=422)  # fmt: skip
    except Exception as exc:  # a request's boundary: Kafka, the registry or S3 away (ReadError …)
        log.warning("console: %s of %s failed: %s", action, event_id, exc)
        audited(FAILURE, str(exc))
        return render(request, "error.html", {"title": "暂不可用 Unavailable",
                      "message": f"本次鉴定未记录，请稍后重试。The decision was not recorded: {exc}"},
                      status=503)  # fmt: skip
    audited(SUCCESS, what)
    return render(request, "done.html", {"title": "已鉴定 Decided", "zh": done[0], "en": done[1],
                  "what": what, "back": "/review", "item": f"/review/{event_id}"})  # fmt: skip
