"""The benchmark's pure parts: sizes, payloads, percentiles, the timeline, the /proc readers and
the report's shape."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path
from typing import Any

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archival.formats import identify
from recordflow.bench import procstats, stats, targets
from recordflow.bench.payloads import (
    KB,
    MB,
    MIX,
    PayloadPlan,
    comment_padding,
    document_metadata,
    padded_pdf,
    parse_size,
)
from recordflow.demo.samples import render_pdf

BASE_PDF = render_pdf(
    "关于基准测试的通知", "基准〔2026〕1号", "市人民政府办公厅", "2026-01-20", "各有关单位："
)


# --- sizes and payloads ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10KB", 10 * 1024),
        ("1MB", 1024**2),
        ("512B", 512),
        (" 1.5mb ", 1572864),
        ("2GB", 2 * 1024**3),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "10", "KB", "ten KB", "-1KB", "1TB", "0KB"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_mix_has_its_documented_proportion() -> None:
    plan = PayloadPlan(None)
    sizes = [plan.size_of(i) for i in range(1000)]
    assert {size: sizes.count(size) for size in set(sizes)} == {
        size: share * 10 for size, share in MIX
    }
    assert plan.label == "mix"
    assert PayloadPlan(10 * KB).label == "10KB" and PayloadPlan(MB).size_of(7) == MB


@given(st.integers(min_value=0, max_value=300))
def test_comment_padding_is_exact_and_only_comments(length: int) -> None:
    padding = comment_padding(length)
    assert len(padding) == length
    for line in padding.split(b"\n")[:-1]:
        assert line == b"" or line.startswith(b"%")


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=len(BASE_PDF) + 1, max_value=200_000))
def test_padded_pdf_has_the_size_and_stays_a_sound_pdf(size: int) -> None:
    data = padded_pdf(BASE_PDF, size)
    assert len(data) == size
    assert len(pypdf.PdfReader(io.BytesIO(data), strict=True).pages) == 1


def test_padded_pdfs_differ_and_are_identified_as_pdf(tmp_path: Path) -> None:
    first, second = padded_pdf(BASE_PDF, MB), padded_pdf(BASE_PDF, MB)
    assert first != second  # every record its own digest
    path = tmp_path / "bench.pdf"
    path.write_bytes(first)
    info = identify(path, "bench.pdf", "application/pdf")
    assert info.mime_type == "application/pdf" and info.accepted, info
    assert info.puid is not None and info.puid.startswith("fmt/")
    assert info.technical["page_count"] == "1" and not info.problems


def test_padding_never_shrinks() -> None:
    assert padded_pdf(BASE_PDF, 10) == BASE_PDF


# --- percentiles -------------------------------------------------------------------------------
def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert stats.percentile(values, 0.5) == 50
    assert stats.percentile(values, 0.99) == 99
    assert stats.percentile(values, 1.0) == 100
    assert stats.percentile(values, 0.0) == 1
    assert stats.percentile([7.0], 0.99) == 7


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1), st.floats(0, 1))
def test_percentile_is_a_member_with_enough_below(values: list[float], fraction: float) -> None:
    result = stats.percentile(values, fraction)
    assert result in values
    assert sum(v <= result for v in values) >= fraction * len(values)


def test_percentile_refuses_nothing() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 0.5)


def test_latency_summary() -> None:
    summary = stats.latency_summary([float(v) for v in range(1, 201)])
    assert summary == {"p50_ms": 100.0, "p95_ms": 190.0, "p99_ms": 198.0, "max_ms": 200.0}
    assert stats.latency_summary([])["p99_ms"] is None


# --- the timeline ------------------------------------------------------------------------------
def test_timeline_buckets_by_second() -> None:
    start = 1000.0
    completed = [stats.Completion(1000.2, 10), stats.Completion(1000.9, 30),
                 stats.Completion(1002.5, 50)]  # fmt: skip
    samples = [stats.Sample(1000.0, 1.0, 100), stats.Sample(1001.0, 1.5, 110),
               stats.Sample(1002.0, 2.5, 120)]  # fmt: skip
    buckets = stats.timeline(start, 1002.5, [1000.1, 1000.5, 1001.2, 999.0], completed, samples)
    assert [b["t"] for b in buckets] == [0.0, 1.0, 2.0]
    assert [b["submitted"] for b in buckets] == [2, 1, 0]  # 999.0 is before the start
    assert [b["archived"] for b in buckets] == [2, 0, 1]
    assert buckets[0]["p50_ms"] == 10 and buckets[0]["p99_ms"] == 30
    assert buckets[1]["p50_ms"] is None
    assert buckets[1]["cpu_cores"] == 0.5 and buckets[2]["cpu_cores"] == 1.0
    assert buckets[2]["rss_mb"] == 120


def test_timeline_of_an_instant_has_one_bucket() -> None:
    assert len(stats.timeline(5.0, 5.0, [], [], [])) == 1


def test_steady_rate_trims_the_ends() -> None:
    completed = [stats.Completion(float(t) / 10, 0) for t in range(101)]  # 10/s over 10 s
    assert stats.steady_rate(completed) == pytest.approx(10, rel=0.05)
    assert stats.steady_rate(completed[:5]) is None


def test_rss_growth_after_warmup() -> None:
    samples = [stats.Sample(float(t), 0, 100 + t) for t in range(0, 101, 5)]
    growth = stats.rss_growth(samples, 0.0, 100.0)
    assert growth == {"rss_start_mb": 110.0, "rss_end_mb": 200.0, "rss_growth_pct": 81.82}
    assert stats.rss_growth([], 0.0, 1.0)["rss_growth_pct"] is None


# --- /proc readers -----------------------------------------------------------------------------
def test_cpu_reader_sees_this_process_work() -> None:
    before = procstats.read_stat(os.getpid())
    assert before is not None and before.ppid == os.getppid()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    after = procstats.read_stat(os.getpid())
    assert after is not None
    assert after.cpu_s - before.cpu_s >= 0.2
    assert after.cpu_s <= time.process_time() + 0.05  # /proc counts in clock ticks


def test_rss_readers_on_this_process() -> None:
    # The tree sums resident memory and takes the largest peak: under `make test` this process's
    # tree holds the stack's servers too, so compare with this process's own figures.
    # Own first: this process may grow between the two reads, never shrink below what it held.
    own_rss = (procstats.status_kb(os.getpid(), "VmRSS") or 0) / 1024
    usage = procstats.tree_usage(os.getpid())
    assert 5 < own_rss <= usage.rss_mb < 100_000
    assert usage.peak_rss_mb >= own_rss * 0.99
    ballast = bytearray(64 * MB)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page
    # Against the RSS with the ballast, not before it: the allocator may hand some back meanwhile.
    with_ballast = (procstats.status_kb(os.getpid(), "VmRSS") or 0) / 1024
    assert with_ballast >= own_rss + 32
    assert (procstats.status_kb(os.getpid(), "VmHWM") or 0) / 1024 >= with_ballast
    assert procstats.tree_usage(os.getpid()).peak_rss_mb >= with_ballast
    del ballast


def test_tree_includes_children(tmp_path: Path) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        pids = {stat.pid for stat in procstats.process_tree(os.getpid())}
        assert {os.getpid(), child.pid} <= pids
    finally:
        child.kill()
        child.wait()
    assert procstats.process_tree(child.pid) == []


def test_parse_stat_with_spaces_in_the_name() -> None:
    line = "42 (a b) c) S 7 42 42 0 -1 0 0 0 0 0 250 150 20 10 20 0 1 0 0 0 0"
    stat = procstats.parse_stat(line, 42)
    assert stat.ppid == 7
    assert stat.cpu_s == pytest.approx(400 / procstats.CLOCK_TICKS)
    assert stat.children_cpu_s == pytest.approx(30 / procstats.CLOCK_TICKS)


# --- the report --------------------------------------------------------------------------------
def test_report_keys_cover_the_issue_and_come_in_order() -> None:
    issue = ["records", "seconds", "records_per_s", "p50_ms", "p95_ms", "p99_ms",
             "cpu_s_per_record", "peak_rss_mb", "baseline_kafka_records_per_s",
             "baseline_s3_records_per_s", "ratio_to_s3_baseline"]  # fmt: skip
    assert list(stats.RESULT_KEYS[: len(issue)]) == issue
    figures = {key: 0 for key in reversed(stats.RESULT_KEYS)} | {"submit_failures": 0}
    assert list(stats.ordered_result(figures)) == [*stats.RESULT_KEYS, "submit_failures"]
    del figures["p99_ms"]
    with pytest.raises(KeyError, match="p99_ms"):
        stats.ordered_result(figures)


def test_ratio_and_rate() -> None:
    assert stats.ratio(50.0, 200.0) == 0.25
    assert stats.ratio(50.0, None) is None
    assert stats.rate(0, 10) == 0.0 and stats.rate(10, 4) == 2.5


def test_round_robin_agencies_meet_every_year() -> None:
    """Five agencies and five years: all 25 fonds-years occur, so the register stage's keys
    spread over the partitions."""
    today = dt.date(2026, 11, 25)
    pairs = {
        (
            index % 5,
            document_metadata("run", index, "市人民政府办公厅", "BGS", today)["document_date"][:4],
        )
        for index in range(100)
    }
    assert len(pairs) == 25


# --- targets -----------------------------------------------------------------------------------
def _figures(**overrides: Any) -> dict[str, Any]:
    return {"payload": "10KB", "target_rate_per_s": None, "seconds": 60.0, "archived": 1000,
            "steady_records_per_s": 120.0, "records_per_s": 110.0, "p99_ms": 180.0,
            "ratio_to_s3_baseline": 0.6, "rss_growth_pct": 3.0,
            "cpu_s": {"workers": 15.0, "kafka": 4.0, "s3": 1.0},
            "cpu_share": {"workers": 0.6, "kafka": 0.25, "s3": 0.05}} | overrides  # fmt: skip


def test_a_backlog_run_is_judged_on_throughput_and_the_s3_ratio() -> None:
    verdicts = {v["figure"]: (v["measured"], v["met"]) for v in targets.judge(_figures())}
    assert verdicts == {"steady_records_per_s": (120.0, False), "ratio_to_s3_baseline": (0.6, True)}


def test_an_open_loop_run_is_judged_on_latency_and_a_long_one_on_memory() -> None:
    short = targets.judge(_figures(target_rate_per_s=70.0))
    assert [(v["figure"], v["met"]) for v in short] == [("p99_ms", True)]
    soak = targets.judge(_figures(target_rate_per_s=70.0, seconds=1800.0, rss_growth_pct=7.5))
    assert [(v["figure"], v["met"]) for v in soak] == [("p99_ms", True), ("rss_growth_pct", False)]


def test_one_megabyte_runs_have_their_own_throughput_target() -> None:
    verdicts = targets.judge(_figures(payload="1MB", records_per_s=61.0, ratio_to_s3_baseline=None))
    assert [(v["figure"], v["goal"], v["met"]) for v in verdicts] == [("records_per_s", 60, True)]


def test_the_cpu_ceiling_is_the_cores_over_the_cpu_each_record_costs() -> None:
    ceiling = targets.cpu_ceiling(_figures(), cores=2)
    assert ceiling == {"cpu_ms_per_record_all": 20.0, "cpu_busy_share": 0.9,
                       "cpu_ceiling_records_per_s": 100.0, "cpu_saturated": True}  # fmt: skip
    idle = targets.cpu_ceiling(_figures(cpu_share={"workers": 0.2}), cores=2)
    assert idle["cpu_saturated"] is False


def test_the_pause_after_a_rebalance_is_the_longest_time_without_an_archived_record() -> None:
    steady = [stats.Completion(100.0 + i * 0.1, 50.0) for i in range(10)]  # to 100.9
    after = [stats.Completion(104.5, 3200.0), stats.Completion(104.6, 3100.0)]
    change = stats.pause("join", 100.5, 90.0, [*steady, *after], window_s=10.0)
    assert change == {"change": "join", "at_s": 10.5, "pause_s": 3.6, "archived_in_window": 7,
                      "max_latency_ms": 3200.0}  # fmt: skip
    nothing = stats.pause("leave", 200.0, 90.0, steady, window_s=10.0)
    assert (nothing["pause_s"], nothing["max_latency_ms"]) == (10.0, None)


def test_the_s3_baseline_runs_as_many_requests_at_once_as_the_workers_can() -> None:
    from recordflow.bench.run import s3_requests_per_worker
    from recordflow.settings import Settings

    threads = min(32, (os.cpu_count() or 1) + 4)
    assert s3_requests_per_worker(Settings(register_concurrency=2)) == min(2, threads)
    assert s3_requests_per_worker(Settings(register_concurrency=64)) == threads


# --- the parts every record needs (--parts) ----------------------------------------------------
def test_parts_cost_more_for_a_larger_file_and_identification_includes_siegfried() -> None:
    from recordflow.bench.parts import parts_report

    report = parts_report([10 * KB, MB])
    assert list(report) == ["10KB", "1MB"]
    small, large = report["10KB"], report["1MB"]
    assert set(small) == set(large) and all(figure > 0 for figure in small.values())
    # Hashing reads every byte: a hundred times the bytes cost far more than ten times the CPU.
    assert (
        large["digests (SHA-256, SM3, MD5 per part)"]
        > 10 * small["digests (SHA-256, SM3, MD5 per part)"]
    )
    assert large["identification, all"] > large["identification: siegfried"] * 0.9


def test_bench_parts_prints_json_without_a_stack() -> None:
    import json
    import subprocess
    import sys

    env = {**os.environ, "RECORDFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:1"}  # would fail if asked
    result = subprocess.run(
        [sys.executable, "-m", "recordflow", "bench", "--parts", "--size", "64KB", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["64KB"]
    assert figures["identification: pypdf"] > 0
