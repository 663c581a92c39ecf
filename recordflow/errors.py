"""The project's own exceptions. Each carries a stable reason code that ends up in the dead-letter
record, the logs and the `reason` label of `recordflow_deadletters_total`."""

from __future__ import annotations


class RecordRejected(Exception):
    """An input the pipeline will not accept as it is. It goes to the dead-letter topic."""

    def __init__(
        self, reason: str, message: str, stage: str = "validate", event_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stage = stage
        self.event_id = event_id

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class SubmitError(Exception):
    """The producer SDK could not hand a submission over (bad arguments, unreachable services)."""
