"""`recordflow demo`: the main job, end to end on the local stack; sample documents in, archive and
dead letters out."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail, print_json
from recordflow.settings import Settings


def demo(
    as_json: JsonFlag = False,
    keep_worker: Annotated[bool, typer.Option(help="Leave the demo's worker running.")] = False,
) -> None:
    """The main job, end to end on the local stack: sample documents in, archive and dead letters out."""
    from recordflow.demo.run import demo_summary, run_demo

    rows = demo_summary(run_demo(Settings(), err, keep_worker=keep_worker))
    if as_json:
        print_json(rows)
    else:
        table = Table(title="演示结果 Demo: what was archived and what was rejected")
        for column in (
            "结果 outcome",
            "单位",
            "电子文件号 document",
            "档号 / 退回原因 code or reason",
            "题名 title",
        ):
            table.add_column(column, no_wrap=column.startswith(("档号", "电子")))
        notes = []
        for row in rows:
            if row["status"] == "archived":
                outcome = "[green]已归档 archived[/]"
                detail = f"{row['reference_code']}"
            elif row["status"] == "rejected":
                outcome, detail = "[red]已退回 rejected[/]", f"[red]{row['reason']}[/]"
                notes.append(f"  {row['document_id']}: {row['detail']}")
            elif row["status"] == "review":
                outcome, detail = "[yellow]待鉴定 review[/]", "[yellow]retention-undecided[/]"
                notes.append(f"  {row['document_id']}: {row['detail']} → recordflow review decide")
            else:
                outcome, detail = "[yellow]未完成 pending[/]", "no outcome within the time limit"
            table.add_row(
                outcome,
                row["agency"],
                row["document_id"],
                detail,
                escape(row["title"] or "（空 empty）"),
            )
        console.print(table)
        if notes:
            console.print("说明 Why rejected or held for review:", highlight=False)
            console.print("\n".join(notes), highlight=False, soft_wrap=True, markup=False)
    unexpected = [
        row for row in rows
        if row["status"] != row["expected_status"] or row["reason"] != row["expected_reason"]
    ]  # fmt: skip
    if unexpected:
        raise fail(f"{len(unexpected)} sample(s) did not end as expected: "
                   + ", ".join(row["document_id"] for row in unexpected))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(demo)
