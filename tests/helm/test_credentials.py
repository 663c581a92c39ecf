"""Each program signs in as its own principal: the workers, gateway, console, lookup service and
hook Job each get their own Kafka user, password Secret, Kafka client certificate and S3 key
Secret from their `credentials`, and whatever a part leaves empty falls back to the release-wide
kafka.sasl.username, secrets.kafkaSasl, kafka.tls.clientCertificate and secrets.s3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from tests.helm.chart import (
    ALL_ON,
    BUILD_TIMEOUT_S,
    CHART,
    MINIMAL,
    OWN_CREDENTIALS,
    Helm,
    HelmError,
    find,
    merged,
)
from tests.helm.test_chart import KUBERNETES_VERSION

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


# Kafka client certificates (mTLS): each part's own `credentials.kafkaClientCertificate`, else the
# release-wide kafka.tls.clientCertificate. The hook Job's keys differ from the others', so a
# part's files are seen to follow its own Secret's keys.
SHARED_CERTIFICATE = {"secretName": "recordflow-mtls", "certificateKey": "tls.crt",
                      "keyKey": "tls.key"}  # fmt: skip
OWN_CERTIFICATES: dict[str, dict[str, str]] = {
    part: {"secretName": user, "certificateKey": "user.crt", "keyKey": "user.key"}
    for part, user in [("workers", "pipeline"), ("gateway", "gateway"), ("console", "archivist"),
                       ("lookup", "lookup")]
} | {"topicsJob": {"secretName": "recordflow-kafka-admin-tls", "certificateKey": "admin.crt",
                   "keyKey": "admin.key"}}  # fmt: skip
# mTLS with the release-wide certificate alone, as values files written before per-part ones.
MTLS: dict[str, Any] = {
    "kafka": {"securityProtocol": "SSL", "tls": {"clientCertificate": SHARED_CERTIFICATE}},
    # The hook Job runs `buckets apply` too: both its containers are checked.
    "s3": {"createBuckets": True},
}
# Every part with its own certificate.
PER_PART_MTLS = merged(
    MTLS,
    {
        part: {"credentials": {"kafkaClientCertificate": own}}
        for part, own in OWN_CERTIFICATES.items()
    },
)
SWEEP = ("CronJob", "rf-recordflow-staging-sweep")
CERTIFICATE_DIR = "/etc/recordflow-kafka-client"
CERTIFICATE_FILES = {"RECORDFLOW_KAFKA_SSL_CERT_FILE", "RECORDFLOW_KAFKA_SSL_KEY_FILE"}


def workload(objects: list[dict[str, Any]], part: str) -> dict[str, Any]:
    kind, name = SWEEP if part == "stagingSweep" else WORKLOADS[part]
    return find(objects, kind, name)


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def certificate_of(objects: list[dict[str, Any]], part: str) -> dict[str, Any]:
    """The client certificate a part's pod mounts (its volume's Secret, None without one) and
    where every container's mount and env point: the same in each container."""
    pod = pod_of(workload(objects, part))
    volumes = [v for v in pod["volumes"] if v["name"] == "kafka-client-certificate"]
    found = []
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = [m for m in container["volumeMounts"] if m["name"] == "kafka-client-certificate"]
        found.append({"secret": volumes[0]["secret"] if volumes else None,
                      "mount": mounts[0] if mounts else None,
                      "certificate": env.get("RECORDFLOW_KAFKA_SSL_CERT_FILE"),
                      "key": env.get("RECORDFLOW_KAFKA_SSL_KEY_FILE")})  # fmt: skip
    assert len(volumes) <= 1 and found, (part, volumes)
    assert all(f == found[0] for f in found), (part, found)
    return found[0]


def mounted(certificate: dict[str, str]) -> dict[str, Any]:
    """What a part with this certificate gets: only its two keys, readable by the pod's group
    alone (0440), mounted read-only, and the env naming the two files."""
    cert, key = certificate["certificateKey"], certificate["keyKey"]
    return {
        "secret": {"secretName": certificate["secretName"], "defaultMode": 0o440,
                   "items": [{"key": cert, "path": cert}, {"key": key, "path": key}]},
        "mount": {"name": "kafka-client-certificate", "mountPath": CERTIFICATE_DIR,
                  "readOnly": True},
        "certificate": f"{CERTIFICATE_DIR}/{cert}",
        "key": f"{CERTIFICATE_DIR}/{key}",
    }  # fmt: skip


NO_CERTIFICATE = {"secret": None, "mount": None, "certificate": None, "key": None}


def secret_volumes(obj: dict[str, Any]) -> set[str]:
    """The Secrets a workload's pod mounts as volumes."""
    return {v["secret"]["secretName"] for v in pod_of(obj)["volumes"] if "secret" in v}


def sweep_has_no_certificate(objects: list[dict[str, Any]]) -> None:
    """The staging sweep talks to S3 alone: no Secret volume, no client certificate's files."""
    sweep = workload(objects, "stagingSweep")
    assert certificate_of(objects, "stagingSweep") == NO_CERTIFICATE
    assert secret_volumes(sweep) == set()
    (container,) = pod_of(sweep)["containers"]
    assert not CERTIFICATE_FILES & {e["name"] for e in container["env"]}


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_each_part_mounts_its_own_certificate(helm: Helm, protocol: str) -> None:
    """Each Kafka client mounts its own certificate's Secret, and no other part's, and its env
    points at its files; with SASL_SSL each keeps its own SASL user too."""
    values = merged(PER_PART_MTLS, {"kafka": {"securityProtocol": protocol}})
    if protocol == "SASL_SSL":
        values = merged(PER_PART, values)
    objects = helm.render(values)
    certificates = {own["secretName"] for own in OWN_CERTIFICATES.values()}
    for part, own in OWN_CERTIFICATES.items():
        assert certificate_of(objects, part) == mounted(own), part
        # Its own certificate's Secret; not another part's, nor the release-wide one.
        mounts = secret_volumes(workload(objects, part))
        assert own["secretName"] in mounts, part
        assert not (certificates - {own["secretName"]}) & mounts, (part, mounts)
        if protocol == "SASL_SSL":
            assert identity_of(objects, part)["user"] == OWN_CREDENTIALS[part]["kafkaSaslUsername"]
    # The files are each container's own, not shared settings; the shared Secret goes unused.
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    assert not CERTIFICATE_FILES & set(settings)
    assert SHARED_CERTIFICATE["secretName"] not in helm.template(values).stdout
    sweep_has_no_certificate(objects)


def test_without_their_own_every_part_mounts_the_release_wide_certificate(helm: Helm) -> None:
    """Values files written before per-part certificates render as they did."""
    objects = helm.render(MTLS)
    for part in WORKLOADS:
        assert certificate_of(objects, part) == mounted(SHARED_CERTIFICATE), part
    sweep_has_no_certificate(objects)


@pytest.mark.parametrize("part", WORKLOADS)
def test_a_part_with_its_own_certificate_alone(helm: Helm, part: str) -> None:
    """One part's own certificate is mounted in its pods only; the others keep the release-wide
    one, or none when there is none."""
    own = {part: {"credentials": {"kafkaClientCertificate": OWN_CERTIFICATES[part]}}}
    with_shared = helm.render(merged(MTLS, own))
    alone = helm.render(merged(merged(MTLS, own), {"kafka": {"tls": {"clientCertificate": {
        "secretName": ""}}}}))  # fmt: skip
    for objects, others in ((with_shared, mounted(SHARED_CERTIFICATE)), (alone, NO_CERTIFICATE)):
        assert certificate_of(objects, part) == mounted(OWN_CERTIFICATES[part])
        for other in WORKLOADS:
            if other != part:
                assert certificate_of(objects, other) == others, other
                mounts = secret_volumes(workload(objects, other))
                assert OWN_CERTIFICATES[part]["secretName"] not in mounts, other
        sweep_has_no_certificate(objects)


def test_no_certificate_anywhere_by_default(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    for part in [*WORKLOADS, "stagingSweep"]:
        assert certificate_of(objects, part) == NO_CERTIFICATE, part


def test_with_strimzi_the_job_keeps_its_certificate(helm: Helm) -> None:
    """With strimzi.enabled the hook Job runs `buckets apply` alone; the Deployments' KafkaUsers
    stay SCRAM users (the chart makes no `authentication: tls` user whose Secret it could take),
    so a part's certificate is still what its values name."""
    objects = helm.render(merged(PER_PART_MTLS, {"strimzi": {"enabled": True}}))
    (buckets,) = pod_of(workload(objects, "topicsJob"))["containers"]
    assert buckets["name"] == "buckets"
    for part, own in OWN_CERTIFICATES.items():
        assert certificate_of(objects, part) == mounted(own), part
    users = [o for o in objects if o["kind"] == "KafkaUser"]
    assert users
    assert {u["spec"]["authentication"]["type"] for u in users} == {"scram-sha-512"}


def test_per_part_certificates_lint_and_are_valid_kubernetes(helm: Helm) -> None:
    values = merged(PER_PART, merged(PER_PART_MTLS, {"kafka": {"securityProtocol": "SASL_SSL"}}))
    result = helm.lint(values)
    assert result.returncode == 0, result.stdout + result.stderr
    for obj in helm.render(values):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def notes_secrets(helm: Helm, values: dict[str, Any]) -> set[str]:
    """The Secrets NOTES.txt says the release reads (`helm install --dry-run=client`: no cluster)."""
    result = helm.run("install", "rf", str(CHART), "--namespace", "archives", "--dry-run=client",
                      "--values", str(helm.values_file(values)))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (line,) = [
        line for line in result.stdout.splitlines() if line.startswith("Secrets this release reads")
    ]
    return set(line.split(": ", 1)[1].removesuffix(".").split(", "))


def test_notes_name_each_parts_certificate(helm: Helm) -> None:
    """NOTES lists the certificate Secrets the running parts mount: each part's own, and the
    release-wide one only while some running part falls back to it."""
    own = {own["secretName"] for own in OWN_CERTIFICATES.values()}
    assert own <= notes_secrets(helm, PER_PART_MTLS)
    assert SHARED_CERTIFICATE["secretName"] not in notes_secrets(helm, PER_PART_MTLS)
    gateway_alone = merged(MTLS, {"gateway": {"credentials": {
        "kafkaClientCertificate": OWN_CERTIFICATES["gateway"]}}})  # fmt: skip
    listed = notes_secrets(helm, gateway_alone)
    assert {"gateway", SHARED_CERTIFICATE["secretName"]} <= listed
    assert not (own - {"gateway"}) & listed
    # A part that does not run reads nothing.
    listed = notes_secrets(helm, merged(gateway_alone, {"gateway": {"enabled": False}}))
    assert "gateway" not in listed


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # A certificate is sent over TLS only.
        (merged(SASL, {"kafka": {"securityProtocol": "SASL_PLAINTEXT"},
                       "gateway": {"credentials": {"kafkaClientCertificate": {"secretName": "gw"}}}}),
         "gateway.credentials.kafkaClientCertificate.secretName is set: kafka.securityProtocol "
         "must be SSL or SASL_SSL (it is SASL_PLAINTEXT)"),
        ({"topicsJob": {"credentials": {"kafkaClientCertificate": {"secretName": "admin-tls"}}}},
         "topicsJob.credentials.kafkaClientCertificate.secretName is set: kafka.securityProtocol "
         "must be SSL or SASL_SSL (it is PLAINTEXT)"),
        ({"lookup": {"credentials": {"kafkaClientCertificate": {"keyKey": ""}}}}, "keyKey"),
        ({"kafka": {"securityProtocol": "SSL"},
          "console": {"credentials": {"kafkaClientCertificate": {"secretName": "Not_A_Name"}}}},
         "at '/console/credentials/kafkaClientCertificate/secretName': 'Not_A_Name' does not "
         "match pattern"),
        ({"workers": {"credentials": {"kafkaClientCertificate": {"secret": "pipeline"}}}},
         "additional properties 'secret' not allowed"),
    ],
)  # fmt: skip
def test_bad_certificates_are_refused(helm: Helm, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError) as refused:
        helm.render(values)
    assert message in str(refused.value)
