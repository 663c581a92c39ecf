"""The demo's HTTP door: what an agency system in any language does.

The demo onboards 市司法局 (`sfj`) on the running stack if it is not registered yet (one command's
work: connectors/onboarding.py), gives it and an agency of the installation a gateway token,
serves a gateway on its own topics, and submits a sample document for each with plain HTTP
(multipart, a bearer token, an Idempotency-Key): the worker already running archives the new
agency's document without a restart. Then it asks `GET /v1/submissions/{event id}` until each
document's archival receipt (归档回执) has come, with its 档号. Run again, the same keys bring the
same receipts: nothing is submitted twice. The tokens are the demo's own and are revoked at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from connectors.agency_registry import current_registry
from connectors.gateway import credentials
from connectors.onboarding import onboard
from recordflow.demo.samples import GATEWAY_SAMPLES, ONBOARDED, Sample, write_files
from recordflow.localstack.gateway import post_submission, running_gateway, wait_accepted
from recordflow.settings import Settings

RECEIPT_TIMEOUT_S = 180.0


@dataclass
class HttpSubmission:
    sample: Sample
    event_id: str
    status: dict[str, Any]  # the gateway's answer to GET /v1/submissions/{event_id}


def onboard_demo_agency(settings: Settings, console: Console) -> str | None:
    """Onboard `sfj` unless it is registered; its token when it was onboarded now."""
    registry = current_registry(settings)
    if registry.get(ONBOARDED.code) is not None:
        return None
    agency = ONBOARDED
    with console.status(f"接入新单位 Onboarding {agency.code} {agency.name}…"):
        # The schedule skeleton goes to the stack's home, not into the installed schedules.
        outcome = onboard(settings, registry, agency, schedule_dir=settings.home / "schedules",
                          create_principal=None)  # fmt: skip
    console.print(f"已接入 Onboarded {agency.code} {agency.name} (全宗 {agency.fonds_code}): "
                  "its topics, token and registry entry, with no worker restart")  # fmt: skip
    return outcome.token


def submit_over_http(settings: Settings, console: Console, directory: Path) -> list[HttpSubmission]:
    tokens: dict[str, str] = {}
    onboarded = onboard_demo_agency(settings, console)
    if onboarded is not None:
        tokens[ONBOARDED.code] = onboarded
    for code in sorted({sample.agency for sample in GATEWAY_SAMPLES} - tokens.keys()):
        tokens[code] = credentials.issue(settings, code)[1]
    try:
        with running_gateway(settings) as url:
            console.print(f"网关 Gateway at {url} (OpenAPI: {url}/openapi.json)", highlight=False)
            submitted = []
            with console.status("通过 HTTP 提交 Submitting over HTTP…"):
                for sample in GATEWAY_SAMPLES:
                    token = tokens[sample.agency]
                    wait_accepted(url, token)
                    submitted.append((sample, token, _post(url, token, sample, directory)))
            with console.status("等待归档回执 Waiting for the receipts…"):
                return [
                    HttpSubmission(sample, event_id, _receipt(url, token, event_id))
                    for sample, token, event_id in submitted
                ]
    finally:
        for token in tokens.values():
            credentials.revoke(settings, credentials.token_id_of(token))


def _post(url: str, token: str, sample: Sample, directory: Path) -> str:
    """POST /v1/submissions, as curl -F would; the event id from the 202."""
    with httpx.Client(timeout=60) as client:
        return post_submission(client, url, token, sample.metadata, write_files(sample, directory),
                               idempotency_key=f"demo-{sample.metadata['document_id']}")  # fmt: skip


def _receipt(url: str, token: str, event_id: str) -> dict[str, Any]:
    """The submission's status once its receipt has come (or `received` at the time limit)."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT_S
    while True:
        answer = httpx.get(f"{url}/v1/submissions/{event_id}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        answer.raise_for_status()
        status: dict[str, Any] = answer.json()
        if status["status"] != "received" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)
