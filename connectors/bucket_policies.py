"""Bucket policies for the secure profile's S3 accounts (docs/design.md, "Storage").

`bucket_policies(settings, registry)` is pure: the policy documents for the staging, archive and
exports buckets, derived from the agency registry. The accounts are the principals of
`recordflow/localstack/secure.py`, each an IAM user with no rights of its own ("user" role), so a policy
statement is the only thing that lets it do anything:

    staging   agency-<code>  PutObject (and multipart parts) under `<code>/` only
              pipeline       GetObject anywhere (it reads what agencies staged); PutObject
                             under `_archived/` (the register stage's markers) and list,
                             DeleteObject anywhere (`buckets sweep` runs as the pipeline:
                             connectors/staging_sweep.py)
              gateway        PutObject (and multipart parts) anywhere but `_archived/` (it
                             stages for every agency, checking the caller's agency itself; a
                             marker it could write would have the sweep delete what it names);
                             GetObject under `gateway/` (its own working objects)
    archive   pipeline       PutObject with retention and legal hold, GetObject, list
              subscriber     GetObject (downstream systems fetch a record's files)
              archivist      GetObject; Get/PutObjectRetention and Get/PutObjectLegalHold (an
                             appraisal lengthens a record's lock; `verify` re-reads objects)
              lookup         GetObject, GetObjectVersion: the lookup service signs its presigned
                             download links, GETs of an archived version, with this account, and
                             a link may do no more than the account; nothing on staging or
                             exports, no retention or legal hold, no list
              every account  Deny DeleteObject / DeleteObjectVersion / BypassGovernanceRetention
    exports   archivist      PutObject (and multipart parts), GetObject, list: `recordflow export
                             parquet` is a staff tool, run as the principal that reads the catalog
                             for staff (topics/acls.py), and reads its own manifests back
              subscriber     GetObject, list (downstream systems read the Parquet files)

The root bypasses bucket policies (versitygw's, like AWS's account root) but not object lock:
an archived version under COMPLIANCE retention or a legal hold cannot be deleted by anyone.

versitygw evaluates these documents itself (v1.8.0: `auth/bucket_policy*.go`, principals by
access key id). MinIO grants per-user rights with IAM policies instead of bucket policies, so in
production the same statements become MinIO user policies; the local stack applies these.
"""

from __future__ import annotations

import json
from typing import Any

from minio import Minio

from connectors.staging_sweep import MARKER_PREFIX
from recordflow.agencies import AgencyRegistry
from recordflow.principals import Principals
from recordflow.settings import Settings

POLICY_VERSION = "2012-10-17"
MULTIPART = ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
GATEWAY_PREFIX = "gateway/"  # the gateway's own objects in the staging bucket
NEVER_IN_ARCHIVE = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]

Policy = dict[str, Any]


def _objects(bucket: str, prefix: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def _statement(
    sid: str, principals: list[str] | str, actions: list[str], resources: list[str], *,
    effect: str = "Allow",
) -> dict[str, Any]:  # fmt: skip
    return {
        "Sid": sid,
        "Effect": effect,
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": resources,
    }


def bucket_policies(settings: Settings, registry: AgencyRegistry) -> dict[str, Policy]:
    """The policy document for each bucket, by bucket name."""
    staging, archive, exports = (
        settings.staging_bucket, settings.archive_bucket, settings.exports_bucket
    )  # fmt: skip
    names = Principals.of(settings)
    agencies = [
        _statement(
            f"Agency{agency.code.replace('-', '').capitalize()}StagesOwnPrefix",
            [names.agency(agency.code)],
            ["s3:PutObject", *MULTIPART],
            [_objects(staging, f"{agency.code}/")],
        )
        for agency in registry.agencies
        if agency.active  # an offboarded agency may no longer stage
    ]
    everyone = names.everyone(registry)
    return {
        staging: {
            "Version": POLICY_VERSION,
            "Statement": [
                *agencies,
                _statement(
                    "PipelineReadsStaged",
                    [names.pipeline],
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [_objects(staging)],
                ),
                _statement(
                    "PipelineMarksArchived",
                    [names.pipeline],
                    ["s3:PutObject"],
                    [_objects(staging, MARKER_PREFIX)],
                ),
                _statement(
                    "PipelineSweepsArchived",
                    [names.pipeline],
                    ["s3:DeleteObject"],
                    [_objects(staging)],
                ),
                _statement(
                    "PipelineListsStaging",
                    [names.pipeline],
                    ["s3:ListBucket"],
                    [f"arn:aws:s3:::{staging}"],
                ),
                _statement(
                    "GatewayStagesForAgencies",
                    [names.gateway],
                    ["s3:PutObject", *MULTIPART],
                    [_objects(staging)],
                ),
                _statement(
                    "GatewayNeverMarks",
                    [names.gateway],
                    ["s3:PutObject"],
                    [_objects(staging, MARKER_PREFIX)],
                    effect="Deny",
                ),
                _statement(
                    "GatewayReadsItsOwnPrefix",
                    [names.gateway],
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [_objects(staging, GATEWAY_PREFIX)],
                ),
            ],
        },
        archive: {
            "Version": POLICY_VERSION,
            "Statement": [
                _statement(
                    "PipelineArchives",
                    [names.pipeline],
                    [
                        "s3:PutObject",
                        "s3:PutObjectRetention",
                        "s3:PutObjectLegalHold",
                        "s3:GetObject",
                        "s3:GetObjectVersion",
                        "s3:GetObjectRetention",
                        "s3:GetObjectLegalHold",
                        *MULTIPART,
                    ],
                    [_objects(archive)],
                ),
                _statement(
                    "PipelineLists",
                    [names.pipeline],
                    ["s3:ListBucket", "s3:ListBucketVersions"],
                    [f"arn:aws:s3:::{archive}"],
                ),
                _statement(
                    "SubscribersRead",
                    [names.subscriber],
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [_objects(archive)],
                ),
                _statement(
                    "ArchivistsLengthenLocks",
                    [names.archivist],
                    [
                        "s3:GetObject",
                        "s3:GetObjectVersion",
                        "s3:GetObjectRetention",
                        "s3:PutObjectRetention",
                        "s3:GetObjectLegalHold",
                        "s3:PutObjectLegalHold",
                    ],
                    [_objects(archive)],
                ),
                _statement(
                    "LookupSignsDownloads",
                    [names.lookup],
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [_objects(archive)],
                ),
                _statement(
                    "NobodyDeletes", everyone, NEVER_IN_ARCHIVE, [_objects(archive)], effect="Deny"
                ),
            ],
        },
        exports: {
            "Version": POLICY_VERSION,
            "Statement": [
                _statement(
                    "ArchivistsExport",
                    [names.archivist],
                    ["s3:PutObject", "s3:GetObject", *MULTIPART],
                    [_objects(exports)],
                ),
                _statement(
                    "SubscribersReadExports",
                    [names.subscriber],
                    ["s3:GetObject"],
                    [_objects(exports)],
                ),
                _statement(
                    "ExportsListed",
                    [names.archivist, names.subscriber],
                    ["s3:ListBucket"],
                    [f"arn:aws:s3:::{exports}"],
                ),
            ],
        },
    }


def apply_bucket_policies(client: Minio, policies: dict[str, Policy]) -> None:
    """Set each bucket's policy (PutBucketPolicy replaces the whole document: idempotent)."""
    for bucket, policy in policies.items():
        client.set_bucket_policy(bucket, json.dumps(policy))
