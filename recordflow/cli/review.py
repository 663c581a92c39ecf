"""`recordflow review list | decide | appraise`: retention review by archive staff, of documents
waiting for a retention period (待鉴定) and of archived records whose period has ended (到期鉴定)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, cast

import typer
from rich.markup import escape
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(help="Retention review by archive staff / 保管期限鉴定", no_args_is_help=True)


def _review_codec(settings: Settings) -> Any:
    from avro_schemas.codec import Codec

    return Codec.from_url(settings.schema_registry_url)


def _without_bytes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "original_value"}


def _local(moment: dt.date | dt.datetime | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()


@app.command("list")
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


def _retention_table(rows: Sequence[Mapping[str, Any]]) -> None:
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


def _appraisal_table(rows: Sequence[Mapping[str, Any]]) -> None:
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


@app.command("decide")
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
    # decide() has just set decided_by (the reviewer's name, required).
    console.print(f"[green]已鉴定 decided[/] {escape(decided['title'])}: {period}, by "
                  f"{escape(cast(str, decided['decided_by']))}; sent on to be numbered and archived")  # fmt: skip


@app.command("appraise")
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
