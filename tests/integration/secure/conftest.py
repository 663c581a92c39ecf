"""Fixtures for the secure profile: its own Kafka (SASL/SCRAM, ACLs) and S3 server (IAM accounts,
bucket policies), brought up once per session by the project's own `Stack` beside the plain one
and left running, like the plain stack. A server that cannot be reached fails the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from avro_schemas.codec import Codec
from connectors.readback import Outcome, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.secure import (
    PIPELINE,
    Secrets,
    agency_principal,
    as_principal,
    secrets_path,
    secure_settings,
)
from recordflow.localstack.stack import Stack
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.conftest import private_pipeline, stack_lock


@pytest.fixture(scope="session")
def secure_stack() -> Settings:
    """The secure profile's admin, its servers up and every principal's credentials in place."""
    with stack_lock(Settings()):
        admin = secure_settings(Settings(), create=True)
        Stack(admin).ensure_up(Console(stderr=True))
    return admin


@pytest.fixture(scope="session")
def stack_secrets(secure_stack: Settings) -> list[str]:
    stored = Secrets.load(secrets_path(secure_stack))
    assert stored is not None
    return stored.values()


@pytest.fixture
def secure_pipeline(secure_stack: Settings) -> Iterator[Settings]:
    """A private pipeline on the secure stack (topics, ACLs, schemas, buckets and their policies),
    as its admin; its topics deleted afterwards, as the plain stack's are."""
    yield from private_pipeline(secure_stack, "s")


@pytest.fixture
def secure_worker(secure_pipeline: Settings) -> Iterator[WorkerProcess]:
    """A worker signed in as the pipeline principal, to Kafka and to S3."""
    pipeline = as_principal(secure_pipeline, PIPELINE)
    process = WorkerProcess(pipeline, name=f"secure-{secure_pipeline.topic_prefix.rstrip('.')}")
    process.start()
    process.wait_ready()
    yield process
    process.stop()


def submit_beside_junk(
    settings: Settings, files: list[FileToSubmit], metadata: dict[str, object], timeout_s: float
) -> tuple[str, Outcome]:
    """bgt, as itself, submits a document and then bytes that are no event (a dead letter); the
    document's event id and its outcome once the worker has given it one."""
    submitter = Submitter(as_principal(settings, agency_principal("bgt")))
    receipt = submitter.submit("bgt", files, metadata)
    submitter.producer.produce(settings.ingest_topic("bgt"), b"not avro", key=b"junk")
    submitter.close()
    codec = Codec.from_url(settings.schema_registry_url)
    outcomes = watch_outcomes(settings, codec, {receipt.event_id}, timeout_s=timeout_s)
    return receipt.event_id, outcomes[receipt.event_id]
