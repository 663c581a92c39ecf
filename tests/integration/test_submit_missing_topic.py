"""`recordflow submit` to a registered agency whose ingest topic was never created says so at
once, naming `recordflow topics apply`, instead of waiting out the deadline, and the outbox
refuses the submission for good rather than holding it (nothing an outbox flush could deliver)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from connectors.sdk import FileToSubmit, Submitter, TopicMissing
from connectors.storage import Storage
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

NEW_AGENCY = {
    "code": "xzj",
    "name": "市行政执法局",
    "fonds_code": "Z140",
    "fonds_name": "市行政执法局",
    "units": [{"code": "BGS", "name": "办公室"}],
}


def registry_with_new_agency(settings: Settings, tmp_path: Path) -> Path:
    """The agency registry with xzj added after the test's topics were applied: its ingest topic
    does not exist."""
    registry = yaml.safe_load(settings.agencies_file.read_text(encoding="utf-8"))
    registry["agencies"].append(NEW_AGENCY)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    return agencies


def test_submit_to_an_agency_without_its_topic_is_refused_at_once(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    agencies = registry_with_new_agency(pipeline_settings, tmp_path)
    metadata = tmp_path / "meta.json"
    metadata.write_text(json.dumps(notice_metadata("XZJ-1", responsible_party="市行政执法局")),
                        encoding="utf-8")  # fmt: skip
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.4 notice")
    env = {"RECORDFLOW_AGENCIES_FILE": str(agencies),
           "RECORDFLOW_OUTBOX_DIR": str(tmp_path / "outbox")}  # fmt: skip
    topic = pipeline_settings.ingest_topic("xzj")

    began = time.monotonic()
    result = run_cli(pipeline_settings, "submit", "--agency", "xzj", "--metadata", str(metadata),
                     str(document), env=env)  # fmt: skip
    took = time.monotonic() - began

    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "error: not delivered, and it will not be: Kafka "
        f"{pipeline_settings.kafka_bootstrap}: topic {topic} does not exist on the cluster: "
        "create the agency's ingest topic with `recordflow topics apply`"
    )
    assert took < pipeline_settings.submit_deadline_s / 3  # at once, not at the 60 s deadline

    # Refused for good: nothing pending, the reason kept on its row.
    pending = run_cli(pipeline_settings, "outbox", "list", "--json", env=env)
    assert pending.returncode == 0, pending.stderr
    assert json.loads(pending.stdout) == []
    everything = run_cli(pipeline_settings, "outbox", "list", "--all", "--json", env=env)
    (entry,) = json.loads(everything.stdout)
    assert entry["state"] == "failed"
    assert "recordflow topics apply" in entry["last_error"]


def test_the_sdk_without_an_outbox_refuses_before_staging_anything(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    agencies = registry_with_new_agency(pipeline_settings, tmp_path)
    settings = pipeline_settings.model_copy(update={"agencies_file": agencies})
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.4 notice")
    submitter = Submitter(settings)
    began = time.monotonic()
    try:
        with pytest.raises(TopicMissing, match="recordflow topics apply"):
            submitter.submit("xzj", [FileToSubmit(document)],
                             notice_metadata("XZJ-2", responsible_party="市行政执法局"))  # fmt: skip
    finally:
        submitter.close()
    assert time.monotonic() - began < 10  # not librdkafka's 30 s message timeout
    staged = Storage(settings).client.list_objects(settings.staging_bucket, prefix="xzj/")
    assert list(staged) == []  # refused before any file was staged
