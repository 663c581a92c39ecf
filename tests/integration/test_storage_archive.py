"""The archive write on the real S3 server: a fetched staged file is copied inside S3 (the worker
does not send its bytes again), on condition that the staged object still has the ETag it was
served under, and the copy is verified by the SHA-256 S3 computes of it; otherwise the verified
local copy is written. Either way the archived version carries the record's lock and fixity."""

from __future__ import annotations

import base64
import io
import os
from typing import IO

import pytest

from connectors.storage import CHECKSUM_SHA256, PART_SIZE, PERMANENT_UNTIL, Source, Storage
from recordflow.errors import RecordRejected
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
    assert fetched.source is not None
    assert (fetched.source.bucket, fetched.source.key) == (pipeline_settings.staging_bucket,
                                                           "bgt/u1/01-scan.jpg")  # fmt: skip

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
    checked = storage.client.stat_object(bucket, "Z101/1990/a/01.jpg", version_id=version,
                                         extra_headers={"x-amz-checksum-mode": "ENABLED"})  # fmt: skip
    assert checked.metadata is not None
    assert (
        checked.metadata[CHECKSUM_SHA256]
        == base64.b64encode(fetched.digests.sha256.digest()).decode()
    )


def test_a_file_staged_in_parts_is_copied_and_verified(pipeline_settings: Settings) -> None:
    """A file over PART_SIZE is staged in parts, so its ETag is not the MD5 of its bytes, and
    S3 gives its copy another ETag: the copy is checked by its SHA-256 instead."""
    storage = Storage(pipeline_settings)
    data = os.urandom(PART_SIZE + 1_000_000)
    storage.stage("bgt/u4/01-film.mp4", io.BytesIO(data), len(data), "video/mp4")
    fetched = storage.fetch(pipeline_settings.staging_bucket, "bgt/u4/01-film.mp4")
    assert fetched.source is not None and fetched.source.etag.endswith("-2")

    version = storage.archive("Z101/1990/d/01.mp4", Unreadable(), fetched.digests,
                              content_type="video/mp4", retain_until=None,
                              source=fetched.source)  # fmt: skip

    assert archived_bytes(storage, "Z101/1990/d/01.mp4", version) == data


def test_a_copy_from_another_object_than_the_one_fetched_is_refused(
    pipeline_settings: Settings,
) -> None:
    """A copy of other bytes than those verified is refused by its SHA-256: here the source names
    another staged object, with that object's own ETag, so S3 makes the copy."""
    storage = Storage(pipeline_settings)
    verified, other = os.urandom(40_000), os.urandom(40_000)
    storage.stage("bgt/u5/01-scan.jpg", io.BytesIO(verified), len(verified), "image/jpeg")
    storage.stage("bgt/u5/02-scan.jpg", io.BytesIO(other), len(other), "image/jpeg")
    fetched = storage.fetch(pipeline_settings.staging_bucket, "bgt/u5/01-scan.jpg")
    elsewhere = storage.fetch(pipeline_settings.staging_bucket, "bgt/u5/02-scan.jpg")
    assert elsewhere.source is not None
    wrong = Source(elsewhere.source.bucket, elsewhere.source.key, None, elsewhere.source.etag)

    with pytest.raises(RecordRejected) as refused:
        storage.archive("Z101/1990/e/01.jpg", fetched.content, fetched.digests,
                        content_type="image/jpeg", retain_until=None, source=wrong)  # fmt: skip
    assert refused.value.reason == "store-verify-failed"


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
