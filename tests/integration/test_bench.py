"""`recordflow bench` on the real stack: a tiny run, baselines included, read as a program reads
it. Figures are checked for sense, never against the clock."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from connectors.storage import Storage
from recordflow.bench.stats import RESULT_KEYS
from recordflow.settings import Settings
from tests.integration.cli import run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def private(stack_settings: Settings) -> Settings:
    """The shared stack with names of this test's own (the bench adds a run prefix of its own)."""
    tag = uuid.uuid4().hex[:8]
    return stack_settings.model_copy(
        update={"topic_prefix": f"t{tag}.", "bucket_prefix": f"t{tag}-"}
    )


def test_tiny_bench_reports_every_figure_and_draws_its_chart(
    stack_settings: Settings, tmp_path: Path
) -> None:
    settings = private(stack_settings)
    chart = tmp_path / "bench.png"
    result = run_cli(settings, "bench", "--records", "20", "--size", "10KB",
                     "--submitters", "2", "--chart", str(chart), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)  # one JSON object, nothing else on stdout

    assert set(RESULT_KEYS) <= set(report)
    assert report["records"] == report["submitted"] == report["archived"] == 20
    assert report["rejected"] == report["review"] == report["unfinished"] == 0
    assert report["payload"] == "10KB" and report["payload_sizes"] == {"10240": 20}
    assert report["formats"] and all(puid.startswith("fmt/") for puid in report["formats"])
    assert sum(report["formats"].values()) == 20  # every archived file identified as a PDF
    for key in ("records_per_s", "baseline_kafka_records_per_s", "baseline_s3_records_per_s",
                "seconds", "cpu_s_per_record", "peak_rss_mb"):  # fmt: skip
        assert report[key] > 0, key
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["p99_ms"] <= report["max_ms"]
    assert report["ratio_to_s3_baseline"] == pytest.approx(
        report["records_per_s"] / report["baseline_s3_records_per_s"], rel=0.01
    )
    assert report["baseline_records"] == 20 and report["workers"] == 1
    assert report["topic_prefix"].startswith(settings.topic_prefix)
    timeline = report["timeline"]
    assert timeline and sum(bucket["archived"] for bucket in timeline) == 20
    assert sum(bucket["submitted"] for bucket in timeline) == 20
    assert report["chart"] == str(chart)
    assert chart.read_bytes()[:8] == PNG_SIGNATURE
    assert [v["figure"] for v in report["targets"]] == [
        "steady_records_per_s",
        "ratio_to_s3_baseline",
    ]
    assert report["cpu_ceiling_records_per_s"] > 0


def test_a_worker_joining_and_leaving_mid_run_loses_nothing_and_its_pauses_are_reported(
    stack_settings: Settings,
) -> None:
    settings = private(stack_settings)
    result = run_cli(settings, "bench", "--rate", "8", "--duration", "30", "--rebalance",
                     "--partitions", "6", "--no-baselines", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["submitted"] == report["archived"] and report["unfinished"] == 0
    changes = report["rebalances"]
    assert [change["change"] for change in changes] == ["join", "leave"]
    assert 5 <= changes[0]["at_s"] < changes[1]["at_s"] <= 25
    for change in changes:
        assert change["archived_in_window"] > 0 and change["pause_s"] > 0
    assert [v["figure"] for v in report["targets"]] == ["p99_ms"]


def test_rebalance_without_an_open_loop_run_is_refused_in_one_line(
    stack_settings: Settings,
) -> None:
    result = run_cli(stack_settings, "bench", "--records", "10", "--rebalance")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --rebalance needs an open-loop run: give --rate and --duration"
    )


def test_a_bench_through_the_gateway_compares_it_with_the_sdk_in_the_same_run(
    stack_settings: Settings,
) -> None:
    settings = private(stack_settings)
    result = run_cli(settings, "bench", "--via", "gateway", "--records", "15", "--submitters", "2",
                     "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["via"] == "gateway"
    assert report["submitted"] == report["archived"] == 15 and report["submit_failures"] == 0
    # The raw baselines replay the events the gateway produced.
    assert report["baseline_records"] == 15 and report["baseline_kafka_records_per_s"] > 0
    doors = report["via_gateway"]
    assert doors["submissions_compared"] == 15
    for door in ("sdk", "gateway"):
        assert doors[door]["per_s"] > 0
        assert 0 < doors[door]["p50_ms"] <= doors[door]["p95_ms"] <= doors[door]["max_ms"]
    assert doors["gateway_to_sdk"] == pytest.approx(
        doors["gateway"]["per_s"] / doors["sdk"]["per_s"], rel=0.01
    )


def test_an_unknown_door_is_one_line() -> None:
    result = run_cli(Settings(), "bench", "--via", "ftp")
    assert (
        result.returncode == 2 and result.stderr.strip() == "error: --via ftp: give sdk or gateway"
    )


def test_an_import_bench_archives_its_batch_and_measures_the_raw_copy_beside_it(
    stack_settings: Settings,
) -> None:
    settings = private(stack_settings)
    result = run_cli(settings, "bench", "--import", "--items", "3", "--pages", "2",
                     "--workers", "2", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert (report["items"], report["pages"], report["linked"], report["archived"]) == (3, 6, 3, 3)
    assert report["workers"] == 2
    assert report["outcomes"] == {}
    assert 2.5 < report["megabytes"] / report["pages"] < 5  # pages of about 3 MB, as scans are
    for side in ("import", "raw_copy_baseline"):
        assert report[side]["pages_per_s"] > 0 and report[side]["mb_per_s"] > 0
    assert report["ratio_to_baseline"] == pytest.approx(
        report["import"]["pages_per_s"] / report["raw_copy_baseline"]["pages_per_s"], rel=0.01
    )
    assert report["met"] == (report["ratio_to_baseline"] >= report["goal_ratio"])
    # CPU by part: the workers worked only in the import; the S3 server and the importer in both.
    cpu = report["cpu_ms_per_page"]
    assert cpu["import"]["workers"] > 0 and cpu["raw_copy"]["workers"] == 0
    for side in ("import", "raw_copy"):
        assert cpu[side]["s3"] > 0 and cpu[side]["bench"] > 0
        parts = {part: ms for part, ms in cpu[side].items() if part != "total"}
        assert cpu[side]["total"] == pytest.approx(sum(parts.values()), abs=0.2)
    # The run's scratch buckets are gone; its archive, under object lock, stays.
    buckets = {b.name for b in Storage(settings).client.list_buckets()
               if b.name.startswith(settings.bucket_prefix)}  # fmt: skip
    assert {name.rsplit("-", 1)[1] for name in buckets} == {"archive", "exports"}


def test_a_lookup_bench_rebuilds_its_store_times_every_query_and_agrees_with_the_topic(
    stack_settings: Settings,
) -> None:
    settings = private(stack_settings)
    result = run_cli(settings, "bench", "--lookup", "--records", "2000", "--runs", "20",
                     "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)

    assert report["records"] == 2000
    assert report["topic"].startswith(settings.topic_prefix)
    assert report["topic"].endswith(".records.catalog.v1")
    assert report["generate"]["records_per_s"] > 0 and report["generate"]["mean_value_bytes"] > 0
    rebuilt = report["rebuild"]
    assert rebuilt["records"] == 2000 and rebuilt["seconds"] > 0 and rebuilt["records_per_s"] > 0
    assert rebuilt["store_mb"] > 0 and rebuilt["fts_index_mb"] > 0
    assert rebuilt["bytes_per_record"] == pytest.approx(rebuilt["store_mb"] * 1e6 / 2000, rel=0.02)
    # A good share is open to the public (formed 25 years ago and more, or a 公告), not all.
    access = report["access"]
    assert sum(v for k, v in access.items() if k != "public_now") == 2000
    assert 0.2 * 2000 < access["public_now"] < 0.8 * 2000

    kinds = {query["kind"]: query for query in report["queries"]}
    assert set(kinds) == {"word2", "word2_same", "word3", "doc_number", "code", "filtered",
                          "staff", "deep_page", "date_sort"}  # fmt: skip
    for kind, query in kinds.items():
        assert query["runs"] == 20, kind
        assert 0 < query["p50_ms"] <= query["p95_ms"] <= query["p99_ms"] <= query["max_ms"], kind
        # The store and a consumer reading the whole topic find the same records.
        baseline = query["baseline"]
        assert baseline["hits"] == query["hits"] and baseline["agrees"], kind
        assert baseline["runs"] == 1 and baseline["seconds"] > 0, kind
    assert kinds["code"]["hits"] == 1 and kinds["code"]["returned"] == 1
    assert kinds["word2"]["example"]["q"] == "房产" and kinds["word2"]["hits"] > 0
    assert kinds["word2_same"]["hits_min"] == kinds["word2_same"]["hits_max"]
    assert kinds["word2"]["hits_min"] < kinds["word2"]["hits_max"]  # varied terms
    assert kinds["word3"]["example"]["q"] == "不动产" and kinds["word3"]["hits"] > 0
    assert kinds["doc_number"]["example"]["q"].startswith("〔")
    assert kinds["doc_number"]["hits"] >= 1
    assert kinds["staff"]["audience"] == "staff" and kinds["staff"]["hits"] > 0
    assert kinds["deep_page"]["example"]["page"] == 50
    assert kinds["deep_page"]["returned"] == max(0, min(20, kinds["deep_page"]["hits"] - 980))

    http = {figures["kind"]: figures for figures in report["http"]}
    assert set(http) == {"word2", "code"}
    for kind, figures in http.items():
        assert 0 < figures["p50_ms"] <= figures["p99_ms"], kind
    assert 0 < report["peak_rss_mb_before_baseline"] <= report["peak_rss_mb"]
    assert report["topic_deleted"] is True
    admin = AdminClient({**settings.kafka_config()})
    assert report["topic"] not in admin.list_topics(timeout=30).topics
