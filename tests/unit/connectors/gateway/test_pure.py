"""The gateway's pure parts: problems, tokens, idempotency decisions, limits, status words."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from connectors.gateway.credentials import Credential, CredentialStore, digest, new_token
from connectors.gateway.idempotency import Decision, checked_key, decide, fingerprint
from connectors.gateway.limits import RateLimiter, TokenBucket, check_declared_length, limited
from connectors.gateway.status import STATUS_OF_OUTCOME, status_of
from connectors.problems import MEDIA_TYPE, HttpProblem, internal_error, unavailable

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


# --- problems --------------------------------------------------------------------------------
def test_a_problem_is_rfc_9457_with_the_reason_code() -> None:
    response = HttpProblem("idempotency-conflict", 409, "used before").response()
    assert response.status_code == 409
    assert response.media_type == MEDIA_TYPE
    assert json.loads(bytes(response.body)) == {
        "type": "urn:recordflow:reason:idempotency-conflict", "title": "Conflict",
        "status": 409, "detail": "used before", "reason": "idempotency-conflict",
    }  # fmt: skip


def test_only_listed_reason_codes_make_problems() -> None:
    with pytest.raises(ValueError, match="not a reason code"):
        HttpProblem("no-such-code", 400)


def test_the_500_says_nothing_and_the_503_when_to_come_back() -> None:
    body = json.loads(bytes(internal_error().response().body))
    assert body == {"type": "urn:recordflow:reason:internal-error",
                    "title": "Internal server error", "status": 500, "reason": "internal-error"}  # fmt: skip
    assert unavailable(7, "S3 away").response().headers["retry-after"] == "7"


# --- tokens ------------------------------------------------------------------------------------
def test_a_token_verifies_as_its_agency_until_revoked() -> None:
    credential, token = new_token("bgt", NOW)
    assert token.startswith(f"rfg_{credential.token_id}_")
    assert credential.secret_sha256 == digest(token.split("_", 2)[2])
    assert token.split("_", 2)[2] not in credential.encode().decode()  # only the digest is kept
    store = CredentialStore({credential.token_id: credential}.get)
    assert store.agency_of(token) == "bgt"
    assert store.agency_of(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.agency_of("rfg_nonsense") is None
    _, other_token = new_token("zjj", NOW)
    assert store.agency_of(other_token) is None  # unknown id
    revoked = CredentialStore({credential.token_id: Credential(
        credential.token_id, "bgt", credential.secret_sha256, NOW, revoked_at=NOW)}.get)  # fmt: skip
    assert revoked.agency_of(token) is None


def test_rotation_two_tokens_then_one() -> None:
    first, first_token = new_token("bgt", NOW)
    second, second_token = new_token("bgt", NOW)
    entries = {first.token_id: first, second.token_id: second}
    store = CredentialStore(entries.get)
    assert store.agency_of(first_token) == store.agency_of(second_token) == "bgt"
    entries[first.token_id] = Credential(first.token_id, "bgt", first.secret_sha256, NOW, NOW)
    assert store.agency_of(first_token) is None
    assert store.agency_of(second_token) == "bgt"


def test_a_credential_reads_back_as_written() -> None:
    credential, _ = new_token("bgt", NOW)
    assert Credential.decode(credential.encode()) == credential


# --- idempotency ---------------------------------------------------------------------------------
def test_idempotency_decisions() -> None:
    request = fingerprint(metadata={"a": 1, "b": [1, 2]}, files=[("x.pdf", None, "00")])
    same = fingerprint(files=[("x.pdf", None, "00")], metadata={"b": [1, 2], "a": 1})
    assert same == request
    other = fingerprint(metadata={"a": 1, "b": [1, 2]}, files=[("x.pdf", None, "01")])
    assert decide(None, request) is Decision.PROCEED
    assert decide({"fingerprint": request, "receipt": {}}, request) is Decision.REPLAY
    assert decide({"fingerprint": request, "receipt": {}}, other) is Decision.CONFLICT


def test_an_unprintable_key_is_refused() -> None:
    assert checked_key(None) is None
    assert checked_key("0b1e-4c2a") == "0b1e-4c2a"
    for bad in ("", "with space", "x" * 256, "密钥"):
        with pytest.raises(HttpProblem) as refused:
            checked_key(bad)
        assert refused.value.status == 400


# --- limits -----------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_token_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now = 0.5
    assert bucket.take() == 0.0
    clock.now = 100.0
    assert [bucket.take() for _ in range(4)][-1] > 0  # saved up to the burst, no more


def test_the_rate_limit_is_per_agency_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.25, burst=1, clock=clock)
    limiter.check("bgt")
    limiter.check("zjj")  # another agency's bucket
    with pytest.raises(HttpProblem) as limited_out:
        limiter.check("bgt")
    assert limited_out.value.status == 429
    assert limited_out.value.reason == "rate-limited"
    assert limited_out.value.headers["Retry-After"] == "4"


def test_a_body_is_counted_as_it_comes() -> None:
    check_declared_length("100", 100, "x")
    check_declared_length(None, 100, "x")
    with pytest.raises(HttpProblem) as declared:
        check_declared_length("101", 100, "the submission")
    assert declared.value.status == 413
    chunks: Iterator[bytes] = iter([b"a" * 60, b"b" * 60])

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    counted = limited(receive, 100, "the submission")

    async def twice() -> None:
        await counted()
        await counted()

    with pytest.raises(HttpProblem) as streamed:
        asyncio.run(twice())
    assert streamed.value.reason == "payload-too-large"


# --- status --------------------------------------------------------------------------------------
def receipt(outcome: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "receipt_id": "r-1", "event_id": "e-1", "document_id": "GW-1", "agency_code": "bgt",
        "outcome": outcome, "occurred_at": NOW,
    }  # fmt: skip
    return {**base, **{name: None for name in (
        "archival_code", "archived_at", "retention_period", "retention_rule", "retain_until",
        "reason_code", "reason_text", "stage", "decided_by", "decision")}, **fields}  # fmt: skip


def test_without_a_receipt_a_submission_is_received() -> None:
    status = status_of("e-1", "bgt", "GW-1", None)
    assert (status.status, status.outcome, status.archival_code) == ("received", None, None)


@pytest.mark.parametrize(("outcome", "word"), sorted(STATUS_OF_OUTCOME.items()))
def test_each_outcome_has_its_word(outcome: str, word: str) -> None:
    assert status_of("e-1", "bgt", "GW-1", receipt(outcome)).status == word


def test_an_archived_receipt_gives_the_code_and_retention() -> None:
    status = status_of("e-1", "bgt", "GW-1", receipt(
        "ARCHIVED", archival_code="Z101-WS·2026-D10-BGS-0001", archived_at=NOW,
        retention_period="D10", retention_rule="city-notice", retain_until=dt.date(2036, 12, 31),
    ))  # fmt: skip
    assert status.archival_code == "Z101-WS·2026-D10-BGS-0001"
    assert status.retention is not None and status.retention.period == "D10"
    assert status.retention.rule == "city-notice"
    assert status.reason is None


def test_a_rejected_receipt_gives_the_reason() -> None:
    status = status_of("e-1", "bgt", "GW-1", receipt(
        "REJECTED", reason_code="checksum-mismatch", reason_text="SHA-256 differs",
        stage="register",
    ))  # fmt: skip
    assert status.status == "rejected"
    assert status.reason is not None
    assert (status.reason.code, status.reason.stage) == ("checksum-mismatch", "register")
    assert status.retention is None
