"""`Idempotency-Key` on a submission or a commit: the same key with the same request gives the
same receipt and never a second event; the same key with another request is 409.

A request's fingerprint is what it asks for, not its bytes (a client's multipart boundary
changes between retries): the metadata as JSON and each file's name, media type and SHA-256, or
the upload and the metadata for a commit. The record, kept per agency under
`gateway/idempotency/` in S3 (connectors/gateway/objects.py), is written once the event is
confirmed by Kafka; a request that failed (503) left none, and its retry proceeds.

The race this leaves: two requests with one key arriving together, before either has written its
record, both proceed. No second *document* comes of it: the SDK's event id is derived from the
agency, document id, action and digests, so both carry the same event id and the pipeline keeps
one record of it (the register stage's duplicate check); S3 has no compare-and-swap the gateway
could rely on across every S3 server it may run against, and a lock service would be one more
thing to be down.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from connectors.gateway.objects import GatewayObjects, idempotency_key
from connectors.problems import HttpProblem

HEADER = "Idempotency-Key"
# Printable ASCII, as the IETF draft's examples (a UUID, most often); long enough for any scheme.
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class Decision(enum.Enum):
    PROCEED = "proceed"  # never seen: do the work, then remember it
    REPLAY = "replay"  # seen with the same request: answer as then
    CONFLICT = "conflict"  # seen with another request: 409


def fingerprint(**request: Any) -> str:
    text = json.dumps(
        request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def decide(stored: Mapping[str, Any] | None, request_fingerprint: str) -> Decision:
    if stored is None:
        return Decision.PROCEED
    if stored.get("fingerprint") == request_fingerprint:
        return Decision.REPLAY
    return Decision.CONFLICT


def checked_key(key: str | None) -> str | None:
    if key is not None and KEY.fullmatch(key) is None:
        raise HttpProblem("invalid-request", 400,
                             f"{HEADER} must be 1 to 255 printable ASCII characters")  # fmt: skip
    return key


class IdempotencyRecords:
    def __init__(self, objects: GatewayObjects) -> None:
        self.objects = objects

    def lookup(self, agency: str, key: str) -> dict[str, Any] | None:
        return self.objects.get(idempotency_key(agency, key))

    def remember(self, agency: str, key: str, request_fingerprint: str,
                 receipt: Mapping[str, Any]) -> None:  # fmt: skip
        self.objects.put(idempotency_key(agency, key),
                         {"fingerprint": request_fingerprint, "receipt": dict(receipt)})  # fmt: skip

    def replayed(
        self, stored: dict[str, Any] | None, request_fingerprint: str
    ) -> dict[str, Any] | None:
        """The stored receipt when the request is the one stored; 409 when another; None when
        the key is new."""
        decision = decide(stored, request_fingerprint)
        if decision is Decision.CONFLICT:
            raise HttpProblem("idempotency-conflict", 409,
                                 f"this {HEADER} was used for another request")  # fmt: skip
        if decision is Decision.REPLAY:
            assert stored is not None
            return dict(stored["receipt"])
        return None
