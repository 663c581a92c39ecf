"""概览 The overview: what came of the agencies' submissions in a period (today, this week, this
month or a range of days, in the console's time zone), per agency and in total, charted over
time; and the pipeline's state (workers, backlog, alerts) as Prometheus sees it.

The figures come from the console's store (connectors/console/store.py, `Store.flow`); the chart
is an SVG drawn here from them, so that the page needs no script.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from connectors.console.auth import Session
from connectors.console.store import Flow, FlowQuery, epoch_ms
from connectors.console.web import console, render, require

router = APIRouter()

PeriodName = Literal["today", "week", "month", "range"]
PERIOD_NAMES: dict[str, str] = {"today": "今日", "week": "本周", "month": "本月", "range": "自选"}
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LONGEST_DAILY_RANGE = dt.timedelta(days=92)  # longer ranges are charted by week
MAX_RANGE = dt.timedelta(days=3660)
CHART_HEIGHT = 160
BAR_WIDTH = 22
KINDS = (("archived", "归档"), ("rejected", "退回"), ("held", "待鉴定"))


class PeriodError(ValueError):
    """A range the overview cannot show: said on the page in one line."""


def period_of(name: str, first: dt.date | None, last: dt.date | None,
              today: dt.date, zone: dt.tzinfo) -> FlowQuery:  # fmt: skip
    """The period `name` as [start, end) in `zone`, with its chart's bucket."""

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone)

    if name == "today":
        return FlowQuery(midnight(today), midnight(today + dt.timedelta(days=1)), HOUR_MS)
    if name == "week":  # Monday to today
        start = today - dt.timedelta(days=today.weekday())
        return FlowQuery(midnight(start), midnight(today + dt.timedelta(days=1)), DAY_MS)
    if name == "month":
        return FlowQuery(midnight(today.replace(day=1)),
                         midnight(today + dt.timedelta(days=1)), DAY_MS)  # fmt: skip
    if first is None or last is None:
        raise PeriodError("自选时段需要起止日期 A range needs its first and last day")
    if last < first:
        raise PeriodError(f"止日 {last} 早于起日 {first} The range ends before it begins")
    if last - first > MAX_RANGE:
        raise PeriodError("时段不能超过十年 A range may not exceed ten years")
    end = midnight(last + dt.timedelta(days=1))
    bucket = DAY_MS if last - first <= LONGEST_DAILY_RANGE else 7 * DAY_MS
    return FlowQuery(midnight(first), end, bucket)


@dataclass(frozen=True)
class Segment:
    kind: str
    y: float
    height: float
    count: int


@dataclass(frozen=True)
class Bar:
    x: int
    label: str  # under the bar, for every few bars
    title: str  # the bar's tooltip: its time and counts
    segments: list[Segment]


def chart(flow: Flow, query: FlowQuery) -> list[Bar]:
    """One stacked bar per bucket of the period, archived at the bottom."""
    zone = query.start.tzinfo
    starts: list[dt.datetime] = []
    moment = query.start
    while moment < query.end:
        starts.append(moment)
        moment = (moment + dt.timedelta(milliseconds=query.bucket_ms)).astimezone(zone)
    totals = [sum(flow.buckets.get(epoch_ms(start), {}).values()) for start in starts]
    scale = CHART_HEIGHT / max(max(totals, default=0), 1)
    every = max(1, len(starts) // 12)  # about a dozen labels whatever the period
    hourly = query.bucket_ms == HOUR_MS
    bars = []
    for index, start in enumerate(starts):
        counts = flow.buckets.get(epoch_ms(start), {})
        segments, top = [], float(CHART_HEIGHT)
        for kind, _ in KINDS:
            if count := counts.get(kind, 0):
                top -= count * scale
                segments.append(Segment(kind, top, count * scale, count))
        when = start.strftime("%H:00" if hourly else "%m-%d")
        title = " ".join([start.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d")] + [
            f"{zh} {counts.get(kind, 0)}" for kind, zh in KINDS
        ])  # fmt: skip
        bars.append(Bar(index * BAR_WIDTH, when if index % every == 0 else "", title, segments))
    return bars


@router.get("/")
def overview(
    request: Request,
    _: Annotated[Session, require("overview.view")],
    period: PeriodName = "today",
    first: Annotated[dt.date | None, Query(alias="from")] = None,
    last: Annotated[dt.date | None, Query(alias="to")] = None,
    agency: str = "",
) -> Response:
    app = console(request)
    zone = app.store.zone
    today = dt.datetime.now(zone).date()
    context = {"period": period, "first": first, "last": last, "agency": agency,
               "PERIOD_NAMES": PERIOD_NAMES, "KINDS": KINDS, "CHART_HEIGHT": CHART_HEIGHT,
               "BAR_WIDTH": BAR_WIDTH, "agencies": app.store.facets()["agencies"],
               "review_waiting": app.store.review_counts(),
               "health": app.health(), "problem": "",
               "lag": app.follower.last_lag if app.follower else {}}  # fmt: skip
    try:
        query = period_of(period, first, last, today, zone)
    except PeriodError as problem:
        return render(request, "overview.html", {**context, "problem": str(problem)},
                      status=400)  # fmt: skip
    query = FlowQuery(query.start, query.end, query.bucket_ms, agency)
    flow = app.store.flow(query)
    shown_last = (query.end - dt.timedelta(days=1)).date()
    return render(request, "overview.html", {
        **context, "flow": flow, "bars": chart(flow, query), "query": query,
        "shown": f"{query.start.date()} — {shown_last}" if shown_last != query.start.date()
        else str(query.start.date()),
    })  # fmt: skip
