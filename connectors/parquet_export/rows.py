"""Which catalog records go into a Parquet export, and which of their fields, typed: the one
pyarrow schema of the export (docs/design.md, "Parquet exports"). Pure: no Kafka, no S3.

A record goes out only when its 密级 is public enough (`exportable`). Of an exported record only
its public description goes out; left out on purpose, as personal or internal:
- agents (机构人员实体), business history (业务实体) and provenance: people's names and who did what;
- a photo's or recording's description (`media`: 摄影者, 人物 …) and the files' technical
  metadata (a device's serial number), the signatures and their signers (`file_details`);
- recipients, 保密期限 and control marks (`supplementary`), file names (they often name people);
- the agency system's identifiers (event, document, source system) and where the bytes are
  stored (bucket, key, version): the archive's own business, as are the object lock's date
  (`lock_until`, past `retain_until` only while an appraisal is due), the appraisal status, the
  four-property check and the flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

# 密级 values a record may have to be exported. Intake refuses state secrets outright (秘密, 机密,
# 绝密: recordflow/metadata_rules.yaml, `refused`), so the catalog holds 公开, 非密 and 内部; 内部
# (工作秘密) is for the agency's and the archive's own use, and such a record stays out of every
# export, whole: not a row, not its 档号 in a manifest. An allow-list, so that a value added to
# the domain later stays out until someone decides otherwise.
EXPORTABLE_CLASSIFICATIONS = frozenset({"公开", "非密"})

UTC_MICROSECONDS = pa.timestamp("us", tz="UTC")


def _field(name: str, kind: pa.DataType, doc: str, *, nullable: bool = False) -> pa.Field:
    """A column with its DA/T 46 name and meaning kept in the file's schema."""
    return pa.field(name, kind, nullable=nullable, metadata={"doc": doc})


# The hive partitions, `agency=<code>/year=<yyyy>/`: a reader that reads the folders with hive
# partitioning gets them as columns. Like Hive, Spark and pyarrow's own dataset writer, the
# files leave them out (a query engine would otherwise see each twice).
PARTITIONS = pa.schema([
    _field("agency", pa.string(), "立档单位代码 the agency's code (agencies.yaml)"),
    _field("year", pa.int64(), "年度 the filing year, as in the 档号"),
])  # fmt: skip

# The columns of every file, in order.
COLUMNS = pa.schema([
    _field("export_id", pa.string(), "导出批次 the export that wrote this row: per 档号 the greatest wins"),
    _field("reference_code", pa.string(), "档号 archival reference code"),
    _field("agency_name", pa.string(), "立档单位名称 the agency's name"),
    _field("fonds_code", pa.string(), "全宗号 fonds code"),
    _field("fonds_name", pa.string(), "全宗名称 fonds name"),
    _field("category", pa.string(), "门类代码 category: WS 文书, ZP 照片, LY 录音录像"),
    _field("title", pa.string(), "题名 title"),
    _field("document_number", pa.string(), "文号 document number", nullable=True),
    _field("responsible_party", pa.string(), "责任者 responsible party"),
    _field("document_date", pa.date32(), "日期 the document's date"),
    _field("document_type", pa.string(), "文种 document type"),
    _field("security_classification", pa.string(), "密级 security classification (公开 or 非密)"),
    _field("language", pa.string(), "语种 language, ISO 639-1"),
    _field("page_count", pa.int64(), "页数 pages", nullable=True),
    _field("keywords", pa.list_(pa.string()), "关键词 keywords"),
    _field("abstract", pa.string(), "摘要 abstract", nullable=True),
    _field("retention_period", pa.string(), "保管期限 retention period: Y 永久, D30, D10"),
    _field("retain_until", pa.date32(), "保管到期 end of the retention period; null: permanent",
           nullable=True),
    _field("filed_at", UTC_MICROSECONDS, "归档时间 when the agency filed it"),
    _field("archived_at", UTC_MICROSECONDS, "接收时间 when the archive stored and registered it"),
    _field("carrier_medium", pa.string(), "载体 electronic or digitized", nullable=True),
    _field("original_medium", pa.string(), "原件载体 a digitized copy's original", nullable=True),
    _field("file_count", pa.int64(), "文件数 computer files"),
    _field("total_bytes", pa.int64(), "容量 the files' bytes"),
    _field("format_puids", pa.list_(pa.string()),
           "格式 each file's PRONOM id, in file order; null: unidentified"),
    _field("format_names", pa.list_(pa.string()),
           "格式名称 each file's format name, in file order; null: unidentified"),
])  # fmt: skip

# What a reader of the folders sees: the columns, then the partitions.
SCHEMA = pa.schema([*COLUMNS, *PARTITIONS])


def exportable(record: Mapping[str, Any]) -> bool:
    """Whether the record may be exported at all (its 密级)."""
    return record["description"]["security_classification"] in EXPORTABLE_CLASSIFICATIONS


def partition(record: Mapping[str, Any]) -> tuple[str, int]:
    """The record's (agency code, year): where its rows go."""
    return record["agency"]["code"], int(record["year"])


def row(record: Mapping[str, Any], export_id: str) -> dict[str, Any]:
    """The record's public fields as one row of COLUMNS (a decoded ArchivalRecord of any version:
    the codec fills what older versions lack with defaults)."""
    description = record["description"]
    components = sorted(record["components"], key=lambda component: component["sequence"])
    formats = {found["sequence"]: found for found in record.get("formats") or []}
    found = [formats.get(component["sequence"]) or {} for component in components]
    carrier = record.get("carrier") or {}
    return {
        "export_id": export_id,
        "reference_code": record["reference_code"],
        "agency_name": record["agency"]["name"],
        "fonds_code": record["fonds_code"],
        "fonds_name": record["fonds_name"],
        "category": record["category"],
        "title": description["title"],
        "document_number": description["document_number"],
        "responsible_party": description["responsible_party"],
        "document_date": description["document_date"],
        "document_type": description["document_type"],
        "security_classification": description["security_classification"],
        "language": description["language"],
        "page_count": description["page_count"],
        "keywords": list(description["keywords"]),
        "abstract": description["abstract"],
        "retention_period": record["retention_period"],
        "retain_until": record["retain_until"],
        "filed_at": record["filed_at"],
        "archived_at": record["archived_at"],
        "carrier_medium": carrier.get("medium"),
        "original_medium": carrier.get("original_medium"),
        "file_count": len(components),
        "total_bytes": sum(component["size_bytes"] for component in components),
        "format_puids": [item.get("puid") for item in found],
        "format_names": [item.get("name") for item in found],
    }


def table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table of COLUMNS, in 档号 order (the same rows give the same file)."""
    ordered = sorted(rows, key=lambda one: one["reference_code"])
    return pa.Table.from_pylist(ordered, schema=COLUMNS)
