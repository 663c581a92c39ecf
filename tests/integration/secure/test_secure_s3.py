"""S3 on the secure profile: each account does what the bucket policies
(connectors/bucket_policies.py) grant it and is refused everything else; nothing archived can be
deleted or overwritten before its retention ends, whoever asks, the root included."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from connectors.staging_sweep import Marker, marker_key, sweep
from connectors.storage import Digests, Storage
from recordflow.localstack.secure import (
    ADMIN,
    ARCHIVIST,
    DEFAULT_NAMES,
    PIPELINE,
    SUBSCRIBER,
    Secrets,
    agency_principal,
    as_principal,
    ensure_s3_accounts,
    secrets_path,
)
from recordflow.settings import Settings

AGENCIES = ["bgt", "zjj", "bdc", "zwfw", "fy"]
EVERYONE = [ADMIN, PIPELINE, SUBSCRIBER, *(agency_principal(code) for code in AGENCIES)]


def client(settings: Settings, who: str) -> Minio:
    return Storage(as_principal(settings, who)).client


def put(c: Minio, bucket: str, key: str, data: bytes = b"x", **kwargs: object) -> str | None:
    return c.put_object(bucket, key, io.BytesIO(data), len(data), **kwargs).version_id  # type: ignore[arg-type]


def denied(action: Callable[[], object]) -> str:
    """The S3 error code of an action that must fail."""
    with pytest.raises(S3Error) as refused:
        action()
    return str(refused.value.code)


@pytest.mark.parametrize("code", AGENCIES)
def test_an_agency_stages_only_under_its_own_prefix(secure_pipeline: Settings, code: str) -> None:
    agency = client(secure_pipeline, agency_principal(code))
    staging, archive = secure_pipeline.staging_bucket, secure_pipeline.archive_bucket
    put(agency, staging, f"{code}/u1/own.pdf")
    for other in AGENCIES:
        if other != code:
            assert denied(partial(put, agency, staging, f"{other}/u1/x.pdf")) == "AccessDenied"
    assert denied(lambda: put(agency, staging, "loose.pdf")) == "AccessDenied"
    assert denied(lambda: agency.get_object(staging, f"{code}/u1/own.pdf")) == "AccessDenied"
    assert denied(lambda: put(agency, archive, f"{code}/forged")) == "AccessDenied"
    assert denied(lambda: list(agency.list_objects(staging))) == "AccessDenied"


def test_the_pipeline_reads_staging_and_archives_under_lock(secure_pipeline: Settings) -> None:
    staging, archive = secure_pipeline.staging_bucket, secure_pipeline.archive_bucket
    put(client(secure_pipeline, agency_principal("bgt")), staging, "bgt/u1/a.pdf", b"staged")
    pipeline = client(secure_pipeline, PIPELINE)
    assert pipeline.get_object(staging, "bgt/u1/a.pdf").read() == b"staged"
    assert denied(lambda: put(pipeline, staging, "bgt/u1/b.pdf")) == "AccessDenied"
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    version = put(pipeline, archive, "k1", b"v1", retention=Retention(COMPLIANCE, until))
    put(pipeline, archive, "k2", b"v2", legal_hold=True)
    assert pipeline.get_object(archive, "k1", version_id=version).read() == b"v1"
    assert pipeline.stat_object(archive, "k1").version_id == version
    assert denied(lambda: pipeline.remove_object(archive, "k1")) == "AccessDenied"
    assert denied(lambda: pipeline.remove_object(archive, "k1", version)) == "AccessDenied"


def test_the_pipeline_marks_and_sweeps_staging_and_the_gateway_cannot_mark(
    secure_pipeline: Settings,
) -> None:
    """The register stage's marker and `recordflow buckets sweep`, both run as the pipeline
    (connectors/staging_sweep.py); a marker the gateway could write would have the sweep delete
    what it names, so it may not, though it stages anywhere else."""
    staging = secure_pipeline.staging_bucket
    put(client(secure_pipeline, agency_principal("bdc")), staging, "bdc/u9/01-a.pdf", b"staged")
    marker = Marker("bdc", "e9", "X", ("bdc/u9/01-a.pdf",))
    pipeline = Storage(as_principal(secure_pipeline, PIPELINE))
    put(pipeline.client, staging, marker_key("bdc", "e9"), marker.as_json())
    gateway = client(secure_pipeline, DEFAULT_NAMES.gateway)
    put(gateway, staging, "bdc/u9/02-b.pdf")  # it stages for agencies …
    assert denied(lambda: put(gateway, staging, marker_key("bdc", "e10"))) == "AccessDenied"
    for outsider in (gateway, client(secure_pipeline, agency_principal("bdc"))):
        refused = denied(lambda: outsider.remove_object(staging, "bdc/u9/01-a.pdf"))  # noqa: B023
        assert refused == "AccessDenied"
    report = sweep(pipeline, grace=dt.timedelta(0))
    assert (report.records, report.files, report.bytes) == (1, 1, len(b"staged"))
    names = {item.object_name for item in pipeline.client.list_objects(staging, recursive=True)}
    assert "bdc/u9/01-a.pdf" not in names and marker_key("bdc", "e9") not in names
    assert "bdc/u9/02-b.pdf" in names


def test_a_subscriber_only_reads_the_archive(secure_pipeline: Settings) -> None:
    staging, archive = secure_pipeline.staging_bucket, secure_pipeline.archive_bucket
    put(client(secure_pipeline, agency_principal("zjj")), staging, "zjj/u1/a.pdf")
    put(client(secure_pipeline, PIPELINE), archive, "k1", b"record", legal_hold=True)
    subscriber = client(secure_pipeline, SUBSCRIBER)
    assert subscriber.get_object(archive, "k1").read() == b"record"
    assert denied(lambda: put(subscriber, archive, "k1", b"forged")) == "AccessDenied"
    assert denied(lambda: subscriber.get_object(staging, "zjj/u1/a.pdf")) == "AccessDenied"
    assert denied(lambda: put(subscriber, staging, "zjj/u1/b.pdf")) == "AccessDenied"


def test_the_archivist_exports_and_a_subscriber_reads_the_exports(
    secure_pipeline: Settings, tmp_path: Path
) -> None:
    """`recordflow export parquet` runs as the archivist: it uploads, lists and reads its
    manifests back; downstream systems read; the pipeline and agencies have no business there."""
    exports, key = secure_pipeline.exports_bucket, "catalog/_manifests/000001.json"
    local = tmp_path / "manifest.json"
    local.write_text("{}")
    archivist = Storage(as_principal(secure_pipeline, ARCHIVIST))
    assert archivist.put_export(key, local, "application/json") == 2
    for reader in (ARCHIVIST, SUBSCRIBER):
        storage = Storage(as_principal(secure_pipeline, reader))
        assert storage.list_exports("catalog/_manifests/") == [key]
        assert storage.get_export(key) == b"{}"
    subscriber = client(secure_pipeline, SUBSCRIBER)
    assert denied(lambda: put(subscriber, exports, key, b"forged")) == "AccessDenied"
    for outsider in (PIPELINE, agency_principal("bgt")):
        c = client(secure_pipeline, outsider)
        assert denied(lambda: put(c, exports, "catalog/x.parquet")) == "AccessDenied"  # noqa: B023
        assert denied(lambda: c.get_object(exports, key)) == "AccessDenied"  # noqa: B023


def test_wrong_credentials_are_refused(secure_pipeline: Settings) -> None:
    from pydantic import SecretStr

    wrong = as_principal(secure_pipeline, PIPELINE).model_copy(
        update={"s3_secret_key": SecretStr("not-it")}
    )
    code = denied(lambda: Storage(wrong).client.get_object(secure_pipeline.staging_bucket, "x"))
    assert code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("who", EVERYONE)
def test_no_credential_deletes_or_overwrites_an_archived_version_before_its_retention_ends(
    secure_pipeline: Settings, who: str
) -> None:
    archive = secure_pipeline.archive_bucket
    pipeline = client(secure_pipeline, PIPELINE)
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    retained = f"retained-{uuid.uuid4().hex[:6]}"
    held = f"held-{uuid.uuid4().hex[:6]}"
    retained_version = put(
        pipeline, archive, retained, b"original", retention=Retention(COMPLIANCE, until)
    )
    digests = Digests()
    digests.update(b"permanent")
    held_version = Storage(as_principal(secure_pipeline, PIPELINE)).archive(
        held, io.BytesIO(b"permanent"), digests, content_type="text/plain", retain_until=None
    )  # as the pipeline archives a permanent record
    assert retained_version and held_version
    c = client(secure_pipeline, who)
    # Whoever may release a legal hold (the root always may) still cannot delete the version.
    with contextlib.suppress(S3Error):
        c.disable_object_legal_hold(archive, held, held_version)

    for key, version in ((retained, retained_version), (held, held_version)):
        denied(partial(c.remove_object, archive, key, version))
        # An overwrite is at most a new version; the archived one keeps its bytes.
        try:
            put(c, archive, key, b"tampered")
        except S3Error as exc:
            assert exc.code == "AccessDenied"
        # A delete without a version id is at most a delete marker, which removes nothing.
        try:
            c.remove_object(archive, key)
        except S3Error as exc:
            assert exc.code == "AccessDenied"
    shorter = Retention(COMPLIANCE, until - dt.timedelta(days=1))
    denied(lambda: c.set_object_retention(archive, retained, shorter, version_id=retained_version))

    assert pipeline.get_object(archive, retained, version_id=retained_version).read() == b"original"
    assert pipeline.get_object(archive, held, version_id=held_version).read() == b"permanent"
    retention = pipeline.get_object_retention(archive, retained, version_id=retained_version)
    assert retention is not None and retention.retain_until_date == until


def test_each_agency_still_signs_in_as_itself_after_the_accounts_are_provisioned_again(
    secure_pipeline: Settings,
) -> None:
    """Every `stack up` (and every test process's fixture) provisions the accounts again while
    agencies are signed in. versitygw's account cache then kept each updated access key as a
    view of the admin request's buffer, which the next update rewrote: one agency was checked
    against another's secret (S3Service disables that cache)."""
    staging = secure_pipeline.staging_bucket
    agencies = {code: client(secure_pipeline, agency_principal(code)) for code in AGENCIES}
    for code, agency in agencies.items():  # each account in the server's cache
        put(agency, staging, f"{code}/u1/before.pdf")
    names = [agency_principal(code) for code in AGENCIES]
    stored = Secrets.load(secrets_path(secure_pipeline))
    assert stored is not None
    for _ in range(3):
        ensure_s3_accounts(secure_pipeline, stored, names)
        refused = []
        for code, agency in agencies.items():
            try:
                put(agency, staging, f"{code}/u1/after.pdf")
            except S3Error as exc:
                refused.append((code, exc.code))
        assert refused == []
