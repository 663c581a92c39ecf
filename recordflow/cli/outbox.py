"""`recordflow outbox list | flush`: the producer's outbox (connectors/outbox.py), where `recordflow
submit` keeps each submission until S3 and Kafka have confirmed it.

`flush` delivers what is pending, oldest first, within one deadline. Exit status: 0 when nothing
is left pending, 75 when some submissions are still held (Kafka or S3 still unreachable), 1 when
one was refused for good during this flush.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from prometheus_client import CollectorRegistry, write_to_textfile
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from recordflow.cli.common import (
    EXIT_HELD,
    DeadlineOption,
    JsonFlag,
    MetricsFileOption,
    console,
    err,
    fail,
    print_json,
)
from recordflow.metrics import OutboxMetrics
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.outbox import Entry, FlushOutcome

app = typer.Typer(
    help="The producer's outbox / 发件箱: submissions not yet confirmed by S3 and Kafka",
    no_args_is_help=True,
)
STILL_PENDING = ("held", "busy", "not-attempted")


@app.command("list")
def outbox_list(
    show_all: Annotated[
        bool, typer.Option("--all", help="Include delivered and failed submissions.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the submissions waiting in the outbox (with --all, also those delivered or failed)."""
    from connectors.outbox import Outbox, OutboxError

    settings = Settings()
    try:
        with Outbox(settings.outbox_path) as outbox:
            entries = outbox.entries() if show_all else outbox.pending()
    except OutboxError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json([entry.as_json() for entry in entries])
        return
    title = "发件箱 Outbox" + ("" if show_all else " — pending") + f" ({len(entries)})"
    table = Table(title=f"{title}: {settings.outbox_path}")
    for column in ("事件 event id", "单位", "电子文件号 document", "题名 title", "状态 state",
                   "接收 accepted", "尝试", "最近错误 last error"):  # fmt: skip
        table.add_column(column, no_wrap=column.startswith(("事件", "电子")))
    for entry in entries:
        table.add_row(
            entry.event_id, entry.agency, entry.document_id, entry.title, entry.state,
            entry.accepted_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), str(entry.attempts),
            entry.last_error or "",
        )  # fmt: skip
    console.print(table)


@app.command("flush")
def outbox_flush(
    deadline: DeadlineOption = None,
    as_json: JsonFlag = False,
    metrics_file: MetricsFileOption = None,
) -> None:
    """Deliver what is pending in the outbox: each submission once, where it was addressed.

    With --metrics-file, what is still held afterwards, per agency, as Prometheus metrics: run it
    from cron, and an alert sees a submission held for long (recordflow/alerts/).
    """
    from connectors.outbox import Outbox, OutboxError
    from connectors.sdk import Submitter

    settings = Settings()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[document]}"))  # fmt: skip
    try:
        with Outbox(settings.outbox_path) as outbox:
            submitter = Submitter(settings, outbox=outbox)
            try:
                with Progress(*columns, console=err, transient=True) as progress:
                    task = progress.add_task(
                        "投递发件箱 Flushing the outbox", total=len(outbox.pending()), document=""
                    )

                    def advance(outcome: FlushOutcome) -> None:
                        progress.update(task, advance=1, document=outcome.entry.document_id)

                    outcomes = submitter.flush_outbox(deadline, on_outcome=advance)
            finally:
                submitter.close()
            if metrics_file is not None:
                write_metrics(metrics_file, outbox.pending())
    except OutboxError as exc:
        raise fail(str(exc)) from exc
    counts = Counter(outcome.status for outcome in outcomes)
    if as_json:
        print_json({
            "outbox": str(settings.outbox_path),
            **{status.replace("-", "_"): counts[status] for status in
               ("delivered", "already-delivered", "held", "failed", "busy", "not-attempted")},
            "submissions": [outcome.as_json() for outcome in outcomes],
        })  # fmt: skip
    else:
        _print_outcomes(outcomes, settings)
    failed = counts["failed"]
    pending = sum(counts[status] for status in STILL_PENDING)
    if failed:
        raise fail(
            f"{failed} submission(s) refused for good (see above); they are not kept pending"
        )
    if pending:
        first = next(o for o in outcomes if o.status in STILL_PENDING)
        err.print(f"[yellow]held:[/] {pending} submission(s) still in the outbox ({first.reason}); "
                  "run `recordflow outbox flush` again when Kafka and S3 are back",
                  highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(EXIT_HELD)


def write_metrics(path: Path, held: list[Entry]) -> None:
    """recordflow_outbox_pending_submissions / _oldest_pending_timestamp_seconds{agency}."""
    metrics = OutboxMetrics(CollectorRegistry())
    metrics.record([(entry.agency, entry.accepted_at.timestamp()) for entry in held])
    write_to_textfile(str(path), metrics.registry)


def _print_outcomes(outcomes: list[FlushOutcome], settings: Settings) -> None:
    if not outcomes:
        console.print(f"发件箱无待投递 Nothing pending in the outbox ({settings.outbox_path}); "
                      "nothing sent.", highlight=False, soft_wrap=True)  # fmt: skip
        return
    styles = {"delivered": "green", "already-delivered": "green", "failed": "red"}
    for outcome in outcomes:
        entry = outcome.entry
        where = (
            f"→ {entry.topic} partition {entry.partition} offset {entry.offset}"
            if outcome.status in ("delivered", "already-delivered")
            else f"({outcome.reason})"
        )
        style = styles.get(outcome.status, "yellow")
        console.print(f"[{style}]{outcome.status}[/] {entry.agency} {entry.document_id} "
                      f"event {entry.event_id} {where}", highlight=False, soft_wrap=True)  # fmt: skip
