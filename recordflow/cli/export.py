"""`recordflow export parquet`: the catalog as Parquet in the exports bucket, what changed since
the last export, once or on a schedule (docs/design.md, "Parquet exports")."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail, print_json, print_json_line
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.parquet_export.export import Outcome

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def export() -> None:
    """Exports for analysis / 导出: the archive's catalog as Parquet.

    (A group of its own, even with one verb: a callback keeps `export parquet` a subcommand.)"""


@app.command("parquet")
def export_parquet(
    full: Annotated[
        bool,
        typer.Option("--full", help="Export every record, not only what changed since the last "
                     "export (each run, with --every)."),
    ] = False,
    every: Annotated[
        str | None,  # parsed here, so that a bad value is one line (click's is a box)
        typer.Option("--every", metavar="MINUTES",
                     help="Export again every MINUTES (e.g. 15, or 0.5) until interrupted (Ctrl-C)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Write the catalog as Parquet (hive partitions agency=/year=) to the exports bucket, with a
    manifest of what the export holds. With --json a summary (one line per run with --every)."""
    minutes = None if every is None else _minutes(every)
    settings = Settings()
    if minutes is None:
        outcome = _export(settings, full=full, progress=True)
        if isinstance(outcome, str):
            raise fail(escape(outcome))
        if as_json:
            print_json(outcome.as_json(settings.exports_bucket))
        else:
            _print(outcome, settings)
        return
    _on_schedule(settings, full=full, minutes=minutes, as_json=as_json)


def _minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        raise fail(f"--every {text!r} is not a number of minutes", 2) from None
    if not 0 < minutes < math.inf:
        raise fail(f"--every takes a number of minutes more than 0, not {text!r}", 2)
    return minutes


def _on_schedule(settings: Settings, *, full: bool, minutes: float, as_json: bool) -> None:
    """Export now, then every `minutes` from the start of the last run, until interrupted. A run
    that fails says why on one line and the schedule goes on (Kafka or S3 may be back next time:
    the next export starts where the last one that succeeded ended)."""
    if not as_json:
        err.print(f"每 {minutes:g} 分钟导出一次 Exporting every {minutes:g} minute(s); Ctrl-C stops",
                  highlight=False)  # fmt: skip
    try:
        while True:
            started = time.monotonic()
            outcome = _export(settings, full=full, progress=not as_json)
            if isinstance(outcome, str):
                err.print(f"[red]error:[/] {escape(outcome)}", highlight=False, soft_wrap=True)
            elif as_json:
                print_json_line(outcome.as_json(settings.exports_bucket))
            else:
                _print(outcome, settings)
            time.sleep(max(0.0, minutes * 60 - (time.monotonic() - started)))
    except KeyboardInterrupt:
        err.print("已停止 Stopped", highlight=False)


def _export(settings: Settings, *, full: bool, progress: bool) -> Outcome | str:
    """One export, or the one line that says why it failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from avro_schemas.codec import Codec
    from connectors.parquet_export.export import export_catalog
    from connectors.parquet_export.manifest import ExportError
    from connectors.readback import ReadError
    from connectors.storage import Storage

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        # Shown on a terminal only: in a log a transient display leaves a stray blank line.
        shown_at_all = progress and err.is_terminal
        with Progress(*columns, console=err, transient=True, disable=not shown_at_all) as shown:
            reading = shown.add_task("读取目录 Reading the catalog", total=None)
            uploading = shown.add_task("上传 Uploading", total=None, visible=False)

            def advance(step: str, done: int, total: int | None) -> None:
                task = reading if step == "read" else uploading
                shown.update(task, completed=done, total=total, visible=True)

            return export_catalog(settings, Codec.from_url(settings.schema_registry_url),
                                  Storage(settings), full=full, on_progress=advance)  # fmt: skip
    except (ExportError, ReadError) as exc:
        return str(exc)
    except Exception as exc:  # a CLI boundary: S3 refused or away, the registry away …
        return f"export failed: {type(exc).__name__}: {' '.join(str(exc).split())}"


def _print(outcome: Outcome, settings: Settings) -> None:
    manifest = outcome.manifest
    if manifest is None:
        since = outcome.previous.export_id if outcome.previous else "-"
        console.print(f"目录无变化 Nothing changed since export {since}; nothing written",
                      highlight=False)  # fmt: skip
        return
    kind = "全量 full" if manifest.kind == "full" else "增量 incremental"
    table = Table(title=f"目录导出 Catalog export {manifest.export_id} ({kind}): "
                  f"{manifest.records} record(s), {len(manifest.files)} file(s)")  # fmt: skip
    for column in ("单位 agency", "年度 year", "件数 records", "字节 bytes", "对象 object"):
        table.add_column(column, justify="right" if column[:2] in ("件数", "字节") else "left")
    for file in manifest.files:
        table.add_row(file.agency, str(file.year), str(file.records), f"{file.bytes:,}",
                      f"{settings.exports_bucket}/{file.key}")  # fmt: skip
    console.print(table)
    notes = [f"清单 manifest: {settings.exports_bucket}/{manifest.key}"]
    if manifest.withheld:
        notes.append(f"按密级未导出 withheld for their 密级: {manifest.withheld}")
    if manifest.deleted:
        notes.append(f"已删除 deleted: {', '.join(manifest.deleted)}")
    console.print("\n".join(notes), highlight=False, soft_wrap=True)
