"""The dual set (双套制): an electronic record whose agency must still file it on paper waits for
its paper twin (`carrier.awaiting_counterpart`), and archive staff register the twin's 档号 when
the paper arrives (`recordflow records pair`). Single-set agencies (单套制, a registry flag) file
no paper: their records never wait.

Pairing writes the record's new state to records.catalog.v1 (its 互见号 set, no longer waiting,
the pairing among its preservation events) in a transaction under the same transactional id as
the record's review decisions (connectors/review.py): two staff changing one record at once are
fenced, never interleaved, and the state read after taking the id is the latest committed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from archival.reference import parse
from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD
from connectors.readback import latest_message
from connectors.review import STAFF_AGENT, Outgoing, ReviewError, review_transaction
from recordflow.settings import Settings

ELECTRONIC = {"medium": "electronic", "original_medium": None, "counterpart_code": None,
              "awaiting_counterpart": False}  # fmt: skip


class PairingError(ReviewError):
    """The twin cannot be registered as asked; the message says why, in one line."""


def awaiting_paper(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The records still waiting for their paper twin, by 档号."""
    waiting = [r for r in records.values() if (r.get("carrier") or {}).get("awaiting_counterpart")]
    return sorted(waiting, key=lambda record: record["reference_code"])


def pair(settings: Settings, codec: Codec, code: str, paper_code: str, by: str,
         now: dt.datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Register `paper_code` as the paper twin of the archived record `code`; its new state.
    Registering the same twin again changes nothing; another twin is refused."""
    try:
        parse(paper_code)
    except ValueError as exc:
        raise PairingError(f"the paper twin's {exc}") from exc
    by = by.strip()
    if not by:
        raise PairingError("say who registers the twin (--by): it is recorded with the name")
    found = latest_message(settings, settings.catalog_topic, code.encode())
    if found is None or found.value() is None:
        raise PairingError(f"no archived record {code}")
    event_id = codec.decode(found.value(), ARCHIVAL_RECORD)["event_id"]
    with review_transaction(settings, codec, event_id) as transaction:
        found = latest_message(settings, settings.catalog_topic, code.encode())  # now committed
        assert found is not None and found.value() is not None
        record = codec.decode(found.value(), ARCHIVAL_RECORD)
        carrier = record.get("carrier") or ELECTRONIC
        if carrier["counterpart_code"] == paper_code and not carrier["awaiting_counterpart"]:
            return record
        if carrier["counterpart_code"] not in (None, paper_code):
            raise PairingError(f"{code} is already paired with {carrier['counterpart_code']}")
        now = now or dt.datetime.now(dt.UTC)
        step = {"type": "paper-twin", "time": now, "agent": f"{STAFF_AGENT}:{by}",
                "outcome": "success", "detail": f"双套制: paper twin {paper_code} registered"}  # fmt: skip
        updated = {**record, "carrier": {**carrier, "counterpart_code": paper_code,
                                         "awaiting_counterpart": False},
                   "provenance": [*record.get("provenance", []), step]}  # fmt: skip
        subject = Subject.for_topic(settings.catalog_topic, ARCHIVAL_RECORD)
        transaction.commit([Outgoing(settings.catalog_topic, code.encode(),
                                     codec.encode(subject, updated), partition=found.partition())])  # fmt: skip
    return updated
