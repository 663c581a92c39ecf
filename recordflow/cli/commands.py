"""The verbs that work the pipeline: agencies, submit, worker, records, review, verify, demo, bench."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recordflow.errors import SubmitError
from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.verify import RecordResult
    from recordflow.bench.payloads import PayloadPlan

# Wide enough for a reference code and a title when the output goes to a file or a CI log.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)

agencies_app = typer.Typer(help="The agency registry / 立档单位名录", no_args_is_help=True)
records_app = typer.Typer(help="Read back the archive / 查询已归档电子档案", no_args_is_help=True)
review_app = typer.Typer(
    help="Retention review by archive staff / 保管期限鉴定", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(
        f"[red]error:[/] {message}", highlight=False, soft_wrap=True
    )  # one line, never wrapped
    return typer.Exit(code)


def print_json(value: Any) -> None:
    text = json.dumps(json_ready(value, content="omit"), ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")


# --- agencies -------------------------------------------------------------------------------
@agencies_app.command("list")
def agencies_list(as_json: JsonFlag = False) -> None:
    """List the registered agencies and their fonds codes."""
    from recordflow.agencies import load_registry

    settings = Settings()
    registry = load_registry(settings.agencies_file)
    if as_json:
        print_json([
            {**agency.model_dump(), "ingest_topic": settings.ingest_topic(agency.code)}
            for agency in registry.agencies
        ])  # fmt: skip
        return
    table = Table(title=f"立档单位 Agencies → {registry.archives.name}")
    for column in ("code 代码", "name 名称", "fonds 全宗号", "units 机构", "ingest topic 接收主题"):
        table.add_column(column)
    for agency in registry.agencies:
        units = ", ".join(f"{unit.code} {unit.name}" for unit in agency.units)
        table.add_row(
            agency.code, agency.name, agency.fonds_code, units, settings.ingest_topic(agency.code)
        )
    console.print(table)


# --- submit ---------------------------------------------------------------------------------
# sysexits.h EX_TEMPFAIL, which mail transfer agents return for a message queued for later: the
# submission is safe in the outbox and `recordflow outbox flush` will deliver it.
EXIT_HELD = 75

DeadlineOption = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0,
        help="Seconds to keep retrying while Kafka or S3 is unreachable "
        "(default: RECORDFLOW_SUBMIT_DEADLINE_S, 60).",
    ),
]


def submit(
    agency: Annotated[
        str, typer.Option("--agency", help="Agency code from `recordflow agencies list`.")
    ],
    metadata: Annotated[
        Path, typer.Option("--metadata", help="JSON file with the record's metadata.")
    ],
    files: Annotated[list[Path], typer.Argument(help="The main document first, then attachments.")],
    deadline: DeadlineOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Submit a document (and attachments) to the archives, as the producer SDK does.

    The submission goes through the outbox (RECORDFLOW_OUTBOX_DIR): once accepted it is safe
    there, whatever happens to the files given. If Kafka or S3 stays unreachable past the
    deadline, it is held there (exit status 75) and `recordflow outbox flush` delivers it later.
    """
    from connectors.outbox import Outbox, OutboxError, SubmissionHeld
    from connectors.sdk import FileToSubmit, Submitter

    try:
        meta = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read metadata {metadata}: {exc}", 2) from exc
    if not isinstance(meta, dict):
        raise fail(f"{metadata} must hold a JSON object", 2)
    for path in files:
        if not path.is_file():
            raise fail(f"{path}: no such file", 2)
    settings = Settings()
    try:
        with Outbox(settings.outbox_path) as outbox:
            submitter = Submitter(settings, outbox=outbox)
            try:
                receipt = submitter.submit(
                    agency, [FileToSubmit(path) for path in files], meta, deadline_s=deadline
                )
            finally:
                submitter.close()
    except SubmissionHeld as exc:
        entry = exc.entry
        if as_json:
            print_json({"status": "held", "reason": exc.reason, "outbox": str(settings.outbox_path),
                        **entry.as_json()})  # fmt: skip
        err.print(
            f"[yellow]held:[/] 已存入发件箱 {entry.document_id} (event {entry.event_id}) is held "
            f"in the outbox, not yet delivered ({exc.reason}); `recordflow outbox flush` delivers "
            "it when Kafka and S3 are back",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        raise typer.Exit(EXIT_HELD) from exc
    except (SubmitError, OutboxError) as exc:
        raise fail(str(exc)) from exc
    result = receipt.as_json()
    if as_json:
        print_json({"status": "delivered", **result})
        return
    if receipt.already_delivered:
        console.print(f"[green]已提交 submitted earlier[/] event {result['event_id']} → "
                      f"{result['topic']} partition {result['partition']} offset {result['offset']}; "
                      "the outbox had delivered this very document, nothing was sent again")  # fmt: skip
    else:
        console.print(f"[green]已提交 submitted[/] event {result['event_id']} → {result['topic']} "
                      f"partition {result['partition']} offset {result['offset']}")  # fmt: skip
    for file in result["files"]:
        console.print(f"  {file['file_name']}  {file['size_bytes']} B  sha256 {file['sha256']}")


# --- worker ---------------------------------------------------------------------------------
WORKER_RUNTIME_ENV = {
    # Siegfried runs in the worker on Go's runtime. Its heap starts at ~75 MB (the signatures);
    # Go's default, 100, lets it grow to ~148 MB resident before it settles, 50 holds it at
    # ~112 MB for the same CPU.
    "GOGC": "50",
    # glibc serves a request of 128 KiB or more with a mapping of its own, returned on free, but
    # raises that threshold to the size of any such block freed, up to 32 MiB (aiokafka's zstd
    # buffers are 2.5 MB). From then on large short-lived buffers come from the heap, among small
    # long-lived objects, and the heap grows through holes: the worker's RSS rose ~3.5 MB every
    # ~11,000 records while the memory in use stayed flat. A fixed threshold keeps large buffers
    # out of the heap, for ~4.5 ms more CPU per 1 MB record, whose buffers are now mapped afresh
    # each time (docs/performance.md, "Memory").
    "MALLOC_MMAP_THRESHOLD_": str(128 * 1024),
}


def worker(
    metrics_port: Annotated[int, typer.Option(help="Port for /metrics; 0 picks a free one.")] = -1,
    port_file: Annotated[
        Path | None, typer.Option(help="Write the bound metrics port here.")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
    prometheus_targets: Annotated[
        Path | None,
        typer.Option(
            help="The local stack's Prometheus target folder: announce this worker there "
            "(the demo, bench and tests pass it; a deployed worker is found by its platform)."
        ),
    ] = None,
) -> None:
    """Run the stream processors (intake and register) until stopped."""
    if missing := {k: v for k, v in WORKER_RUNTIME_ENV.items() if k not in os.environ}:
        # Both runtimes read these only from the environment the process started with, so the
        # worker re-executes itself with them. An operator's own values win.
        os.execve(sys.executable, sys.orig_argv, {**os.environ, **missing})
    from streams.app import run_worker

    settings = Settings()
    port = settings.metrics_port if metrics_port < 0 else metrics_port
    run_worker(settings, metrics_port=port, targets_dir=prometheus_targets, port_file=port_file,
               loglevel=loglevel)  # fmt: skip


# --- records --------------------------------------------------------------------------------
def _catalog(settings: Settings) -> dict[str, dict[str, Any]]:
    from avro_schemas.codec import Codec
    from connectors.readback import ReadError, catalog

    try:
        return catalog(settings, Codec.from_url(settings.schema_registry_url))
    except ReadError as exc:  # Kafka unreachable past the read deadline, a missing topic …
        raise fail(escape(str(exc))) from exc
    except Exception as exc:  # a CLI boundary: any failure becomes one line
        raise fail(escape(f"cannot read {settings.catalog_topic}: {exc}")) from exc


def _record(settings: Settings, code: str) -> dict[str, Any]:
    """One archived record by its reference code; a malformed code is a usage error."""
    from archival.reference import parse

    try:
        parse(code)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    record = _catalog(settings).get(code)
    if record is None:
        raise fail(f"no archived record {code}")
    return record


@records_app.command("list")
def records_list(
    agency: Annotated[str | None, typer.Option(help="Only this agency's records.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List archived records (from the catalog topic)."""
    settings = Settings()
    records = [
        r for r in _catalog(settings).values() if agency is None or r["agency"]["code"] == agency
    ]
    records.sort(key=lambda r: r["reference_code"])
    if as_json:
        print_json(records)
        return
    table = Table(title=f"已归档电子档案 Archived records ({len(records)})")
    for column in (
        "档号 reference code",
        "题名 title",
        "文号 number",
        "期限",
        "依据 rule",
        "归档时间 archived",
    ):
        table.add_column(column)
    for record in records:
        description = record["description"]
        table.add_row(  # agency text is escaped: a title may hold [brackets] rich would eat
            record["reference_code"], escape(description["title"]),
            escape(description["document_number"] or ""),
            record["retention_period"], record["retention_rule_id"].rsplit("/", 1)[-1],
            record["archived_at"].astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        )  # fmt: skip
    console.print(table)


@records_app.command("show")
def records_show(
    code: Annotated[str, typer.Argument(help="Archival reference code (档号).")],
    as_json: JsonFlag = False,
) -> None:
    """Show one archived record."""
    record = _record(Settings(), code)
    if as_json:
        print_json(record)
        return
    description = record["description"]
    table = Table(title=escape(f"{code}  {description['title']}"), show_header=False)
    rows = [
        ("立档单位 agency", f"{record['agency']['name']} ({record['agency']['code']})"),
        ("全宗 fonds", f"{record['fonds_code']} {record['fonds_name']}"),
        ("文号 number", description["document_number"] or ""),
        ("责任者 responsible", description["responsible_party"]),
        ("日期 date", str(description["document_date"])),
        ("文种 type", description["document_type"]),
        ("保管期限 retention", f"{record['retention_period']}  ({record['retention_rule_id']})"),
        ("保管到期 retain until", str(record["retain_until"] or "永久 permanent (legal hold)")),
    ]
    if record.get("lock_until") not in (None, record["retain_until"]):  # held past the end
        rows.append(("锁定至 lock until", str(record["lock_until"])))
    if record.get("appraisal_status"):
        rows.append(("鉴定状态 appraisal", record["appraisal_status"]))
    rows += [
        ("电子文件号 document id", record["document_id"]),
        ("归档时间 archived", record["archived_at"].isoformat()),
    ]
    check = record.get("check")
    if check:
        failed = [f"{i['code']} {i['result']}" for i in check["items"] if i["result"] != "pass"]
        rows.append(("四性检测 check", f"{check['verdict']}  {', '.join(failed)}".strip()))
    if record.get("flags"):
        rows.append(("标记 flags", ", ".join(record["flags"])))
    formats = {f["sequence"]: f for f in record.get("formats") or []}
    for component in record["components"]:
        sha256 = next(c["value"] for c in component["checksums"] if c["algorithm"] == "SHA256")
        role = "正本 main" if component["is_main"] else "附件 attachment"
        rows.append(
            (
                f"文档 {component['sequence']} {role}",
                f"{component['file_name']}  {component['size_bytes']} B",
            )
        )
        rows.append(
            ("  存储位置 stored", f"{component['payload']['bucket']}/{component['payload']['key']}")
        )
        rows.append(("  SHA-256", sha256))
        found = formats.get(component["sequence"])
        if found:
            rows.append(
                ("  格式 format", f"{found['puid'] or '-'} {found['name'] or 'unidentified'}")
            )
    if record.get("package"):
        rows.append(("档案包 package", f"{record['package']['bucket']}/{record['package']['key']}"))
    for label, value in rows:
        table.add_row(label, escape(value))  # agency text may hold [brackets]
    console.print(table)


@records_app.command("export")
def records_export(
    code: Annotated[str, typer.Argument(help="Archival reference code (档号).")],
    directory: Annotated[
        Path, typer.Argument(help="Where to write the bag (a new folder named for the code).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Export a record as a complete BagIt bag (its files and metadata) that `bagit` can verify."""
    import bagit

    from archival.package import PackageError
    from connectors.package import export_record
    from connectors.storage import Storage

    settings = Settings()
    record = _record(settings, code)
    if not record.get("package"):
        raise fail(f"{code} was archived before records had packages; it has none to export")
    try:
        bag_dir = export_record(Storage(settings), record, record["package"], directory)
        bagit.Bag(str(bag_dir)).validate()
    except (PackageError, bagit.BagError) as exc:
        raise fail(f"export of {code} failed: {exc}") from exc
    files = [
        str(path.relative_to(bag_dir)) for path in sorted(bag_dir.rglob("*")) if path.is_file()
    ]
    if as_json:
        print_json({"reference_code": code, "bag": str(bag_dir), "valid": True, "files": files})
        return
    console.print(
        f"[green]已导出 exported[/] {code} → {bag_dir} (BagIt, valid; {len(files)} files)"
    )


# --- verify ---------------------------------------------------------------------------------
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
) -> None:
    """Re-check archived records against the archive (DA/T 70 长期保存 CQ); alert on any that differ.

    Reads back every content object version and package a record names, recomputing SHA-256 and
    SM3, and checks each version's object lock. Exit status 1 when any record has a problem.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from avro_schemas.codec import Codec
    from connectors.readback import catalog
    from connectors.storage import Storage
    from connectors.verify import Verifier, parse_since, publish_alerts, select

    try:
        after = None if since is None else parse_since(since)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    settings = Settings()
    codec = Codec.from_url(settings.schema_registry_url)
    try:
        records = select(catalog(settings, codec).values(), agency, after)
    except Exception as exc:  # a CLI boundary: any failure becomes one line
        raise fail(f"cannot read {settings.catalog_topic}: {exc}") from exc
    verifier = Verifier(Storage(settings))
    results = []
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
        raise fail(f"verify stopped, no alerts sent: {exc}") from exc
    failed = [result for result in results if not result.ok]
    alert_error = None
    try:
        publish_alerts(settings, codec, failed)
    except Exception as exc:  # a CLI boundary: report the results, then fail on one line
        alert_error = exc
    if as_json:
        print_json([result.as_json() for result in results])
    else:
        _verify_table(results)
    if alert_error is not None:
        raise fail(f"cannot send alerts to {settings.preservation_alert_topic}: {alert_error}")
    if failed:
        raise fail(f"{len(failed)} of {len(results)} record(s) no longer match the archive; "
                   f"alerts sent to {settings.preservation_alert_topic}")  # fmt: skip


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


# --- retention review and appraisal ----------------------------------------------------------
def _review_codec(settings: Settings) -> Any:
    from avro_schemas.codec import Codec

    return Codec.from_url(settings.schema_registry_url)


def _without_bytes(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "original_value"}


def _local(moment: dt.date | dt.datetime | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()


@review_app.command("list")
def review_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include decided items.")] = False,
    appraisal: Annotated[
        bool,
        typer.Option(
            "--appraisal",
            help="Archived records due for appraisal (到期鉴定) instead of documents waiting for "
            "a retention period.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the documents waiting for a retention decision (待鉴定), or with --appraisal the
    archived records whose period has ended, waiting to be appraised (到期鉴定)."""
    from connectors.readback import ReadError
    from connectors.review import APPRAISAL, PENDING, RETENTION, review_items

    settings = Settings()
    kind = APPRAISAL if appraisal else RETENTION
    try:
        items = review_items(settings, _review_codec(settings))
    except ReadError as exc:
        raise fail(escape(str(exc))) from exc
    except Exception as exc:  # a CLI boundary: any failure becomes one line
        raise fail(escape(f"cannot read {settings.review_topic}: {exc}")) from exc
    rows = sorted(
        (item for item in items.values()
         if item["kind"] == kind and (show_all or item["status"] == PENDING)),
        key=lambda item: item["queued_at"],
    )  # fmt: skip
    if as_json:
        print_json([_without_bytes(item) for item in rows])
        return
    if appraisal:
        _appraisal_table(rows)
    else:
        _retention_table(rows)


def _retention_table(rows: list[dict[str, Any]]) -> None:
    from connectors.review import DECIDED

    table = Table(title=f"保管期限待鉴定 Waiting for a retention decision ({len(rows)})")
    for column in ("事件 event id", "单位", "文种", "题名 title", "拟定 / 表定 proposed / schedule",
                   "状态 status", "原因 / 结果"):  # fmt: skip
        table.add_column(column, no_wrap=column.startswith("事件"))
    for item in rows:
        outcome = (
            f"{item['decided_period']} by {item['decided_by']}"
            if item["status"] == DECIDED
            else item["reason"]
        )
        disputed = ""
        if item.get("proposed_period"):  # the agency's proposal disputes its schedule
            disputed = f"{item['proposed_period']} / {item.get('schedule_period') or '-'}"
            if item.get("schedule_rule_id"):
                disputed += f" ({item['schedule_rule_id']})"
        table.add_row(item["event_id"], item["agency_code"], item["document_type"],
                      escape(item["title"]), escape(disputed), item["status"],
                      escape(outcome))  # fmt: skip
    console.print(table)


def _appraisal_table(rows: list[dict[str, Any]]) -> None:
    from archival.reference import parse
    from connectors.review import DECIDED

    table = Table(title=f"到期鉴定 Records due for appraisal ({len(rows)})")
    for column in ("事件 event id", "档号 reference code", "题名 title", "单位", "期限",
                   "保管到期 retain until", "锁定至 lock until", "状态 status"):  # fmt: skip
        table.add_column(column, no_wrap=column.startswith(("事件", "档号")))
    for item in rows:
        code = item["reference_code"] or ""
        try:
            period = parse(code)[0].period
        except ValueError:
            period = item.get("schedule_period") or ""
        status = item["status"]
        if status == DECIDED:
            outcome = item["appraisal_outcome"] or ""
            if item["decided_period"]:
                outcome += f" {item['decided_period']}"
            status = f"{status}: {outcome} by {item['decided_by']}"
        table.add_row(item["event_id"], code, escape(item["title"]), item["agency_code"], period,
                      _local(item["retain_until"]), _local(item["lock_until"]),
                      escape(status))  # fmt: skip
    console.print(table)


def _refused(exc: Exception, as_json: bool) -> typer.Exit:
    """A decision refused or not recorded: one line, and with --json the first decision too."""
    from connectors.review import AlreadyDecided

    if as_json and isinstance(exc, AlreadyDecided):
        print_json({"status": "already-decided", "first": _without_bytes(exc.item)})
    return fail(escape(str(exc)))


@review_app.command("decide")
def review_decide(
    event_id: Annotated[str, typer.Argument(help="The event id from `recordflow review list`.")],
    period: Annotated[str, typer.Option(help="Y (永久), D30 (定期30年) or D10 (定期10年).")],
    by: Annotated[str, typer.Option(help="Who decides (recorded with the decision).")],
    note: Annotated[str | None, typer.Option(help="The reasoning (鉴定意见).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide a document's retention period; it is then numbered and archived. One Kafka
    transaction; a second decision on the same document is refused, with the first shown."""
    from connectors.readback import ReadError
    from connectors.review import PERIODS, ReviewError, decide

    if period not in PERIODS:
        raise fail(f"--period must be one of {', '.join(PERIODS)}, not {period!r}", 2)
    if not by.strip():
        raise fail("--by must name who decides", 2)
    settings = Settings()
    try:
        decided = decide(settings, _review_codec(settings), event_id, period, by, note)
    except (ReviewError, ReadError) as exc:
        raise _refused(exc, as_json) from exc
    if as_json:
        print_json(_without_bytes(decided))
        return
    console.print(f"[green]已鉴定 decided[/] {escape(decided['title'])}: {period}, by "
                  f"{escape(decided['decided_by'])}; sent on to be numbered and archived")  # fmt: skip


@review_app.command("appraise")
def review_appraise(
    event_id: Annotated[
        str, typer.Argument(help="The event id from `recordflow review list --appraisal`.")
    ],
    outcome: Annotated[
        str,
        typer.Option(
            help="destroy (销毁: once the hold ends; nothing changes in storage now) or extend "
            "(延长: lock the record's objects to the new period's end)."
        ),
    ],
    by: Annotated[str, typer.Option(help="Who appraises (recorded with the decision).")],
    period: Annotated[
        str | None, typer.Option(help="With extend: D30 (定期30年) or Y (永久, a legal hold).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="The reasoning (鉴定意见).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Appraise an archived record whose retention period has ended (到期鉴定). An extension
    lengthens the object lock of every object of the record first; the decision and the
    record's new state in the catalog are then one Kafka transaction. A second appraisal of the
    same record is refused, with the first shown."""
    from connectors.readback import ReadError
    from connectors.review import (
        DESTROY,
        EXTEND,
        EXTEND_PERIODS,
        OUTCOMES,
        ReviewError,
        appraise,
    )
    from connectors.storage import Storage

    if outcome not in OUTCOMES:
        raise fail(f"--outcome must be {' or '.join(OUTCOMES)}, not {outcome!r}", 2)
    if outcome == EXTEND and period not in EXTEND_PERIODS:
        raise fail(f"--outcome extend needs --period {' or '.join(EXTEND_PERIODS)}", 2)
    if outcome == DESTROY and period is not None:
        raise fail("--outcome destroy takes no --period", 2)
    if not by.strip():
        raise fail("--by must name who appraises", 2)
    settings = Settings()
    try:
        done = appraise(settings, _review_codec(settings), Storage(settings), event_id, outcome,
                        period, by, note)  # fmt: skip
    except (ReviewError, ReadError) as exc:
        raise _refused(exc, as_json) from exc
    except Exception as exc:  # a CLI boundary: storage unreachable, access refused …
        raise fail(escape(f"appraisal of event {event_id} not recorded: {exc}")) from exc
    record = done.record
    if as_json:
        print_json({"item": _without_bytes(done.item), "record": record,
                    "objects_locked": done.objects_locked})  # fmt: skip
        return
    code = escape(record["reference_code"])
    if outcome == EXTEND:
        until = _local(record["retain_until"]) or "永久 permanent"
        lock = _local(record["lock_until"]) + (" and a legal hold" if period == "Y" else "")
        console.print(f"[green]已鉴定 appraised[/] {code} {escape(record['description']['title'])}: "
                      f"extend to {period}, retained until {until}; objects locked until {lock} "
                      f"({done.objects_locked} changed)")  # fmt: skip
    else:
        console.print(f"[green]已鉴定 appraised[/] {code} {escape(record['description']['title'])}: "
                      f"destroy once the hold ends ({_local(record['lock_until'])}); nothing "
                      "changed in storage")  # fmt: skip


# --- demo and bench -------------------------------------------------------------------------
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


def bench(
    records: Annotated[
        int | None,
        typer.Option(min=1, help="How many records to submit (default 200 unless --duration)."),
    ] = None,
    size: Annotated[
        str, typer.Option(help="Payload size per record: 10KB, 1MB … (a real PDF padded to it).")
    ] = "10KB",
    mix: Annotated[
        bool,
        typer.Option(
            "--mix",
            help="Mixed payloads instead of --size: of every 100 records, "
            "90 of 10 KB, 9 of 1 MB and 1 of 50 MB.",
        ),
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Submit for this many seconds (with --rate: an open-loop "
            "load test or, long, a soak; RSS growth is reported).",
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Submissions per second, on a fixed schedule whatever the "
            "pipeline does (open loop). Without it, as fast as the submitters go.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="Worker processes in the run's consumer group.")
    ] = 1,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Partitions of the run's ingest, register and output topics "
            "(and the changelogs co-partitioned with them); default: the catalog's.",
        ),
    ] = None,
    submitters: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Threads submitting as agency systems, each with its own SDK Submitter.",
        ),
    ] = 4,
    baselines: Annotated[
        bool, typer.Option(help="Measure the raw Kafka and raw S3 baselines after the run.")
    ] = True,
    chart: Annotated[
        Path | None,
        typer.Option(help="Where to write the PNG chart (default .recordflow/bench/bench-ID.png)."),
    ] = None,
    keep_topics: Annotated[
        bool, typer.Option(help="Keep the run's topics (deleted at the end by default).")
    ] = False,
    rebalance: Annotated[
        bool,
        typer.Option(
            "--rebalance",
            help="One more worker joins at a third of the load and leaves at two thirds; "
            "reports the pause each change caused. Needs --rate and --duration.",
        ),
    ] = False,
    parts: Annotated[
        bool,
        typer.Option(
            "--parts",
            help="Measure only the CPU per file of the parts every record needs (digests, "
            "identification), in this process, for --size (or each --mix size); no stack.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Benchmark the pipeline end to end on the local stack, with raw Kafka and S3 baselines.

    Simulated agencies (every agency in the registry, round-robin) submit realistic PDFs through
    the SDK; N worker processes archive them. Reports records archived per second, latency from
    event time to archival-ready record (p50/p95/p99), the workers' CPU seconds per record and
    peak RSS, and writes a chart. See docs/performance.md.
    """
    from recordflow.bench import BenchOptions, PayloadPlan, parse_size, run_bench, stats

    if mix and size != "10KB":
        raise fail("give --size or --mix, not both", 2)
    try:
        plan = PayloadPlan(None if mix else parse_size(size))
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    if parts:
        _print_parts(plan, as_json)
        return
    if rebalance and (rate is None or duration is None):
        raise fail("--rebalance needs an open-loop run: give --rate and --duration", 2)
    if records is None and duration is None:
        records = 200
    options = BenchOptions(
        payload=plan, records=records, duration_s=duration, rate=rate, workers=workers,
        partitions=partitions, submitters=submitters, baselines=baselines, chart=chart,
        keep_topics=keep_topics, rebalance=rebalance,
    )  # fmt: skip
    # Stopped with SIGTERM (`timeout`, a CI job's end), still stop the run's worker processes,
    # which live in sessions of their own: SystemExit unwinds through the run's cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    result = run_bench(Settings(), options, console=err)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"recordflow bench: {result['payload']}, {result['workers']} worker(s)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("timeline", "targets", "rebalances"):
            continue
        if isinstance(value, float):
            shown = f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
        elif isinstance(value, dict | list):
            shown = json.dumps(value, ensure_ascii=False)
        else:
            shown = str(value)
        table.add_row(key, escape(shown))
    console.print(table)
    for change in result["rebalances"]:
        console.print(
            f"{'加入 a worker joined' if change['change'] == 'join' else '退出 a worker left'} at "
            f"{change['at_s']} s: longest pause {change['pause_s']} s, worst latency "
            f"{change['max_latency_ms']} ms in the {stats.PAUSE_WINDOW_S:.0f} s after"
        )
    _print_targets(result)
    if result["unfinished"] or result["rejected"]:
        raise fail(f"{result['unfinished']} record(s) unfinished, {result['rejected']} rejected: "
                   + json.dumps(result["rejections"], ensure_ascii=False))  # fmt: skip


def _print_parts(plan: PayloadPlan, as_json: bool) -> None:
    from recordflow.bench.parts import parts_report

    report = parts_report(plan.sizes)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    table = Table(title="CPU ms per file, the parts every record needs 每个文件必需环节的CPU毫秒")
    table.add_column("part")
    for label in report:
        table.add_column(label, justify="right")
    for name in next(iter(report.values())):
        table.add_row(name, *(f"{figures[name]:,.3f}" for figures in report.values()))
    console.print(table)


def _print_targets(result: dict[str, Any]) -> None:
    table = Table(title="性能目标 Targets this run measures (issue 5)")
    for column in ("target", "goal", "measured", ""):
        table.add_column(column, justify="left" if column == "target" else "right")
    for verdict in result["targets"]:
        table.add_row(escape(verdict["target"]), f"{verdict['goal']:,}",
                      f"{verdict['measured']:,}",
                      "[green]met 达到[/]" if verdict["met"] else "[red]missed 未达到[/]")  # fmt: skip
    console.print(table)
    if result["cpu_ceiling_records_per_s"] is not None:
        busy = "saturated 已满" if result["cpu_saturated"] else "not saturated 未满"
        console.print(
            f"CPU: {result['cpu_ms_per_record_all']} ms per record across the workers and the "
            f"stack; {result['cpu_busy_share']:.0%} of the cores busy ({busy}); at that cost "
            f"the cores allow at most {result['cpu_ceiling_records_per_s']:,} records/s."
        )


def register(app: typer.Typer) -> None:
    app.add_typer(agencies_app, name="agencies")
    app.add_typer(records_app, name="records")
    app.add_typer(review_app, name="review")
    app.command()(submit)
    app.command()(worker)
    app.command()(verify)
    app.command()(demo)
    app.command()(bench)
