"""Lifecycle steps before filing become the record's business history (业务实体): intake keeps
them once each, in time order; register merges them with what the filing event carries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recordflow.agencies import load_registry
from recordflow.settings import PACKAGE_DIR
from streams.intake import activity, history_key, remember
from streams.register import merge_history

AGENCY = load_registry(PACKAGE_DIR / "agencies.yaml").get("zjj")
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def event(event_id: str, action: str, minutes: int) -> dict[str, Any]:
    return {"event_id": event_id, "action": action, "event_time": T0 + dt.timedelta(minutes=minutes),
            "actor": "张三", "source_system": "OA", "document_id": "ZJJ-1",
            "agency": {"code": "zjj", "name": "市住房和城乡建设局"}}  # fmt: skip


def test_steps_are_kept_once_each_in_time_order() -> None:
    assert AGENCY is not None
    steps = remember([], event("b", "APPROVED", 30), AGENCY)
    steps = remember(steps, event("a", "CREATED", 0), AGENCY)
    again = remember(steps, event("a", "CREATED", 0), AGENCY)  # a redelivery
    assert again == steps
    assert [(s["action"], s["event_id"]) for s in steps] == [("created", "a"), ("approved", "b")]
    assert steps[0]["organisation"] == "市住房和城乡建设局" and steps[0]["actor"] == "张三"
    assert history_key(event("a", "CREATED", 0)) == "zjj|ZJJ-1"


def test_merge_keeps_order_and_drops_what_the_filing_event_repeats() -> None:
    assert AGENCY is not None
    kept = [
        activity(event("a", "CREATED", 0), AGENCY),
        activity(event("b", "APPROVED", 30), AGENCY),
    ]
    carried = [
        {"action": "approved", "time": T0 + dt.timedelta(minutes=30), "actor": None, "organisation": None,
         "status": None, "basis": None, "description": "also in the filing event"},
        {"action": "issued", "time": T0 + dt.timedelta(minutes=60), "actor": None, "organisation": None,
         "status": None, "basis": "《条例》", "description": None},
    ]  # fmt: skip
    merged = merge_history(kept, carried)
    minutes = [(s["action"], int((s["time"] - T0).total_seconds() // 60)) for s in merged]
    assert minutes == [("created", 0), ("approved", 30), ("issued", 60)]
    assert all("event_id" not in step for step in merged)
    assert merge_history([], carried) == carried
