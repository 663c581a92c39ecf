"""`recordflow report transfer`: the receiving register (电子档案移交与接收登记表) of what the archive
received from one agency in a period, as tables on the terminal, JSON, an HTML page or a PDF
(docs/design.md, "Transfer register"). connectors/transfer_register.py reads the topics,
archival/transfer_register/ builds and renders the register."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail
from recordflow.settings import Settings

if TYPE_CHECKING:
    from archival.transfer_register.build import Period, Tally, TransferRegister
    from archival.transfer_register.pdf import RegisterFont
    from recordflow.agencies import Agency, AgencyRegistry, Archives

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def report() -> None:
    """Registers for archive staff / 登记表: what an agency transferred and the archive received."""


@app.command("transfer")
def transfer(
    agency: Annotated[str, typer.Option(help="The agency (立档单位) by its code, e.g. bgt.")],
    first: Annotated[
        str,
        typer.Option(
            "--from",
            help="First day received, included: YYYY-MM-DD or today (China Standard Time).",
        ),
    ],
    last: Annotated[
        str, typer.Option("--to", help="Last day received, included: YYYY-MM-DD or today (CST).")
    ],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who produces the register (制表人; default: your login name)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the register as a printable HTML page.")
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option("--pdf", help="Write the register as a PDF (A4, its Chinese font embedded)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The receiving register (电子档案移交与接收登记表) of an agency for a period.

    What was archived (件数, 容量, by category, retention period, year and format), the
    four-property check (DA/T 70) with every record that failed or is flagged, the dead letters by
    reason and the review items still pending. A record counts on the day the archive received it
    (archived_at, China Standard Time)."""
    from archival.transfer_register.build import archives_today, parse_period

    settings = Settings()
    now = dt.datetime.now(dt.UTC)
    try:
        period = parse_period(first, last, archives_today(now))
    except ValueError as exc:
        raise fail(escape(str(exc)), 2) from exc
    font = _font(settings) if pdf is not None else None  # before reading anything: fail early
    registry = _registry(settings)
    found = registry.get(agency)
    if found is None:
        known = ", ".join(sorted(registry.by_code))
        raise fail(escape(f"unknown agency {agency!r}; registered: {known}"), 2)
    register = _read(settings, found, registry.archives, period, by, now)
    written = []
    if html is not None:
        from archival.transfer_register.render import render_html

        written.append(("HTML", _write(html, render_html(register).encode())))
    if pdf is not None and font is not None:
        from archival.transfer_register.pdf import render_pdf

        written.append(("PDF", _write(pdf, render_pdf(register, font))))
    if as_json:
        from archival.transfer_register.render import render_json

        sys.stdout.write(render_json(register))
    elif not written:
        _print(register)
    for kind, path in written:  # beside JSON on stdout, the files are told on stderr
        (err if as_json else console).print(
            f"已写入 written ({kind}): {escape(str(path))}", highlight=False, soft_wrap=True
        )


def _font(settings: Settings) -> RegisterFont:
    from archival.transfer_register.pdf import FontUnusable, load_font

    try:
        return load_font(settings.report_font_file, settings.report_font_index)
    except FontUnusable as exc:
        raise fail(escape(str(exc))) from exc


def _registry(settings: Settings) -> AgencyRegistry:
    from connectors.agency_registry import current_registry
    from connectors.readback import ReadError

    try:
        return current_registry(settings)
    except ReadError as exc:
        raise fail(escape(str(exc))) from exc


def _read(settings: Settings, agency: Agency, archives: Archives, period: Period,
          by: str | None, now: dt.datetime) -> TransferRegister:  # fmt: skip
    from avro_schemas.codec import Codec
    from connectors.deadletters import DeadLetterError
    from connectors.readback import ReadError
    from connectors.transfer_register import transfer_register

    try:
        return transfer_register(
            settings, Codec.from_url(settings.schema_registry_url), agency=agency,
            archives=archives, period=period, prepared_by=(by or _user()).strip() or _user(),
            produced_at=now,
        )  # fmt: skip
    except (ReadError, DeadLetterError) as exc:
        raise fail(escape(str(exc))) from exc


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _write(path: Path, data: bytes) -> Path:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise fail(escape(f"cannot write {path}: {exc.strerror or exc}")) from exc
    return path


# --- the terminal's summary ------------------------------------------------------------------
def _print(register: TransferRegister) -> None:
    from archival.transfer_register.build import local_time, size_text

    agency, archives = register.agency, register.archives
    header = Table(title=f"{register.title} Transfer register", show_header=False)
    for label, value in (
        ("移交单位 agency", f"{agency.name} ({agency.code})"),
        ("全宗 fonds", f"{agency.fonds_code} {agency.fonds_name}"),
        ("接收单位 archives", f"{archives.name} ({archives.code})"),
        ("接收时段 period", f"{register.period} (CST)"),
        ("制表人 prepared by", register.prepared_by or ""),
        ("制表时间 produced", f"{local_time(register.produced_at)} CST"),
        ("件数 items", str(register.items)),
        ("文件数 files", str(register.files)),
        ("容量 bytes", size_text(register.bytes)),
        ("退回 rejected", str(register.rejected)),
        ("待鉴定 pending review", str(len(register.pending))),
    ):
        header.add_row(label, escape(value))
    console.print(header)
    _tallies("门类 category", register.by_category)
    _tallies("保管期限 retention", register.by_retention)
    _tallies("年度 year", register.by_year)
    formats = _table("格式 Formats", ("PUID", "格式 format", "版本", "长期保存 accepted",
                                    "文件 files", "容量 bytes"))  # fmt: skip
    for found in register.by_format:
        formats.add_row(found.puid or "-", escape(found.name), escape(found.version or ""),
                        "是 yes" if found.accepted else "[red]否 no[/]", str(found.files),
                        size_text(found.bytes))  # fmt: skip
    console.print(formats)
    check = register.check
    properties = _table(
        f"四性检测 Four-property check (DA/T 70, YJ): 通过 {check.passed}, 可用性待复核 "
        f"{check.flagged}, 存储后未通过 {check.failed_after_store}, 无检测记录 {check.not_checked}",
        ("属性 property", "通过 passed", "未通过 failed", "未检测 not checked"),
    )
    for tally in register.properties:
        properties.add_row(f"{tally.zh} {tally.en}", str(tally.passed), str(tally.failed),
                           str(tally.not_checked))  # fmt: skip
    console.print(properties)
    if register.checked_records:
        failing = _table("检测未通过或待复核 Records failing or flagged",
                         ("档号", "题名 title", "结论 standing", "检测项 items"))  # fmt: skip
        for record in register.checked_records:
            failing.add_row(record.reference_code, escape(record.title), record.standing_name,
                            escape("\n".join(f"{f.code} {f.reason}" for f in record.findings)))  # fmt: skip
        console.print(failing)
    if register.rejections:
        letters = _table("退回 Dead letters", ("原因 reason", "说明", "次数 letters",
                                              "提交 submissions", "已重放 replayed"))  # fmt: skip
        for reason in register.rejections:
            letters.add_row(reason.reason, escape(reason.name), str(reason.letters),
                            str(reason.submissions), str(reason.replayed))  # fmt: skip
        console.print(letters)
    if register.pending:
        pending = _table("待鉴定 Pending review", ("类别 kind", "电子文件号/档号", "题名 title",
                                                   "提交 queued"))  # fmt: skip
        for item in register.pending:
            pending.add_row(item.kind_name, escape(item.reference_code or item.document_id),
                            escape(item.title), local_time(item.queued_at))  # fmt: skip
        console.print(pending)


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in ("档号", "PUID"))
    return table


def _tallies(column: str, rows: Sequence[Tally]) -> None:
    from archival.transfer_register.build import size_text

    table = _table("", (column, "件数 items", "容量 bytes"))
    for row in rows:
        name = row.name if row.name == row.key else f"{row.key} {row.name}"
        table.add_row(escape(name), str(row.items), size_text(row.bytes))
    console.print(table)
