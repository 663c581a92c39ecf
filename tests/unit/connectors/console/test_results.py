"""The 校验 (verify results) and 立档单位 (agencies) pages through HTTP, on a console built from
parts: with no run yet the verify page says so and how to run one; with runs it shows the latest and
the recent ones, and the alerts with what their codes mean, each 档号 linked to its record for the
roles that may read records; the agencies page merges the installed registry with the topic's
entries and counts each agency's records, rejections and review items, linking to the lists the
role may open; only the administrator is shown the way to onboard one (the form,
test_agency_onboarding.py) and the offboarding command."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archival.transfer_register.build import short_size
from connectors.console.app import create_app
from connectors.console.preservation import took
from connectors.console.service import Console
from connectors.verify import CHECKSUM_MISMATCH, INCOMPLETE, PACKAGE_MISMATCH
from recordflow.agencies import Agency, Unit
from tests.examples import lifecycle_event
from tests.unit.connectors.console.console_parts import (
    DAY,
    SETTINGS,
    DictCodec,
    accounts,
    agency_message,
    alert,
    alert_message,
    catalog_batch,
    console,
    follow,
    letter_message,
    record,
    review_item,
    review_message,
    verify_run,
    verify_run_message,
)
from tests.unit.connectors.console.test_app import sign_in

BAD = "Z109-WS·2026-D30-GHK-0007"
SJJ = Agency(code="sjj", name="市司法局", fonds_code="Z140", fonds_name="市司法局",
             units=[Unit(code="BGS", name="办公室")])  # fmt: skip


@pytest.fixture
def codec() -> DictCodec:
    codec = DictCodec()
    codec.bytes_for(lifecycle_event(), raw=review_item("e-5")["original_value"])
    return codec


@pytest.fixture
def parts(tmp_path: Path, codec: DictCodec) -> Console:
    return console(tmp_path, accounts(wang="staff", zhao="admin", li="auditor"), codec=codec)


@pytest.fixture
def client(parts: Console) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, parts), follow_redirects=False) as test_client:
        yield test_client


def fill(parts: Console, codec: DictCodec) -> None:
    """Two runs (the latest found one record failing) and that record's alerts; bgt's records, a
    zjj document rejected twice and a zjj item waiting; sjj onboarded and fy offboarded since."""
    bgt = {"code": "bgt", "name": "市人民政府办公厅"}
    parts.store.apply(catalog_batch(SETTINGS, [
        record(f"Z101-WS·2026-D10-BGS-000{n}", f"通知{n}", agency=bgt,
               archived_at=f"2026-05-0{5 + n}T02:00:00+00:00")
        for n in (1, 2)
    ]))  # fmt: skip
    fy = SJJ.model_copy(update={"code": "fy", "name": "市中级人民法院", "fonds_code": "Z301",
                                "fonds_name": "市中级人民法院", "offboarded_at": DAY})  # fmt: skip
    yesterday = DAY - dt.timedelta(days=1)
    follow(parts.store, codec, [
        verify_run_message(codec, verify_run("r-1", yesterday, records_failed=0), 0),
        verify_run_message(codec, verify_run("r-2", DAY, records_checked=3, records_failed=1), 1),
        alert_message(codec, alert(BAD, DAY - dt.timedelta(minutes=5), CHECKSUM_MISMATCH,
                                   PACKAGE_MISMATCH), 0, 0),
        letter_message(codec, 0, 1, event_id="e-1"),
        letter_message(codec, 1, 1, event_id="e-1"),
        review_message(codec, review_item("e-5"), "e-5", 0),
        agency_message("sjj", SJJ, 0),
        agency_message("fy", fy, 1),
    ])  # fmt: skip


def signed_in_as(client: TestClient, name: str) -> None:
    """Signed in afresh as `name` (a new browser: no cookie)."""
    client.cookies.clear()
    assert sign_in(client, name).status_code == 303


def test_both_pages_need_a_session_and_are_in_every_role_s_navigation(client: TestClient) -> None:
    for path in ("/verify", "/agencies"):
        assert client.get(path).status_code == 303
    for name in ("wang", "zhao", "li"):
        signed_in_as(client, name)
        navigation = client.get("/").text.split("<main>")[0]
        assert 'href="/verify"' in navigation and 'href="/agencies"' in navigation
        for path in ("/verify", "/agencies"):
            page = client.get(path)
            assert page.status_code == 200, (name, path)
            assert "下一版本" not in page.text  # no longer "coming"


def test_with_no_run_the_verify_page_says_so_and_how_to_run_one(client: TestClient) -> None:
    signed_in_as(client, "zhao")
    page = client.get("/verify")
    assert 'data-testid="no-run"' in page.text and "尚未进行长期保存检测" in page.text
    assert "recordflow verify" in page.text and 'data-testid="latest-run"' not in page.text
    assert "没有告警" in page.text


def test_the_verify_page_shows_the_latest_run_the_recent_ones_and_the_alerts(
    client: TestClient, parts: Console, codec: DictCodec
) -> None:
    fill(parts, codec)
    signed_in_as(client, "wang")
    page = client.get("/verify").text
    latest = page.split('data-testid="latest-run"')[1].split("</dl>")[0]
    assert re.search(r'data-testid="checked">3<', latest)
    assert re.search(r'data-testid="failed" class="error">1<', latest)
    assert "2026-05-06 10:00:00" in latest  # in Beijing
    assert "42 分 7 秒" in latest and "9.2 GiB" in latest  # took, read back
    assert "recordflow@archive-verify-01" in latest
    assert page.count("<tr data-run=") == 2
    alerts = page.split('class="grid alerts"')[1]
    assert f'href="/records/{BAD.replace("·", "%C2%B7")}"' in alerts
    assert "摘要值不符" in alerts and "档案包与记录不符" in alerts
    assert f"{CHECKSUM_MISMATCH} of {BAD}" in alerts  # the alert's own detail
    signed_in_as(client, "zhao")  # the administrator reads no record: the 档号 is no link
    alerts = client.get("/verify").text.split('class="grid alerts"')[1]
    assert BAD in alerts and "/records/" not in alerts
    fragment = client.get("/verify?page=1", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and BAD in fragment  # htmx gets the alerts block alone


def test_an_incomplete_run_says_why(client: TestClient, parts: Console, codec: DictCodec) -> None:
    stopped = verify_run("r-9", DAY, status=INCOMPLETE, records_checked=7,
                         problem="verify stopped after 7 record(s): storage-error")  # fmt: skip
    follow(parts.store, codec, [verify_run_message(codec, stopped, 0)])
    signed_in_as(client, "li")
    status = client.get("/verify").text.split('data-testid="status">')[1].split("</dd>")[0]
    assert "未完成" in status and "storage-error" in status


def test_the_agencies_page_merges_the_registry_and_counts_each_agency_s_work(
    client: TestClient, parts: Console, codec: DictCodec
) -> None:
    fill(parts, codec)
    signed_in_as(client, "wang")
    page = client.get("/agencies").text

    def row(code: str) -> str:
        return page.split(f'<tr data-agency="{code}">')[1].split("</tr>")[0]

    assert "市人民政府办公厅" in row("bgt") and "Z101" in row("bgt")
    assert re.search(r'data-testid="records"><a href="/records\?agency=bgt">2</a>', row("bgt"))
    assert "2026-05-07 10:00:00" in row("bgt")  # the latest archived, in Beijing
    assert re.search(r'data-testid="rejected"><a href="/deadletters\?agency=zjj">1</a>', row("zjj"))
    assert re.search(r'data-testid="reviewing"><a href="/review\?agency=zjj">1</a>', row("zjj"))
    assert "市司法局" in row("sjj") and "在用" in row("sjj")  # onboarded since installation
    assert "已退出" in row("fy") and "2026-05-06" in row("fy")
    assert re.search(r'data-testid="records">0<', row("bdc"))
    assert 'data-testid="onboard-link"' not in page  # staff do not onboard
    signed_in_as(client, "zhao")
    page = client.get("/agencies").text
    assert 'href="/agencies/onboard" data-testid="onboard-link"' in page
    assert "recordflow agencies offboard" in page
    assert "/records?agency=" not in page and "/review?agency=" not in page  # not the admin's
    assert "/deadletters?agency=zjj" in page
    assert "在用 5 个" in page  # bgt zjj bdc zwfw sjj; fy has left


def test_sizes_and_durations_read_as_people_write_them() -> None:
    assert [short_size(n) for n in (0, 1023, 1024, 1_234_567, 9_876_543_210)] == [
        "0 B", "1,023 B", "1.0 KiB", "1.2 MiB", "9.2 GiB"
    ]  # fmt: skip
    second = 1000
    assert took({"started_ms": 0, "finished_ms": 1500}) == "1.5 秒"
    assert took({"started_ms": 0, "finished_ms": 125 * second}) == "2 分 5 秒"
    assert took({"started_ms": 0, "finished_ms": 3725 * second}) == "1 小时 2 分 5 秒"
