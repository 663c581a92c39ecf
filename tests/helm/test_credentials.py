"""Each program signs in as its own principal: the workers, gateway, console, lookup service and
hook Job each get their own Kafka user, password Secret and S3 key Secret from their
`credentials`, and whatever a part leaves empty falls back to the release-wide
kafka.sasl.username, secrets.kafkaSasl and secrets.s3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helm.chart import (
    ALL_ON,
    BUILD_TIMEOUT_S,
    MINIMAL,
    OWN_CREDENTIALS,
    Helm,
    HelmError,
    find,
    merged,
)

# The first test of a fresh machine builds helm (go install: about 5 min on two cores).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

# Each part's values key and the workload it runs in.
WORKLOADS = {
    "workers": ("Deployment", "rf-recordflow-worker"),
    "gateway": ("Deployment", "rf-recordflow-gateway"),
    "console": ("Deployment", "rf-recordflow-console"),
    "lookup": ("Deployment", "rf-recordflow-lookup"),
    "topicsJob": ("Job", "rf-recordflow-topics"),
}
# The release-wide user, its password's Secret and the S3 key's Secret (values.yaml's default).
SHARED_USER = "shared"
SHARED_PASSWORD = {"name": "recordflow-kafka", "key": "password"}
SHARED_S3 = {"name": "recordflow-s3", "accessKeyKey": "access-key", "secretKeyKey": "secret-key"}
# SASL with the release-wide user alone, as values files written before `credentials`.
SASL: dict[str, Any] = {
    "kafka": {"securityProtocol": "SASL_SSL",
              "sasl": {"mechanism": "SCRAM-SHA-512", "username": SHARED_USER}},
    "secrets": {"kafkaSasl": SHARED_PASSWORD},
    # The hook Job runs `buckets apply` too: both its containers are checked.
    "s3": {"createBuckets": True},
}  # fmt: skip
# Every part as its own principal.
PER_PART = merged(SASL, {part: {"credentials": own} for part, own in OWN_CREDENTIALS.items()})


def workload_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def identities(objects: list[dict[str, Any]], part: str) -> Iterator[dict[str, Any]]:
    """The Kafka user, password reference and S3 key references each container of a part's
    workload is given."""
    kind, name = WORKLOADS[part]
    for container in workload_containers(find(objects, kind, name)):
        env = {e["name"]: e for e in container["env"]}
        user = env.get("RECORDFLOW_KAFKA_SASL_USERNAME")
        yield {
            "container": container["name"],
            "user": user["value"] if user else None,
            "password": secret_ref(env, "RECORDFLOW_KAFKA_SASL_PASSWORD"),
            "s3_access_key": secret_ref(env, "RECORDFLOW_S3_ACCESS_KEY"),
            "s3_secret_key": secret_ref(env, "RECORDFLOW_S3_SECRET_KEY"),
        }


def secret_ref(env: dict[str, dict[str, Any]], name: str) -> dict[str, str] | None:
    entry = env.get(name)
    return entry["valueFrom"]["secretKeyRef"] if entry else None


def expected(user: str, password: dict[str, str], s3: dict[str, str]) -> dict[str, Any]:
    s3 = {"accessKeyKey": "access-key", "secretKeyKey": "secret-key", **s3}
    return {
        "user": user,
        "password": password,
        "s3_access_key": {"name": s3["name"], "key": s3["accessKeyKey"]},
        "s3_secret_key": {"name": s3["name"], "key": s3["secretKeyKey"]},
    }


# What every part without credentials of its own gets.
RELEASE_WIDE = expected(SHARED_USER, SHARED_PASSWORD, SHARED_S3)


def identity_of(objects: list[dict[str, Any]], part: str) -> dict[str, Any]:
    """The one identity every container of the part's workload has."""
    found = [{k: v for k, v in i.items() if k != "container"} for i in identities(objects, part)]
    assert found, part
    assert all(i == found[0] for i in found), (part, found)
    return found[0]


def test_each_part_signs_in_as_its_own_principal(helm: Helm) -> None:
    objects = helm.render(PER_PART)
    job = find(objects, "Job", "rf-recordflow-topics")
    assert [c["name"] for c in workload_containers(job)] == ["buckets", "topics"]
    for part, own in OWN_CREDENTIALS.items():
        assert identity_of(objects, part) == expected(
            own["kafkaSaslUsername"], own["kafkaSasl"], own["s3"]
        ), part
    # The lookup service, the portal's public API, holds neither the workers' user nor their key.
    lookup = identity_of(objects, "lookup")
    assert lookup["user"] == "lookup" and lookup["password"]["name"] == "lookup"
    assert lookup["s3_secret_key"]["name"] == "recordflow-s3-lookup"
    # The user is each container's own, not a shared setting, and nothing uses the shared ones.
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    assert settings["RECORDFLOW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert "RECORDFLOW_KAFKA_SASL_USERNAME" not in settings
    rendered = helm.template(PER_PART).stdout
    assert 'value: "shared"' not in rendered
    assert "name: recordflow-kafka\n" not in rendered
    assert "name: recordflow-s3\n" not in rendered


def test_without_their_own_every_part_falls_back_to_the_release_wide_ones(helm: Helm) -> None:
    """Values files written before `credentials` existed render as they did."""
    objects = helm.render(SASL)
    for part in WORKLOADS:
        assert identity_of(objects, part) == RELEASE_WIDE, part


@pytest.mark.parametrize("part", WORKLOADS)
def test_each_value_falls_back_on_its_own(helm: Helm, part: str) -> None:
    """A part with its own S3 key and no Kafka user of its own signs in to Kafka as the
    release-wide user; one with its own Kafka user and no S3 key uses secrets.s3. The other parts
    are unchanged."""
    own = OWN_CREDENTIALS[part]
    s3_only = helm.render(merged(SASL, {part: {"credentials": {"s3": own["s3"]}}}))
    assert identity_of(s3_only, part) == expected(SHARED_USER, SHARED_PASSWORD, own["s3"])
    kafka_only = helm.render(merged(SASL, {part: {"credentials": {
        "kafkaSaslUsername": own["kafkaSaslUsername"], "kafkaSasl": own["kafkaSasl"]}}}))  # fmt: skip
    assert identity_of(kafka_only, part) == expected(
        own["kafkaSaslUsername"], own["kafkaSasl"], SHARED_S3
    )
    for other in WORKLOADS:
        if other != part:
            assert identity_of(s3_only, other) == RELEASE_WIDE, other
            assert identity_of(kafka_only, other) == RELEASE_WIDE, other


def test_all_on_mixes_own_and_release_wide(helm: Helm) -> None:
    """ALL_ON (the install tests' set): the workers as the release-wide `pipeline`, the rest as
    themselves."""
    objects = helm.render(ALL_ON)
    assert identity_of(objects, "workers") == expected(
        "pipeline", {"name": "recordflow-kafka", "key": "password"}, {"name": "recordflow-s3"}
    )
    for part in ("gateway", "console", "lookup", "topicsJob"):
        own = OWN_CREDENTIALS[part]
        assert identity_of(objects, part) == expected(
            own["kafkaSaslUsername"], own["kafkaSasl"], own["s3"]
        ), part


def test_without_sasl_no_kafka_user_anywhere(helm: Helm) -> None:
    objects = helm.render(merged(MINIMAL, {"workers": {"credentials": {
        "s3": OWN_CREDENTIALS["workers"]["s3"]}}}))  # fmt: skip
    for part in WORKLOADS:
        identity = identity_of(objects, part)
        assert identity["user"] is None and identity["password"] is None, part
    assert identity_of(objects, "workers")["s3_secret_key"]["name"] == "recordflow-s3-pipeline"
    assert identity_of(objects, "gateway")["s3_secret_key"]["name"] == "recordflow-s3"


def test_release_wide_sasl_not_needed_when_every_client_has_its_own(helm: Helm) -> None:
    """With every Kafka client signing in as itself, kafka.sasl.username and secrets.kafkaSasl
    may stay empty; with Strimzi the hook Job runs only `buckets apply` and needs no Kafka user."""
    no_global = {"kafka": {"sasl": {"username": ""}}, "secrets": {"kafkaSasl": {"name": ""}}}
    objects = helm.render(merged(PER_PART, no_global))
    assert identity_of(objects, "gateway")["user"] == "gateway"
    without_job = {"topicsJob": {"credentials": {"kafkaSaslUsername": "", "kafkaSasl": {"name": ""}}},
                   "strimzi": {"enabled": True}}  # fmt: skip
    strimzi = helm.render(merged(merged(PER_PART, no_global), without_job))
    (buckets,) = identities(strimzi, "topicsJob")
    assert buckets["container"] == "buckets"
    assert buckets["user"] is None and buckets["password"] is None
    assert buckets["s3_secret_key"] == {"name": "recordflow-s3-admin", "key": "root-password"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # A user without its password's Secret would send another user's password.
        (merged(SASL, {"gateway": {"credentials": {"kafkaSaslUsername": "gateway"}}}),
         "gateway.credentials.kafkaSaslUsername is set: gateway.credentials.kafkaSasl.name must "
         "name the Secret with its password (secrets.kafkaSasl holds another user's)"),
        (merged(SASL, {"lookup": {"credentials": {"kafkaSasl": {"name": "lookup"}}}}),
         "lookup.credentials.kafkaSasl.name is set: lookup.credentials.kafkaSaslUsername must "
         "name the user whose password it holds"),
        (merged(MINIMAL, {"console": {"credentials": OWN_CREDENTIALS["console"]}}),
         "console.credentials.kafkaSaslUsername is set but kafka.sasl.mechanism is empty: without "
         "SASL no part signs in as a Kafka user"),
        (merged(MINIMAL, {"topicsJob": {"credentials": {"kafkaSasl": {"name": "admin"}}}}),
         "topicsJob.credentials.kafkaSasl.name is set but kafka.sasl.mechanism is empty"),
        # The workers alone have no user of their own: the release-wide one is needed for them.
        (merged(merged(PER_PART, {"workers": {"credentials": {"kafkaSaslUsername": "",
                                                              "kafkaSasl": {"name": ""}}}}),
                {"secrets": {"kafkaSasl": {"name": ""}}}),
         "kafka.sasl.mechanism is set: secrets.kafkaSasl.name must name the Secret with the SASL "
         "password of the parts without credentials of their own (workers)"),
        (merged(SASL, {"kafka": {"sasl": {"username": ""}}, "lookup": {"enabled": False}}),
         "kafka.sasl.mechanism is set: kafka.sasl.username is required for the parts without "
         "credentials of their own (workers, gateway, console, topicsJob)"),
        ({"gateway": {"credentials": {"kafkaSaslUser": "gateway"}}},
         "additional properties 'kafkaSaslUser' not allowed"),
        ({"lookup": {"credentials": {"s3": {"name": "x", "secretKeyKey": ""}}}}, "secretKeyKey"),
    ],
)  # fmt: skip
def test_bad_credentials_are_refused(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError) as refused:
        helm.render(values)
    assert message in str(refused.value)
