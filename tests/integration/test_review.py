"""Retention review on the real stack: a document no rule decides waits for archive staff, and
their decision sends it on to be numbered and archived under the decided period, with the
lifecycle steps it went through before filing as its business history."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli

TIMEOUT_S = 90.0


def archived_records(settings: Settings, codec: Codec) -> dict[str, dict[str, Any]]:
    """The catalog once something is in it (or empty after the timeout)."""
    archived: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + TIMEOUT_S
    while not archived and time.monotonic() < deadline:
        archived = catalog(settings, codec)
        time.sleep(0.5)
    return archived


def test_undecided_document_waits_for_review_then_is_archived_as_decided(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    memo = tmp_path / "备忘录.pdf"
    memo.write_bytes(b"%PDF-1.4 memo " + os.urandom(300))
    submitter = Submitter(pipeline_settings)
    receipt = submitter.submit("bdc", [FileToSubmit(memo)], {
        "document_id": "BDC-R-1", "title": "窗口服务工作备忘录", "responsible_party": "市不动产登记中心",
        "document_date": "2026-09-09", "document_type": "备忘录", "unit_code": "BGS",
    })  # fmt: skip
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {receipt.event_id}, timeout_s=TIMEOUT_S)[
        receipt.event_id
    ]
    assert (outcome.status, outcome.reason) == ("review", "retention-undecided")
    assert outcome.detail and "bdc-schedule@2026.1 or city-default@2026.3" in outcome.detail

    listed = run_cli(pipeline_settings, "review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    pending = json.loads(listed.stdout)
    assert [(item["event_id"], item["status"]) for item in pending] == [
        (receipt.event_id, "PENDING")
    ]
    assert catalog(pipeline_settings, codec) == {}

    bad_period = run_cli(
        pipeline_settings, "review", "decide", receipt.event_id, "--period", "D20", "--by", "王档案"
    )
    assert bad_period.returncode == 2 and "--period must be one of" in bad_period.stderr

    decided = run_cli(pipeline_settings, "review", "decide", receipt.event_id, "--period", "D10", "--by", "王档案",
                   "--note", "窗口日常事务，定期10年")  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    again = run_cli(
        pipeline_settings, "review", "decide", receipt.event_id, "--period", "Y", "--by", "李档案"
    )
    assert again.returncode == 1 and "already decided" in again.stderr

    archived = archived_records(pipeline_settings, codec)
    assert list(archived) == ["Z215-WS·2026-D10-BGS-0001"]
    record = archived["Z215-WS·2026-D10-BGS-0001"]
    assert record["retention_rule_id"].startswith("retention-review@") and record[
        "retention_rule_id"
    ].endswith("/王档案")
    assert json.loads(run_cli(pipeline_settings, "review", "list", "--json").stdout) == []


def test_steps_before_filing_survive_the_review(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    memo = tmp_path / "备忘录.pdf"
    memo.write_bytes(b"%PDF-1.4 memo " + os.urandom(300))
    meta: dict[str, Any] = {"document_id": "BDC-R-2", "title": "窗口服务工作备忘录",
                            "responsible_party": "市不动产登记中心", "document_date": "2026-09-09",
                            "document_type": "备忘录", "unit_code": "BGS", "source_system": "OA",
                            "actor": "赵科员"}  # fmt: skip
    submitter = Submitter(pipeline_settings)
    for action in ("CREATED", "APPROVED"):  # each stamped with the time it is sent
        submitter.submit("bdc", [FileToSubmit(memo)], {**meta, "action": action})
    filed = submitter.submit("bdc", [FileToSubmit(memo)], {**meta, "action": "FILED"})
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcome = watch_outcomes(pipeline_settings, codec, {filed.event_id}, timeout_s=TIMEOUT_S)[
        filed.event_id
    ]
    assert outcome.status == "review"

    listed = run_cli(pipeline_settings, "review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (pending,) = json.loads(listed.stdout)
    assert [step["action"] for step in pending["history_before_filing"]] == ["created", "approved"]

    decided = run_cli(
        pipeline_settings, "review", "decide", filed.event_id, "--period", "D10", "--by", "王档案"
    )
    assert decided.returncode == 0, decided.stderr
    archived = archived_records(pipeline_settings, codec)
    assert list(archived) == ["Z215-WS·2026-D10-BGS-0001"]
    history = archived["Z215-WS·2026-D10-BGS-0001"]["history"]
    assert [step["action"] for step in history] == ["created", "approved"]
    assert {step["actor"] for step in history} == {"赵科员"}
    assert all(step["organisation"] == "市不动产登记中心" for step in history)
