"""The project's own exceptions. Most carry a stable reason code that ends up in the dead-letter
record, the logs and the `reason` label of the metrics."""

from __future__ import annotations


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


class SubmitError(Exception):
    """The producer SDK could not hand a submission over (bad arguments, unreachable services)."""
