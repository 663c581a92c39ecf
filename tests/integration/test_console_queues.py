"""The console's queues on the real stack, in a real browser (Playwright + Debian's chromium): a
worker sends a 备忘录 no rule decides to review and dead-letters a document whose staged file has
gone; staff decide the item in the browser and the record is archived under the decided period,
and a second decision from a stale page is refused showing the first; staff may not replay; the
administrator dry-runs the letter (nothing sent), the file is uploaded again, the replay archives
the document and the replay ledger records it; the auditor reads both actions in the audit log."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from avro_schemas.codec import Codec
from connectors.deadletters import ledger_topic, read_committed, read_replays
from connectors.readback import Outcome, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.localstack.console import running_console
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.browser import chromium
from tests.integration.test_console import (  # the accounts, the console's own store folder
    accounts,
    console_settings,
    sign_in,
    sign_out,
    wait_for_text,
)

__all__ = ["accounts", "console_settings"]  # fixtures, used by name

TIMEOUT_S = 120.0
MEMO = "窗口服务工作备忘录"


def outcome(settings: Settings, codec: Codec, event_id: str, status: str) -> Outcome:
    """The event's outcome once it is `status` (or whatever it is after the timeout)."""
    return watch_outcomes(settings, codec, {event_id}, timeout_s=TIMEOUT_S,
                          until=lambda found: found.status == status)[event_id]  # fmt: skip


def submit(settings: Settings, tmp_path: Path) -> tuple[str, str, str, Path]:
    """A 备忘录 of bdc (no rule decides it) and a 请示 of zjj whose staged file is then removed:
    their event ids, the removed file's staged key and the file itself."""
    memo = tmp_path / "备忘录.pdf"
    memo.write_bytes(b"%PDF-1.4 memo " + os.urandom(300))
    request = tmp_path / "请示.pdf"
    request.write_bytes(b"%PDF-1.4 request " + os.urandom(2048))
    submitter = Submitter(settings)
    held = submitter.submit("bdc", [FileToSubmit(memo)], {
        "document_id": "BDC-Q-1", "title": MEMO, "responsible_party": "市不动产登记中心",
        "document_date": "2026-09-09", "document_type": "备忘录", "unit_code": "BGS",
    })  # fmt: skip
    agency = submitter.agency("zjj")
    upload_id = uuid.uuid4().hex
    components = submitter.stage(agency, upload_id, [FileToSubmit(request)])
    staged_key = components[0]["payload"]["key"]
    Storage(settings).client.remove_object(settings.staging_bucket, staged_key)
    rejected = submitter.publish(agency, {
        "document_id": "ZJJ-Q-1", "title": "关于城中村改造项目资金拨付的请示",
        "document_number": "市建请〔2026〕77号", "responsible_party": "市住房和城乡建设局",
        "document_date": "2026-05-06", "document_type": "请示", "unit_code": "GHK",
    }, components, upload_id)  # fmt: skip
    submitter.close()  # flushes: the receipts' deliveries are confirmed
    rejected.wait()
    return held.event_id, rejected.event_id, staged_key, request


def letter_id_of(page: Page, url: str, event_id: str) -> str:
    """The id of the event's letter, from the list once the store has it."""
    wait_for_text(page, f"{url}/deadletters", event_id, timeout_s=30)
    row = page.locator("table.letters tbody tr", has_text=event_id)
    expect(row).to_have_count(1)
    found = row.get_attribute("data-letter")
    assert found is not None
    return found


def test_staff_decide_a_review_item_and_the_admin_replays_a_dead_letter_in_the_browser(
    console_settings: Settings, worker: WorkerProcess, accounts: None, tmp_path: Path
) -> None:
    settings = console_settings
    codec = Codec.from_url(settings.schema_registry_url)
    memo_event, rejected_event, staged_key, request = submit(settings, tmp_path)
    assert outcome(settings, codec, memo_event, "review").status == "review"
    rejected = outcome(settings, codec, rejected_event, "rejected")
    assert (rejected.status, rejected.reason) == ("rejected", "payload-missing")

    with running_console(settings) as url, chromium() as browser:
        context = browser.new_context(locale="zh-CN")  # one context: a second tab shares it
        page = context.new_page()
        shot = _screenshots(page, tmp_path)
        sign_in(page, url, "wang.dangan")
        expect(page.get_by_test_id("role")).to_contain_text("档案管理员")

        # 待鉴定: the item, why it waits, its metadata; decided with a period and a note.
        wait_for_text(page, f"{url}/review", MEMO, timeout_s=30)
        expect(page.locator("table.review")).to_contain_text("bdc-schedule@2026.1")
        shot("review")
        page.click(f"text={MEMO}")
        expect(page.get_by_test_id("event-id")).to_have_text(memo_event)
        expect(page.locator("main")).to_contain_text("市不动产登记中心")
        expect(page.locator("main")).to_contain_text("备忘录.pdf")
        stale = context.new_page()  # the same item open in a second tab
        stale.goto(page.url)
        shot("review-item")
        page.select_option("select[name=period]", "D10")
        page.fill("textarea[name=note]", "窗口日常事务，定期10年")
        page.click("[data-testid=decide-form] button[type=submit]")
        expect(page.locator("h1")).to_contain_text("已鉴定")
        shot("decided")
        archived = outcome(settings, codec, memo_event, "archived")
        assert (archived.status, archived.retention_period) == ("archived", "D10")
        code = str(archived.reference_code)
        assert code == "Z215-WS·2026-D10-BGS-0001"
        wait_for_text(page, f"{url}/records?q=备忘录", code, timeout_s=30)  # archived, in 档案
        # The stale tab decides again: refused, showing the first decision.
        stale.select_option("select[name=period]", "Y")
        stale.click("[data-testid=decide-form] button[type=submit]")
        expect(stale.locator("h1")).to_contain_text("已鉴定过")
        expect(stale.get_by_test_id("message")).to_contain_text(
            "already decided: D10 by wang.dangan"
        )
        stale.screenshot(path=str(tmp_path / "decided-again.png"), full_page=True)
        stale.close()
        wait_for_text(page, f"{url}/review/{memo_event}", "已鉴定", timeout_s=30)
        expect(page.get_by_test_id("decision")).to_contain_text("窗口日常事务")
        page.goto(f"{url}/review")
        expect(page.locator("table.review")).not_to_contain_text(MEMO)  # it left the queue

        # 死信: staff read the letter, and may not replay it.
        letter = letter_id_of(page, url, rejected_event)
        page.goto(f"{url}/deadletters/{letter}")
        expect(page.get_by_test_id("reason")).to_have_text("payload-missing")
        expect(page.locator("main")).to_contain_text("暂存区中找不到事件所指的文件")
        expect(page.get_by_test_id("decoded")).to_contain_text(staged_key)
        expect(page.get_by_test_id("dry-run")).to_have_count(0)
        answer = page.goto(f"{url}/deadletters/{letter}/replay")
        assert answer is not None and answer.status == 403
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        refused = page.request.post(f"{url}/deadletters/{letter}/replay",
                                    form={"csrf_token": token or "", "fingerprint": "0" * 64})  # fmt: skip
        assert refused.status == 403 and "无权访问" in refused.text()
        page.goto(f"{url}/")
        sign_out(page)

        # The administrator: a dry run sends nothing; once the file is back, the replay.
        sign_in(page, url, "zhao.guanli")
        page.goto(f"{url}/deadletters/{letter}")
        shot("letter")
        page.get_by_test_id("dry-run").click()
        expect(page.get_by_test_id("would-replay")).to_be_visible()
        expect(page.get_by_test_id("target")).to_have_text(settings.ingest_topic("zjj"))
        shot("dry-run")
        assert read_committed(settings, ledger_topic(settings)) == []
        with request.open("rb") as stream:
            Storage(settings).stage(staged_key, stream, request.stat().st_size, "application/pdf")
        page.click("[data-testid=replay-form] button[type=submit]")
        expect(page.locator("h1")).to_contain_text("已重放")
        shot("replayed")
        assert outcome(settings, codec, rejected_event, "archived").status == "archived"
        [entry] = read_replays(settings).values()
        assert (entry.letter_id, entry.replayed_by) == (letter, "zhao.guanli")
        wait_for_text(page, f"{url}/deadletters/{letter}", "zhao.guanli", timeout_s=30)
        expect(page.get_by_test_id("replayed")).to_contain_text("已重放")
        expect(page.get_by_test_id("dry-run")).to_have_count(0)
        sign_out(page)

        # The auditor reads both actions, and the refusals.
        sign_in(page, url, "li.shenji")
        wait_for_text(page, f"{url}/audit?action=review.decide", memo_event, timeout_s=30)
        decisions = page.locator("table.audit tbody tr")
        expect(decisions).to_have_count(2)
        expect(decisions.filter(has_text="wang.dangan")).to_have_count(2)
        expect(page.locator("table.audit tr.outcome-refused")).to_have_count(1)
        shot("audit-decide")
        wait_for_text(page, f"{url}/audit?action=deadletters.replay", "zhao.guanli")
        expect(page.locator("table.audit tbody tr")).to_have_count(1)
        expect(page.locator("table.audit tbody")).to_contain_text("成功")
        expect(page.locator("table.audit tbody")).to_contain_text(f"/{letter}")
        wait_for_text(page, f"{url}/audit?actor=wang.dangan&action=access", "/replay")
        expect(page.locator("table.audit tbody tr")).to_have_count(2)  # the page and the POST
        shot("audit-access")


def _screenshots(page: Page, folder: Path) -> Callable[[str], None]:
    def shot(name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot
