"""The secure profile's pure parts: credentials file, Settings, server config, bucket policies."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from connectors.bucket_policies import bucket_policies
from recordflow.agencies import load_registry
from recordflow.localstack.kafka import Kafka, kafka_server_properties
from recordflow.localstack.s3 import S3
from recordflow.localstack.secure import (
    ADMIN,
    PIPELINE,
    Secrets,
    SecureProfileError,
    as_principal,
    principals,
    secure_settings,
)
from recordflow.localstack.service import _run_tool
from recordflow.localstack.stack import Stack
from recordflow.settings import Settings

REGISTRY = load_registry(Settings().agencies_file)


@pytest.fixture
def plain(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", topic_prefix="t.", bucket_prefix="b-")


def test_secrets_are_generated_once_in_a_private_file(plain: Settings) -> None:
    admin = secure_settings(plain, create=True, registry=REGISTRY)
    path = admin.home / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["principals"]
    assert set(stored) == {p.name for p in principals(Settings(), REGISTRY)}
    again = secure_settings(plain, create=True, registry=REGISTRY)
    assert again.kafka_sasl_password == admin.kafka_sasl_password
    passwords = [entry["kafka_password"] for entry in stored.values()]
    assert len(set(passwords)) == len(passwords)
    loaded = Secrets.load(path)
    assert loaded is not None and passwords[0] not in repr(loaded)


def test_a_new_principal_gets_credentials_and_the_others_keep_theirs(plain: Settings) -> None:
    path = plain.home / "secure" / "secrets.json"
    first = Secrets.load_or_create(path, [ADMIN])
    second = Secrets.load_or_create(path, [ADMIN, PIPELINE])
    assert second[ADMIN] == first[ADMIN]
    assert PIPELINE in second.credentials
    with pytest.raises(SecureProfileError):
        second["agency-nobody"]


def test_secure_settings_sign_in_beside_the_plain_stack(plain: Settings) -> None:
    admin = secure_settings(plain, create=True, registry=REGISTRY)
    assert admin.home == plain.home.resolve() / "secure"
    assert admin.stack_shared_home == plain.home.resolve()
    assert admin.kafka_bootstrap == f"127.0.0.1:{plain.secure_kafka_port}"
    assert admin.s3_endpoint == f"127.0.0.1:{plain.secure_s3_port}"
    assert admin.schema_registry_url == plain.schema_registry_url  # shared
    assert (admin.topic_prefix, admin.bucket_prefix) == ("t.", "b-")
    config = admin.kafka_config()
    assert config["security.protocol"] == "SASL_PLAINTEXT"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == ADMIN
    secret = config["sasl.password"]
    assert secret and secret not in repr(admin) and secret not in str(admin.model_dump())
    pipeline = as_principal(admin, PIPELINE)
    assert (pipeline.kafka_sasl_username, pipeline.s3_access_key) == (PIPELINE, PIPELINE)
    assert pipeline.kafka_sasl_password != admin.kafka_sasl_password
    with pytest.raises(SecureProfileError):
        secure_settings(admin)


def test_the_secure_stack_runs_its_own_kafka_and_s3_and_shares_the_registry(
    plain: Settings,
) -> None:
    admin = secure_settings(plain, create=True, registry=REGISTRY)
    stack = Stack(admin)
    assert [s.name for s in stack.services] == ["kafka", "registry", "s3"]
    assert stack.shared == {"registry"}
    assert stack.service("registry").home == plain.home.resolve()
    kafka, s3 = stack.service("kafka"), stack.service("s3")
    assert isinstance(kafka, Kafka) and isinstance(s3, S3)
    assert kafka.install_dir == Kafka(plain).install_dir  # nothing installed twice
    assert kafka.properties_file.is_relative_to(admin.home)
    assert kafka.data_dir != Stack(plain).service("kafka").data_dir
    assert "--iam-dir" in s3.command() and "--iam-dir" not in Stack(plain).service("s3").command()
    with pytest.raises(Exception, match="admin"):
        Stack(as_principal(admin, PIPELINE))


def test_secure_kafka_properties_authenticate_and_authorize(tmp_path: Path) -> None:
    text = kafka_server_properties(29192, 29193, tmp_path, admin_password="pw-1")
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert "PLAINTEXT:PLAINTEXT" not in props["listener.security.protocol.map"]
    plain = kafka_server_properties(29192, 29193, tmp_path)
    assert "authorizer" not in plain and "pw-1" not in plain


def test_format_adds_the_admin_in_equals_form_and_the_log_hides_it(plain: Settings) -> None:
    admin = secure_settings(plain, create=True, registry=REGISTRY)
    kafka = Kafka(admin)
    command = kafka.format_command("-abc", Path("/p"), admin_password="-secret-1")
    assert "--add-scram=SCRAM-SHA-512=[name=admin,password=-secret-1]" in command
    log = plain.home / "tool.log"
    _run_tool(["echo", "-secret-1"], log, lambda _: None, redact=["-secret-1"])
    assert "-secret-1" not in log.read_text().split("\n$ ")[1].splitlines()[0]


def test_bucket_policies_confine_each_account() -> None:
    settings = Settings(bucket_prefix="b-")
    policies = bucket_policies(settings, REGISTRY)
    assert set(policies) == {"b-staging", "b-archive", "b-exports"}

    def allowed(bucket: str, who: str) -> set[tuple[str, str]]:
        return {
            (action, resource)
            for st in policies[bucket]["Statement"]
            if st["Effect"] == "Allow" and who in st["Principal"]["AWS"]
            for action in st["Action"]
            for resource in st["Resource"]
        }

    for agency in REGISTRY.agencies:
        who = f"agency-{agency.code}"
        staged = allowed("b-staging", who)
        assert ("s3:PutObject", f"arn:aws:s3:::b-staging/{agency.code}/*") in staged
        assert {resource for _, resource in staged} == {f"arn:aws:s3:::b-staging/{agency.code}/*"}
        assert allowed("b-archive", who) == set()
        assert allowed("b-exports", who) == set()
    assert not any(action.startswith("s3:Delete") for action, _ in allowed("b-archive", PIPELINE))
    assert ("s3:GetObject", "arn:aws:s3:::b-archive/*") in allowed("b-archive", "subscriber")
    # `recordflow export parquet` runs as the archivist; downstream systems read what it wrote.
    assert ("s3:PutObject", "arn:aws:s3:::b-exports/*") in allowed("b-exports", "archivist")
    assert ("s3:ListBucket", "arn:aws:s3:::b-exports") in allowed("b-exports", "archivist")
    read_only = {action for action, _ in allowed("b-exports", "subscriber")}
    assert read_only == {"s3:GetObject", "s3:ListBucket"}
    assert allowed("b-exports", PIPELINE) == set()
    [deny] = [st for st in policies["b-archive"]["Statement"] if st["Effect"] == "Deny"]
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(deny["Action"])
    assert set(deny["Principal"]["AWS"]) == {p.name for p in principals(Settings(), REGISTRY)} - {
        ADMIN
    }


def test_the_gateway_stages_anywhere_reads_only_its_own_prefix_and_never_the_archive() -> None:
    settings = Settings(bucket_prefix="b-")
    policies = bucket_policies(settings, REGISTRY)
    grants = {
        (action, resource)
        for bucket, policy in policies.items()
        for st in policy["Statement"]
        if st["Effect"] == "Allow" and "gateway" in st["Principal"]["AWS"]
        for action in st["Action"]
        for resource in st["Resource"]
    }
    assert ("s3:PutObject", "arn:aws:s3:::b-staging/*") in grants
    reads = {resource for action, resource in grants if action.startswith("s3:Get")}
    assert reads == {"arn:aws:s3:::b-staging/gateway/*"}
    assert not any("b-archive" in resource for _, resource in grants)
    assert "gateway" in {p.name for p in principals(settings, REGISTRY)}


def test_the_lookup_service_reads_archived_versions_and_nothing_else() -> None:
    """What a presigned GET of an archived version needs, and no more: its links can do only
    what its account may, and it is the portal's internet-facing side."""
    settings = Settings(bucket_prefix="b-")
    policies = bucket_policies(settings, REGISTRY)
    grants = {
        (bucket, action, resource)
        for bucket, policy in policies.items()
        for st in policy["Statement"]
        if st["Effect"] == "Allow" and "lookup" in st["Principal"]["AWS"]
        for action in st["Action"]
        for resource in st["Resource"]
    }
    assert grants == {
        ("b-archive", "s3:GetObject", "arn:aws:s3:::b-archive/*"),
        ("b-archive", "s3:GetObjectVersion", "arn:aws:s3:::b-archive/*"),
    }
    [deny] = [st for st in policies["b-archive"]["Statement"] if st["Effect"] == "Deny"]
    assert "lookup" in deny["Principal"]["AWS"]
    assert ("lookup", "lookup") in {(p.name, p.kind) for p in principals(settings, REGISTRY)}
    renamed = bucket_policies(Settings(bucket_prefix="b-", principal_lookup="svc-lookup"), REGISTRY)
    assert {
        st["Sid"]
        for st in renamed["b-archive"]["Statement"]
        if "svc-lookup" in st["Principal"]["AWS"]
    } == {"LookupSignsDownloads", "NobodyDeletes"}
