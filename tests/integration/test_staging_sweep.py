"""Staging emptied of what the archive holds, on the real stack (connectors/staging_sweep.py): the
register stage marks an archived record's staged files; `recordflow buckets sweep` deletes them
once the grace period has passed, and nothing else: a rejected record's files, an upload never
sent and a marker that names another agency's files stay."""

from __future__ import annotations

import io
import json
from pathlib import Path

from avro_schemas.codec import Codec
from connectors.readback import watch_outcomes
from connectors.sdk import Submitter
from connectors.staging_sweep import MARKER_PREFIX, Marker, marker_key
from connectors.storage import Storage
from recordflow.demo.run import submit_sample
from recordflow.demo.samples import SAMPLES, TAMPERED
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli

OUTCOME_TIMEOUT_S = 90.0


def _staged(storage: Storage) -> dict[str, int]:
    """Every object of the staging bucket but the markers, with its size."""
    return {
        item.object_name: item.size or 0
        for item in storage.client.list_objects(storage.settings.staging_bucket, recursive=True)
        if item.object_name and not item.object_name.startswith(MARKER_PREFIX)
    }


def _put(storage: Storage, key: str, data: bytes) -> None:
    storage.client.put_object(storage.settings.staging_bucket, key, io.BytesIO(data), len(data))


def _sweep(settings: Settings, *args: str) -> dict[str, object]:
    done = run_cli(settings, "buckets", "sweep", "--json", *args)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_the_sweep_deletes_only_what_the_archive_holds(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    good = next(sample for sample in SAMPLES if sample.bad is None and sample.agency == "bgt")
    tampered = next(sample for sample in SAMPLES if sample.bad == TAMPERED)
    submitter = Submitter(pipeline_settings)
    archived, rejected = (submit_sample(submitter, sample, tmp_path) for sample in (good, tampered))
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(pipeline_settings, codec, {archived.event_id, rejected.event_id},
                              timeout_s=OUTCOME_TIMEOUT_S)  # fmt: skip
    assert outcomes[archived.event_id].status == "archived"
    assert outcomes[rejected.event_id].status == "rejected"
    code = outcomes[archived.event_id].reference_code

    storage = Storage(pipeline_settings)
    staging = pipeline_settings.staging_bucket
    _put(storage, "bgt/never-sent/01-draft.pdf", b"an upload whose event never came")
    response = storage.client.get_object(staging, marker_key("bgt", archived.event_id))
    marker = Marker.parse(marker_key("bgt", archived.event_id), response.read())
    response.close()
    assert (marker.agency, marker.reference_code) == ("bgt", code)
    before = _staged(storage)
    assert marker.keys and set(marker.keys) < set(before)
    kept = set(before) - set(marker.keys)
    # The tampered record's file (its dead letter may be replayed) and the upload never sent.
    assert any(key.startswith(f"{tampered.agency}/") for key in kept)
    assert "bgt/never-sent/01-draft.pdf" in kept

    # A marker in the right place that names another agency's file is not obeyed.
    forged = marker_key("bgt", "forged")
    other = next(key for key in kept if key.startswith(f"{tampered.agency}/"))
    _put(storage, forged, Marker("bgt", "forged", "X", (other,)).as_json())

    waiting = _sweep(pipeline_settings)  # the default grace: archived a moment ago
    assert (waiting["records"], waiting["waiting"]) == (0, 2)
    assert _staged(storage) == before

    dry = _sweep(pipeline_settings, "--grace-days", "0", "--dry-run")
    assert (dry["records"], dry["files"]) == (1, len(marker.keys))
    assert dry["bytes"] == sum(before[key] for key in marker.keys)
    assert dry["refused"] == [forged]
    assert _staged(storage) == before

    swept = _sweep(pipeline_settings, "--grace-days", "0")
    assert swept["agencies"] == {"bgt": {"records": 1, "files": len(marker.keys),
                                         "bytes": dry["bytes"]}}  # fmt: skip
    assert _staged(storage) == {key: before[key] for key in kept}
    markers = {item.object_name for item in storage.client.list_objects(
        staging, prefix=MARKER_PREFIX, recursive=True)}  # fmt: skip
    assert markers == {forged}
    # The archive still has the record's files; a second sweep finds nothing more to do.
    archive = storage.client.list_objects(pipeline_settings.archive_bucket, recursive=True)
    record_files = [item for item in archive if f"/{code}/" in (item.object_name or "")]
    assert len(record_files) >= len(marker.keys)
    again = _sweep(pipeline_settings, "--grace-days", "0")
    assert (again["records"], again["files"], again["refused"]) == (0, 0, [forged])


def test_a_bad_grace_period_is_one_line(pipeline_settings: Settings) -> None:
    done = run_cli(pipeline_settings, "buckets", "sweep", "--grace-days", "-1")
    assert done.returncode == 2
    assert "--grace-days" in done.stderr


def test_a_missing_staging_bucket_is_one_line(pipeline_settings: Settings) -> None:
    done = run_cli(pipeline_settings, "buckets", "sweep", env={"RECORDFLOW_BUCKET_PREFIX": "none-"})
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: no staging bucket 'none-staging': run `recordflow buckets apply` first"
    )
