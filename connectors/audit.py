"""The audit trail: each staff action on the console, and each use of records through the lookup
service by someone it knows (staff, a citizen), appended to `recordflow.audit.v1` (Avro,
AuditEvent), keyed by actor, and confirmed by Kafka before the action goes on.

What must be audited fails closed: a sign-in or a download whose event Kafka does not confirm
within `timeout_s` is refused (503), since an action nobody can trace is what the trail exists to
prevent. What is itself a refusal (a failed sign-in, a page a role may not open) is appended as
well as it can be; when Kafka is away it is logged instead, and the refusal stands.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from confluent_kafka import KafkaError, Message, Producer

from avro_schemas.codec import Codec, Subject
from avro_schemas.records import AuditEvent
from avro_schemas.schemas import AUDIT_EVENT
from connectors.readback import quiet_logger
from recordflow.settings import Settings

log = logging.getLogger(__name__)

SUCCESS, FAILURE, REFUSED = "success", "failure", "refused"
LOGIN, LOGOUT, ACCESS, EXPORT = "login", "logout", "access", "export"
ACTIONS = {
    LOGIN: "登录",
    LOGOUT: "退出",
    ACCESS: "越权访问",
    EXPORT: "导出",  # a record's package, or a transfer register: the target says which
    "review.decide": "鉴定保管期限",
    "review.appraise": "到期鉴定",
    "deadletters.replay": "重放死信",
    "agencies.onboard": "接入立档单位",
    "lookup.search": "检索档案",
    "lookup.record": "查阅档案",
    "lookup.download": "下载利用",
}
OUTCOMES = {SUCCESS: "成功", FAILURE: "失败", REFUSED: "拒绝"}


class AuditUnavailable(Exception):
    """Kafka (or the schema registry) did not take the audit event in time."""


def audit_event(actor: str, role: str | None, action: str, outcome: str, *,
                target: str | None = None, client_address: str | None = None,
                detail: str | None = None, now: dt.datetime | None = None) -> AuditEvent:  # fmt: skip
    return {
        "event_id": str(uuid.uuid4()), "actor": actor, "role": role, "action": action,
        "target": target, "occurred_at": now or dt.datetime.now(dt.UTC), "outcome": outcome,
        "client_address": client_address, "detail": detail,
    }  # fmt: skip


class AuditLog:
    def __init__(self, settings: Settings, codec: Codec, *, timeout_s: float = 10.0) -> None:
        self.topic = settings.audit_topic
        self.subject = Subject.for_topic(self.topic, AUDIT_EVENT)
        self.codec = codec
        self.timeout_s = timeout_s
        self.producer = Producer({**settings.producer_config(),
                                  "message.timeout.ms": int(timeout_s * 1000),
                                  "logger": quiet_logger()})  # fmt: skip

    def append(self, event: AuditEvent) -> None:
        """Append `event` and wait for Kafka's confirmation; AuditUnavailable otherwise."""
        failures: list[str] = []
        delivered: list[bool] = []

        def on_delivery(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error.str())
            else:
                delivered.append(True)

        try:
            value = self.codec.encode(self.subject, event)
            self.producer.produce(self.topic, key=event["actor"].encode(), value=value,
                                  on_delivery=on_delivery)  # fmt: skip
        except Exception as exc:  # the registry or the client refused: the action cannot be traced
            raise AuditUnavailable(f"the audit event could not be sent: {exc}") from exc
        self.producer.flush(self.timeout_s + 1)
        if not delivered:
            raise AuditUnavailable(
                f"Kafka did not confirm the audit event on {self.topic}: "
                + ("; ".join(failures) or "no answer in time")
            )

    def try_append(self, event: AuditEvent) -> None:
        """Append a refusal's event as well as can be: when Kafka is away, log it instead."""
        try:
            self.append(event)
        except AuditUnavailable as exc:
            log.warning("audit event not written (%s): %s", exc, event)

    def close(self) -> None:
        self.producer.flush(5)
