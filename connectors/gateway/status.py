"""Where a submitted document is: its latest archival receipt (归档回执), read from a receipts
source, put into the words the gateway answers with.

The source is anything with `latest(event_id)`: connectors/receipts.py's ReceiptIndex, which
follows the `ArchivalReceipt` records of every `receipts.<agency>.v1`; unit tests use a dict. Without a
receipt yet, a submission the gateway took is `received`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, Field

RECEIVED = "received"
# A receipt's outcome → the status word the gateway answers with.
STATUS_OF_OUTCOME = {
    "ARCHIVED": "archived",  # 已归档: it has its 档号
    "REJECTED": "rejected",  # 拒收: a dead letter, with its reason
    "HELD_FOR_REVIEW": "in-review",  # 待鉴定: archive staff decide its retention period
    "DECIDED": "decided",  # 已鉴定: staff decided; on its way to be numbered
    "APPRAISAL_DUE": "appraisal-due",  # 到期待鉴定: archived, its period over; to be appraised
}


class ReceiptSource(Protocol):
    def latest(self, event_id: str) -> Mapping[str, Any] | None:
        """The newest receipt of an event: receipt_id, event_id, document_id, agency_code,
        outcome, occurred_at, and (each may be None) archival_code, archived_at,
        retention_period, retention_rule, retain_until, reason_code, reason_text, stage,
        decided_by, decision."""
        ...


class Retention(BaseModel):
    period: str | None = Field(default=None, description="保管期限: Y (永久), D30, D10 …")
    rule: str | None = Field(default=None, description="The retention rule that decided it")
    retain_until: dt.date | dt.datetime | None = None


class Reason(BaseModel):
    code: str | None = Field(default=None, description="The reason code: docs/reason-codes.md")
    text: str | None = None
    stage: str | None = None


class SubmissionStatus(BaseModel):
    event_id: str
    agency: str
    document_id: str
    status: str = Field(
        description=f"{RECEIVED}, or one of {', '.join(STATUS_OF_OUTCOME.values())}"
    )
    outcome: str | None = Field(
        default=None, description="The receipt's outcome, as on receipts.<agency>.v1"
    )
    occurred_at: dt.datetime | None = None
    archival_code: str | None = Field(default=None, description="档号, once archived")
    archived_at: dt.datetime | None = None
    retention: Retention | None = None
    reason: Reason | None = None
    decided_by: str | None = None
    decision: str | None = None


def status_of(
    event_id: str, agency: str, document_id: str, receipt: Mapping[str, Any] | None
) -> SubmissionStatus:
    """The status of a submission: from its latest receipt, or `received` without one."""
    if receipt is None:
        return SubmissionStatus(event_id=event_id, agency=agency, document_id=document_id,
                                status=RECEIVED)  # fmt: skip
    outcome = str(receipt["outcome"])
    retention = None
    if any(receipt.get(name) for name in ("retention_period", "retention_rule", "retain_until")):
        retention = Retention(period=receipt.get("retention_period"),
                              rule=receipt.get("retention_rule"),
                              retain_until=receipt.get("retain_until"))  # fmt: skip
    reason = None
    if any(receipt.get(name) for name in ("reason_code", "reason_text")):
        reason = Reason(code=receipt.get("reason_code"), text=receipt.get("reason_text"),
                        stage=receipt.get("stage"))  # fmt: skip
    return SubmissionStatus(
        event_id=event_id, agency=str(receipt["agency_code"]),
        document_id=str(receipt["document_id"]),
        status=STATUS_OF_OUTCOME.get(outcome, outcome.lower().replace("_", "-")),
        outcome=outcome, occurred_at=receipt["occurred_at"],
        archival_code=receipt.get("archival_code"), archived_at=receipt.get("archived_at"),
        retention=retention, reason=reason, decided_by=receipt.get("decided_by"),
        decision=receipt.get("decision"),
    )  # fmt: skip
