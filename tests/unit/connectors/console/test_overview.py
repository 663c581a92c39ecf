"""The overview without Kafka or Prometheus: periods in the console's time zone, the store's figures
for a period (archived, bytes, latency percentiles, rejected documents by reason, held, due for
appraisal) and their chart, and the page as each role gets it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from connectors.console.app import create_app
from connectors.console.overview import DAY_MS, HOUR_MS, PeriodError, chart, period_of
from connectors.console.service import Console
from connectors.console.store import FlowQuery
from tests.unit.connectors.console.console_parts import (
    DAY,
    SETTINGS,
    DictCodec,
    accounts,
    appraisal_item,
    catalog_batch,
    console,
    follow,
    letter_message,
    record,
    review_item,
    review_message,
)
from tests.unit.connectors.console.test_app import sign_in

BEIJING = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 5, 6)  # a Wednesday; DAY is 10:00 of it in Beijing


def archived(code: str, agency: str, at: dt.datetime, latency_s: float, size: int) -> dict:
    value = record(code, f"通知 {code}", agency={"code": agency, "name": f"{agency} 局"})
    value["archived_at"] = at.isoformat()
    value["filed_at"] = (at - dt.timedelta(seconds=latency_s)).isoformat()
    value["components"] = [{**value["components"][0], "size_bytes": size}]
    return value


@pytest.fixture
def filled(tmp_path: Path) -> Console:
    """On 2026-05-06 (Beijing): bgt archived three (latency 1, 2 and 30 s; 100 bytes each) and
    zjj one, zjj's document e-1 rejected twice and e-2 once, one item held for review and one
    due for appraisal; and bgt one more archived the day before."""
    parts = console(tmp_path, accounts(wang="staff", li="auditor"))
    hour = dt.timedelta(hours=1)
    parts.store.apply(catalog_batch(SETTINGS, [
        archived("Z101-WS·2026-D10-BGS-0001", "bgt", DAY, 1, 100),
        archived("Z101-WS·2026-D10-BGS-0002", "bgt", DAY + hour, 2, 100),
        archived("Z101-WS·2026-D10-BGS-0003", "bgt", DAY + hour, 30, 100),
        archived("Z215-WS·2026-D10-BGS-0001", "zjj", DAY, 5, 1000),
        archived("Z101-WS·2026-D10-BGS-0000", "bgt", DAY - dt.timedelta(days=1), 9, 100),
    ]))  # fmt: skip
    codec = DictCodec()
    follow(parts.store, codec, [
        letter_message(codec, 0, 1, event_id="e-1", failed_at=DAY),
        letter_message(codec, 0, 2, event_id="e-1", failed_at=DAY + hour),
        letter_message(codec, 0, 3, event_id="e-2", reason="checksum-mismatch", failed_at=DAY),
        review_message(codec, review_item("r-1", queued_at=DAY.isoformat()), "r-1", 0),
        review_message(codec, {**appraisal_item("a-1"), "queued_at": DAY.isoformat()}, "a-1", 1),
    ])  # fmt: skip
    return parts


def test_periods_run_from_midnight_in_the_console_time_zone() -> None:
    today = period_of("today", None, None, TODAY, BEIJING)
    assert (today.start, today.end, today.bucket_ms) == (
        dt.datetime(2026, 5, 6, tzinfo=BEIJING), dt.datetime(2026, 5, 7, tzinfo=BEIJING), HOUR_MS
    )  # fmt: skip
    assert period_of("week", None, None, TODAY, BEIJING).start.date() == dt.date(2026, 5, 4)
    month = period_of("month", None, None, TODAY, BEIJING)
    assert (month.start.date(), month.bucket_ms) == (dt.date(2026, 5, 1), DAY_MS)
    year = period_of("range", dt.date(2026, 1, 1), dt.date(2026, 12, 31), TODAY, BEIJING)
    assert year.end == dt.datetime(2027, 1, 1, tzinfo=BEIJING) and year.bucket_ms == 7 * DAY_MS
    with pytest.raises(PeriodError, match="早于"):
        period_of("range", dt.date(2026, 5, 6), dt.date(2026, 5, 1), TODAY, BEIJING)
    with pytest.raises(PeriodError, match="起止日期"):
        period_of("range", None, dt.date(2026, 5, 1), TODAY, BEIJING)


def test_the_figures_of_a_period_per_agency_and_in_total(filled: Console) -> None:
    flow = filled.store.flow(period_of("today", None, None, TODAY, BEIJING))
    bgt, zjj = flow.agencies["bgt"], flow.agencies["zjj"]
    assert (bgt.archived, bgt.bytes, bgt.rejected) == (3, 300, 0)  # not the day before's
    assert (bgt.latency.p50_s, bgt.latency.p95_s) == (2.0, 30.0)
    assert (zjj.archived, zjj.rejected, zjj.held, zjj.appraisal_due) == (1, 2, 1, 1)
    assert zjj.reasons == {"payload-missing": 1, "checksum-mismatch": 1}  # e-1 counted once
    assert zjj.submitted == 4  # archived + rejected + held
    total = flow.total
    assert (total.archived, total.rejected, total.held, total.bytes) == (4, 2, 1, 1300)
    assert total.latency.p50_s == 2.0 and total.latency.p95_s == 30.0


def test_one_agency_alone_and_a_quiet_period(filled: Console) -> None:
    query = period_of("today", None, None, TODAY, BEIJING)
    only = filled.store.flow(FlowQuery(query.start, query.end, query.bucket_ms, "zjj"))
    assert list(only.agencies) == ["zjj"] and only.total.archived == 1
    quiet = filled.store.flow(period_of("today", None, None, TODAY.replace(day=9), BEIJING))
    assert quiet.agencies == {} and quiet.total.latency.p50_s is None


def test_the_chart_has_a_bar_per_hour_stacked_by_outcome(filled: Console) -> None:
    query = period_of("today", None, None, TODAY, BEIJING)
    bars = chart(filled.store.flow(query), query)
    assert len(bars) == 24
    ten, eleven = bars[10], bars[11]  # 10:00 and 11:00 Beijing
    assert [(s.kind, s.count) for s in ten.segments] == [
        ("archived", 2), ("rejected", 2), ("held", 1)  # e-1 and e-2 failed at 10:00
    ]  # fmt: skip
    assert [(s.kind, s.count) for s in eleven.segments] == [("archived", 2), ("rejected", 1)]
    assert ten.segments[0].height == 160 * 2 / 5  # the tallest bar fills the chart
    assert "10:00" in ten.title and "归档 2" in ten.title
    assert all(not bar.segments for bar in bars[:10])


@pytest.fixture
def client(filled: Console) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, filled), follow_redirects=False) as test_client:
        yield test_client


def test_the_page_shows_the_period_figures_chart_and_pipeline(client: TestClient) -> None:
    sign_in(client, "li")  # the auditor too sees the overview
    page = client.get("/", params={"period": "range", "from": "2026-05-06", "to": "2026-05-06"})
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="archived">4<' in text and 'data-testid="rejected">2<' in text
    assert 'data-testid="held">1<' in text and 'data-testid="submitted">7<' in text
    assert 'data-agency="bgt"' in text and 'data-agency="zjj"' in text
    assert text.count('class="bar archived"') == 1  # a range of days is charted by day
    assert "checksum-mismatch" in text and 'href="/deadletters?agency=zjj"' in text
    assert 'data-testid="workers-up">1<' in text and 'data-testid="backlog">7<' in text
    assert "RecordflowWorkerDown" in text


def test_a_range_that_ends_before_it_begins_is_said_in_one_line(client: TestClient) -> None:
    sign_in(client, "wang")
    page = client.get("/", params={"period": "range", "from": "2026-05-06", "to": "2026-05-01"})
    assert page.status_code == 400
    assert "早于" in page.text and 'data-testid="figures"' not in page.text
