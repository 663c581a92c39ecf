"""`recordflow export parquet` on the real stack: records a worker archived go to the exports
bucket as hive-partitioned Parquet that DuckDB reads back (downloaded with the project's S3
client: DuckDB's httpfs would download an extension) equal to the catalog, the 内部 record left
out; a record archived later is all the next export holds, and its manifest says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from avro_schemas.codec import Codec
from connectors.parquet_export.manifest import Manifest, manifest_key
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# The columns compared with the catalog, as DuckDB gives them.
CURRENT = """
    SELECT reference_code, agency, year, agency_name, title, document_number, document_date,
           security_classification, retention_period, retain_until, archived_at, filed_at,
           file_count, total_bytes, format_puids, export_id
    FROM read_parquet(?, hive_partitioning = true,
                      hive_types = {'agency': VARCHAR, 'year': BIGINT})
    WHERE export_id >= ?
    QUALIFY row_number() OVER (PARTITION BY reference_code ORDER BY export_id DESC) = 1
    ORDER BY reference_code
"""


def archive(settings: Settings, folder: Path, documents: dict[str, dict[str, object]]) -> None:
    """Each document (id → metadata overrides) submitted as a 通知 of bgt, and archived."""
    pdf = folder / "通知.pdf"
    pdf.write_bytes(PDF)
    submitter = Submitter(settings)
    events = {
        submitter.submit("bgt", [FileToSubmit(pdf)], notice_metadata(document, **extra)).event_id
        for document, extra in documents.items()
    }
    submitter.close()
    outcomes = watch_outcomes(settings, Codec.from_url(settings.schema_registry_url), events,
                              timeout_s=TIMEOUT_S)  # fmt: skip
    assert {outcome.status for outcome in outcomes.values()} == {"archived"}, outcomes
    assert outcomes.keys() == events


def export(settings: Settings) -> dict[str, Any]:
    result = run_cli(settings, "export", "parquet", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def download(storage: Storage, folder: Path) -> str:
    """Every Parquet file of the exports bucket into `folder`; the glob that reads them."""
    for key in storage.list_exports("catalog/"):
        if key.endswith(".parquet"):
            local = folder / key
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(storage.get_export(key))
    return str(folder / "catalog" / "**" / "*.parquet")


def expected(settings: Settings) -> list[tuple[Any, ...]]:
    """The catalog's public records, as CURRENT's columns (but export_id)."""
    records = catalog(settings, Codec.from_url(settings.schema_registry_url)).values()
    return sorted(
        (r["reference_code"], r["agency"]["code"], r["year"], r["agency"]["name"],
         r["description"]["title"], r["description"]["document_number"],
         r["description"]["document_date"], r["description"]["security_classification"],
         r["retention_period"], r["retain_until"], r["archived_at"], r["filed_at"],
         len(r["components"]), sum(c["size_bytes"] for c in r["components"]),
         [f["puid"] for f in sorted(r["formats"], key=lambda f: f["sequence"])])
        for r in records if r["description"]["security_classification"] != "内部"
    )  # fmt: skip


def test_the_catalog_exports_as_parquet_duckdb_reads_and_increments_hold_the_changes(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    settings = pipeline_settings
    storage = Storage(settings)
    archive(settings, tmp_path, {
        "PQ-1": {"title": "关于做好2026年防汛工作的通知"},
        "PQ-2": {"title": "关于开展安全生产检查的通知", "security_classification": "非密"},
        "PQ-3": {"title": "关于2025年度工作总结的通知", "document_date": "2025-12-20"},
        "PQ-4": {"title": "关于内部人事安排的通知", "security_classification": "内部"},
    })  # fmt: skip

    first = export(settings)
    assert [first[k] for k in ("export_id", "kind", "base_export_id")] == [
        "000001", "full", "000001"
    ]  # fmt: skip
    assert (first["records"], first["files"], first["withheld"]) == (3, 2, 1)
    assert sorted(first["partitions"]) == ["agency=bgt/year=2025", "agency=bgt/year=2026"]
    assert first["bucket"] == settings.exports_bucket
    assert first["manifest"] == manifest_key("000001")

    glob = download(storage, tmp_path / "first")
    rows = duckdb.execute(CURRENT, [glob, "000001"]).fetchall()
    want = expected(settings)
    assert len(want) == 3
    assert [row[:-1] for row in rows] == want
    assert {row[-1] for row in rows} == {"000001"}
    assert "关于内部人事安排的通知" not in json.dumps(rows, default=str, ensure_ascii=False)

    archive(settings, tmp_path, {"PQ-5": {"title": "关于召开防汛抗旱工作会议的通知"}})
    second = export(settings)
    assert [second[k] for k in ("export_id", "kind", "previous_export_id")] == [
        "000002", "incremental", "000001"
    ]  # fmt: skip
    assert (second["records"], second["files"], second["withheld"]) == (1, 1, 0)
    assert second["messages_read"] == 1  # read on from where the first export ended
    manifest = Manifest.from_json(json.loads(storage.get_export(second["manifest"])))
    [new] = [r for r in catalog(settings, Codec.from_url(settings.schema_registry_url)).values()
             if r["document_id"] == "PQ-5"]  # fmt: skip
    assert [file.reference_codes for file in manifest.files] == [(new["reference_code"],)]
    assert manifest.base_export_id == "000001"

    glob = download(storage, tmp_path / "second")
    only_second = duckdb.execute(CURRENT, [glob, "000002"]).fetchall()
    assert [row[0] for row in only_second] == [new["reference_code"]]
    rows = duckdb.execute(CURRENT, [glob, manifest.base_export_id]).fetchall()
    assert [row[:-1] for row in rows] == expected(settings)  # the current catalog, whole

    third = export(settings)  # nothing changed: nothing written
    assert [third[k] for k in ("export_id", "manifest", "previous_export_id")] == [
        None, None, "000002"
    ]  # fmt: skip
    assert third["messages_read"] == 0
