"""`recordflow demo`: the main job, end to end on the local stack; sample documents in, archive and
dead letters out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail, print_json
from recordflow.settings import Settings

if TYPE_CHECKING:
    from recordflow.demo.downstream import LookupShown


def demo(
    as_json: JsonFlag = False,
    keep_worker: Annotated[bool, typer.Option(help="Leave the demo's worker running.")] = False,
) -> None:
    """The main job, end to end on the local stack: sample documents in, archive and dead letters out."""
    from recordflow.demo.run import demo_summary, run_demo

    settings = Settings()
    done = run_demo(settings, err, keep_worker=keep_worker)
    rows = demo_summary(done.rows)
    if as_json:
        print_json({"submissions": rows, "lookup": done.lookup.as_json(), "export": done.export})
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
        for row in (row for row in rows if row["via"] == "sdk"):
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
        _print_receipts([row for row in rows if row["via"] == "gateway"])
        _print_digitized([row for row in rows if row["via"] == "import"])
        _print_photos([row for row in rows if row["via"] == "photos"])
        for row in (row for row in rows if row["via"] == "package"):
            outcome = RECEIPT_WORDS.get(row["status"], row["status"])
            console.print(f"离线移交包 Offline package (BagIt, {row['agency']}): {row['document_id']} "
                          f"{escape(row['title'])} → {outcome} {row['reference_code'] or row['reason'] or ''}",
                          highlight=False, soft_wrap=True)  # fmt: skip
        _print_lookup(done.lookup, settings)
        _print_export(done.export)
        _print_console(settings)
    unexpected = [
        row for row in rows
        if row["status"] != row["expected_status"] or row["reason"] != row["expected_reason"]
    ]  # fmt: skip
    if unexpected:
        raise fail(f"{len(unexpected)} sample(s) did not end as expected: "
                   + ", ".join(row["document_id"] for row in unexpected))  # fmt: skip


def _print_lookup(shown: LookupShown, settings: Settings) -> None:
    """What the public finds for the demo's word, and how many more records staff find."""
    url = f"http://127.0.0.1:{settings.lookup_port}"
    table = Table(title=f"查询服务 Lookup: 「{shown.word}」 — 公众 the public finds "
                        f"{shown.public['total']}, 工作人员 staff find {shown.staff_total}")  # fmt: skip
    for column in ("档号 code", "题名 title", "开放 open since"):
        table.add_column(column, no_wrap=not column.startswith("题名"))
    for record in shown.public["results"]:
        title = record["highlights"].get("title") or escape(record["title"])
        title = title.replace("<mark>", "[bold yellow]").replace("</mark>", "[/]")
        table.add_row(record["reference_code"], title, record["access"]["opens_on"])
    console.print(table)
    console.print(f"  The stack's lookup service answers the same: curl -G {url}/v1/records "
                  f"--data-urlencode q={shown.word}   (OpenAPI: {url}/docs; a staff token: "
                  "recordflow lookup token NAME)", highlight=False, soft_wrap=True, markup=False)  # fmt: skip


def _print_export(summary: dict[str, Any]) -> None:
    if summary["export_id"] is None:
        line = "nothing changed since the last export"
    else:
        line = (f"{summary['kind']} export {summary['export_id']}: {summary['records']} records in "
                f"{summary['files']} Parquet files, s3://{summary['bucket']}/{summary['manifest']}")  # fmt: skip
    console.print(f"导出 Parquet export: {line} (recordflow export parquet; read it with DuckDB)",
                  highlight=False, soft_wrap=True, markup=False)  # fmt: skip


def _print_console(settings: Settings) -> None:
    """The web console's address and an account per role, their passwords shown this once."""
    from connectors.console.roles import ROLE_NAMES
    from recordflow.demo.console import console_answers, demo_accounts

    url = f"http://127.0.0.1:{settings.console_port}"
    state = "" if console_answers(settings) else " (not running: `recordflow stack up` starts it)"
    table = Table(title=f"档案管理控制台 Web console: {url}{state}")
    for column in ("账户 account", "角色 role", "口令 password (shown once)"):
        table.add_column(column, no_wrap=True)
    for name, role, password in demo_accounts(settings):
        table.add_row(name, f"{ROLE_NAMES[role]} {role}", password)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(demo)


def _print_digitized(rows: list[dict[str, Any]]) -> None:
    """The digitization batch: each catalogue row, archived under its own 档号 or held back."""
    table = Table(title="存量数字化 Digitized paper: 目录挂接 and import (legacy 档号 kept)")
    for column in ("档号 (目录)", "题名 title", "结果 outcome", "原因 reason"):
        table.add_column(column, no_wrap=column.startswith("档号"))
    for row in rows:
        outcome = RECEIPT_WORDS.get(row["status"], "[yellow]待补扫 held: rescan[/]")
        table.add_row(row["reference_code"] or "", escape(row["title"]), outcome,
                      escape(row["detail"] or "") if row["status"] == "held" else "")  # fmt: skip
    console.print(table)


def _print_photos(rows: list[dict[str, Any]]) -> None:
    """The photo batch: a scanned print and a camera's photo, each under its own ZP 档号."""
    table = Table(title="照片档案 Photos (门类 ZP, DA/T 54): 照片挂接 and import")
    for column in ("档号 (目录)", "题名 title", "结果 outcome", "原因 reason"):
        table.add_column(column, no_wrap=column.startswith("档号"))
    for row in rows:
        outcome = RECEIPT_WORDS.get(row["status"], "[yellow]暂缓 held[/]")
        table.add_row(row["reference_code"] or "", escape(row["title"]), outcome,
                      escape(row["detail"] or "") if row["status"] != "archived" else "")  # fmt: skip
    console.print(table)
    console.print("recordflow records show 'Z101-ZP·2026-Y-BGS-0001': the camera's EXIF as read "
                  "at receipt", highlight=False, markup=False)  # fmt: skip


RECEIPT_WORDS = {
    "archived": "[green]已归档 archived[/]",
    "rejected": "[red]已退回 rejected[/]",
    "review": "[yellow]待鉴定 review[/]",
}


def _print_receipts(rows: list[dict[str, Any]]) -> None:
    """The documents submitted over HTTP and what their archival receipts said."""
    table = Table(title="通过 HTTP 网关提交 Submitted over HTTP: 归档回执 the archival receipts")
    for column in (
        "单位",
        "电子文件号 document",
        "回执 receipt",
        "档号 code",
        "保管期限",
        "event id",
    ):
        table.add_column(column, no_wrap=True)
    for row in rows:
        outcome = RECEIPT_WORDS.get(row["status"], "[yellow]未收到 no receipt in time[/]")
        table.add_row(row["agency"], row["document_id"], outcome, row["reference_code"] or "",
                      row["retention_period"] or "", row["event_id"])  # fmt: skip
    console.print(table)
    console.print(
        "Any HTTP client can do the same (README, 'Submitting over HTTP'): "
        "recordflow agencies credentials issue CODE; curl -H 'Authorization: Bearer …' "
        "-F metadata=@meta.json -F file=@通知.pdf http://127.0.0.1:18090/v1/submissions",
        highlight=False, soft_wrap=True, markup=False,
    )  # fmt: skip
