"""The archive write on the real S3 server: a fetched staged file is copied inside S3 (the worker
does not send its bytes again), on condition that the staged object still holds the bytes the
worker verified; otherwise the verified local copy is written. Either way the archived version
carries the record's lock and fixity."""

from __future__ import annotations

import io
import os
from typing import IO

from connectors.storage import PERMANENT_UNTIL, Storage
from recordflow.settings import Settings


class Unreadable(io.BytesIO):
    """Content the archive must not read: the copy inside S3 needs none of it."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the archive read the local copy instead of copying inside S3")


def archived_bytes(storage: Storage, key: str, version_id: str) -> bytes:
    response = storage.client.get_object(
        storage.settings.archive_bucket, key, version_id=version_id
    )
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_a_fetched_file_is_copied_inside_s3_with_its_lock_and_fixity(
    pipeline_settings: Settings,
) -> None:
    storage = Storage(pipeline_settings)
    data = os.urandom(300_000)
    storage.stage("bgt/u1/01-scan.jpg", io.BytesIO(data), len(data), "image/jpeg")
    fetched = storage.fetch(pipeline_settings.staging_bucket, "bgt/u1/01-scan.jpg")
    assert fetched.source == (pipeline_settings.staging_bucket, "bgt/u1/01-scan.jpg", None)

    content: IO[bytes] = Unreadable()
    version = storage.archive("Z101/1990/a/01.jpg", content, fetched.digests,
                              content_type="image/jpeg", retain_until=None,
                              source=fetched.source)  # fmt: skip

    assert archived_bytes(storage, "Z101/1990/a/01.jpg", version) == data
    bucket = pipeline_settings.archive_bucket
    stat = storage.client.stat_object(bucket, "Z101/1990/a/01.jpg", version_id=version)
    assert stat.content_type == "image/jpeg" and stat.metadata is not None
    assert stat.metadata["x-amz-meta-sm3"] == fetched.digests.sm3.hexdigest()
    assert stat.metadata["x-amz-meta-sha256"] == fetched.digests.sha256.hexdigest()
    retention = storage.client.get_object_retention(bucket, "Z101/1990/a/01.jpg", version)
    assert retention is not None and retention.retain_until_date == PERMANENT_UNTIL
    assert storage.client.is_object_legal_hold_enabled(bucket, "Z101/1990/a/01.jpg", version)


def test_a_staged_file_changed_after_the_fetch_is_archived_from_the_verified_copy(
    pipeline_settings: Settings,
) -> None:
    storage = Storage(pipeline_settings)
    verified = os.urandom(200_000)
    storage.stage("bgt/u2/01-scan.jpg", io.BytesIO(verified), len(verified), "image/jpeg")
    fetched = storage.fetch(pipeline_settings.staging_bucket, "bgt/u2/01-scan.jpg")
    other = os.urandom(200_000)
    storage.stage("bgt/u2/01-scan.jpg", io.BytesIO(other), len(other), "image/jpeg")

    version = storage.archive("Z101/1990/b/01.jpg", fetched.content, fetched.digests,
                              content_type="image/jpeg", retain_until=None,
                              source=fetched.source)  # fmt: skip

    assert archived_bytes(storage, "Z101/1990/b/01.jpg", version) == verified


def test_a_staged_file_gone_after_the_fetch_is_archived_from_the_verified_copy(
    pipeline_settings: Settings,
) -> None:
    storage = Storage(pipeline_settings)
    verified = os.urandom(50_000)
    storage.stage("bgt/u3/01-scan.jpg", io.BytesIO(verified), len(verified), "image/jpeg")
    fetched = storage.fetch(pipeline_settings.staging_bucket, "bgt/u3/01-scan.jpg")
    storage.client.remove_object(pipeline_settings.staging_bucket, "bgt/u3/01-scan.jpg")

    version = storage.archive("Z101/1990/c/01.jpg", fetched.content, fetched.digests,
                              content_type="image/jpeg", retain_until=None,
                              source=fetched.source)  # fmt: skip

    assert archived_bytes(storage, "Z101/1990/c/01.jpg", version) == verified
