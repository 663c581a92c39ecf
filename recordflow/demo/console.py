"""The demo's way into the web console: one account per role, with passwords made up for this run
and printed once (`recordflow demo` ends with them and the console's address). Rerunning the demo
gives the same accounts new passwords; on a real installation accounts are made by an operator
with `recordflow console users add`."""

from __future__ import annotations

import secrets

import httpx

from connectors.console.roles import Role
from connectors.console.users import add
from recordflow.settings import Settings

ACCOUNTS: tuple[tuple[str, Role], ...] = (
    ("demo.staff", "staff"), ("demo.admin", "admin"), ("demo.auditor", "auditor"),
)  # fmt: skip


def demo_accounts(settings: Settings) -> list[tuple[str, Role, str]]:
    """(name, role, password) of each demo account, written to the accounts topic."""
    made = []
    for name, role in ACCOUNTS:
        password = secrets.token_urlsafe(12)
        add(settings, name, role, password, replace_existing=True)
        made.append((name, role, password))
    return made


def console_answers(settings: Settings) -> bool:
    try:
        answer = httpx.get(f"http://127.0.0.1:{settings.console_port}/healthz", timeout=2)
    except httpx.HTTPError:
        return False
    return answer.status_code == httpx.codes.OK
