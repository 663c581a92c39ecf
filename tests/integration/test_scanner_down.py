"""A configured virus scanner (clamd) that is down is waited out like S3: no record is archived
unscanned while a scanner is configured, and the wait shows in recordflow_retries_total."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.fakes import FakeClamd, scanning_worker

TIMEOUT_S = 90.0


@pytest.fixture
def clamd() -> Iterator[FakeClamd]:
    fake = FakeClamd()
    yield fake
    fake.close()


def test_a_record_waits_for_a_configured_scanner_that_is_down(
    pipeline_settings: Settings, clamd: FakeClamd, tmp_path: Path
) -> None:
    settings, worker = scanning_worker(pipeline_settings, clamd, "clamd")
    try:
        path = tmp_path / "通知.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(2048))
        submitter = Submitter(settings)
        event_id = submitter.submit(
            "bgt", [FileToSubmit(path)], notice_metadata("BGT-AV-1")
        ).event_id
        submitter.close()

        codec = Codec.from_url(settings.schema_registry_url)
        deadline = time.monotonic() + TIMEOUT_S
        waited = 0.0
        while time.monotonic() < deadline and waited < 2:  # the register stage is waiting
            waited = worker.metric(
                "recordflow_retries_total", stage="register", reason="scanner-unavailable"
            )
            time.sleep(0.5)
        assert waited >= 2 and clamd.dropped >= 2
        assert watch_outcomes(settings, codec, {event_id}, timeout_s=3) == {}  # not archived

        clamd.answer()
        outcome = watch_outcomes(settings, codec, {event_id}, timeout_s=TIMEOUT_S)[event_id]
    finally:
        worker.stop()
    assert outcome.status == "archived"
    assert clamd.scanned == 1
    record = catalog(settings, codec)[outcome.reference_code or ""]
    virus = next(i for i in record["check"]["items"] if i["code"] == "YJ-4-1")
    assert virus["result"] == "pass", virus
