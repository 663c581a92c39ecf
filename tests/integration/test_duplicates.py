"""DA/T 70's "no duplicates of 文号 + 题名": a second, different document with the number and title
of one already archived in the fonds and year is rejected before it takes a number; sending the
same document again is not a duplicate but the same record."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog, read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.test_deadletters import duplicates_seen

TIMEOUT_S = 90.0


def _metadata(document_id: str, unit: str, document_type: str) -> dict[str, Any]:
    return {"document_id": document_id, "title": "关于城市更新项目实施方案的批复",
            "document_number": "市建复〔2026〕15号", "responsible_party": "市住房和城乡建设局",
            "document_date": "2026-08-01", "document_type": document_type, "unit_code": unit}  # fmt: skip


def test_same_number_and_title_is_a_duplicate_across_series(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(b"%PDF-1.4 first " + os.urandom(200))
    second.write_bytes(b"%PDF-1.4 second " + os.urandom(200))
    submitter = Submitter(pipeline_settings)
    original = submitter.submit("zjj", [FileToSubmit(first)], _metadata("ZJJ-D-1", "GHK", "批复"))
    again = submitter.submit("zjj", [FileToSubmit(first)], _metadata("ZJJ-D-1", "GHK", "批复"))
    # another system files different bytes under another unit and type (so another series)
    copy = submitter.submit("zjj", [FileToSubmit(second)], _metadata("ZJJ-D-2", "BGS", "通知"))
    submitter.close()
    assert again.event_id == original.event_id

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(
        pipeline_settings, codec, {original.event_id, copy.event_id}, timeout_s=TIMEOUT_S
    )
    assert outcomes[original.event_id].status == "archived"
    duplicate = outcomes[copy.event_id]
    assert (duplicate.status, duplicate.reason) == ("rejected", "duplicate-record")
    code = outcomes[original.event_id].reference_code
    assert code and duplicate.detail and code in duplicate.detail
    assert [r["document_id"] for r in catalog(pipeline_settings, codec).values()] == ["ZJJ-D-1"]


def test_the_same_event_in_flight_twice_is_published_once(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    """The register stage works on several records at once: copies of one event fetched together
    (a producer that sent it three times) still yield one record on each output topic."""
    document = tmp_path / "a.pdf"
    document.write_bytes(b"%PDF-1.4 once " + os.urandom(200))
    submitter = Submitter(pipeline_settings)
    receipts = [
        submitter.submit("zjj", [FileToSubmit(document)], _metadata("ZJJ-D-3", "GHK", "批复"))
        for _ in range(3)
    ]
    submitter.close()
    assert len({receipt.event_id for receipt in receipts}) == 1
    # Started only now, so that its first fetch holds all three copies.
    worker = WorkerProcess(pipeline_settings, name=f"test-{pipeline_settings.topic_prefix[:-1]}")
    worker.start()
    try:
        worker.wait_ready()
        codec = Codec.from_url(pipeline_settings.schema_registry_url)
        outcome = watch_outcomes(
            pipeline_settings, codec, {receipts[0].event_id}, timeout_s=TIMEOUT_S
        )[receipts[0].event_id]
        assert outcome.status == "archived"
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and duplicates_seen(worker) < 2:
            time.sleep(0.2)
        assert duplicates_seen(worker) == 2  # the other two copies, each seen as a redelivery
    finally:
        worker.stop()
    for topic in (pipeline_settings.archival_ready_topic, pipeline_settings.catalog_topic):
        keys = [key for key, _ in read_topic(pipeline_settings, topic)]
        assert keys == [(outcome.reference_code or "").encode()], topic
