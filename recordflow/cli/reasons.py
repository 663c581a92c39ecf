"""`recordflow reasons`: every reason code (recordflow/reasons.yaml), what it means and what to do.

A table for people, `--json` for programs, `--markdown` for docs/reason-codes.md (the page is
regenerated with it, never edited by hand).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archival.reasons import catalog, render_markdown
from recordflow.cli.common import JsonFlag, console, fail, print_json


def reasons(
    as_json: JsonFlag = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/reason-codes.md (Markdown).")
    ] = False,
) -> None:
    """List every reason code, in Chinese and English, with what to do / 原因代码及处理办法."""
    if as_json and markdown:
        raise fail("give --json or --markdown, not both", 2)
    reasons = catalog()
    if as_json:
        print_json([reason.as_json() for reason in reasons.reasons])
        return
    if markdown:
        sys.stdout.write(render_markdown(reasons))
        return
    table = Table(title=f"原因代码 Reason codes ({len(reasons.reasons)})", show_lines=True)
    table.add_column("代码 code", no_wrap=True)
    table.add_column("类别 kind")
    # Chinese has no spaces to wrap at: fold the long cells rather than cut them short.
    table.add_column("含义 meaning", overflow="fold")
    table.add_column("怎么办 what to do", overflow="fold")
    for reason in reasons.reasons:
        kinds = "\n".join(f"{reasons.kinds[kind].zh}\n{kind}" for kind in reason.kind)
        table.add_row(
            reason.code,
            kinds,
            f"{escape(reason.zh)}\n[dim]{escape(reason.en)}[/dim]",
            f"{escape(reason.action.zh)}\n[dim]{escape(reason.action.en)}[/dim]",
        )
    console.print(table, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("reasons")(reasons)
