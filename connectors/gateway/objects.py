"""What the gateway keeps, as small JSON objects under `gateway/` in the staging bucket: S3 is
shared by every replica and survives restarts, and the gateway principal may write anywhere in
staging (agencies' files are under `<agency>/`; no agency is registered as `gateway`).

    gateway/idempotency/<agency>/<sha256 of the key>.json   request fingerprint + the 202 receipt
    gateway/submissions/<event id>.json                     agency, document id, the 202 receipt
    gateway/uploads/<upload id>/upload.json                 who created the upload, and when
    gateway/uploads/<upload id>/files/<sequence>.json       one file PUT into it, with digests
    gateway/uploads/<upload id>/commit.json                 the commit's fingerprint + receipt

One object per file of an upload, not one list, so that files PUT at the same time cannot
overwrite each other's entries.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from minio.error import S3Error

from connectors.storage import Storage

PREFIX = "gateway/"
MISSING = ("NoSuchKey", "NoSuchVersion")


class GatewayObjects:
    def __init__(self, storage: Storage) -> None:
        self.client = storage.client
        self.bucket = storage.settings.staging_bucket

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in MISSING:
                return None
            raise
        try:
            value = json.loads(response.read())
        finally:
            response.close()
            response.release_conn()
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        body = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()
        self.client.put_object(self.bucket, key, io.BytesIO(body), len(body),
                               content_type="application/json")  # fmt: skip

    def under(self, prefix: str) -> list[dict[str, Any]]:
        """Every object's value under `prefix`, by key."""
        names = [
            o.object_name for o in self.client.list_objects(self.bucket, prefix, recursive=True)
        ]
        return [value for name in sorted(n for n in names if n) if (value := self.get(name))]


def idempotency_key(agency: str, key: str) -> str:
    return f"{PREFIX}idempotency/{agency}/{hashlib.sha256(key.encode()).hexdigest()}.json"


def submission_key(event_id: str) -> str:
    return f"{PREFIX}submissions/{event_id}.json"


def upload_key(upload_id: str) -> str:
    return f"{PREFIX}uploads/{upload_id}/upload.json"


def upload_files_prefix(upload_id: str) -> str:
    return f"{PREFIX}uploads/{upload_id}/files/"


def upload_file_key(upload_id: str, sequence: int) -> str:
    return f"{upload_files_prefix(upload_id)}{sequence:04d}.json"


def commit_key(upload_id: str) -> str:
    return f"{PREFIX}uploads/{upload_id}/commit.json"
