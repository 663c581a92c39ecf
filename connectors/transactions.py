"""What every transactional writer of the staff tools shares (dead-letter replays, review
decisions and appraisals)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, Producer

from recordflow.timeouts import KAFKA_TIMEOUT_S


def commit(producer: Producer, attempts: int = 3) -> None:
    """Commit, retrying while librdkafka says the failure is retriable (a timeout, say: the
    commit may be under way, and only a retried commit learns how it ended)."""
    for attempt in range(1, attempts + 1):
        try:
            producer.commit_transaction(KAFKA_TIMEOUT_S)
            return
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if attempt == attempts or not (isinstance(error, KafkaError) and error.retriable()):
                raise
