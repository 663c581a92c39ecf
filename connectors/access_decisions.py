"""开放鉴定 Archivists' access decisions: a record opened to the public before its time, or kept
controlled after it, with the reason (archival/access.py `Decision`, which overrides the rule).

One entry per 档号 on the compacted topic `records.access-decisions.v1` (JSON), written by
`recordflow records access CODE open|controlled --reason …`; the lookup service follows it. A
decision's time carries the archive's time zone, so that the day it opens is the archive's day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Producer

from archival.access import Decision
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S


def encode_decision(code: str, decision: Decision) -> bytes:
    return json.dumps({
        "reference_code": code, "access": decision.access, "reason": decision.reason,
        "decided_by": decision.decided_by, "decided_at": decision.decided_at.isoformat(),
    }, ensure_ascii=False).encode()  # fmt: skip


def decode_decision(value: bytes) -> Decision:
    """ValueError when the entry is not a decision."""
    return decision_from(json.loads(value))


def decision_from(entry: Mapping[str, Any]) -> Decision:
    """A decision's entry (decoded JSON) as a Decision; ValueError when it is not one."""
    access, reason = entry.get("access"), str(entry.get("reason") or "").strip()
    if access not in ("open", "controlled") or not reason:
        raise ValueError(f"not an access decision: {entry!r}")
    decided_at = dt.datetime.fromisoformat(entry["decided_at"])
    if decided_at.tzinfo is None:
        raise ValueError(f"decided_at {entry['decided_at']!r} has no time zone")
    return Decision(access, reason, str(entry["decided_by"]), decided_at)


def publish_decision(settings: Settings, code: str, decision: Decision, *,
                     timeout: float = KAFKA_TIMEOUT_S) -> None:  # fmt: skip
    """Write the decision as the record's entry and wait until Kafka has it."""
    producer = Producer({**settings.producer_config(), "linger.ms": 0})
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    producer.produce(settings.access_decisions_topic, key=code.encode(),
                     value=encode_decision(code, decision), on_delivery=delivered)  # fmt: skip
    if producer.flush(timeout) or failures:
        raise RuntimeError(
            f"could not write the decision on {code} to {settings.access_decisions_topic}: "
            + ("; ".join(failures) or f"no answer from Kafka in {timeout:g} s")
        )
