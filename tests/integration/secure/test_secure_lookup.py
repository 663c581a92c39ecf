"""The lookup service on the secure profile, as production runs it: `recordflow lookup serve` in a
process of its own, signed in as its own principal, `lookup`, to Kafka (SASL/SCRAM, ACLs) and to S3
(an IAM account that may do only what the bucket policies grant). Its store follows the catalog and
the access decisions, staff and citizens are on the audit trail it writes, and an open record's
file comes through a link the lookup's S3 account signed for the public address the portal's users
reach (`lookup_download_endpoint`), not the one the service uses; the public sees open records
only. With the same credentials, everything else an internet-facing service must not do is refused
by Kafka's authorizer and by the S3 server: writing the catalog or the decisions, reading the
queues, putting into the archive, changing a version's retention or legal hold, reading staging."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import httpx
from minio.commonconfig import COMPLIANCE
from minio.retention import Retention

from avro_schemas.codec import Codec
from avro_schemas.schemas import AUDIT_EVENT
from connectors.lookup.tokens import CITIZEN, issue
from connectors.readback import read_topic
from connectors.storage import Storage
from recordflow.localstack.lookup import lookup_process
from recordflow.localstack.secure import ARCHIVIST, LOOKUP, agency_principal, as_principal
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.cli import run_cli, signed_in
from tests.integration.secure.test_secure_kafka import TOPIC_DENIED, produce, read
from tests.integration.secure.test_secure_s3 import client, denied, put
from tests.integration.test_lookup import (
    DOCUMENTS,
    PORTAL_KEY,
    STAFF_KEY,
    ZHANG,
    archive,
    codes,
    lookup_settings,
    search,
)

DECISION_TIMEOUT_S = 30.0
# A 公告 (open at once), a 1990 通知 (open under the 25-year rule), a 通知 of this year (not open
# before 2051) and a deed naming 张三 by their identity number (not open either).
SECURE_DOCUMENTS = {d: DOCUMENTS[d] for d in ("LK-NOTICE", "LK-1990", "LK-RECENT", "LK-DEED")}


def test_the_lookup_service_runs_as_its_own_principal(
    secure_pipeline: Settings,
    secure_worker: WorkerProcess,
    stack_secrets: list[str],
    tmp_path: Path,
) -> None:
    bgt = as_principal(secure_pipeline, agency_principal("bgt"))
    archived = archive(bgt, secure_pipeline, SECURE_DOCUMENTS, tmp_path)
    notice, old, recent, deed = (archived[d] for d in SECURE_DOCUMENTS)
    archivist = as_principal(secure_pipeline, ARCHIVIST)
    lookup = as_principal(secure_pipeline, LOOKUP)
    # The service reaches S3 at 127.0.0.1; the portal's users at another name of it.
    public = f"localhost:{secure_pipeline.secure_s3_port}"
    assert lookup.s3_endpoint != public
    served = lookup_settings(lookup).model_copy(
        update={"lookup_download_endpoint": f"http://{public}"})  # fmt: skip
    staff_cli = run_cli(secure_pipeline, "lookup", "token", "wang.li", "--hours", "1",
                        env={"RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY": STAFF_KEY})  # fmt: skip
    assert staff_cli.returncode == 0, staff_cli.stderr
    staff = staff_cli.stdout.strip()

    with lookup_process(served) as url:
        # Ready: its store read the catalog and the decisions to their ends, as `lookup`.
        # The public: the open records only; staff: every one of them.
        assert codes(search(url, size=100)) == {notice, old}
        assert codes(search(url, q="不动产")) == {notice}
        assert codes(search(url, staff, size=100)) == {notice, old, recent, deed}

        # An open record's file: a link to the secure S3 server under its public name, signed
        # with the lookup's account, which its bucket policy lets read the archived version;
        # fetched there, the signature holds for that host. Unsigned, refused.
        page = httpx.get(f"{url}/v1/records/{notice}", timeout=10)
        assert page.status_code == 200, page.text
        (file,) = page.json()["files"]
        link = httpx.get(file["download"], timeout=10)
        assert link.status_code == 303, link.text
        location = urlsplit(link.headers["location"])
        assert (location.scheme, location.netloc) == ("http", public)
        signed = parse_qs(location.query)
        assert signed["X-Amz-Credential"][0].startswith(f"{LOOKUP}/")
        assert "versionId" in signed
        fetched = httpx.get(link.headers["location"], timeout=10)
        assert fetched.status_code == 200, fetched.text
        assert fetched.content == (tmp_path / "LK-NOTICE.pdf").read_bytes()
        unsigned = httpx.get(urlunsplit(location._replace(query="")), timeout=10)
        assert unsigned.status_code == 403 and b"AccessDenied" in unsigned.content

        # Staff download a record not open to the public, through the same account.
        hidden = httpx.get(f"{url}/v1/records/{recent}/files/1", timeout=10)
        assert hidden.status_code == 404
        shown = httpx.get(f"{url}/v1/records/{recent}/files/1",
                          headers={"Authorization": f"Bearer {staff}"}, timeout=10)  # fmt: skip
        assert shown.status_code == 303, shown.text
        assert (
            httpx.get(shown.headers["location"], timeout=10).content
            == (tmp_path / "LK-RECENT.pdf").read_bytes()
        )

        # A citizen the portal vouches for finds the deed naming them, and nothing else.
        citizen = issue(PORTAL_KEY, CITIZEN, "portal:zhangsan", 600, id_number=ZHANG)
        assert codes(search(url, citizen)) == {deed}

        # 开放鉴定 by the archivist (`records access`): the service follows the decisions topic.
        decided = run_cli(secure_pipeline, "records", "access", recent, "open", "--reason",
                          "2026年第1次开放鉴定会议", "--by", "wang.li", "--json",
                          env=signed_in(archivist))  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert json.loads(decided.stdout)["access"] == "open"
        deadline = time.monotonic() + DECISION_TIMEOUT_S
        while not codes(search(url, code=recent)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert codes(search(url, code=recent)) == {recent}
        log = lookup.home / "logs" / f"lookup-{urlsplit(url).port}.log"

    # What staff and the citizen did, on the trail the lookup wrote (read here as the admin).
    codec = Codec.from_url(secure_pipeline.schema_registry_url)
    trail = [codec.decode(value, AUDIT_EVENT)
             for _, value in read_topic(secure_pipeline, secure_pipeline.audit_topic)]  # fmt: skip
    assert sorted((e["actor"], e["role"], e["action"], e["target"]) for e in trail) == [
        ("portal:zhangsan", "citizen", "lookup.search", ""),
        ("wang.li", "staff", "lookup.download", f"{recent}#1"),
        ("wang.li", "staff", "lookup.search", "size=100"),
    ]
    assert ZHANG not in str(trail)
    # The service's log holds no credential of the stack.
    assert log.exists()
    assert not [s for s in stack_secrets if s in log.read_text(errors="replace")]

    # With the service's credentials, nothing but what it needs. Kafka: no record, decision or
    # review written, no queue read (its idempotent producer does get an id: it writes the trail).
    for topic in (secure_pipeline.catalog_topic, secure_pipeline.access_decisions_topic,
                  secure_pipeline.review_topic, secure_pipeline.register_topic):  # fmt: skip
        assert produce(lookup, topic) == TOPIC_DENIED, topic
    readers = lookup.reader_group("probe")
    for topic in (secure_pipeline.review_topic, secure_pipeline.deadletter_topic,
                  secure_pipeline.audit_topic):  # fmt: skip
        assert read(lookup, topic, readers) == TOPIC_DENIED, topic
    # S3: the archived version it linked to may be read, and nothing more done to it or beside it.
    bucket, key = unquote(location.path).lstrip("/").split("/", 1)
    version = signed["versionId"][0]
    assert bucket == secure_pipeline.archive_bucket
    s3 = client(secure_pipeline, LOOKUP)
    assert s3.get_object(bucket, key, version_id=version).read() == fetched.content
    admin = Storage(secure_pipeline).client
    kept = admin.get_object_retention(bucket, key, version_id=version)
    assert kept is not None and kept.retain_until_date is not None
    until = Retention(COMPLIANCE, kept.retain_until_date)
    assert denied(lambda: s3.set_object_retention(bucket, key, until, version_id=version)) == (
        "AccessDenied")  # fmt: skip
    assert denied(lambda: s3.enable_object_legal_hold(bucket, key, version)) == "AccessDenied"
    assert denied(lambda: put(s3, bucket, f"{key}.forged", b"forged")) == "AccessDenied"
    assert denied(lambda: list(s3.list_objects(bucket))) == "AccessDenied"
    staging = secure_pipeline.staging_bucket
    staged = str(next(admin.list_objects(staging, recursive=True)).object_name)
    assert denied(lambda: s3.get_object(staging, staged)) == "AccessDenied"
    assert denied(lambda: put(s3, secure_pipeline.exports_bucket, "catalog/x.parquet")) == (
        "AccessDenied")  # fmt: skip
