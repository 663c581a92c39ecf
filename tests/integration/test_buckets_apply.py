"""`recordflow buckets apply` on the local stack's S3 (versitygw): the buckets a production install
creates once (the chart's buckets Job runs it), the archive with object lock; an archive bucket
made without lock is refused for a person, never used."""

from __future__ import annotations

import json
import socket
import uuid

from connectors.storage import Storage
from recordflow.settings import Settings
from tests.integration.cli import run_cli


def fresh(stack_settings: Settings) -> Settings:
    return stack_settings.model_copy(update={"bucket_prefix": f"b{uuid.uuid4().hex[:8]}-"})


def plan(settings: Settings, *args: str) -> tuple[int, dict[str, str]]:
    result = run_cli(settings, "buckets", "apply", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, {c["bucket"]: c["action"] for c in json.loads(result.stdout)}


def test_missing_buckets_are_created_once_the_archive_locked(stack_settings: Settings) -> None:
    settings = fresh(stack_settings)
    buckets = [settings.staging_bucket, settings.archive_bucket, settings.exports_bucket]
    assert plan(settings, "--dry-run") == (0, dict.fromkeys(buckets, "create"))
    client = Storage(settings).client
    assert not any(client.bucket_exists(bucket) for bucket in buckets)  # a dry run made none

    assert plan(settings) == (0, dict.fromkeys(buckets, "create"))
    assert Storage(settings).object_lock_on(settings.archive_bucket)
    assert client.get_bucket_versioning(settings.archive_bucket).status == "Enabled"
    assert plan(settings) == (0, dict.fromkeys(buckets, "keep"))


def test_an_archive_bucket_without_object_lock_is_a_conflict(stack_settings: Settings) -> None:
    settings = fresh(stack_settings)
    client = Storage(settings).client
    client.make_bucket(settings.archive_bucket)  # as someone might by hand: no lock
    status, actions = plan(settings)
    assert status == 1
    assert actions[settings.archive_bucket] == "conflict"
    assert actions[settings.staging_bucket] == "create"
    assert not Storage(settings).object_lock_on(settings.archive_bucket)  # left as it was
    shown = run_cli(settings, "buckets", "apply")
    assert shown.returncode == 1 and "without object lock" in shown.stdout


def test_unreachable_s3_is_one_line(stack_settings: Settings) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run_cli(stack_settings, "buckets", "apply",
                     env={"RECORDFLOW_S3_ENDPOINT": f"127.0.0.1:{port}"})  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: buckets apply failed:")
    assert len(result.stderr.strip().splitlines()) == 1
