"""The Parquet export's pure parts, without Kafka or S3: which records and fields go out and how
they are typed; the manifest, the next export's plan and what an increment holds; and the rule
consumers read the current catalog by, checked with DuckDB on files written locally."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.parquet_export.manifest import (
    ExportedFile,
    ExportError,
    Manifest,
    Plan,
    changes,
    check_start,
    latest_manifest_key,
    manifest_key,
    part_key,
    plan,
)
from connectors.parquet_export.rows import COLUMNS, PARTITIONS, SCHEMA, exportable, row, table
from tests.examples import archival_record

TOPIC = "records.catalog.v1"
CODE = "Z109-WS·2026-D30-GHK-0007"


def record(**changes: Any) -> dict[str, Any]:
    """archival_record() with two files (the second unidentified) and `changes` on top;
    `description` changes merge into its description."""
    found: dict[str, Any] = copy.deepcopy(dict(archival_record()))
    second = {**found["components"][0], "sequence": 2, "is_main": False,
              "file_name": "李四的附件.jpg", "size_bytes": 1000}  # fmt: skip
    found["components"].append(second)
    description = changes.pop("description", {})
    found["description"] = {**found["description"], **description}
    return {**found, **changes}


def test_a_row_is_the_records_public_fields_typed() -> None:
    result = table([row(record(), "000001")])
    assert result.schema.equals(COLUMNS, check_metadata=True)
    [got] = result.to_pylist()
    assert got["export_id"] == "000001" and got["reference_code"] == CODE
    assert got["title"] == "关于申请老旧小区改造专项资金的请示"
    assert got["document_date"] == dt.date(2026, 4, 2)
    assert got["retain_until"] == dt.date(2057, 1, 1)
    assert got["archived_at"] == dt.datetime(2026, 4, 2, 9, 30, 17, 468000, tzinfo=dt.UTC)
    assert got["keywords"] == ["老旧小区", "专项资金"] and got["page_count"] == 3
    assert (got["file_count"], got["total_bytes"]) == (2, 48213 + 1000)
    assert got["format_puids"] == ["fmt/354", None]  # in file order; the second unidentified
    assert got["format_names"] == ["Acrobat PDF/A - Portable Document Format", None]
    assert got["carrier_medium"] is None  # archived before records had a carrier
    assert result.schema.field("archived_at").type == pa.timestamp("us", tz="UTC")
    assert result.schema.field("document_date").type == pa.date32()
    assert result.schema.field("total_bytes").type == pa.int64()


def test_no_personal_or_internal_field_goes_out() -> None:
    """People's names (agents, history, file names), recipients, control marks, storage keys
    and the agency system's ids are in the record, and in no cell of the row."""
    source = record()
    cells = json.dumps(table([row(source, "000001")]).to_pylist(), default=str,
                       ensure_ascii=False)  # fmt: skip
    left_out = ["李四", "局长", "市财政局", "限制利用", "李四的附件.jpg", source["event_id"],
                source["document_id"], "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "Z109/2026/",
                "city-default@2026.1"]  # fmt: skip
    assert [value for value in left_out if value in cells] == []
    assert "lock_until" not in COLUMNS.names and "appraisal_status" not in COLUMNS.names


def test_the_schema_is_the_columns_then_the_hive_partitions() -> None:
    assert SCHEMA.names == [*COLUMNS.names, "agency", "year"]
    assert PARTITIONS.field("year").type == pa.int64()
    assert not set(PARTITIONS.names) & set(COLUMNS.names)  # the files leave them out
    assert all(field.metadata and b"doc" in field.metadata for field in SCHEMA)


@pytest.mark.parametrize(("classification", "exported"), [
    ("公开", True), ("非密", True), ("内部", False), ("秘密", False), ("机密", False),
    ("绝密", False), ("保密", False),
])  # fmt: skip
def test_only_public_classifications_are_exported(classification: str, exported: bool) -> None:
    assert exportable(record(description={"security_classification": classification})) is exported


def test_a_digitized_records_carrier_goes_out() -> None:
    carrier = {"medium": "digitized", "original_medium": "paper", "counterpart_code": None,
               "awaiting_counterpart": False}  # fmt: skip
    got = row(record(carrier=carrier), "000002")
    assert (got["carrier_medium"], got["original_medium"]) == ("digitized", "paper")


# --- manifests and increments ----------------------------------------------------------------
def manifest(export_id: str = "000001", **changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "export_id": export_id, "kind": "full", "base_export_id": "000001",
        "previous_export_id": None, "created_at": dt.datetime(2026, 12, 6, 8, tzinfo=dt.UTC),
        "catalog_topic": TOPIC, "offsets": {0: 12, 3: 4},
        "files": (ExportedFile(part_key("zjj", 2026, export_id), "zjj", 2026, 1, 2048, (CODE,)),),
    }  # fmt: skip
    return Manifest(**{**fields, **changes})


def test_keys_are_hive_style_and_manifests_are_numbered() -> None:
    assert part_key("zjj", 2026, "000007") == "catalog/agency=zjj/year=2026/part-000007.parquet"
    assert manifest_key("000007") == "catalog/_manifests/000007.json"


def test_a_manifest_reads_back_what_it_wrote() -> None:
    written = manifest(deleted=("Z101-WS·2026-D10-BGS-0001",), withheld=2)
    text = json.dumps(written.as_json(), ensure_ascii=False)
    assert Manifest.from_json(json.loads(text)) == written
    assert written.as_json()["records"] == 1 and written.as_json()["offsets"] == {"0": 12, "3": 4}
    assert written.partitions == ["agency=zjj/year=2026"]


def test_a_manifest_of_another_format_is_refused() -> None:
    with pytest.raises(ExportError, match="format 2 is not 1"):
        Manifest.from_json({**manifest().as_json(), "format": 2})


def test_the_last_manifest_is_the_greatest_number_and_nothing_else_counts() -> None:
    keys = ["catalog/_manifests/000009.json", "catalog/_manifests/000010.json",
            "catalog/_manifests/notes.json", "catalog/_manifests/000011.json.tmp",
            "catalog/agency=zjj/year=2026/part-000012.parquet"]  # fmt: skip
    assert latest_manifest_key(keys) == "catalog/_manifests/000010.json"
    assert latest_manifest_key([]) is None


def test_the_first_export_is_full_and_the_next_starts_where_it_ended() -> None:
    first = plan(None, TOPIC)
    assert first == Plan("000001", True, "000001", None, {})
    following = plan(manifest(), TOPIC)
    assert following == Plan("000002", False, "000001", "000001", {0: 12, 3: 4})
    again = plan(manifest("000002", kind="incremental"), TOPIC, full=True)
    assert again == Plan("000003", True, "000003", "000002", {})


def test_an_increment_of_another_topic_is_refused() -> None:
    with pytest.raises(ExportError, match=r"read records\.catalog\.v1, not t1\.records"):
        plan(manifest(), f"t1.{TOPIC}")
    assert plan(manifest(), f"t1.{TOPIC}", full=True).full


def test_offsets_past_the_end_of_the_topic_need_a_full_export() -> None:
    check_start({0: 12, 3: 4}, {0: 12, 1: 0, 3: 9}, TOPIC)  # nothing new in 0: fine
    with pytest.raises(ExportError, match="partition 0 ends at offset 5, but the last export"):
        check_start({0: 12}, {0: 5}, TOPIC)
    with pytest.raises(ExportError, match="partition 7 is gone"):
        check_start({7: 1}, {0: 5}, TOPIC)


def test_an_increment_holds_the_changed_records_latest_state_by_partition() -> None:
    bgt = record(reference_code="Z101-WS·2026-D10-BGS-0001",
                 agency={"code": "bgt", "name": "市人民政府办公厅"})  # fmt: skip
    old = record(reference_code="Z109-WS·2025-D30-GHK-0003", year=2025)
    internal = record(reference_code="Z109-WS·2026-D30-GHK-0008",
                      description={"security_classification": "内部"})  # fmt: skip
    latest = {CODE: record(), bgt["reference_code"]: bgt, old["reference_code"]: old,
              internal["reference_code"]: internal, "Z109-WS·2026-D30-GHK-0001": None}  # fmt: skip
    found = changes(latest, plan(manifest(), TOPIC))
    assert {key: [r["reference_code"] for r in rows] for key, rows in found.rows.items()} == {
        ("zjj", 2026): [CODE], ("bgt", 2026): [bgt["reference_code"]],
        ("zjj", 2025): [old["reference_code"]],
    }  # fmt: skip
    assert all(r["export_id"] == "000002" for rows in found.rows.values() for r in rows)
    assert found.deleted == ["Z109-WS·2026-D30-GHK-0001"]
    assert found.withheld == 1  # counted, and named nowhere
    assert "Z109-WS·2026-D30-GHK-0008" not in json.dumps(list(found.rows.values()), default=str)
    full = changes(latest, plan(manifest(), TOPIC, full=True))
    assert full.deleted == [] and len(full.rows) == 3  # a full export lacks what is gone


def test_nothing_changed_is_an_empty_increment() -> None:
    internal = record(description={"security_classification": "内部"})
    assert changes({}, plan(manifest(), TOPIC)).empty
    assert changes({CODE: internal}, plan(manifest(), TOPIC)).empty


# --- the consumers' rule, as README shows it ------------------------------------------------
CURRENT = """
    SELECT * FROM read_parquet(?, hive_partitioning = true,
                               hive_types = {'agency': VARCHAR, 'year': BIGINT})
    WHERE export_id >= ?
    QUALIFY row_number() OVER (PARTITION BY reference_code ORDER BY export_id DESC) = 1
    ORDER BY reference_code
"""


def write(folder: Path, export_id: str, records: list[dict[str, Any]]) -> None:
    """An export's files, as connectors/parquet_export/export.py writes them before uploading."""
    found = changes({r["reference_code"]: r for r in records}, plan(None, TOPIC))
    for (agency, year), rows in found.rows.items():
        path = folder / part_key(agency, year, export_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table([{**one, "export_id": export_id} for one in rows]), path)


def test_the_current_catalog_is_the_newest_row_per_code_since_the_base(tmp_path: Path) -> None:
    other = "Z109-WS·2026-D30-GHK-0009"
    write(tmp_path, "000001", [record(description={"title": "旧"}), record(reference_code=other)])
    write(tmp_path, "000002", [record(retention_period="Y", retain_until=None)])  # changed
    pattern = str(tmp_path / "catalog" / "**" / "*.parquet")
    rows = duckdb.execute(CURRENT, [pattern, "000001"]).fetchall()
    columns = [*COLUMNS.names, *PARTITIONS.names]
    current = [dict(zip(columns, found, strict=True)) for found in rows]
    assert [(r["reference_code"], r["export_id"], r["retention_period"]) for r in current] == [
        (CODE, "000002", "Y"), (other, "000001", "D30"),
    ]  # fmt: skip
    assert (current[0]["agency"], current[0]["year"]) == ("zjj", 2026)
    assert current[0]["retain_until"] is None and current[1]["retain_until"] == dt.date(2057, 1, 1)
    assert current[0]["archived_at"] == dt.datetime(2026, 4, 2, 9, 30, 17, 468000, tzinfo=dt.UTC)
    # A full export later is the new base: what it lacks is not current any more.
    write(tmp_path, "000003", [record()])
    assert [r[1] for r in duckdb.execute(CURRENT, [pattern, "000003"]).fetchall()] == [CODE]
