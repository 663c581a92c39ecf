"""Every timeout, polling interval and backoff of the platform's clients, in one place. Seconds
unless a name ends in _MS (librdkafka takes milliseconds). A server that is away is waited out
(docs/design.md, "Every input ends in exactly one outcome"); these say how long one call may take
and how often a wait looks again, never how long the platform waits in all.
"""

from __future__ import annotations

# --- retrying what can pass -----------------------------------------------------------------
# A failure that can pass (a server away) is tried again after FIRST_BACKOFF_S, the wait doubling
# up to MAX_BACKOFF_S: by the stages (streams/resilience.py) and the outbox (connectors/outbox.py).
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0

# --- Kafka ------------------------------------------------------------------------------------
KAFKA_TIMEOUT_S = 30.0  # one admin request, transaction step or flush
METADATA_TIMEOUT_S = 10.0  # one metadata lookup where an answer comes at once or not at all
DELIVERY_TIMEOUT_S = 30.0  # the broker's confirmation of one produced message
POLL_TIMEOUT_S = 0.5  # one consumer poll
POLL_INTERVAL_S = 0.2  # how often a wait for a report or a change looks at its deadline
READ_TIMEOUT_S = 60.0  # reading the dead-letter topic to its end
# While fetches bring nothing, a reader asks for the topic's metadata this often (at most), so
# that a broker that is there but slow (a quota, a large fetch) is told from one that is gone.
PROBE_INTERVAL_S = 5.0
# How long a read that waits for open transactions waits for one, while the broker answers. Our
# transactions (staff decisions, replays, the workers' publishes) time out within 30 s.
TRANSACTION_WAIT_S = 60.0
# A staff tool's transaction (a review decision, a replay) takes milliseconds; one left open by a
# crashed CLI is aborted by the broker after this long (and blocks read_committed readers of its
# partitions until then), and the replay ledger waits for it at most LEDGER_WAIT_S.
STAFF_TRANSACTION_TIMEOUT_MS = 20_000
LEDGER_WAIT_S = 45.0
# A register partition's publish transaction: a new owner of the partition aborts an open one at
# once; otherwise the coordinator times it out after this long.
PUBLISH_TRANSACTION_TIMEOUT_MS = 30_000
# The SDK with an outbox: how long librdkafka keeps one send of an event before it reports a
# timeout (the outbox backs off and sends it again, while the deadline allows).
MESSAGE_TIMEOUT_MS = 30_000
# The SDK with an outbox: an event Kafka has not confirmed after TOPIC_CHECK_AFTER_S has its topic
# looked up (once per topic and process, never on the quick path); a topic the cluster says twice,
# TOPIC_RECHECK_S apart, it does not have refuses the submission.
TOPIC_CHECK_AFTER_S = 1.0
TOPIC_RECHECK_S = 1.0
# A killed worker's partitions move to the others after this long (faust's default is 60 s); a
# live worker tells the group it is there this often.
WORKER_SESSION_TIMEOUT_S = 10.0
WORKER_HEARTBEAT_S = 3.0

# --- the schema registry, S3, clamd -------------------------------------------------------------
REGISTRY_TIMEOUT_S = 10.0
S3_CONNECT_TIMEOUT_S = 10.0
S3_READ_TIMEOUT_S = 120.0
CLAMD_TIMEOUT_S = 60.0  # one scan's connection, stream and reply

# --- the outbox's SQLite file -----------------------------------------------------------------
OUTBOX_BUSY_TIMEOUT_S = 30.0  # waiting for another process's write to end
OUTBOX_LOCK_POLL_S = 0.05
