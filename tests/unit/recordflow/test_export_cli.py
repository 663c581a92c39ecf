"""`recordflow export parquet` without a server: a bad --every is one line and exit 2; an export's
summary for people and for programs; a failure is one line; a schedule prints a JSON line per run,
goes on after a failed run, and stops on Ctrl-C (the export itself: tests/integration/
test_parquet_export.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from typer.testing import CliRunner

import connectors.parquet_export.export
from connectors.parquet_export.export import Outcome
from connectors.parquet_export.manifest import ExportedFile, ExportError, Manifest, part_key
from recordflow.cli import export

MANIFEST = Manifest(
    export_id="000002", kind="incremental", base_export_id="000001", previous_export_id="000001",
    created_at=dt.datetime(2026, 12, 6, 8, tzinfo=dt.UTC), catalog_topic="records.catalog.v1",
    offsets={0: 3},
    files=(ExportedFile(part_key("bgt", 2026, "000002"), "bgt", 2026, 2, 4096,
                        ("Z101-WS·2026-D10-BGS-0001", "Z101-WS·2026-D10-BGS-0002")),),
    withheld=1,
)  # fmt: skip


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each export the CLI asks for answers with the next of `runs` (an Outcome, or an
    exception it raises); the list of the `full` flags it was asked with is returned in its
    place as the runs are used up."""
    monkeypatch.setenv("RECORDFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # would fail if asked
    planned: list[Any] = []

    def export_catalog(settings: Any, codec: Any, storage: Any, *, full: bool,
                       on_progress: Any) -> Outcome:  # fmt: skip
        on_progress("read", 10, None)
        answer = planned.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(connectors.parquet_export.export, "export_catalog", export_catalog)
    return planned


@pytest.mark.parametrize(("every", "message"), [
    ("abc", "--every 'abc' is not a number of minutes"),
    ("0", "--every takes a number of minutes more than 0, not '0'"),
    ("-5", "--every takes a number of minutes more than 0, not '-5'"),
    ("nan", "--every takes a number of minutes more than 0, not 'nan'"),
])  # fmt: skip
def test_a_bad_every_is_one_line_and_exit_2(every: str, message: str, runs: list[Any]) -> None:
    result = CliRunner().invoke(export.app, ["parquet", "--every", every])
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == f"error: {message}"


def test_an_export_summary_for_programs(runs: list[Any]) -> None:
    runs.append(Outcome(MANIFEST, None, 10))
    result = CliRunner().invoke(export.app, ["parquet", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "export_id": "000002", "kind": "incremental", "bucket": "exports",
        "manifest": "catalog/_manifests/000002.json", "records": 2, "files": 1, "bytes": 4096,
        "partitions": ["agency=bgt/year=2026"], "deleted": 0, "withheld": 1,
        "base_export_id": "000001", "previous_export_id": None, "messages_read": 10,
    }  # fmt: skip


def test_an_export_summary_for_people(runs: list[Any]) -> None:
    runs.append(Outcome(MANIFEST, None, 10))
    result = CliRunner().invoke(export.app, ["parquet"])
    assert result.exit_code == 0, result.output
    assert "Catalog export 000002 (增量 incremental): 2 record(s), 1 file(s)" in result.stdout
    assert "exports/catalog/agency=bgt/year=2026/part-000002.parquet" in result.stdout
    assert "清单 manifest: exports/catalog/_manifests/000002.json" in result.stdout
    assert "withheld for their 密级: 1" in result.stdout


def test_nothing_changed_writes_nothing(runs: list[Any]) -> None:
    runs.append(Outcome(None, MANIFEST, 0))
    result = CliRunner().invoke(export.app, ["parquet"])
    assert result.exit_code == 0, result.output
    assert "Nothing changed since export 000002" in result.stdout


def test_a_failed_export_is_one_line_and_exit_1(runs: list[Any]) -> None:
    runs.append(ExportError("records.catalog.v1 partition 0 ends at offset 5, but …"))
    result = CliRunner().invoke(export.app, ["parquet", "--json"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith("error: records.catalog.v1 partition 0 ends at offset 5")


def test_a_schedule_prints_a_line_per_run_goes_on_after_a_failure_and_stops_on_ctrl_c(
    runs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs += [Outcome(MANIFEST, None, 10), OSError("S3 away"), Outcome(None, MANIFEST, 0)]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not runs:
            raise KeyboardInterrupt

    monkeypatch.setattr(export.time, "sleep", sleep)
    result = CliRunner().invoke(export.app, ["parquet", "--every", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line)["export_id"] for line in lines] == ["000002", None]
    assert "error: export failed: OSError: S3 away" in result.stderr
    assert "Stopped" in result.stderr
    assert len(waits) == 3 and all(0 < wait <= 30 for wait in waits)
