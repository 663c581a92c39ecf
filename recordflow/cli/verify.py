"""`recordflow verify`: re-check archived records against the archive (DA/T 70 长期保存 CQ), alert
on any that no longer match, and record the run (records.verify-runs.v1), clean or not."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from prometheus_client import CollectorRegistry, write_to_textfile
from rich.table import Table

from recordflow.cli.common import JsonFlag, MetricsFileOption, console, err, fail, print_json
from recordflow.metrics import VerifyMetrics
from recordflow.settings import Settings

if TYPE_CHECKING:
    from avro_schemas.codec import Codec
    from avro_schemas.records import VerifyRun
    from connectors.verify import RecordResult


def verify(
    agency: Annotated[str | None, typer.Option(help="Only this agency's records.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only records archived from this date (YYYY-MM-DD, China Standard Time) or "
            "ISO 8601 time on."
        ),
    ] = None,
    as_json: JsonFlag = False,
    metrics_file: MetricsFileOption = None,
) -> None:
    """Re-check archived records against the archive (DA/T 70 长期保存 CQ); alert on any that differ.

    Reads back every content object version and package a record names, recomputing SHA-256 and
    SM3, and checks each version's object lock. Exit status 1 when any record has a problem. The
    run's summary (what it checked, how many failed) goes to records.verify-runs.v1.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from avro_schemas.codec import Codec
    from connectors.readback import catalog
    from connectors.storage import Storage
    from connectors.verify import Verifier, parse_since, publish_alerts, run_summary, select

    try:
        after = None if since is None else parse_since(since)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    settings = Settings()
    codec = Codec.from_url(settings.schema_registry_url)
    run_id, started = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    try:
        records = select(catalog(settings, codec).values(), agency, after)
    except Exception as exc:  # a CLI boundary: any failure becomes one line
        raise fail(f"cannot read {settings.catalog_topic}: {exc}") from exc
    verifier = Verifier(Storage(settings))
    results: list[RecordResult] = []

    def summary(problem: str | None) -> VerifyRun:
        return run_summary(run_id, started, dt.datetime.now(dt.UTC), results, agency=agency,
                           since=after, host=socket.gethostname(), user=_user(),
                           problem=problem)  # fmt: skip

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[code]}"))  # fmt: skip
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("长期保存检测 Verifying", total=len(records), code="")
            for record in records:
                progress.update(task, code=record["reference_code"])
                results.append(verifier.verify(record))
                progress.advance(task)
    except Exception as exc:  # a CLI boundary: storage unreachable, access refused …
        stopped = f"verify stopped after {len(results)} record(s), no alerts sent: {exc}"
        unrecorded = _record_run(settings, codec, summary(stopped))
        raise fail(stopped + (f"; {unrecorded}" if unrecorded else "")) from exc
    failed = [result for result in results if not result.ok]
    if metrics_file is not None:
        write_metrics(metrics_file, results)
    alert_error = None
    try:
        publish_alerts(settings, codec, failed)
    except Exception as exc:  # a CLI boundary: report the results, then fail on one line
        alert_error = exc
    unrecorded = _record_run(settings, codec, summary(
        None if alert_error is None else f"alerts not delivered: {alert_error}"
    ))  # fmt: skip
    if as_json:
        print_json([result.as_json() for result in results])
    else:
        _verify_table(results)
        if unrecorded is None:
            console.print(f"检测批次 Run {run_id} → {settings.verify_runs_topic}", highlight=False)
    if alert_error is not None:
        raise fail(f"cannot send alerts to {settings.preservation_alert_topic}: {alert_error}")
    if unrecorded is not None:
        raise fail(unrecorded)
    if failed:
        raise fail(f"{len(failed)} of {len(results)} record(s) no longer match the archive; "
                   f"alerts sent to {settings.preservation_alert_topic}")  # fmt: skip


def _record_run(settings: Settings, codec: Codec, run: VerifyRun) -> str | None:
    """Send the run's summary; what went wrong, said for the user, when Kafka did not take it."""
    from connectors.verify import publish_run

    try:
        publish_run(settings, codec, run)
    except Exception as exc:  # a CLI boundary: the check's own outcome is reported first
        return f"the run was not recorded on {settings.verify_runs_topic}: {exc}"
    return None


def _user() -> str:
    """Who ran it: the login name, or the uid where the system has none (a bare container)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def write_metrics(path: Path, results: list[RecordResult]) -> None:
    """recordflow_verify_checked_records / _failed_records{agency} and the run's end time."""
    metrics = VerifyMetrics(CollectorRegistry())
    metrics.record([(result.agency_code, result.ok) for result in results], time.time())
    write_to_textfile(str(path), metrics.registry)


def _verify_table(results: list[RecordResult]) -> None:
    failed = sum(not result.ok for result in results)
    table = Table(
        title=f"长期保存检测 Long-term check (CQ): {len(results)} record(s), {failed} with problems"
    )
    for column in (
        "档号 reference code",
        "单位",
        "期限",
        "对象 objects",
        "结果 status",
        "问题 problems",
    ):
        table.add_column(column, no_wrap=column.startswith("档号"))
    notes = []
    for result in results:
        if result.ok:
            status, codes = "[green]ok[/]", ""
        else:
            status = "[red]problems[/]"
            codes = ", ".join(dict.fromkeys(problem.code for problem in result.problems))
            notes += [f"  {result.reference_code}: {problem.code}: {problem.detail}"
                      for problem in result.problems]  # fmt: skip
        table.add_row(result.reference_code, result.agency_code, result.retention_period,
                      str(result.objects_checked), status, codes)  # fmt: skip
    console.print(table)
    if notes:
        console.print("说明 What no longer matches:", highlight=False)
        console.print("\n".join(notes), highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(verify)
