"""`recordflow agencies onboard / offboard` on a running stack (issue 14): an agency onboarded with
one command is served at once by the worker already running, and an offboarded one may no longer
submit while what it sent stays archived."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from archival.retention import load_rules
from avro_schemas.codec import Codec
from connectors.agency_registry import current_registry
from connectors.gateway import credentials
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.errors import SubmitError
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli
from tests.integration.gateway_harness import (
    PDF,
    bearer,
    running_gateway,
    submit,
    wait_accepted,
    wait_refused,
)

TIMEOUT_S = 120.0
ONBOARD = ("agencies", "onboard", "sjj", "--name", "市司法局", "--fonds", "Z140",
           "--unit", "BGS:办公室", "--unit", "FZK:法治科")  # fmt: skip


def submit_as_sjj(settings: Settings, tmp_path: Path, document_id: str) -> str:
    path = tmp_path / f"{document_id}.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(1024))
    metadata = notice_metadata(document_id, title="关于印发2026年普法工作要点的通知",
                               responsible_party="市司法局", unit_code="FZK")  # fmt: skip
    submitter = Submitter(settings)
    try:
        return submitter.submit("sjj", [FileToSubmit(path)], metadata).event_id
    finally:
        submitter.close()


def archived_status(url: str, token: str, event_id: str) -> dict[str, Any]:
    """GET /v1/submissions/{event_id} until it says archived (the gateway's receipt index)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        answer = httpx.get(f"{url}/v1/submissions/{event_id}", headers=bearer(token), timeout=10)
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        if status["status"] != "received":
            return status
        assert time.monotonic() < deadline, f"no outcome for {event_id}"
        time.sleep(0.5)


def test_an_agency_onboarded_on_a_running_stack_is_served_by_the_running_worker_and_gateway(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    with running_gateway(pipeline_settings) as url:
        onboard_and_offboard(pipeline_settings, tmp_path, url)


def onboard_and_offboard(pipeline_settings: Settings, tmp_path: Path, url: str) -> None:
    schedules = tmp_path / "schedules"
    dry = run_cli(pipeline_settings, *ONBOARD, "--schedule-dir", str(schedules), "--dry-run",
                  "--json")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    created = {s["target"] for s in plan["steps"] if s["detail"].startswith("create")}
    assert created >= {
        pipeline_settings.ingest_topic("sjj"),
        pipeline_settings.topic("receipts.sjj.v1"),
    }
    assert plan["token"] is None and not schedules.exists()
    assert current_registry(pipeline_settings).get("sjj") is None  # the dry run changed nothing

    done = run_cli(pipeline_settings, *ONBOARD, "--schedule-dir", str(schedules), "--json")
    assert done.returncode == 0, done.stderr
    onboarded = json.loads(done.stdout)
    assert onboarded["token"].startswith("rfg_")
    assert [t.token_id for t in credentials.tokens(pipeline_settings, "sjj")] == [
        onboarded["token_id"]
    ]
    skeleton = load_rules(schedules / "sjj.yaml")
    assert (skeleton.agency, skeleton.rules) == ("sjj", [])
    assert current_registry(pipeline_settings).by_code["sjj"].fonds_code == "Z140"

    event_id = submit_as_sjj(pipeline_settings, tmp_path, "SJJ-2026-0001")
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {event_id}, timeout_s=TIMEOUT_S)[event_id]
    assert outcome.status == "archived", outcome
    assert outcome.reference_code is not None and outcome.reference_code.startswith("Z140-WS·2026-")
    assert "-FZK-" in outcome.reference_code

    # Over HTTP, through the gateway that was running before the agency existed.
    token = onboarded["token"]
    wait_accepted(url, token)
    metadata = notice_metadata("SJJ-2026-0003", title="关于开展法律援助工作检查的通知",
                               responsible_party="市司法局", unit_code="BGS")  # fmt: skip
    answer = submit(url, token, metadata, [("通知.pdf", PDF, "application/pdf")])
    assert answer.status_code == 202, answer.text
    status = archived_status(url, token, answer.json()["event_id"])
    assert status["status"] == "archived", status
    assert str(status["archival_code"]).startswith("Z140-WS·2026-")
    assert status["archival_code"] in catalog(pipeline_settings, codec)

    again = run_cli(pipeline_settings, *ONBOARD, "--schedule-dir", str(schedules))
    assert again.returncode == 1 and again.stdout == ""
    assert (
        again.stderr.strip()
        == "error: onboard sjj: agency 'sjj' is already registered; a code is never reused"
    )

    off = run_cli(pipeline_settings, "agencies", "offboard", "sjj", "--json")
    assert off.returncode == 0, off.stderr
    listed = json.loads(run_cli(pipeline_settings, "agencies", "list", "--json").stdout)
    assert {a["code"]: a["active"] for a in listed}["sjj"] is False
    assert all(t.revoked_at is not None for t in credentials.tokens(pipeline_settings, "sjj"))
    wait_refused(url, token)
    with pytest.raises(SubmitError, match="'sjj' was offboarded"):
        submit_as_sjj(pipeline_settings, tmp_path, "SJJ-2026-0002")
    assert outcome.reference_code in catalog(pipeline_settings, codec)  # still archived


def test_a_fonds_code_already_taken_is_refused_in_one_line(pipeline_settings: Settings) -> None:
    taken = run_cli(pipeline_settings, "agencies", "onboard", "sjj", "--name", "市司法局",
                    "--fonds", "Z101", "--unit", "BGS:办公室")  # fmt: skip
    assert taken.returncode == 1 and taken.stdout == ""
    assert taken.stderr.count("\n") == 1 and "duplicate agency fonds_code: Z101" in taken.stderr
    assert current_registry(pipeline_settings).get("sjj") is None
