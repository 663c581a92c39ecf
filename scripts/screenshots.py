"""Screenshots of the web console's pages, as each role sees them, for docs/screenshots/ and the
README: `make screenshots` runs the demo first, so the pages show its records, rejections and
review item. Debian's chromium through Playwright, as the browser tests drive it.

    PYTHONPATH=. python scripts/screenshots.py [FOLDER]   (default docs/screenshots)

The demo's accounts are given new passwords here (as `recordflow demo` does each run).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page

from connectors.console.roles import Role
from recordflow.demo.console import console_answers, demo_accounts
from recordflow.settings import Settings
from tests.integration.browser import chromium

WIDTH, HEIGHT = 1280, 900
# (role, path, file): a record's page is found from the records list.
PAGES: list[tuple[Role, str, str]] = [
    ("staff", "/", "overview"),
    ("staff", "/records", "records"),
    ("staff", "RECORD", "record"),
    ("staff", "/review", "review"),
    ("staff", "/deadletters", "deadletters"),
    ("staff", "/verify", "verify"),
    ("staff", "/agencies", "agencies"),
    ("staff", "/reports", "register"),
    ("auditor", "/audit", "audit"),
]


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")


def main(folder: Path) -> int:
    settings = Settings()
    url = f"http://127.0.0.1:{settings.console_port}"
    if not console_answers(settings):
        print(f"the console at {url} does not answer: run `make demo` first", file=sys.stderr)
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    passwords = {role: (name, password) for name, role, password in demo_accounts(settings)}
    with chromium() as browser:
        context = browser.new_context(locale="zh-CN", viewport={"width": WIDTH, "height": HEIGHT})
        page = context.new_page()
        page.goto(f"{url}/login")
        page.screenshot(path=str(folder / "login.png"))
        signed_in = None
        for role, path, name in PAGES:
            if role != signed_in:
                context.clear_cookies()
                sign_in(page, url, *passwords[role])
                signed_in = role
            if path == "RECORD":
                page.goto(f"{url}/records")
                page.locator("#results a").first.click()
                page.wait_for_load_state()
            else:
                page.goto(f"{url}{path}")
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            print(f"{folder / f'{name}.png'}  {page.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
