"""The console's pages through HTTP (Starlette's TestClient), on a console built from parts: signing
in and out, CSRF, throttling, roles, session expiry, the audit trail, the records pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.console.app import create_app
from connectors.console.auth import COOKIE, Session
from connectors.console.service import Console
from tests.unit.connectors.console.console_parts import (
    PASSWORD,
    SETTINGS,
    ListAudit,
    accounts,
    catalog_batch,
    console,
    disabled,
    record,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOOD = record("Z101-WS·2026-D10-BGS-0001", "关于做好2026年防汛工作的通知",
               agency={"code": "bgt", "name": "市人民政府办公厅"})  # fmt: skip


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def users() -> dict:
    return accounts(wang="staff", zhao="admin", li="auditor")


@pytest.fixture
def parts(tmp_path: Path, users: dict, audit: ListAudit) -> Console:
    built = console(tmp_path, users, audit=audit)
    built.store.apply(catalog_batch(SETTINGS, [FLOOD]))
    return built


@pytest.fixture
def client(parts: Console) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, parts), follow_redirects=False) as test_client:
        yield test_client


def csrf(client: TestClient, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, "no CSRF token on the page"
    return found[1]


def sign_in(client: TestClient, name: str, password: str = PASSWORD,
            next: str = "/") -> Any:  # fmt: skip
    return client.post("/login", data={"name": name, "password": password, "next": next,
                                       "csrf_token": csrf(client)})  # fmt: skip


def test_every_page_needs_a_session(client: TestClient) -> None:
    for path in ("/", "/records", "/records/Z101-WS·2026-D10-BGS-0001", "/audit", "/review"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert client.get("/records", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/login"


def test_signing_in_sets_a_new_signed_http_only_strict_cookie(
    client: TestClient, audit: ListAudit
) -> None:
    client.get("/login")
    before = client.cookies[COOKIE]
    answer = sign_in(client, "wang", next="/records")
    assert (answer.status_code, answer.headers["location"]) == (303, "/records")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert client.cookies[COOKIE] != before  # a new session, not the anonymous one
    page = client.get("/")
    assert page.status_code == 200
    assert "wang" in page.text and "档案管理员" in page.text
    assert audit.actions() == [("wang", "login", "success")]
    assert (audit.events[0]["target"] or "").startswith("session:")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_over_https_the_cookie_is_secure(parts: Console) -> None:
    with TestClient(create_app(SETTINGS, parts), base_url="https://console.example",
                    follow_redirects=False) as secure:  # fmt: skip
        assert "Secure" in secure.get("/login").headers["set-cookie"]


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, audit: ListAudit) -> None:
    client.get("/login")
    refused = client.post("/login", data={"name": "wang", "password": PASSWORD})
    assert refused.status_code == 403 and "请求已拒绝" in refused.text
    forged = client.post("/login", data={"name": "wang", "password": PASSWORD,
                                         "csrf_token": "x" * 43})  # fmt: skip
    assert forged.status_code == 403
    assert audit.events == []  # nothing was attempted
    assert sign_in(client, "wang").status_code == 303
    assert client.post("/logout").status_code == 403  # signed in, still a token for every POST
    token = csrf(client, "/")
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303


def test_five_wrong_passwords_lock_the_account(client: TestClient, audit: ListAudit) -> None:
    for _ in range(5):
        wrong = sign_in(client, "wang", "wrong password!")
        assert wrong.status_code == 401 and "账户名或口令错误" in wrong.text
    locked = sign_in(client, "wang")  # the right password, too late
    assert locked.status_code == 429 and "已锁定" in locked.text
    assert audit.actions() == [("wang", "login", "failure")] * 5 + [("wang", "login", "refused")]
    assert "now locked" in (audit.events[4]["detail"] or "")
    assert sign_in(client, "li").status_code == 303  # another account from the same address


def test_an_address_is_locked_after_its_own_limit(tmp_path: Path, users: dict) -> None:
    settings = SETTINGS.model_copy(update={"console_login_max_failures_per_address": 3})
    built = console(tmp_path, users, settings=settings)
    with TestClient(create_app(settings, built), follow_redirects=False) as client:
        for name in ("a1", "a2", "a3"):  # three names, one address
            assert sign_in(client, name, "whatever pass").status_code == 401
        assert sign_in(client, "wang").status_code == 429


def test_a_role_gets_403_where_it_may_not_go_and_the_refusal_is_audited(
    client: TestClient, audit: ListAudit
) -> None:
    sign_in(client, "wang")
    refused = client.get("/audit")
    assert refused.status_code == 403
    assert "无权访问" in refused.text and "审计日志" not in refused.text.split("<main>")[0]
    assert audit.actions()[-1] == ("wang", "access", "refused")
    assert audit.events[-1]["target"] == "/audit"
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    sign_in(client, "zhao")  # the administrator: no records, no audit log
    assert client.get("/records").status_code == 403
    assert client.get("/audit").status_code == 403
    assert client.get("/deadletters").status_code == 200
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    sign_in(client, "li")
    page = client.get("/audit")
    assert page.status_code == 200 and "审计日志" in page.text


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    client: TestClient, audit: ListAudit
) -> None:
    sign_in(client, "wang")
    copy = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf_token": csrf(client, "/")}).status_code == 303
    assert audit.actions()[-1] == ("wang", "logout", "success")
    client.cookies.clear()
    client.cookies.set(COOKIE, copy)
    assert client.get("/").status_code == 303


def test_a_disabled_account_or_a_changed_role_signs_in_again(
    client: TestClient, users: dict
) -> None:
    sign_in(client, "wang")
    assert client.get("/").status_code == 200
    users["wang"] = disabled(users["wang"])
    assert client.get("/").status_code == 303
    assert sign_in(client, "wang").status_code == 401


def test_an_idle_session_has_ended(client: TestClient, parts: Console) -> None:
    stale = Session.new(time.time() - 3600, "wang", "staff")  # seen an hour ago; idle limit 30 min
    client.cookies.clear()
    client.cookies.set(COOKIE, parts.sessions.encode(stale))
    assert client.get("/").status_code == 303
    fresh = Session.new(time.time() - 60, "wang", "staff")
    client.cookies.clear()
    client.cookies.set(COOKIE, parts.sessions.encode(fresh))
    assert client.get("/").status_code == 200


def test_no_sign_in_counts_while_the_audit_trail_cannot_be_written(
    client: TestClient, audit: ListAudit
) -> None:
    audit.down = True
    answer = sign_in(client, "wang")
    assert answer.status_code == 503 and "审计日志暂不可写" in answer.text
    assert client.get("/").status_code == 303  # not signed in


def test_next_never_leads_off_the_site(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert sign_in(client, "wang", next=target).headers["location"] == "/"
        client.post("/logout", data={"csrf_token": csrf(client, "/")})


def test_records_are_searched_and_shown_by_role(client: TestClient) -> None:
    sign_in(client, "wang")
    page = client.get("/records", params={"q": "防汛"})
    assert page.status_code == 200 and FLOOD["reference_code"] in page.text
    block = client.get("/records", params={"q": "防汛"}, headers={"HX-Request": "true"})
    assert FLOOD["reference_code"] in block.text and "<html" not in block.text
    assert "没有符合条件" in client.get("/records", params={"q": "水灾"}).text
    shown = client.get(f"/records/{FLOOD['reference_code']}")
    assert shown.status_code == 200
    for text in ("YJ-1-1", "固定性信息有效性检测", "fmt/354", "下载 BagIt 包", "2057-01-01"):
        assert text in shown.text, text
    assert client.get("/records/Z101-WS·2026-D10-BGS-9999").status_code == 404
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    sign_in(client, "li")  # the auditor reads, but downloads nothing
    shown = client.get(f"/records/{FLOOD['reference_code']}")
    assert shown.status_code == 200 and "下载 BagIt 包" not in shown.text
    assert client.get(f"/records/{FLOOD['reference_code']}/bag").status_code == 403


def test_agency_text_is_escaped(client: TestClient, parts: Console) -> None:
    hostile = record("Z101-WS·2026-D10-BGS-0002", "<script>alert(1)</script>通知")
    parts.store.apply(catalog_batch(SETTINGS, [hostile], first_offset=1))
    sign_in(client, "wang")
    page = client.get("/records", params={"q": "通知"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_health_metrics_and_static_need_no_session(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json()["ready"] is True
    assert client.get("/static/htmx.min.js").status_code == 200
    assert "set-cookie" not in client.get("/static/console.css").headers
    assert client.get("/metrics").status_code == 200
