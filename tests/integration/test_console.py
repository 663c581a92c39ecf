"""The archive staff's console on the real stack, in a real browser (Playwright + Debian's
chromium): records archived by a worker are found, shown and downloaded as a bag that bagit
validates; the auditor reads those actions in the audit log; a role is refused another's page;
five wrong passwords lock an account; a POST without its CSRF token is refused."""

from __future__ import annotations

import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import bagit
import httpx
import pytest
from playwright.sync_api import Page, expect

from avro_schemas.codec import Codec
from connectors.console import users
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.demo.console import demo_accounts
from recordflow.localstack.console import running_console
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.browser import chromium
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0
PASSWORD = "档案-correct-horse-42"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def console_settings(pipeline_settings: Settings, tmp_path: Path) -> Settings:
    """The test's pipeline, with the console's store in the test's own folder."""
    return pipeline_settings.model_copy(update={"console_data_dir": tmp_path / "console"})


@pytest.fixture
def accounts(console_settings: Settings) -> None:
    """Through the CLI, as an operator adds them: the password on standard input."""
    for name, role in (
        ("wang.dangan", "staff"),
        ("li.shenji", "auditor"),
        ("zhao.guanli", "admin"),
    ):
        added = run_cli(console_settings, "console", "users", "add", name, "--role", role,
                        stdin=f"{PASSWORD}\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
    listed = run_cli(console_settings, "console", "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert PASSWORD not in listed.stdout and "argon2" not in listed.stdout


@pytest.fixture
def console_url(console_settings: Settings, accounts: None) -> Iterator[str]:
    with running_console(console_settings) as url:
        yield url


def sign_in(page: Page, url: str | None, name: str, password: str = PASSWORD) -> None:
    """On the sign-in page of `url`, or (None) on the one the browser was sent to."""
    if url is not None:
        page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def sign_out(page: Page) -> None:
    page.click("form[action='/logout'] button")
    expect(page).to_have_url(re.compile(r"/login$"))


def archive(settings: Settings) -> dict[str, str]:
    """Three 通知 through the SDK, archived by the worker: document id → 档号."""
    titles = {"CON-1": "关于做好2026年防汛工作的通知", "CON-2": "关于开展安全生产检查的通知",
              "CON-3": "关于召开防汛抗旱工作会议的通知"}  # fmt: skip
    submitter = Submitter(settings)
    pdf = Path(settings.console_path) / "通知.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(PDF)
    events = {
        document: submitter.submit("bgt", [FileToSubmit(pdf)],
                                   notice_metadata(document, title=title)).event_id
        for document, title in titles.items()
    }  # fmt: skip
    submitter.close()
    outcomes = watch_outcomes(settings, Codec.from_url(settings.schema_registry_url),
                              set(events.values()), timeout_s=TIMEOUT_S)  # fmt: skip
    codes = {document: outcomes[event].reference_code for document, event in events.items()}
    assert all(codes.values()), outcomes
    return {document: str(code) for document, code in codes.items()}


def wait_for_text(page: Page, url: str, text: str, timeout_s: float = 20.0) -> None:
    """Reload `url` until it shows `text` (the store reads the audit topic within a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(url)
        if text in page.inner_text("main"):
            return
        assert time.monotonic() < deadline, f"{text!r} not on {url}: {page.inner_text('main')}"
        time.sleep(0.5)


def test_staff_find_show_and_download_a_record_and_the_auditor_sees_it(
    console_settings: Settings, worker: WorkerProcess, accounts: None, tmp_path: Path
) -> None:
    codes = archive(console_settings)
    flood, meeting = codes["CON-1"], codes["CON-3"]
    with running_console(console_settings) as url, chromium() as browser:
        page = browser.new_page(accept_downloads=True, locale="zh-CN")
        page.goto(f"{url}/records")
        expect(page).to_have_url(re.compile(r"/login\?next=/records$"))
        sign_in(page, None, "wang.dangan")
        expect(page).to_have_url(f"{url}/records")
        expect(page.get_by_test_id("role")).to_contain_text("档案管理员")

        # A 2-character word (a trigram index alone would miss it), through htmx.
        page.fill("input[name=q]", "防汛")
        page.click("form.search button[type=submit]")
        expect(page.get_by_test_id("count")).to_contain_text("共 2 件")
        results = page.locator("#results")
        expect(results).to_contain_text(flood)
        expect(results).to_contain_text(meeting)
        expect(results).not_to_contain_text(codes["CON-2"])
        assert "q=%E9%98%B2%E6%B1%9B" in page.url  # the search is in the address, to share
        page.screenshot(path=str(tmp_path / "records.png"), full_page=True)

        page.click(f"text={flood}")
        expect(page.get_by_test_id("code")).to_have_text(flood)
        items = page.get_by_test_id("check-item")
        expect(items.first).to_be_visible()
        assert items.count() >= 8
        expect(page.locator("table.check")).to_contain_text("YJ-1-1")
        expect(page.locator("table.check")).to_contain_text("固定性信息有效性检测")
        expect(page.locator("main")).to_contain_text("关于做好2026年防汛工作的通知")
        page.screenshot(path=str(tmp_path / "record.png"), full_page=True)

        with page.expect_download() as download_info:
            page.get_by_test_id("download").click()
        download = download_info.value
        tar_path = tmp_path / download.suggested_filename
        download.save_as(tar_path)
        assert download.suggested_filename == f"{flood}.tar"
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp_path / "bag", filter="data")
        bag = bagit.Bag(str(tmp_path / "bag" / flood))
        bag.validate()
        assert bag.info["External-Identifier"] == flood

        # 概览: today's three, charted; the worker as Prometheus scrapes it (every 5 s).
        page.goto(f"{url}/")
        expect(page.get_by_test_id("archived")).to_have_text("3")
        expect(page.locator("tr[data-agency=bgt]")).to_contain_text("市人民政府办公厅")
        assert page.locator("figure.chart rect.bar.archived").count() >= 1
        deadline = time.monotonic() + 30
        while page.get_by_test_id("workers-up").inner_text() != "1":
            assert time.monotonic() < deadline, page.inner_text("[data-testid=health]")
            time.sleep(1)
            page.reload()
        page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

        # 登记表: today's register of bgt as a PDF, made from the topics.
        page.goto(f"{url}/reports")
        page.select_option("select[name=agency]", "bgt")
        with page.expect_download() as download_info:
            page.click("[data-testid=register-form] button[type=submit]")
        register = download_info.value
        assert register.suggested_filename.startswith("移交接收登记表-bgt-")
        assert register.suggested_filename.endswith(".pdf")
        register.save_as(tmp_path / "register.pdf")
        assert (tmp_path / "register.pdf").read_bytes().startswith(b"%PDF-")

        # Staff may not read the audit trail of their own actions.
        answer = page.goto(f"{url}/audit")
        assert answer is not None and answer.status == 403
        expect(page.locator("main")).to_contain_text("无权访问")
        page.goto(f"{url}/")
        sign_out(page)

        sign_in(page, url, "li.shenji")
        expect(page.get_by_test_id("role")).to_contain_text("安全审计员")
        wait_for_text(page, f"{url}/audit?actor=wang.dangan&action=export", flood)
        wait_for_text(page, f"{url}/audit?actor=wang.dangan&action=export", "transfer:bgt:")
        rows = page.locator("table.audit tbody tr")
        expect(rows.first).to_contain_text("wang.dangan")
        expect(rows.first).to_contain_text("导出")
        expect(rows.last).to_contain_text(flood)  # the package, before the register
        expect(rows.first).to_contain_text("成功")
        page.goto(f"{url}/audit?actor=wang.dangan")
        log = page.locator("table.audit")
        for action in ("login", "export", "access", "logout"):
            expect(log.locator(f"td[data-action={action}]").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
        # The auditor reads records too, but downloads nothing.
        page.goto(f"{url}/records/{flood}")
        expect(page.get_by_test_id("code")).to_have_text(flood)
        expect(page.get_by_test_id("download")).to_have_count(0)


def test_five_wrong_passwords_lock_an_account_and_a_post_needs_its_csrf_token(
    console_settings: Settings, console_url: str, tmp_path: Path
) -> None:
    url = console_url
    with chromium() as browser:
        page = browser.new_page(locale="zh-CN")
        for attempt in range(5):
            sign_in(page, url, "zhao.guanli", f"wrong password {attempt}")
            expect(page.get_by_test_id("error")).to_contain_text("账户名或口令错误")
        sign_in(page, url, "zhao.guanli")  # the right password, now refused
        expect(page.get_by_test_id("error")).to_contain_text("已锁定")
        page.screenshot(path=str(tmp_path / "locked.png"))

        # The same form posted without its token (another site's form would have none).
        refused = page.request.post(f"{url}/login", form={"name": "wang.dangan",
                                                          "password": PASSWORD})  # fmt: skip
        assert refused.status == 403
        assert "请求已拒绝" in refused.text()
        outside = httpx.post(f"{url}/login", data={"name": "wang.dangan", "password": PASSWORD,
                                                   "csrf_token": "forged"})  # fmt: skip
        assert outside.status_code == 403

        # Another account signs in from the same address; the auditor sees the lock.
        sign_in(page, url, "li.shenji")
        expect(page.get_by_test_id("role")).to_contain_text("安全审计员")
        wait_for_text(page, f"{url}/audit?actor=zhao.guanli", "已锁定")
        log = page.locator("table.audit tbody")
        expect(log.locator("tr.outcome-failure")).to_have_count(5)
        expect(log.locator("tr.outcome-refused")).to_have_count(1)

    # The demo's accounts (recordflow demo prints them): made again, each with a new password.
    first = {name: password for name, _, password in demo_accounts(console_settings)}
    again = {name: password for name, _, password in demo_accounts(console_settings)}
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        for password, status in ((first["demo.staff"], 401), (again["demo.staff"], 303)):
            deadline = time.monotonic() + 10
            while True:  # the console takes up the accounts topic within a second or two
                client.cookies.clear()
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
                assert token is not None
                answer = client.post("/login", data={"name": "demo.staff", "password": password,
                                                     "csrf_token": token[1]})  # fmt: skip
                if answer.status_code == status or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert answer.status_code == status, answer.text

    # Disabled through the CLI: the running console refuses it within a second or two.
    disabled = run_cli(console_settings, "console", "users", "disable", "li.shenji")
    assert disabled.returncode == 0, disabled.stderr
    assert not {u.name: u for u in users.users(console_settings)}["li.shenji"].active
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        while True:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            signed = client.post("/login", data={"name": "li.shenji", "password": PASSWORD,
                                                 "csrf_token": token[1]})  # fmt: skip
            if signed.status_code == 401:
                break
            assert signed.status_code == 303 and time.monotonic() < deadline, signed.text
            client.cookies.clear()
            time.sleep(0.5)
