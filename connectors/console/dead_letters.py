"""死信 Dead letters: the list (from the store, one row per document however often it was
rejected), one letter whole with its original event decoded, and its replay by the administrator
— a dry run first, then the replay itself: connectors/deadletters.py's `Replayer`, as
`recordflow deadletters replay [--dry-run]` uses it, so each letter is replayed once, whoever asks.

A letter's page fetches that one letter from Kafka (`fetch_letter`); what was replayed and the
document's other letters come from the store. Every replay, made, refused (replayed before) or
failed, is an audit event `deadletters.replay` whose target is the letter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from archival.reasons import catalog
from connectors.audit import FAILURE, REFUSED, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.store import LetterQuery
from connectors.console.web import Unavailable, client_address, console, is_htmx, render, require
from connectors.deadletters import (
    ALREADY_REPLAYED,
    REPLAYED,
    WOULD_REPLAY,
    DeadLetterError,
    Letter,
    Replayer,
    ReplayResult,
    decode_original,
    fetch_letter,
    hex_preview,
    parse_letter_id,
    replay_headers,
    replay_target,
    text_or_none,
)
from recordflow.jsonvalues import json_ready

log = logging.getLogger(__name__)
router = APIRouter()

REPLAY = "deadletters.replay"


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def reason_names() -> dict[str, str]:
    return {reason.code: reason.zh for reason in catalog().reasons}


@router.get("/deadletters")
def letters(request: Request, _: Annotated[Session, require("deadletters.view")],
            agency: str = "", reason: str = "", stage: str = "", day: str = "",
            page: int = 1) -> Response:  # fmt: skip
    store = console(request).store
    query = LetterQuery(agency=agency.strip(), reason=reason.strip(), stage=stage.strip(),
                        day=_day(day), page=page)  # fmt: skip
    context = {"found": store.letter_groups(query), "facets": store.letter_facets(),
               "query": {"agency": agency, "reason": reason, "stage": stage, "day": day},
               "REASONS": reason_names()}  # fmt: skip
    return render(
        request, "deadletters.html", context, block="results" if is_htmx(request) else None
    )


def _letter(request: Request, text: str) -> Letter:
    """The letter with this id, fetched from the dead-letter topic; 404 when there is none."""
    try:
        letter_id = parse_letter_id(text)
    except ValueError as exc:
        raise HTTPException(404, f"没有死信 {text}。{exc}") from exc
    app = console(request)
    try:
        letter = fetch_letter(app.settings, app.codec, letter_id)
    except DeadLetterError as exc:
        raise Unavailable(f"死信暂不能读取 The dead letter cannot be read now: {exc}") from exc
    if letter is None:
        raise HTTPException(404, f"没有死信 {text}（或已过保留期）。No dead letter {text}: never "
                                 "was, or past the topic's retention.")  # fmt: skip
    return letter


def _shown(data: bytes | None) -> str:
    """Bytes for people: text when printable UTF-8, else a hex preview; never raw."""
    if data is None:
        return "（无 none）"
    text = text_or_none(data)
    return text if text is not None else f"hex {hex_preview(data)}"


def _letter_context(request: Request, letter: Letter) -> dict[str, Any]:
    app = console(request)
    record = letter.record or {}
    decoded, problem = decode_original(letter, app.codec, app.settings.topic_prefix)
    value = record.get("original_value")
    kept = app.store.letter(str(letter.id))
    reasons = catalog()
    reason = reasons.get(letter.reason)
    return {
        "letter": letter, "record": record,
        "reason": reason, "remedy": reasons.remedies[reason.remedy] if reason else None,
        "key": _shown(record.get("original_key")),
        "value": None if value is None else (len(value), hashlib.sha256(value).hexdigest()),
        "original_headers": [(h["key"], _shown(h["value"]))
                             for h in record.get("original_headers") or []],
        "headers": [(key, _shown(value)) for key, value in letter.headers],
        "decoded": None if decoded is None
        else json.dumps(json_ready(decoded, content="omit"), ensure_ascii=False, indent=2),
        "decode_problem": problem,
        "replay": app.store.replay_of(letter.ledger_key, letter.fingerprint),
        "siblings": app.store.letters_of(kept["grouping"]) if kept else [],
    }  # fmt: skip


@router.get("/deadletters/{letter_id}")
def letter_page(
    request: Request, letter_id: str, _: Annotated[Session, require("deadletters.view")]
) -> Response:
    return render(request, "deadletter.html", _letter_context(request, _letter(request, letter_id)))


def _replay(request: Request, current: Session, letter: Letter, *, dry_run: bool) -> ReplayResult:
    """connectors/deadletters.py's replay of one letter, by the signed-in account."""
    replayer = Replayer(console(request).settings, by=current.user or "")
    try:
        return replayer.replay(letter, dry_run=dry_run)
    finally:
        replayer.close()


@router.get("/deadletters/{letter_id}/replay")
def dry_run(
    request: Request, letter_id: str, current: Annotated[Session, require("deadletters.replay")]
) -> Response:
    """试运行 What a replay would send, and the button that sends it; nothing is sent."""
    letter = _letter(request, letter_id)
    try:
        result = _replay(request, current, letter, dry_run=True)
    except DeadLetterError as exc:
        raise Unavailable(
            f"重放登记暂不能读取 The replay ledger cannot be read now: {exc}"
        ) from exc
    context = _letter_context(request, letter)
    context["result"] = result
    if result.status == WOULD_REPLAY:
        assert letter.record is not None  # a letter that cannot be read is FAILED
        context["sending"] = {
            "topic": replay_target(console(request).settings, letter),
            "headers": [(key, _shown(value if not isinstance(value, str) else value.encode()))
                        for key, value in replay_headers(letter)],
        }  # fmt: skip
    return render(request, "replay.html", context)


@router.post("/deadletters/{letter_id}/replay")
def replay(
    request: Request,
    letter_id: str,
    current: Annotated[Session, require("deadletters.replay")],
    fingerprint: Annotated[str, Form()] = "",
) -> Response:
    """重放 Send the letter back to its ingest topic, once: only the letter the dry run showed
    (its SHA-256 comes with the form)."""
    app = console(request)
    letter = _letter(request, letter_id)
    if fingerprint != letter.fingerprint:
        return render(request, "error.html", {"title": "请先试运行 Dry run first",
                      "message": "重放前请先试运行，确认将发送的内容。Run the dry run first: the replay "
                                 "sends only the letter it showed."}, status=409)  # fmt: skip

    def audited(outcome: str, detail: str) -> None:
        app.audit.try_append(audit_event(current.user or "", current.role, REPLAY, outcome,
                                         target=letter.ledger_key,
                                         client_address=client_address(request),
                                         detail=detail[:500]))  # fmt: skip

    event = f"event {(letter.record or {}).get('event_id') or '-'}, {letter.reason}"
    try:
        result = _replay(request, current, letter, dry_run=False)
    except DeadLetterError as exc:
        audited(FAILURE, f"{event}: {exc}")
        raise Unavailable(f"未重放 Not replayed: {exc}") from exc
    entry = result.replay
    if result.status == REPLAYED and entry is not None:
        audited(SUCCESS, f"{event} → {entry.topic}/{entry.partition}@{entry.offset}")
        return render(request, "done.html", {
            "title": "已重放 Replayed", "zh": "死信已送回原主题，流水线将重新处理。",
            "en": "The letter's original message is back on its topic; the pipeline takes it again.",
            "what": f"{letter.id} → {entry.topic} partition {entry.partition} offset {entry.offset}",
            "back": "/deadletters", "item": f"/deadletters/{letter.id}"})  # fmt: skip
    if result.status == ALREADY_REPLAYED and entry is not None:
        at = entry.replayed_at.astimezone(app.store.zone).strftime("%Y-%m-%d %H:%M:%S")
        first = f"{at} by {entry.replayed_by}"
        audited(REFUSED, f"{event}: already replayed at {first}")
        return render(request, "error.html", {"title": "已重放过 Already replayed",
                      "message": f"此死信已于 {first} 重放，不再发送。This letter was replayed at "
                                 f"{first}; it is not sent again."}, status=409)  # fmt: skip
    audited(FAILURE, f"{event}: {result.error}")
    return render(request, "error.html", {"title": "未重放 Not replayed",
                  "message": f"重放失败。The replay failed: {result.error}"}, status=502)  # fmt: skip
