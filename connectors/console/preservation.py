"""校验 Verify: the long-term preservation check (`recordflow verify`, DA/T 70 长期保存 CQ) as the
store holds it: the latest run and the recent ones (records.verify-runs.v1), and the records an
alert was raised for (records.preservation-alert.v1), each with what its problem codes mean.

Every role reads it. The check itself is run from the CLI on a schedule, not from here: it reads
back every object version of the archive, hours of work that no page request should start.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from connectors.console.auth import Session
from connectors.console.web import console, is_htmx, render, require
from connectors.verify import COMPLETED, INCOMPLETE, PROBLEM_NAMES

router = APIRouter()

STATUSES = {COMPLETED: "完成", INCOMPLETE: "未完成"}


def took(run: dict[str, Any]) -> str:
    """How long a run took, for people: seconds, or hours, minutes and seconds."""
    seconds = (run["finished_ms"] - run["started_ms"]) / 1000
    if seconds < 60:
        return f"{seconds:.1f} 秒"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} 小时 " if hours else "") + f"{minutes} 分 {rest} 秒"


@router.get("/verify")
def verify_results(request: Request, _: Annotated[Session, require("verify.view")],
                   page: int = 1) -> Response:  # fmt: skip
    store = console(request).store
    runs = store.verify_runs()
    context = {"runs": runs, "latest": runs[0] if runs else None,
               "found": store.alert_groups(page), "query": {}, "STATUSES": STATUSES,
               "PROBLEMS": PROBLEM_NAMES, "took": took}  # fmt: skip
    return render(request, "verify.html", context, block="results" if is_htmx(request) else None)
