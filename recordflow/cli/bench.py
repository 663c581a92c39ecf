"""`recordflow bench`: benchmark the pipeline end to end on the local stack, with raw Kafka and S3
baselines (docs/performance.md); `--parts` measures the CPU of the parts every record needs."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, err, fail
from recordflow.settings import Settings

if TYPE_CHECKING:
    from recordflow.bench.payloads import PayloadPlan


def bench(
    records: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="How many records to submit (default 200 unless --duration); with --lookup, "
            "how many catalog records to generate (default 1,000,000).",
        ),
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
    via: Annotated[
        str,
        typer.Option(
            help="The agencies' door: sdk, or gateway (HTTP; the report then compares "
            "submissions per second through the gateway and the SDK, in the same run).",
        ),
    ] = "sdk",
    import_: Annotated[
        bool,
        typer.Option(
            "--import",
            help="Measure a digitization import instead: --items × --pages JPEG pages of ~3 MB, "
            "pages/s and MB/s against a raw copy (read, hash, write to S3) in the same run.",
        ),
    ] = False,
    items: Annotated[int, typer.Option(min=1, help="--import: catalogue items.")] = 20,
    pages: Annotated[int, typer.Option(min=1, help="--import: pages per item.")] = 5,
    parts: Annotated[
        bool,
        typer.Option(
            "--parts",
            help="Measure only the CPU per file of the parts every record needs (digests, "
            "identification), in this process, for --size (or each --mix size); no stack.",
        ),
    ] = False,
    lookup: Annotated[
        bool,
        typer.Option(
            "--lookup",
            help="Measure the lookup service instead: generate --records catalog records "
            "(default 1,000,000) to a topic of the run's own, rebuild a store from it, time "
            "typical queries (p50/p95/p99) against answering them by reading the topic.",
        ),
    ] = False,
    runs: Annotated[
        int, typer.Option(min=1, help="--lookup: times each kind of query is run.")
    ] = 200,
    baseline_runs: Annotated[
        int,
        typer.Option(
            min=1, help="--lookup: times each query is answered by reading the whole topic."
        ),
    ] = 1,
    brokers: Annotated[
        int,
        typer.Option(
            help="1: the plain stack's broker; 3: the replicated profile's three brokers "
            "(`stack up --brokers 3`, started if not running).",
        ),
    ] = 1,
    scaling: Annotated[
        bool,
        typer.Option(
            "--scaling",
            help="Run the load with 1, 2 and 3 workers on one broker and on three, and compare "
            "(records/s, latency, CPU per record); no raw baselines.",
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
    from recordflow.bench.scaling import run_scaling
    from recordflow.localstack.replicated import BROKERS, replicated_settings

    if mix and size != "10KB":
        raise fail("give --size or --mix, not both", 2)
    try:
        plan = PayloadPlan(None if mix else parse_size(size))
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    if parts:
        _print_parts(plan, as_json)
        return
    if import_:
        _print_import(items, pages, workers, as_json)
        return
    if lookup:
        _print_lookup(records, runs, baseline_runs, keep_topics, as_json)
        return
    if rebalance and (rate is None or duration is None):
        raise fail("--rebalance needs an open-loop run: give --rate and --duration", 2)
    if via not in ("sdk", "gateway"):
        raise fail(f"--via {via}: give sdk or gateway", 2)
    if brokers not in (1, BROKERS):
        raise fail(f"--brokers {brokers}: give 1 or {BROKERS}", 2)
    if scaling and (brokers != 1 or workers != 1 or rebalance):
        raise fail("--scaling chooses the brokers and workers itself: drop --brokers, "
                   "--workers and --rebalance", 2)  # fmt: skip
    if records is None and duration is None:
        records = 200
    options = BenchOptions(
        payload=plan, records=records, duration_s=duration, rate=rate, workers=workers,
        partitions=partitions, submitters=submitters, baselines=baselines, chart=chart,
        keep_topics=keep_topics, rebalance=rebalance, via=via,
    )  # fmt: skip
    # Stopped with SIGTERM (`timeout`, a CI job's end), still stop the run's worker processes,
    # which live in sessions of their own: SystemExit unwinds through the run's cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if scaling:
        _print_scaling(run_scaling(Settings(), options, err), as_json)
        return
    settings = Settings() if brokers == 1 else replicated_settings(Settings())
    result = run_bench(settings, options, console=err)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"recordflow bench: {result['payload']}, {result['workers']} worker(s)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("timeline", "targets", "rebalances", "via_gateway"):
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
    if "via_gateway" in result:
        _print_doors(result["via_gateway"])
    _print_targets(result)
    if result["unfinished"] or result["rejected"]:
        raise fail(f"{result['unfinished']} record(s) unfinished, {result['rejected']} rejected: "
                   + json.dumps(result["rejections"], ensure_ascii=False))  # fmt: skip


def _print_scaling(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table(title="扩展 Scaling: the same load, by brokers and workers")
    for column in ("brokers", "workers", "records/s", "vs 1 broker, 1 worker", "p50 ms",
                   "p95 ms", "worker CPU s/record", "unfinished"):  # fmt: skip
        table.add_column(column, justify="right")
    first = rows[0]["records_per_s"] if rows else None
    for row in rows:
        relative = f"{row['records_per_s'] / first:.2f}×" if first else "–"
        table.add_row(str(row["brokers"]), str(row["workers"]), f"{row['records_per_s']:,.1f}",
                      relative, f"{row['p50_ms']:,.0f}", f"{row['p95_ms']:,.0f}",
                      str(row["cpu_s_per_record"]), str(row["unfinished"]))  # fmt: skip
    console.print(table)
    if any(row["unfinished"] or row["rejected"] for row in rows):
        raise fail("some run left records unfinished or rejected; see --json")


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


def _print_import(items: int, pages: int, workers: int, as_json: bool) -> None:
    from recordflow.bench.imports import run_import_bench

    result = run_import_bench(Settings(), items, pages, err, workers=workers)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        table = Table(
            title=f"存量数字化导入 Import: {result['pages']} pages, {result['megabytes']} MB, "
            f"{workers} worker(s)"
        )
        for column in ("", "pages/s", "MB/s", "seconds"):
            table.add_column(column, justify="left" if not column else "right")
        for name, figures in (("import 导入", result["import"]),
                              ("raw copy 基线", result["raw_copy_baseline"])):  # fmt: skip
            table.add_row(name, f"{figures['pages_per_s']:,.2f}", f"{figures['mb_per_s']:,.2f}",
                          f"{figures['seconds']:,.1f}")  # fmt: skip
        console.print(table)
        cpu = result["cpu_ms_per_page"]
        parts = Table(title="CPU ms per page 每页 CPU 毫秒, by part")
        for column in ("part", "import 导入", "raw copy 基线"):
            parts.add_column(column, justify="left" if column == "part" else "right")
        for part in cpu["import"]:
            parts.add_row(part, f"{cpu['import'][part]:,.1f}",
                          f"{cpu['raw_copy'].get(part, 0.0):,.1f}")  # fmt: skip
        console.print(parts)
        verdict = "[green]met 达到[/]" if result["met"] else "[red]missed 未达到[/]"
        console.print(f"{result['archived']} of {result['linked']} items archived; import at "
                      f"{result['ratio_to_baseline']} × the raw copy (goal ≥ {result['goal_ratio']}): "
                      f"{verdict}")  # fmt: skip
    if result["archived"] != result["items"]:
        raise fail(f"{result['items'] - result['archived']} item(s) not archived")


def _print_lookup(records: int | None, runs: int, baseline_runs: int, keep_topics: bool,
                  as_json: bool) -> None:  # fmt: skip
    from recordflow.bench.lookup import DEFAULT_RECORDS, LookupOptions, run_lookup_bench

    options = LookupOptions(records=records or DEFAULT_RECORDS, runs=runs,
                            baseline_runs=baseline_runs, keep_topics=keep_topics)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    result = run_lookup_bench(Settings(), options, err)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        show_lookup(result)
    if not all(q["baseline"]["agrees"] for q in result["queries"] if "baseline" in q):
        raise fail("the store and the baseline disagree on some query's hits")


def show_lookup(result: dict[str, Any]) -> None:
    """The tables of a lookup bench's report (also for a report saved with --json)."""
    runs = max(query["runs"] for query in result["queries"])
    built = result["rebuild"]
    made = result["generate"]
    console.print(
        f"目录 Catalog: {result['records']:,} records generated and produced in "
        f"{made['seconds']:,.1f} s ({made['records_per_s']:,.0f}/s, {made['mean_value_bytes']:,} "
        f"bytes each); 向公众开放 open to the public today: {result['access']['public_now']:,}"
    )
    table = Table(title=f"重建 Rebuild from the topic: {built['records']:,} records")
    for column in ("seconds", "records/s", "store MB (+wal)", "bytes/record", "records MB",
                   "FTS index MB"):  # fmt: skip
        table.add_column(column, justify="right")
    table.add_row(f"{built['seconds']:,.1f}", f"{built['records_per_s']:,.0f}",
                  f"{built['store_mb']:,.1f}", f"{built['bytes_per_record']:,}",
                  f"{built['records_table_mb']:,.1f}", f"{built['fts_index_mb']:,.1f}")  # fmt: skip
    console.print(table)
    table = Table(title=f"查询 Queries: Store.search, {runs} runs each, against reading the topic")
    for column in ("query 查询", "p50 ms", "p95 ms", "p99 ms", "hits 命中", "baseline s 基线",
                   "baseline ÷ p50", "baseline hits", "agree 一致"):  # fmt: skip
        table.add_column(column, justify="left" if column == "query 查询" else "right")
    for query in result["queries"]:
        base = query.get("baseline") or {}
        table.add_row(escape(query["label"]), f"{query['p50_ms']:,.1f}", f"{query['p95_ms']:,.1f}",
                      f"{query['p99_ms']:,.1f}", f"{query['hits']:,}",
                      f"{base['seconds']:,.1f}" if base else "",
                      f"{query['baseline_to_p50']:,}×" if "baseline_to_p50" in query else "",
                      f"{base['hits']:,}" if base else "",
                      ("[green]yes[/]" if base["agrees"] else "[red]no[/]") if base else "")  # fmt: skip
    console.print(table)
    table = Table(title="HTTP: GET /v1/records over loopback (uvicorn in this process)")
    for column in ("query 查询", "runs", "p50 ms", "p95 ms", "p99 ms", "store p50 ms",
                   "HTTP overhead p50 ms"):  # fmt: skip
        table.add_column(column, justify="left" if column == "query 查询" else "right")
    for http in result["http"]:
        table.add_row(http["kind"], str(http["runs"]), *(f"{http[k]:,.1f}" for k in
                      ("p50_ms", "p95_ms", "p99_ms", "store_p50_ms", "overhead_p50_ms")))  # fmt: skip
    console.print(table)
    before = result.get("peak_rss_mb_before_baseline")  # (not in reports before 2026-12-07)
    console.print(f"Peak RSS of this process {before if before is not None else '?'} MB "
                  f"before the baseline, {result['peak_rss_mb']:,.1f} MB in all; "
                  f"{result['seconds']:,.0f} s in all; topic {result['topic']} "
                  f"{'deleted' if result['topic_deleted'] else 'kept'}.")  # fmt: skip


def _print_doors(doors: dict[str, Any]) -> None:
    table = Table(
        title=f"提交对比 Submissions alone, {doors['submissions_compared']} per door, same run"
    )
    for column in ("door", "submissions/s", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "door" else "right")
    for door in ("sdk", "gateway"):
        figures = doors[door]
        table.add_row(door, f"{figures['per_s']:,.2f}", *(f"{figures[k]:,.1f}"
                      for k in ("p50_ms", "p95_ms", "max_ms")))  # fmt: skip
    console.print(table)
    console.print(f"The gateway submits at {doors['gateway_to_sdk']} × the SDK's rate.")


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
    app.command()(bench)
