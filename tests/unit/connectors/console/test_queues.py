"""The review queue (待鉴定) and the dead letters (死信) through HTTP, on a console built from
parts: each role sees and may do what roles.py gives it, refused otherwise (403, audited); every
form needs its CSRF token; a decision and a replay are connectors/review.py's and
connectors/deadletters.py's own functions (stood in for here: they are tested with Kafka), called
with the signed-in account, and audited with their outcome; a second decision or replay is refused
and shows the first."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from connectors.console import dead_letters, review_queue
from connectors.console.app import create_app
from connectors.console.service import Console
from connectors.deadletters import (
    ALREADY_REPLAYED,
    FAILED,
    REPLAYED,
    WOULD_REPLAY,
    Letter,
    LetterId,
    Replay,
    ReplayResult,
    letter_from_message,
)
from connectors.review import AlreadyDecided, Appraisal, ReviewError
from tests.examples import lifecycle_event
from tests.unit.connectors.console.console_parts import (
    NO_STORAGE,
    SETTINGS,
    DictCodec,
    ListAudit,
    accounts,
    appraisal_item,
    console,
    follow,
    letter_message,
    review_item,
    review_message,
)
from tests.unit.connectors.console.test_app import csrf, sign_in

EVENT = "e-1"
TITLE = lifecycle_event()["description"]["title"]


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def codec() -> DictCodec:
    codec = DictCodec()
    codec.bytes_for(lifecycle_event(), raw=review_item(EVENT)["original_value"])
    return codec


@pytest.fixture
def parts(tmp_path: Path, audit: ListAudit, codec: DictCodec) -> Console:
    built = console(tmp_path, accounts(wang="staff", zhao="admin", li="auditor"), audit=audit,
                    codec=codec)  # fmt: skip
    follow(built.store, codec, [
        review_message(codec, review_item(EVENT), EVENT, 0),
        review_message(codec, appraisal_item("e-3"), "e-3", 1),
        letter_message(codec, 0, 1, event_id="e-7"),
        letter_message(codec, 1, 1, event_id="e-7"),
        letter_message(codec, 2, 1, event_id=None, reason="not-avro", stage="intake"),
    ])  # fmt: skip
    return built


@pytest.fixture
def client(parts: Console) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, parts), follow_redirects=False) as test_client:
        yield test_client


class Calls:
    """What the stood-in connectors were asked to do."""

    def __init__(self) -> None:
        self.made: list[tuple[Any, ...]] = []


@pytest.fixture
def calls() -> Calls:
    return Calls()


# --- 待鉴定 ------------------------------------------------------------------------------------
def test_staff_see_the_queue_and_an_item_with_its_event_reason_and_history(
    client: TestClient,
) -> None:
    sign_in(client, "wang")
    page = client.get("/review")
    assert page.status_code == 200
    assert TITLE in page.text and "保管期限待定" in page.text and "(1)" in page.text
    assert "no rule of bdc-schedule@2026.1" in page.text
    appraisal = client.get("/review?kind=APPRAISAL")
    assert "Z109-WS·2015-D10-GHK-0003" in appraisal.text and TITLE in appraisal.text
    item = client.get(f"/review/{EVENT}")
    assert item.status_code == 200
    event = lifecycle_event()
    for shown in (str(event["description"]["document_number"]), "市住房和城乡建设局", "CREATED in OA",
                  "关于申请老旧小区改造专项资金的请示.pdf", "no rule of bdc-schedule@2026.1"):  # fmt: skip
        assert shown in item.text, shown
    assert 'action="/review/e-1/decide"' in item.text
    assert 'action="/review/e-3/appraise"' in client.get("/review/e-3").text
    assert client.get("/review/nothing").status_code == 404


def test_the_auditor_reads_the_queue_but_decides_nothing_and_the_admin_does_not_see_it(
    client: TestClient, audit: ListAudit, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_queue, "decide", lambda *args: calls.made.append(args))
    sign_in(client, "li")
    item = client.get(f"/review/{EVENT}")
    assert item.status_code == 200 and TITLE in item.text and "/decide" not in item.text
    token = csrf(client, "/review")
    refused = client.post(f"/review/{EVENT}/decide", data={"period": "D10", "csrf_token": token})
    assert refused.status_code == 403 and "无权访问" in refused.text and "Your role" in refused.text
    assert audit.actions()[-1] == ("li", "access", "refused")
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "zhao")  # roles.py: the administrator does not read the records' content
    assert client.get("/review").status_code == 403
    assert calls.made == []


def test_a_decision_is_review_decide_by_the_signed_in_account_and_is_audited(
    client: TestClient, audit: ListAudit, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decide(settings: Any, codec: Any, event_id: str, period: str, by: str,
               note: str | None) -> dict[str, Any]:  # fmt: skip
        calls.made.append((settings, codec, event_id, period, by, note))
        return {**review_item(event_id), "status": "DECIDED", "decided_period": period}

    monkeypatch.setattr(review_queue, "decide", decide)
    sign_in(client, "wang")
    token = csrf(client, f"/review/{EVENT}")
    without = client.post(f"/review/{EVENT}/decide", data={"period": "D10"})
    assert without.status_code == 403 and "请求已拒绝" in without.text and calls.made == []
    done = client.post(f"/review/{EVENT}/decide",
                       data={"period": "D10", "note": " 窗口日常事务 ", "csrf_token": token})  # fmt: skip
    assert done.status_code == 200 and "已鉴定" in done.text and "D10" in done.text
    [(settings, codec, event_id, period, by, note)] = calls.made
    assert (event_id, period, by, note) == (EVENT, "D10", "wang", "窗口日常事务")
    assert settings is SETTINGS and isinstance(codec, DictCodec)
    assert audit.actions()[-1] == ("wang", "review.decide", "success")
    assert audit.events[-1]["target"] == EVENT and "D10" in (audit.events[-1]["detail"] or "")


def test_a_second_decision_is_refused_with_the_first_shown_and_audited(
    client: TestClient, audit: ListAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = {**review_item(EVENT), "status": "DECIDED", "decided_period": "Y", "decided_by": "li",
             "decided_at": dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.UTC), "note": "重要"}  # fmt: skip

    def decide(*args: Any) -> None:
        raise AlreadyDecided(first)

    monkeypatch.setattr(review_queue, "decide", decide)
    sign_in(client, "wang")
    token = csrf(client, f"/review/{EVENT}")
    again = client.post(f"/review/{EVENT}/decide", data={"period": "D10", "csrf_token": token})
    assert again.status_code == 409
    assert "已鉴定过" in again.text and "already decided: Y by li at 2026-05-06" in again.text
    assert "note: 重要" in again.text
    assert audit.actions()[-1] == ("wang", "review.decide", "refused")

    def refuse(*args: Any) -> None:
        raise ReviewError("period must be one of Y, D30, D10, not 'D20'")

    monkeypatch.setattr(review_queue, "decide", refuse)
    bad = client.post(f"/review/{EVENT}/decide", data={"period": "D20", "csrf_token": token})
    assert bad.status_code == 422 and "not &#39;D20&#39;" in bad.text
    assert audit.actions()[-1] == ("wang", "review.decide", "failure")


def test_an_appraisal_is_review_appraise_with_the_archive_and_is_audited(
    client: TestClient, audit: ListAudit, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    def appraise(settings: Any, codec: Any, storage: Any, event_id: str, outcome: str,
                 period: str | None, by: str, note: str | None) -> Appraisal:  # fmt: skip
        calls.made.append((storage, event_id, outcome, period, by, note))
        record = {"reference_code": "Z109-WS·2015-D10-GHK-0003", "description": {"title": TITLE}}
        return Appraisal(appraisal_item(event_id), record, 2 if outcome == "extend" else 0)  # type: ignore[arg-type]

    monkeypatch.setattr(review_queue, "appraise", appraise)
    sign_in(client, "wang")
    token = csrf(client, "/review/e-3")
    extended = client.post("/review/e-3/appraise", data={"outcome": "extend", "period": "Y",
                                                         "note": "", "csrf_token": token})  # fmt: skip
    assert extended.status_code == 200 and "2 object(s) locked longer" in extended.text
    destroyed = client.post("/review/e-3/appraise", data={"outcome": "destroy", "period": "Y",
                                                          "csrf_token": token})  # fmt: skip
    assert destroyed.status_code == 200
    assert calls.made == [(NO_STORAGE, "e-3", "extend", "Y", "wang", None),
                          (NO_STORAGE, "e-3", "destroy", None, "wang", None)]  # fmt: skip
    assert audit.actions()[-2:] == [("wang", "review.appraise", "success")] * 2


# --- 死信 --------------------------------------------------------------------------------------
def stored_letter(codec: DictCodec, partition: int = 0, offset: int = 1) -> Letter:
    """The letter the store was fed at that place, as fetch_letter returns it."""
    message = letter_message(codec, partition, offset, event_id="e-7")
    letter = letter_from_message(message, codec)  # type: ignore[arg-type]
    assert letter is not None and letter.record is not None
    letter.record["original_value"] = codec.bytes_for(lifecycle_event())
    return letter


class FakeReplayer:
    """Stands in for connectors.deadletters.Replayer: what it was asked, and what it answers."""

    answers: ClassVar[list[str]] = []
    asked: ClassVar[list[tuple[str, str, bool]]] = []

    def __init__(self, settings: Any, by: str) -> None:
        self.by = by

    def replay(self, letter: Letter, *, dry_run: bool = False) -> ReplayResult:
        FakeReplayer.asked.append((str(letter.id), self.by, dry_run))
        status = FakeReplayer.answers.pop(0)
        entry = Replay(letter.topic, str(letter.id), letter.fingerprint, "e-7", letter.reason,
                       SETTINGS.ingest_topic("zjj"), 0, 99,
                       dt.datetime(2026, 5, 7, 1, 0, tzinfo=dt.UTC), "zhao")  # fmt: skip
        if status == FAILED:
            return ReplayResult(letter, FAILED, error="the letter cannot be read (not-avro)")
        return ReplayResult(letter, status, None if status == WOULD_REPLAY else entry)

    def close(self) -> None:
        pass


@pytest.fixture
def replayer(monkeypatch: pytest.MonkeyPatch, codec: DictCodec) -> type[FakeReplayer]:
    FakeReplayer.answers, FakeReplayer.asked = [], []
    junk = Letter(SETTINGS.deadletter_topic, LetterId(2, 1), b"k", b"junk",
                  [("recordflow.reason", b"not-avro")], 1778032800000, None, "not-avro: junk")  # fmt: skip
    letters = {(0, 1): stored_letter(codec), (2, 1): junk}
    monkeypatch.setattr(dead_letters, "Replayer", FakeReplayer)
    monkeypatch.setattr(dead_letters, "fetch_letter", lambda settings, codec, letter_id: letters.get(
        (letter_id.partition, letter_id.offset)))  # fmt: skip
    return FakeReplayer


def test_dead_letters_show_once_per_document_and_a_letter_whole(
    client: TestClient, replayer: type[FakeReplayer]
) -> None:
    sign_in(client, "wang")
    page = client.get("/deadletters")
    assert page.status_code == 200 and "共 2 份" in page.text
    rows = re.findall(r'<tr data-letter="([^"]+)">.*?data-testid="letters">(\d+)<', page.text,
                      re.S)  # fmt: skip
    assert rows == [("2-1", "1"), ("1-1", "2")]
    assert "暂存区中找不到事件所指的文件" in page.text  # the reason's Chinese name
    assert "共 1 份" in client.get("/deadletters?reason=not-avro").text
    assert "共 0 份" in client.get("/deadletters?agency=bgt").text
    letter = client.get("/deadletters/0-1")
    assert letter.status_code == 200
    for shown in ("payload-missing", "暂存区中找不到事件所指的文件", "A file the event names",
                  "请立档单位把文件上传", "排除原因后重放", "未重放", "ZJJ-2026-0041",
                  "关于申请老旧小区改造专项资金的请示", "payload-missing at 1"):  # fmt: skip
        assert shown in letter.text, shown
    assert "1-1" in letter.text  # the document's other letter
    assert "/replay" not in letter.text  # staff do not replay
    assert client.get("/deadletters/5-5").status_code == 404
    assert client.get("/deadletters/x").status_code == 404


def test_staff_may_not_replay(
    client: TestClient, audit: ListAudit, replayer: type[FakeReplayer], codec: DictCodec
) -> None:
    sign_in(client, "wang")
    token = csrf(client, "/deadletters")
    assert client.get("/deadletters/0-1/replay").status_code == 403
    refused = client.post("/deadletters/0-1/replay", data={
        "csrf_token": token, "fingerprint": stored_letter(codec).fingerprint})  # fmt: skip
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert replayer.asked == []
    assert audit.actions()[-2:] == [("wang", "access", "refused")] * 2


def test_the_admin_replays_after_a_dry_run_once(
    client: TestClient, audit: ListAudit, replayer: type[FakeReplayer], codec: DictCodec
) -> None:
    sign_in(client, "zhao")
    letter_page = client.get("/deadletters/0-1")
    assert 'href="/deadletters/0-1/replay"' in letter_page.text
    replayer.answers = [WOULD_REPLAY]
    dry = client.get("/deadletters/0-1/replay")
    assert dry.status_code == 200 and "将重放" in dry.text
    assert SETTINGS.ingest_topic("zjj") in dry.text and "recordflow.replayed-from" in dry.text
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', dry.text)
    assert fingerprint is not None and fingerprint[1] == stored_letter(codec).fingerprint
    assert audit.actions()[-1] == ("zhao", "login", "success")  # a dry run sends nothing

    token = csrf(client, "/deadletters")
    blind = client.post("/deadletters/0-1/replay", data={"csrf_token": token})
    assert blind.status_code == 409 and "请先试运行" in blind.text
    assert (
        client.post("/deadletters/0-1/replay", data={"fingerprint": fingerprint[1]}).status_code
        == 403
    )
    replayer.answers = [REPLAYED, ALREADY_REPLAYED]
    sent = client.post("/deadletters/0-1/replay", data={"csrf_token": token,
                                                        "fingerprint": fingerprint[1]})  # fmt: skip
    assert sent.status_code == 200 and "已重放" in sent.text and "offset 99" in sent.text
    again = client.post("/deadletters/0-1/replay", data={"csrf_token": token,
                                                         "fingerprint": fingerprint[1]})  # fmt: skip
    assert again.status_code == 409 and "已重放过" in again.text and "zhao" in again.text
    assert replayer.asked == [("0-1", "zhao", True), ("0-1", "zhao", False), ("0-1", "zhao", False)]
    assert audit.actions()[-2:] == [("zhao", "deadletters.replay", "success"),
                                    ("zhao", "deadletters.replay", "refused")]  # fmt: skip
    assert audit.events[-1]["target"] == f"{SETTINGS.deadletter_topic}/0-1"


def test_a_letter_that_cannot_be_read_is_shown_and_not_replayed(
    client: TestClient, audit: ListAudit, replayer: type[FakeReplayer]
) -> None:
    sign_in(client, "zhao")
    page = client.get("/deadletters/2-1")
    assert page.status_code == 200
    assert "not-avro: junk" in page.text and "the dead letter itself cannot be read" in page.text
    assert "消息不是约定格式" in page.text  # the reason's text, from the letter's header
    replayer.answers = [FAILED]
    dry = client.get("/deadletters/2-1/replay")
    assert (
        dry.status_code == 200 and "不能重放" in dry.text and 'name="fingerprint"' not in dry.text
    )
