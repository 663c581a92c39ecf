"""`recordflow console [--host H --port N]`: the archive staff's web console (connectors/console/),
served by uvicorn; and `recordflow console users add | list | disable`: its accounts, on the
compacted topic every console replica follows (connectors/console/users.py)."""

from __future__ import annotations

import logging
import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(
    help="The archive staff's web console / 档案管理控制台 (no command: serve it)",
    invoke_without_command=True,
)
users_app = typer.Typer(help="The console's accounts / 控制台账户", no_args_is_help=True)
app.add_typer(users_app, name="users")


@app.callback()
def serve(
    context: typer.Context,
    host: Annotated[str | None, typer.Option(help="Default RECORDFLOW_CONSOLE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default RECORDFLOW_CONSOLE_PORT.")] = None,
    stack_home: Annotated[
        str | None,
        typer.Option(hidden=True, help="Set by `stack up`: how `stack down` knows its own."),
    ] = None,
) -> None:
    """Run the web console (Chinese first; sign in with an account of `console users add`)."""
    if context.invoked_subcommand is not None:
        return
    import uvicorn

    from connectors.console.app import create_app

    settings = Settings()
    logging.getLogger("connectors.console").setLevel(logging.INFO)
    uvicorn.run(create_app(settings), host=host or settings.console_host,
                port=port or settings.console_port, log_level="warning", proxy_headers=False)  # fmt: skip


def _password(generate: bool) -> str:
    """A generated password (printed once), the first line of standard input when it is not a
    terminal (`echo … | recordflow console users add`), or asked for twice."""
    if generate:
        return secrets.token_urlsafe(12)
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("口令 Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The account name, e.g. wang.li.")],
    role: Annotated[
        str, typer.Option(help="staff 档案管理员 | admin 系统管理员 | auditor 安全审计员.")
    ],
    generate: Annotated[
        bool, typer.Option("--generate", help="Make up a password and print it once.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Give an existing account a new password and role.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add an account; the password is asked for, read from standard input, or generated."""
    from connectors.console.users import UserError
    from connectors.console.users import add as add_user

    password = _password(generate)
    try:
        user = add_user(Settings(), name, role, password, replace_existing=replace)
    except UserError as exc:
        raise fail(str(exc)) from exc
    shown = {"name": user.name, "role": user.role, **({"password": password} if generate else {})}
    if as_json:
        print_json(shown)
        return
    console.print(f"account {user.name} ({user.role}) added", highlight=False)
    if generate:
        console.print(f"password (shown once): {password}", highlight=False)


@users_app.command("list")
def list_users(as_json: JsonFlag = False) -> None:
    """Every account, active and disabled (never a password or its hash)."""
    from connectors.console.roles import ROLE_NAMES
    from connectors.console.users import users

    found = users(Settings())
    rows = [{"name": u.name, "role": u.role, "created_at": u.created_at,
             "disabled_at": u.disabled_at} for u in found]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    table = Table(title="控制台账户 Console accounts")
    for column in ("name 账户", "role 角色", "created 创建", "disabled 停用"):
        table.add_column(column)
    for user in found:
        table.add_row(user.name, f"{user.role} {ROLE_NAMES[user.role]}", user.created_at.isoformat(),
                      user.disabled_at.isoformat() if user.disabled_at else "")  # fmt: skip
    console.print(table)


@users_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(metavar="NAME")], as_json: JsonFlag = False
) -> None:
    """Disable an account: every console refuses it, and ends its sessions, within a second."""
    from connectors.console.users import UserError
    from connectors.console.users import disable as disable_user

    try:
        user = disable_user(Settings(), name)
    except UserError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json({"name": user.name, "role": user.role, "disabled_at": user.disabled_at})
        return
    console.print(f"account {user.name} disabled at {user.disabled_at}", highlight=False)
