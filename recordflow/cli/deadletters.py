"""`recordflow deadletters list | show | replay`: inspect the dead-letter topic and replay letters
once their cause is fixed (connectors/deadletters.py does the Kafka work).

Nothing here prints raw bytes: keys and header values are shown as text only when they are
printable UTF-8 (hex otherwise), values as a decoded record or a hex preview; `--json` gives bytes
as base64. Secrets from the settings never reach the output, even inside a quoted error.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recordflow.jsonvalues import json_ready
from recordflow.settings import Settings

if TYPE_CHECKING:
    from avro_schemas.codec import Codec
    from connectors.deadletters import Letter, LetterId, Replay, ReplayResult

console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)

app = typer.Typer(no_args_is_help=True, add_completion=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
SHORT_MESSAGE = 48  # characters of a letter's message in the list
COLUMNS = ("编号 id", "原因 reason", "环节 stage", "单位", "原位置 origin topic/partition@offset",
           "事件 event id", "退回时间 failed at", "说明 message", "重放 replayed")  # fmt: skip
MIN_SECRET_CHARS = 4  # shorter "secrets" would blank out ordinary words


@app.callback()
def deadletters() -> None:
    """Dead letters: inspect and replay rejected input / 退回记录（死信）查看与重放."""


# --- output helpers --------------------------------------------------------------------------
def secrets(settings: Settings) -> list[str]:
    """The secret values in the settings, longest first."""
    values = [settings.s3_secret_key.get_secret_value()]
    if settings.kafka_sasl_password is not None:
        values.append(settings.kafka_sasl_password.get_secret_value())
    return sorted({v for v in values if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def redact(text: str, hidden: Sequence[str]) -> str:
    """`text` with every secret (also as it appears inside a JSON string) replaced by ***."""
    for secret in hidden:
        text = text.replace(secret, "***")
        quoted = json.dumps(secret, ensure_ascii=False)[1:-1]
        if quoted != secret:
            text = text.replace(quoted, "***")
    return text


class Output:
    """Everything a command prints, through one place that escapes markup and removes secrets."""

    def __init__(self, settings: Settings) -> None:
        self.hidden = secrets(settings)

    def cell(self, value: object) -> str:
        """Letter data as a table cell or in a line: markup escaped, secrets removed."""
        return escape(redact("" if value is None else str(value), self.hidden))

    def json(self, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, indent=2)
        sys.stdout.write(redact(text, self.hidden) + "\n")

    def line(self, markup: str) -> None:
        """A line whose data parts the caller passed through `cell`."""
        console.print(markup, highlight=False, soft_wrap=True)

    def fail(self, message: str, code: int = 1) -> typer.Exit:
        one_line = " ".join(redact(message, self.hidden).split())
        err.print(f"[red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
        return typer.Exit(code)


def local_time(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: str, limit: int = SHORT_MESSAGE) -> str:
    """The first line of `text`, cut to `limit` characters with an ellipsis."""
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1] + "…"


def bytes_for_people(data: bytes | None) -> str:
    """Text when printable UTF-8, else a hex preview; never the raw bytes."""
    from connectors.deadletters import hex_preview, text_or_none

    if data is None:
        return "（无 none）"
    text = text_or_none(data)
    return text if text is not None else f"hex {hex_preview(data)}"


def headers_json(headers: Sequence[tuple[str, bytes | None]]) -> list[dict[str, Any]]:
    from connectors.deadletters import b64, text_or_none

    return [{"key": key, "value": text_or_none(value), "value_base64": b64(value)}
            for key, value in headers]  # fmt: skip


def origin(letter: Letter) -> str:
    record = letter.record
    if record is None:
        return ""
    return f"{record['original_topic']}/{record['original_partition']}@{record['original_offset']}"


def summary(letter: Letter, replay: Replay | None) -> dict[str, Any]:
    """One letter for `list --json`: every field but the original value (its size instead)."""
    from connectors.deadletters import b64, text_or_none

    record = letter.record or {}
    value = record.get("original_value")
    return {
        "id": str(letter.id),
        "dead_letter_topic": letter.topic,
        "reason": letter.reason,
        "stage": record.get("stage"),
        "message": record.get("message"),
        "exception_class": record.get("exception_class"),
        "agency_code": record.get("agency_code"),
        "event_id": record.get("event_id"),
        "original_topic": record.get("original_topic"),
        "original_partition": record.get("original_partition"),
        "original_offset": record.get("original_offset"),
        "original_timestamp": json_ready(record.get("original_timestamp")),
        "original_key": text_or_none(record.get("original_key")),
        "original_key_base64": b64(record.get("original_key")),
        "original_value_bytes": None if value is None else len(value),
        "failed_at": letter.failed_at.isoformat(),
        "replayed": None if replay is None else replay.as_json(),
        "problem": letter.problem,
    }


def detail(
    letter: Letter, replay: Replay | None, decoded: Any, problem: str | None
) -> dict[str, Any]:
    """The whole letter for `show --json`: every field, bytes as base64, headers as text (when
    printable) and base64, and the original value also decoded (or why it does not decode)."""
    from connectors.deadletters import b64

    record = letter.record or {}
    value = record.get("original_value")
    fields = {k: v for k, v in record.items()
              if k not in ("original_key", "original_value", "original_headers")}  # fmt: skip
    return {
        **summary(letter, replay),
        **json_ready(fields),
        "original_value_base64": b64(value),
        "original_value_sha256": None if value is None else _sha256(value),
        "original_headers": headers_json(
            [(header["key"], header["value"]) for header in record.get("original_headers") or []]
        ),
        "headers": headers_json(letter.headers),
        "decoded": json_ready(decoded),
        "decode_error": problem,
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def replay_json(result: ReplayResult) -> dict[str, Any]:
    record = result.letter.record or {}
    return {
        "id": str(result.letter.id),
        "event_id": record.get("event_id"),
        "reason": result.letter.reason,
        "status": result.status,
        "replay": None if result.replay is None else result.replay.as_json(),
        "error": result.error,
    }


# --- reading ---------------------------------------------------------------------------------
def _codec(settings: Settings) -> Codec:
    from avro_schemas.codec import Codec

    return Codec.from_url(settings.schema_registry_url)


def _letter_ids(texts: Sequence[str], out: Output) -> list[LetterId]:
    """Parsed ids in the order given, each once; a malformed one is a usage error."""
    from connectors.deadletters import parse_letter_id

    try:
        return list(dict.fromkeys(parse_letter_id(text) for text in texts))
    except ValueError as exc:
        raise out.fail(str(exc), 2) from exc


def _fetch(settings: Settings, codec: Codec, ids: Sequence[LetterId], out: Output) -> list[Letter]:
    from connectors.deadletters import DeadLetterError, fetch_letter

    letters = []
    for letter_id in ids:
        try:
            letter = fetch_letter(settings, codec, letter_id)
        except DeadLetterError as exc:
            raise out.fail(str(exc)) from exc
        if letter is None:
            raise out.fail(f"no dead letter {letter_id} in {settings.deadletter_topic} (see "
                           "`recordflow deadletters list`)")  # fmt: skip
        letters.append(letter)
    return letters


def _all_letters(settings: Settings, codec: Codec, out: Output) -> list[Letter]:
    from connectors.deadletters import DeadLetterError, read_letters

    try:
        return read_letters(settings, codec)
    except DeadLetterError as exc:
        raise out.fail(str(exc)) from exc


def _replays(settings: Settings, out: Output) -> dict[str, Replay]:
    from connectors.deadletters import DeadLetterError, read_replays

    try:
        return read_replays(settings)
    except DeadLetterError as exc:
        raise out.fail(str(exc)) from exc


# --- verbs -----------------------------------------------------------------------------------
@app.command("list")
def list_letters(
    agency: Annotated[str | None, typer.Option(help="Only this agency's letters.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only letters with this reason code, e.g. payload-missing.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only letters that failed from this date (YYYY-MM-DD, China Standard Time) or "
            "ISO 8601 time on."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the dead letters, oldest first, with the id to `show` or `replay` them by."""
    from connectors.deadletters import recorded_replay, select
    from connectors.verify import parse_since

    settings = Settings()
    out = Output(settings)
    try:
        after = None if since is None else parse_since(since)
    except ValueError as exc:
        raise out.fail(str(exc), 2) from exc
    letters = select(_all_letters(settings, _codec(settings), out), agency=agency, reason=reason,
                     since=after)  # fmt: skip
    replays = _replays(settings, out)
    if as_json:
        out.json([summary(letter, recorded_replay(replays, letter)) for letter in letters])
        return
    table = Table(title=f"退回记录 Dead letters in {settings.deadletter_topic} ({len(letters)})")
    for column in COLUMNS:
        # Ids, topics and event ids wrap whole, never end in an ellipsis.
        table.add_column(column, no_wrap=column.startswith(("编号", "原因")), overflow="fold")
    for letter in letters:
        record = letter.record or {}
        replay = recorded_replay(replays, letter)
        message = record.get("message") or letter.problem or ""
        table.add_row(*(out.cell(value) for value in (
            letter.id, letter.reason, record.get("stage"), record.get("agency_code"), origin(letter),
            record.get("event_id"), local_time(letter.failed_at), shorten(message),
            local_time(replay.replayed_at) if replay else "",
        )))  # fmt: skip
    console.print(table)


@app.command("show")
def show(
    letter_id: Annotated[
        str, typer.Argument(help="The letter's id (PARTITION-OFFSET) from `list`.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show one dead letter whole: every field, its headers, and the original value decoded."""
    from connectors.deadletters import decode_original, recorded_replay

    settings = Settings()
    out = Output(settings)
    [parsed] = _letter_ids([letter_id], out)
    codec = _codec(settings)
    [letter] = _fetch(settings, codec, [parsed], out)
    replay = recorded_replay(_replays(settings, out), letter)
    decoded, problem = decode_original(letter, codec, settings.topic_prefix)
    if as_json:
        out.json(detail(letter, replay, decoded, problem))
        return
    _show_table(letter, replay, out)
    if decoded is not None:
        out.line("原内容 Original value, decoded with its topic's schema:")
        console.print_json(redact(json.dumps(_for_people(decoded), ensure_ascii=False), out.hidden))
        return
    value = (letter.record or {}).get("original_value")
    out.line(f"[yellow]原内容无法解码 The original value does not decode:[/] {out.cell(problem)}")
    if value:
        out.line(out.cell(f"hex {_hex_block(value)}"))
        out.line("(all its bytes, as base64: `recordflow deadletters show ID --json`)")


def _show_table(letter: Letter, replay: Replay | None, out: Output) -> None:
    record = letter.record or {}
    table = Table(
        title=out.cell(f"退回记录 Dead letter {letter.id}  ({letter.topic})"), show_header=False
    )
    value = record.get("original_value")
    rows: list[tuple[str, object]] = [
        ("原因 reason", letter.reason),
        ("环节 stage", record.get("stage")),
        ("说明 message", record.get("message") or letter.problem),
        ("异常 exception", record.get("exception_class")),
        ("单位 agency", record.get("agency_code")),
        ("事件 event id", record.get("event_id")),
        ("原位置 original", origin(letter)),
        ("原时间 original time", local_time(record.get("original_timestamp"))),
        ("退回时间 failed at", local_time(letter.failed_at)),
        ("原键 original key", bytes_for_people(record.get("original_key"))),
        ("原内容 original value", "（无 none）" if value is None
         else f"{len(value)} bytes, sha256 {_sha256(value)}"),
        ("重放 replayed", "未重放 not replayed" if replay is None
         else f"{local_time(replay.replayed_at)} by {replay.replayed_by} → "
              f"{replay.topic}/{replay.partition}@{replay.offset}"),
    ]  # fmt: skip
    for header in record.get("original_headers") or []:
        rows.append((f"原消息头 header {header['key']}", bytes_for_people(header["value"])))
    for key, header_value in letter.headers:
        rows.append((f"死信消息头 letter header {key}", bytes_for_people(header_value)))
    for label, cell in rows:
        table.add_row(out.cell(label), out.cell(cell))
    console.print(table)


def _for_people(value: Any) -> Any:
    """A decoded value for the terminal: bytes as their size and SHA-256, times in ISO 8601."""
    if isinstance(value, dict):
        return {key: _for_people(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_for_people(item) for item in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes, sha256 {_sha256(value)}>"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _hex_block(data: bytes, limit: int = 256) -> str:
    from connectors.deadletters import hex_preview

    return hex_preview(data, limit)


@app.command("replay")
def replay(
    letter_ids: Annotated[
        list[str] | None, typer.Argument(help="Ids of the letters to replay (PARTITION-OFFSET).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Replay every letter with this reason code instead.")
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="With --reason: only this agency's letters.")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Who replays (kept in the replay ledger); default: you.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; send nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send letters back to their original topic, once the cause is fixed. Idempotent: a letter
    already replayed (by anybody) is not sent again."""
    from connectors.deadletters import (
        FAILED,
        DeadLetterError,
        Replayer,
        select,
    )

    settings = Settings()
    out = Output(settings)
    if letter_ids and reason is not None:
        raise out.fail("give letter ids or --reason, not both", 2)
    if not letter_ids and reason is None:
        raise out.fail("say which letters to replay: their ids, or --reason R [--agency A]", 2)
    if agency is not None and reason is None:
        raise out.fail("--agency narrows --reason; with ids, name the letters themselves", 2)
    ids = _letter_ids(letter_ids or [], out)
    codec = _codec(settings)
    if ids:
        letters = _fetch(settings, codec, ids, out)
    else:
        letters = select(_all_letters(settings, codec, out), agency=agency, reason=reason)
    try:
        replayer = Replayer(settings, by=(by or _user()).strip() or _user())
    except DeadLetterError as exc:
        raise out.fail(str(exc)) from exc
    try:
        results = replayer.replay_all(letters, dry_run=dry_run)
    finally:
        replayer.close()
    if as_json:
        out.json([replay_json(result) for result in results])
    else:
        _print_results(results, out, dry_run=dry_run)
    failed = [result for result in results if result.status == FAILED]
    if failed:
        raise out.fail(f"{len(failed)} of {len(results)} letter(s) not replayed: "
                       + ", ".join(str(result.letter.id) for result in failed))  # fmt: skip


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _print_results(results: Sequence[ReplayResult], out: Output, *, dry_run: bool) -> None:
    from connectors.deadletters import ALREADY_REPLAYED, REPLAYED, WOULD_REPLAY

    if not results:
        out.line("没有要重放的退回记录 No dead letters match; nothing to replay.")
    for result in results:
        letter, entry = result.letter, result.replay
        event = (letter.record or {}).get("event_id") or "no event id"
        name = out.cell(f"{letter.id} ({letter.reason}, {event})")
        if result.status == REPLAYED and entry is not None:
            out.line(f"[green]已重放 replayed[/] {name} → "
                     f"{out.cell(f'{entry.topic} partition {entry.partition} offset {entry.offset}')}")  # fmt: skip
        elif result.status == ALREADY_REPLAYED and entry is not None:
            out.line(f"[yellow]已重放过 already replayed[/] {name} at "
                     f"{out.cell(f'{local_time(entry.replayed_at)} by {entry.replayed_by}')} → "
                     f"{out.cell(f'{entry.topic} partition {entry.partition} offset {entry.offset}')}; "
                     "not sent again")  # fmt: skip
        elif result.status == WOULD_REPLAY:
            out.line(f"将重放 would replay {name} → {out.cell(origin(letter))}")
        else:
            out.line(f"[red]未重放 not replayed[/] {name}: {out.cell(result.error)}")
    if dry_run:
        out.line("(dry run: nothing was sent)")
