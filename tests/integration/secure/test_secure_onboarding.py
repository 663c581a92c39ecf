"""Onboarding on the secure profile (`recordflow agencies onboard --secure`): the new agency gets its
own Kafka user and S3 account, may write its ingest topic and stage its prefix, and is archived
by the running worker; offboarded, the broker and the S3 server refuse it, and its record stays."""

from __future__ import annotations

import io
import os
from pathlib import Path

from minio import Minio
from minio.error import S3Error

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.secure import agency_principal, as_principal
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli
from tests.integration.secure.test_secure_kafka import CLUSTER_DENIED, TOPIC_DENIED, produce

TIMEOUT_S = 120.0


def stage(settings: Settings, key: str) -> str | None:
    """Put a small object in the staging bucket; None when S3 took it, else its error code."""
    client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                   secret_key=settings.s3_secret_key.get_secret_value(), secure=False)  # fmt: skip
    try:
        client.put_object(settings.staging_bucket, key, io.BytesIO(b"probe"), 5)
    except S3Error as exc:
        return exc.code
    return None


def test_an_agency_onboarded_on_the_secure_profile_signs_in_as_itself_until_offboarded(
    secure_pipeline: Settings, secure_worker: WorkerProcess, tmp_path: Path
) -> None:
    onboard = run_cli(secure_pipeline, "agencies", "onboard", "sjj", "--name", "市司法局",
                      "--fonds", "Z140", "--unit", "BGS:办公室", "--secure",
                      "--schedule-dir", str(tmp_path))  # fmt: skip
    assert onboard.returncode == 0, onboard.stderr
    sjj = as_principal(secure_pipeline, agency_principal("sjj"))
    path = tmp_path / "notice.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(1024))
    metadata = notice_metadata("SJJ-2026-0100", responsible_party="市司法局")
    submitter = Submitter(sjj)
    event_id = submitter.submit("sjj", [FileToSubmit(path)], metadata).event_id
    submitter.close()
    codec = Codec.from_url(secure_pipeline.schema_registry_url)
    outcome = watch_outcomes(secure_pipeline, codec, {event_id}, timeout_s=TIMEOUT_S)[event_id]
    assert outcome.status == "archived" and str(outcome.reference_code).startswith("Z140-")
    assert produce(sjj, secure_pipeline.ingest_topic("bgt")) == TOPIC_DENIED  # only its own
    assert stage(sjj, "bgt/probe") == "AccessDenied"

    offboard = run_cli(secure_pipeline, "agencies", "offboard", "sjj", "--secure")
    assert offboard.returncode == 0, offboard.stderr
    # Without IDEMPOTENT_WRITE its producer gets no producer id: refused before any topic.
    assert produce(sjj, secure_pipeline.ingest_topic("sjj")) in (TOPIC_DENIED, CLUSTER_DENIED)
    assert stage(sjj, "sjj/probe") == "AccessDenied"
    assert outcome.reference_code in catalog(secure_pipeline, codec)
