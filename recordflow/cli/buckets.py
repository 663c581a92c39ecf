"""`recordflow buckets apply`: the staging, archive and exports buckets, as `topics apply` is for
the topics: what is missing is created (the archive with object lock), nothing is deleted, and an
archive bucket without object lock is reported for a person (connectors/storage.py).
`recordflow buckets sweep`: staging emptied of the files the archive holds
(connectors/staging_sweep.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

import typer
import urllib3.exceptions
from minio.error import S3Error
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from connectors.staging_sweep import DEFAULT_GRACE, Marker, SweepReport, sweep
from connectors.storage import CONFLICT, CREATE, Storage
from recordflow.cli.common import JsonFlag, console, err, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The S3 buckets.")

ACTION_STYLES = {CREATE: "green", CONFLICT: "bold red"}


@app.command()
def apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create the buckets that are missing (the archive with object lock and versioning). Exit 1
    on a conflict: an archive bucket that exists without object lock."""
    # A line per retry of an unreachable S3 says nothing the one-line failure below does not.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        changes = Storage(Settings()).reconcile_buckets(dry_run=dry_run)
    except (S3Error, urllib3.exceptions.HTTPError) as exc:  # refused, or S3 unreachable
        raise fail(f"buckets apply failed: {' '.join(str(exc).split())}") from exc
    if as_json:
        print_json([change.as_dict() for change in changes])
    else:
        title = "Bucket plan (dry run: nothing applied)" if dry_run else "Buckets"
        table = Table("action", "bucket", "detail", title=title)
        for change in changes:
            style = ACTION_STYLES.get(change.action, "dim")
            table.add_row(f"[{style}]{change.action}[/{style}]", change.bucket, change.detail)
        console.print(table)
    if any(change.action == CONFLICT for change in changes):
        raise typer.Exit(1)


@app.command("sweep")
def sweep_staging(
    grace_days: Annotated[
        float,
        typer.Option(
            min=0, help="Delete only files whose record was archived at least this many days ago."
        ),
    ] = DEFAULT_GRACE.days,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete from staging the files of records the archive holds (the register stage marks
    them when it publishes a record); keep everything else: files under review, of dead
    letters, of parked records, of uploads never committed. Run daily (the chart's CronJob)."""
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    settings = Settings()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[code]}"))
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("清理暂存区 Sweeping staging", total=None, code="")

            def shown(marker: Marker) -> None:
                progress.update(task, advance=1, code=marker.reference_code)

            report = sweep(Storage(settings), grace=dt.timedelta(days=grace_days),
                           dry_run=dry_run, progress=shown)  # fmt: skip
    except S3Error as exc:
        if exc.code == "NoSuchBucket":
            raise fail(f"no staging bucket {settings.staging_bucket!r}: run `recordflow buckets "
                       "apply` first") from exc  # fmt: skip
        raise fail(f"buckets sweep failed: {exc.code}: {exc.message}") from exc
    except urllib3.exceptions.HTTPError as exc:  # S3 unreachable
        raise fail(f"buckets sweep failed: {' '.join(str(exc).split())}") from exc
    if as_json:
        print_json(report.as_dict())
    else:
        _sweep_table(report)


def _sweep_table(report: SweepReport) -> None:
    verb = "would free" if report.dry_run else "freed"
    grace = f"grace {report.grace.total_seconds() / 86400:g} d"
    title = f"暂存区清理 Staging sweep · {grace}{' · dry run' if report.dry_run else ''}"
    table = Table("机构 agency", "档案 records", "文件 files", f"{verb} MB", title=title)
    for code, item in sorted(report.by_agency.items()):
        table.add_row(code, str(item.records), str(item.files), f"{item.bytes / 1e6:.1f}")
    table.add_row("[bold]all[/bold]", str(report.records), str(report.files),
                  f"{report.bytes / 1e6:.1f}", end_section=True)  # fmt: skip
    console.print(table)
    console.print(f"{report.waiting} record(s) archived within the grace period wait for a later "
                  f"sweep; {report.already_gone} file(s) were already gone.", highlight=False)  # fmt: skip
    for key in report.refused:
        console.print(f"[bold red]not a marker the register stage wrote, left alone:[/] {key}")
