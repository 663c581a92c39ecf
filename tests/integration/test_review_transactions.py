"""`recordflow review decide` as one Kafka transaction, on the real broker: the event sent on to
the register stage and the DECIDED item are written together or not at all, a second decision is
refused with the first shown, and of two decisions made at once exactly one is recorded."""

from __future__ import annotations

import json

import pytest

from avro_schemas.codec import Codec
from avro_schemas.schemas import RETENTION_REVIEW
from connectors.review import (
    DecisionRace,
    ReviewTransaction,
    decide,
    decision_messages,
    review_items,
    transactional_id,
)
from recordflow.settings import Settings
from tests.integration.cli import TIMEOUT_S, run_cli
from tests.integration.review_fixtures import committed, everything, queue_retention_item, race
from topics.register import RETENTION_HEADER


@pytest.fixture
def codec(pipeline_settings: Settings) -> Codec:
    return Codec.from_url(pipeline_settings.schema_registry_url)


def decided_items(settings: Settings, codec: Codec, event_id: str) -> list[dict[str, object]]:
    """Every committed state of the item, oldest first."""
    return [
        codec.decode(message.value(), RETENTION_REVIEW)
        for message in committed(settings, settings.review_topic)
        if message.key() == event_id.encode()
    ]


def test_a_decision_is_both_messages_in_one_transaction(
    pipeline_settings: Settings, codec: Codec
) -> None:
    settings = pipeline_settings
    item = queue_retention_item(settings, codec, "BDC-T-1")
    event_id = item["event_id"]

    # Written but not committed: a read_committed reader sees neither message; aborted, neither
    # is ever seen, and the item is still pending.
    open_ = ReviewTransaction(settings, codec, event_id)
    assert open_.item is not None and open_.item["status"] == "PENDING"
    _, messages = decision_messages(settings, codec, open_.item, "Y", "李档案", None)
    open_.producer.begin_transaction()
    for message in messages:
        open_.producer.produce(message.topic, key=message.key, value=message.value,
                               headers=list(message.headers))  # fmt: skip
    assert open_.producer.flush(30) == 0
    assert len(everything(settings, settings.register_topic)) == 1  # it is in the log …
    assert review_items(settings, codec)[event_id]["status"] == "PENDING"  # … not committed
    open_.producer.abort_transaction(30)
    assert committed(settings, settings.register_topic) == []
    assert [i["status"] for i in decided_items(settings, codec, event_id)] == ["PENDING"]

    decided = decide(settings, codec, event_id, "D10", "王档案", "窗口日常事务")
    assert (decided["status"], decided["decided_period"], decided["decided_by"]) == (
        "DECIDED", "D10", "王档案",
    )  # fmt: skip
    (sent,) = committed(settings, settings.register_topic)
    assert sent.value() == item["original_value"]
    assert dict(sent.headers() or [])[RETENTION_HEADER] == b"D10"
    states = decided_items(settings, codec, event_id)
    assert [(i["status"], i["decided_period"]) for i in states] == [
        ("PENDING", None), ("DECIDED", "D10"),
    ]  # fmt: skip
    # The log holds the aborted attempt's event and the committed one; readers see only the latter.
    assert len(everything(settings, settings.register_topic)) == 2


def test_a_second_decision_is_refused_with_the_first_shown(
    pipeline_settings: Settings, codec: Codec
) -> None:
    settings = pipeline_settings
    item = queue_retention_item(settings, codec, "BDC-T-2")
    event_id = item["event_id"]
    first = run_cli(settings, "review", "decide", event_id, "--period", "D10", "--by", "王档案",
                    "--note", "窗口日常事务，定期10年")  # fmt: skip
    assert first.returncode == 0, first.stderr

    again = run_cli(settings, "review", "decide", event_id, "--period", "Y", "--by", "李档案")
    assert again.returncode == 1
    (line,) = again.stderr.strip().splitlines()
    assert line.startswith(f"error: event {event_id} was already decided: D10 by 王档案 at ")
    assert line.endswith("; note: 窗口日常事务，定期10年")

    shown = run_cli(settings, "review", "decide", event_id, "--period", "Y", "--by", "李档案",
                    "--json")  # fmt: skip
    assert shown.returncode == 1
    refusal = json.loads(shown.stdout)
    assert refusal["status"] == "already-decided"
    assert (refusal["first"]["decided_period"], refusal["first"]["decided_by"]) == ("D10", "王档案")
    assert len(committed(settings, settings.register_topic)) == 1

    wrong = run_cli(settings, "review", "decide", event_id, "--period", "D20", "--by", "李档案")
    assert wrong.returncode == 2 and "--period must be one of" in wrong.stderr


def test_a_later_reviewer_fences_an_earlier_one(pipeline_settings: Settings, codec: Codec) -> None:
    settings = pipeline_settings
    item = queue_retention_item(settings, codec, "BDC-T-3")
    event_id = item["event_id"]
    earlier = ReviewTransaction(settings, codec, event_id)  # read the item: PENDING
    later = ReviewTransaction(settings, codec, event_id)  # same transactional id: fences it
    assert earlier.item is not None and later.item is not None
    assert transactional_id(settings, event_id) == f"{settings.consumer_group}.review.{event_id}"

    _, messages = decision_messages(
        settings, codec, later.pending("RETENTION"), "D30", "李档案", None
    )
    later.commit(messages)
    _, stale = decision_messages(
        settings, codec, earlier.pending("RETENTION"), "D10", "王档案", None
    )
    with pytest.raises(DecisionRace, match="another reviewer is deciding"):
        earlier.commit(stale)

    assert [(i["status"], i["decided_by"]) for i in decided_items(settings, codec, event_id)] == [
        ("PENDING", None), ("DECIDED", "李档案"),
    ]  # fmt: skip
    assert len(committed(settings, settings.register_topic)) == 1


def test_two_decisions_at_once_exactly_one_is_recorded(
    pipeline_settings: Settings, codec: Codec
) -> None:
    settings = pipeline_settings
    item = queue_retention_item(settings, codec, "BDC-T-4")
    event_id = item["event_id"]
    reviewers = {"王档案": "D10", "李档案": "Y"}
    choices = {name: ["--period", period] for name, period in reviewers.items()}
    results = race(settings, ["decide", event_id], choices, TIMEOUT_S)
    winners = [name for name, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    (loser,) = set(reviewers) - set(winners)
    code, stderr = results[loser]
    assert code == 1
    assert "already decided" in stderr or "another reviewer is deciding" in stderr, stderr

    states = decided_items(settings, codec, event_id)
    assert [(i["status"], i["decided_by"]) for i in states] == [
        ("PENDING", None), ("DECIDED", winners[0]),
    ]  # fmt: skip
    (sent,) = committed(settings, settings.register_topic)
    assert dict(sent.headers() or [])[RETENTION_HEADER] == reviewers[winners[0]].encode()
