"""The project's own exceptions. Most carry a stable reason code that ends up in the dead-letter
record, the logs and the `reason` label of the metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ReasonedError(Exception):
    """An error with a stable reason code beside its message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class RecordRejected(ReasonedError):
    """An input the pipeline will not accept as it is. It goes to the dead-letter topic."""

    def __init__(
        self, reason: str, message: str, stage: str = "validate", event_id: str | None = None
    ) -> None:
        super().__init__(reason, message)
        self.stage = stage
        self.event_id = event_id
        self.document_id: str | None = None  # the event's, once it was decoded (for its receipt)

    def of_event(self, event: Mapping[str, Any]) -> RecordRejected:
        """Say which decoded event was rejected: its id (the dead letter's) and its document id
        (the agency's receipt is keyed by it)."""
        self.event_id = event.get("event_id")
        self.document_id = event.get("document_id")
        return self


class SubmitError(Exception):
    """The producer SDK could not hand a submission over (bad arguments, unreachable services)."""
