"""`recordflow records list | show | export`: read back the archive from the catalog topic, and
export a record as a BagIt bag."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(help="Read back the archive / 查询已归档电子档案", no_args_is_help=True)


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


@app.command("list")
def records_list(
    agency: Annotated[str | None, typer.Option(help="Only this agency's records.")] = None,
    awaiting_paper: Annotated[
        bool,
        typer.Option(
            "--awaiting-paper", help="Only records waiting for their paper twin (双套制)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List archived records (from the catalog topic)."""
    from connectors.paper_twins import awaiting_paper as waiting

    settings = Settings()
    catalog = _catalog(settings)
    chosen = waiting(catalog) if awaiting_paper else list(catalog.values())
    records = [r for r in chosen if agency is None or r["agency"]["code"] == agency]
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


@app.command("pair")
def records_pair(
    code: Annotated[str, typer.Argument(help="The electronic record's 档号.")],
    paper: Annotated[str, typer.Option("--paper", help="Its paper twin's 档号 (互见号).")],
    by: Annotated[str, typer.Option("--by", help="Who registers the twin (recorded).")],
    as_json: JsonFlag = False,
) -> None:
    """Register an archived record's paper twin (双套制): it no longer waits for it."""
    from avro_schemas.codec import Codec
    from connectors.paper_twins import pair
    from connectors.review import ReviewError

    settings = Settings()
    _record(settings, code)  # a malformed or unknown 档号 is one line
    try:
        record = pair(settings, Codec.from_url(settings.schema_registry_url), code, paper, by)
    except ReviewError as exc:
        raise fail(escape(str(exc))) from exc
    if as_json:
        print_json(record)
        return
    console.print(f"{code} ↔ {paper}: 纸质副本已登记 paper twin registered", highlight=False)


@app.command("access")
def records_access(
    code: Annotated[str, typer.Argument(help="The record's 档号.")],
    access: Annotated[
        str,
        typer.Argument(
            metavar="open|controlled", help="open 开放 (from today) | controlled 控制使用."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded, shown with the record).")],
    by: Annotated[str, typer.Option("--by", help="Who decided (recorded).")],
    as_json: JsonFlag = False,
) -> None:
    """开放鉴定: open a record to the public before its time, or keep it controlled after it.
    The latest decision on a record overrides the Archives Law's rule (recordflow/access.yaml)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from archival.access import CONTROLLED, OPEN, Decision
    from connectors.access_decisions import publish_decision

    if access not in (OPEN, CONTROLLED):
        raise fail(f"{access!r}: give open or controlled", 2)
    if not reason.strip() or not by.strip():
        raise fail("--reason and --by may not be empty", 2)
    settings = Settings()
    _record(settings, code)  # a malformed or unknown 档号 is one line
    decided_at = dt.datetime.now(ZoneInfo(settings.console_timezone)).replace(microsecond=0)
    decision = Decision(access, reason.strip(), by.strip(), decided_at)
    try:
        publish_decision(settings, code, decision)
    except RuntimeError as exc:
        raise fail(escape(str(exc))) from exc
    if as_json:
        print_json({"reference_code": code, "access": access, "reason": decision.reason,
                    "decided_by": decision.decided_by, "decided_at": decided_at.isoformat()})  # fmt: skip
        return
    word = "开放 open" if access == OPEN else "控制使用 controlled"
    console.print(f"{code}: {word} ({decision.reason}; {decision.decided_by}, "
                  f"{decided_at:%Y-%m-%d %H:%M})", highlight=False)  # fmt: skip


@app.command("show")
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
        ("门类 category", record["category"]),
        *_media_rows(record.get("media")),
        ("保管期限 retention", f"{record['retention_period']}  ({record['retention_rule_id']})"),
        ("保管到期 retain until", str(record["retain_until"] or "永久 permanent (legal hold)")),
    ]
    if record.get("lock_until") not in (None, record["retain_until"]):  # held past the end
        rows.append(("锁定至 lock until", str(record["lock_until"])))
    if record.get("appraisal_status"):
        rows.append(("鉴定状态 appraisal", record["appraisal_status"]))
    if carrier := record.get("carrier"):
        medium = (
            "数字化副本 digitized copy" if carrier["medium"] == "digitized" else "电子 electronic"
        )
        if carrier.get("original_medium"):
            medium += f" (原件 {carrier['original_medium']})"
        rows.append(("载体 carrier", medium))
        if carrier.get("counterpart_code") or carrier.get("awaiting_counterpart"):
            twin = carrier.get("counterpart_code") or "待归档 awaiting the paper twin"
            rows.append(("互见号 paper twin", twin))
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
    media_files = {f["sequence"]: f for f in record.get("media_files") or []}
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
        if technical := media_files.get(component["sequence"]):
            rows.append(("  技术参数 technical", _technical(technical)))
    if record.get("package"):
        rows.append(("档案包 package", f"{record['package']['bucket']}/{record['package']['key']}"))
    for label, value in rows:
        table.add_row(label, escape(value))  # agency text may hold [brackets]
    console.print(table)


def _media_rows(media: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A photo's or recording's description (DA/T 54, DA/T 63), the elements it has."""
    if not media:
        return []
    labels = {
        "creator": "摄影/摄录者 creator", "captured_at": "拍摄时间 taken", "place": "地点 place",
        "background": "背景 background", "photo_number": "照片号 photo no.",
        "negative_number": "底片号 negative no.",
    }  # fmt: skip
    rows = [(label, str(media[name])) for name, label in labels.items() if media.get(name)]
    if media.get("persons"):
        rows.append(("人物 persons", "、".join(media["persons"])))
    return rows


def _technical(found: dict[str, Any]) -> str:
    """What a photo or recording file says of itself, in a line."""
    parts = [
        f"{found['width']}×{found['height']}" if found.get("width") else "",
        f"{found['resolution_dpi']} dpi" if found.get("resolution_dpi") else "",
        found.get("colour_mode") or "",
        f"{found['duration_ms'] / 1000:.1f} s" if found.get("duration_ms") is not None else "",
        "/".join(c for c in (found.get("video_codec"), found.get("audio_codec")) if c),
        f"{found['frame_rate']:g} fps" if found.get("frame_rate") else "",
        f"{found['sample_rate_hz']} Hz" if found.get("sample_rate_hz") else "",
        found.get("device") or "",
        found.get("captured_at") or "",
    ]
    return "  ".join(part for part in parts if part)


@app.command("export")
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
