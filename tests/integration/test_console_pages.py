"""The console's 校验 and 立档单位 pages on the real stack, in a real browser (Playwright + Debian's
chromium): a worker archives three 通知 of bgt, sends a 备忘录 of bdc to review and dead-letters a
请示 of zjj; one archived record's catalog entry is then tampered with, `recordflow verify` finds it
and records its run; fy is offboarded on the registry topic. The administrator sees the run (three
checked, one failing), the alert with what its codes mean, every agency with its counts and the
way to onboard one; staff follow the alert's 档号 to the record and an agency's count to its
records."""

from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
from pathlib import Path

from confluent_kafka import Producer
from playwright.sync_api import Locator, expect

from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD
from connectors.agency_registry import current_registry, publish_entry
from connectors.readback import catalog
from recordflow.localstack.console import running_console
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.browser import chromium
from tests.integration.cli import run_cli
from tests.integration.test_console import (  # the accounts, the console's own store folder
    accounts,
    archive,
    console_settings,
    sign_in,
    sign_out,
    wait_for_text,
)
from tests.integration.test_console_queues import outcome, submit

__all__ = ["accounts", "console_settings"]  # fixtures, used by name

FLUSH_TIMEOUT_S = 30.0


def tamper(settings: Settings, codec: Codec, code: str) -> None:
    """The record's catalog entry again, with its file's SHA-256 changed (object lock forbids
    changing what the archive holds, so the fault is made on the catalog's side)."""
    record = copy.deepcopy(catalog(settings, codec)[code])
    digest = next(c for c in record["components"][0]["checksums"] if c["algorithm"] == "SHA256")
    digest["value"] = ("0" if digest["value"][0] != "0" else "1") + digest["value"][1:]
    producer = Producer(settings.producer_config())
    subject = Subject.for_topic(settings.catalog_topic, ARCHIVAL_RECORD)
    producer.produce(settings.catalog_topic, key=code.encode(), value=codec.encode(subject, record))
    assert producer.flush(FLUSH_TIMEOUT_S) == 0


def test_the_verify_runs_and_the_agencies_with_their_counts_in_the_browser(
    console_settings: Settings, worker: WorkerProcess, accounts: None, tmp_path: Path
) -> None:
    # The onboarding's schedule skeleton goes to the test's copy of the schedules, not the source.
    retention = shutil.copytree(console_settings.retention_dir, tmp_path / "retention")
    settings = console_settings.model_copy(update={"retention_dir": retention})
    codec = Codec.from_url(settings.schema_registry_url)
    memo_event, rejected_event, _, _ = submit(settings, tmp_path)  # bdc to review, zjj rejected
    codes = archive(settings)  # three of bgt
    assert outcome(settings, codec, memo_event, "review").status == "review"
    assert outcome(settings, codec, rejected_event, "rejected").status == "rejected"
    bad = codes["CON-2"]
    tamper(settings, codec, bad)
    checked = run_cli(settings, "verify")
    assert checked.returncode == 1 and "1 of 3 record(s) no longer match" in checked.stderr
    gone = current_registry(settings).by_code["fy"]
    publish_entry(settings, gone.model_copy(update={"offboarded_at": dt.datetime.now(dt.UTC)}))

    # Started now, the console is ready once its store has read all of it.
    with running_console(settings) as url, chromium() as browser:
        page = browser.new_page(locale="zh-CN")
        sign_in(page, url, "zhao.guanli")
        expect(page.get_by_test_id("role")).to_contain_text("系统管理员")

        page.goto(f"{url}/verify")
        expect(page.get_by_test_id("checked")).to_have_text("3")
        expect(page.get_by_test_id("failed")).to_have_text("1")
        expect(page.get_by_test_id("status")).to_contain_text("完成")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        alert = page.locator("table.alerts tbody tr")
        expect(alert).to_have_count(1)
        expect(alert).to_have_attribute("data-code", bad)
        expect(alert.locator("li[data-problem=checksum-mismatch]")).to_contain_text("摘要值不符")
        expect(alert.locator("a")).to_have_count(0)  # the administrator reads no record
        page.screenshot(path=str(tmp_path / "verify.png"), full_page=True)

        page.goto(f"{url}/agencies")

        def cell(agency: str, column: str) -> Locator:
            return page.locator(f"tr[data-agency={agency}]").get_by_test_id(column)

        expect(cell("bgt", "records")).to_have_text("3")
        expect(cell("zjj", "rejected")).to_have_text("1")
        expect(cell("bdc", "reviewing")).to_have_text("1")
        expect(cell("fy", "status")).to_contain_text("已退出")
        expect(cell("bgt", "status")).to_contain_text("在用")
        expect(page.get_by_test_id("onboard-link")).to_have_attribute("href", "/agencies/onboard")
        page.screenshot(path=str(tmp_path / "agencies.png"), full_page=True)

        # 接入: the administrator onboards 市生态环境局, a dry run first, as the CLI would.
        page.get_by_test_id("onboard-link").click()
        page.fill("[name=code]", "sthj")
        page.fill("[name=name]", "市生态环境局")
        page.fill("[name=fonds]", "Z150")
        page.fill("[name=units]", "BGS:办公室")
        page.get_by_test_id("dry-run").click()
        expect(page.locator("tr[data-step=registry]")).to_have_count(1)
        assert "sthj" not in current_registry(settings).by_code  # a plan writes nothing
        page.get_by_test_id("onboard-confirm").click()
        expect(page.get_by_test_id("gateway-token")).to_contain_text("rfg_")
        assert "sthj" in current_registry(settings).by_code
        assert (settings.retention_dir / "sthj.yaml").exists()
        wait_for_text(page, f"{url}/agencies", "市生态环境局")
        expect(cell("sthj", "status")).to_contain_text("在用")
        sign_out(page)

        sign_in(page, url, "wang.dangan")  # staff follow the links to the records
        page.goto(f"{url}/verify")
        page.locator("table.alerts").get_by_role("link", name=bad).click()
        expect(page.get_by_test_id("code")).to_have_text(bad)
        page.goto(f"{url}/agencies")
        expect(page.get_by_test_id("onboard-link")).to_have_count(0)
        page.locator("tr[data-agency=bgt]").get_by_test_id("records").get_by_role("link").click()
        expect(page).to_have_url(re.compile(r"/records\?agency=bgt$"))
        expect(page.get_by_test_id("count")).to_contain_text("共 3 件")
