"""`recordflow buckets apply`: the staging, archive and exports buckets, as `topics apply` is for
the topics: what is missing is created (the archive with object lock), nothing is deleted, and an
archive bucket without object lock is reported for a person (connectors/storage.py)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import urllib3.exceptions
from minio.error import S3Error
from rich.table import Table

from connectors.storage import CONFLICT, CREATE, Storage
from recordflow.cli.common import JsonFlag, console, fail, print_json
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
