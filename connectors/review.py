"""Retention review for archive staff: the documents no retention rule decides, and the decision
that sends each on to be numbered and archived (`recordflow review list | decide`).

A decision is written twice, both idempotently: the original event goes to recordflow.register.v1
with the decided period and the steps intake kept before filing (the register stage gives a
redelivered event the number it already had), and the review item becomes DECIDED in the
compacted records.retention-review.v1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer

from avro_schemas.codec import DOCUMENT_LIFECYCLE_EVENT, RETENTION_REVIEW, Codec, Subject
from connectors.readback import read_topic
from recordflow.agencies import load_registry
from recordflow.errors import SubmitError
from recordflow.settings import Settings
from streams.classify import Decision, Period
from streams.deadletter import Origin
from streams.intake import partition_key, register_headers
from streams.reference import Series

PERIODS = ("Y", "D30", "D10")
DELIVERY_TIMEOUT_S = 30.0


def review_items(settings: Settings, codec: Codec) -> dict[str, dict[str, Any]]:
    """The latest state of every review item, by event id."""
    items: dict[str, dict[str, Any]] = {}
    for key, value in read_topic(settings, settings.review_topic):
        if key is not None and value is not None:
            items[key.decode()] = codec.decode(value, RETENTION_REVIEW)
    return items


def decide(settings: Settings, codec: Codec, event_id: str, period: str, by: str,
           note: str | None) -> dict[str, Any]:  # fmt: skip
    """Decide a pending item's retention period and send the document on to be archived."""
    if period not in PERIODS:
        raise SubmitError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    if not by.strip():
        raise SubmitError(
            "say who decides (--by): the decision is recorded with the reviewer's name"
        )
    item = review_items(settings, codec).get(event_id)
    if item is None:
        raise SubmitError(f"no review item for event {event_id}")
    if item["status"] == "DECIDED":
        raise SubmitError(
            f"event {event_id} was already decided: {item['decided_period']} by {item['decided_by']}"
        )
    event = codec.decode(item["original_value"], DOCUMENT_LIFECYCLE_EVENT)
    agency = load_registry(settings.agencies_file).get(event["agency"]["code"])
    if agency is None:
        raise SubmitError(f"agency {event['agency']['code']!r} is no longer registered")
    now = dt.datetime.now(dt.UTC)
    decision = Decision(
        cast(Period, period), f"retention-review@{now.date().isoformat()}/{by.strip()}"
    )
    description = event["description"]
    series = Series(agency.fonds_code, description["year"], period, description["unit_code"])
    origin = Origin(item["original_topic"], item["original_partition"], item["original_offset"], None,
                    event["document_id"].encode(), item["original_value"], [])  # fmt: skip
    decided = {**item, "status": "DECIDED", "decided_period": period, "decided_by": by.strip(),
               "decided_at": now, "note": note}  # fmt: skip
    producer = Producer(settings.producer_config())
    failures: list[str] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error.str())

    headers: list[tuple[str, str | bytes | None]] = [
        *register_headers(series, decision, origin, item["history_before_filing"])
    ]
    producer.produce(settings.register_topic, key=partition_key(series), value=item["original_value"],
                     headers=headers, on_delivery=delivered)  # fmt: skip
    subject = Subject.for_topic(settings.review_topic, RETENTION_REVIEW)
    producer.produce(settings.review_topic, key=event_id.encode(), value=codec.encode(subject, decided),
                     on_delivery=delivered)  # fmt: skip
    if producer.flush(DELIVERY_TIMEOUT_S) or failures:
        raise SubmitError(f"Kafka did not take the decision: {'; '.join(failures) or 'timed out'}")
    return decided
