"""The staging sweep's CronJob: `recordflow buckets sweep` on a schedule, signed in to S3 with the
workers' key (the `pipeline` principal may delete in staging) and given nothing else secret,
reaching only DNS and S3; turned off, nothing of it renders; a bad schedule or grace period is
refused before anything is installed."""

from __future__ import annotations

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
    pod_spec,
)

# The first test of a fresh machine builds helm (go install: about 5 min on two cores).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

SWEEP = "rf-recordflow-staging-sweep"
# SASL on, so that a Kafka user and password are there to be (wrongly) given to the sweep.
SASL: dict[str, Any] = {
    "kafka": {"securityProtocol": "SASL_SSL",
              "sasl": {"mechanism": "SCRAM-SHA-512", "username": "shared"}},
    "secrets": {"kafkaSasl": {"name": "recordflow-kafka", "key": "password"}},
}  # fmt: skip
# Everything the sweep reads: the S3 settings and its S3 key.
SWEEP_ENV = {
    "HOME", "RECORDFLOW_HOME", "RECORDFLOW_S3_ENDPOINT", "RECORDFLOW_S3_SECURE",
    "RECORDFLOW_S3_REGION", "RECORDFLOW_BUCKET_PREFIX", "RECORDFLOW_S3_ACCESS_KEY",
    "RECORDFLOW_S3_SECRET_KEY",
}  # fmt: skip


def sweep_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = pod_spec(find(objects, "CronJob", SWEEP))["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def s3_key_refs(container: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each secretKeyRef the container's env holds, by variable."""
    return {
        name: entry["valueFrom"]["secretKeyRef"]
        for name, entry in env_of(container).items()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }


def worker_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = pod_spec(find(objects, "Deployment", "rf-recordflow-worker"))["containers"]
    return container


def pod_labels(cron: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return labels


def test_runs_daily_by_default(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    cron = find(objects, "CronJob", SWEEP)
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    assert spec["schedule"] == "30 2 * * *"
    assert spec["timeZone"] == "Asia/Shanghai"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert (job["activeDeadlineSeconds"], job["backoffLimit"]) == (10800, 2)
    pod = pod_spec(cron)
    assert pod["restartPolicy"] == "Never"
    container = sweep_container(objects)
    assert container["args"] == ["recordflow", "buckets", "sweep", "--grace-days", "7"]
    # The same image, account and pod hardening as the workers'.
    worker = find(objects, "Deployment", "rf-recordflow-worker")
    assert container["image"] == worker_container(objects)["image"]
    for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext"):
        assert pod[key] == pod_spec(worker)[key], key
    assert container["securityContext"] == worker_container(objects)["securityContext"]
    for labels in (cron["metadata"]["labels"], pod_labels(cron)):
        assert labels["app.kubernetes.io/component"] == "staging-sweep"
        assert labels["app.kubernetes.io/instance"] == "rf"


def test_values_reach_the_cron_job(helm: Helm) -> None:
    objects = helm.render(merged(MINIMAL, {"stagingSweep": {
        "schedule": "@daily", "timeZone": "", "graceDays": 0, "backoffLimit": 0}}))  # fmt: skip
    cron = find(objects, "CronJob", SWEEP)
    assert cron["spec"]["schedule"] == "@daily"
    assert "timeZone" not in cron["spec"]  # the controller's own zone
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert sweep_container(objects)["args"][-2:] == ["--grace-days", "0"]


def test_turned_off_renders_none(helm: Helm) -> None:
    objects = helm.render(merged(ALL_ON, {"stagingSweep": {"enabled": False}}))
    assert not [o for o in objects if o["kind"] == "CronJob"]
    assert not [o for o in objects if o["metadata"]["name"] == SWEEP]
    # The other parts' policies stay.
    policies = {o["metadata"]["name"] for o in objects if o["kind"] == "NetworkPolicy"}
    assert policies == {f"rf-recordflow-{c}" for c in ("worker", "gateway", "console", "lookup")}


def test_signs_in_with_the_release_wide_s3_key_when_the_workers_have_none(helm: Helm) -> None:
    objects = helm.render(merged(MINIMAL, SASL))
    refs = s3_key_refs(sweep_container(objects))
    assert refs == {
        "RECORDFLOW_S3_ACCESS_KEY": {"name": "recordflow-s3", "key": "access-key"},
        "RECORDFLOW_S3_SECRET_KEY": {"name": "recordflow-s3", "key": "secret-key"},
    }


@pytest.mark.parametrize("workers_run", [True, False])
def test_signs_in_with_the_workers_own_s3_key(helm: Helm, workers_run: bool) -> None:
    """workers.credentials.s3 is the sweep's key, whether the workers run in this release or not;
    the other parts' keys, and the workers' Kafka user and password, it never gets."""
    own_s3 = {"name": "recordflow-s3-pipeline", "accessKeyKey": "id", "secretKeyKey": "secret"}
    values = merged(SASL, {
        "workers": {"enabled": workers_run,
                    "credentials": {**OWN_CREDENTIALS["workers"], "s3": own_s3}},
        "gateway": {"credentials": OWN_CREDENTIALS["gateway"]},
        "topicsJob": {"credentials": OWN_CREDENTIALS["topicsJob"]},
    })  # fmt: skip
    objects = helm.render(values)
    assert "RECORDFLOW_KAFKA_SASL_USERNAME" not in env_of(sweep_container(objects))
    refs = s3_key_refs(sweep_container(objects))
    assert refs == {
        "RECORDFLOW_S3_ACCESS_KEY": {"name": "recordflow-s3-pipeline", "key": "id"},
        "RECORDFLOW_S3_SECRET_KEY": {"name": "recordflow-s3-pipeline", "key": "secret"},
    }
    if workers_run:
        worker_refs = s3_key_refs(worker_container(objects))
        assert {k: worker_refs[k] for k in refs} == refs
        assert "RECORDFLOW_KAFKA_SASL_PASSWORD" in worker_refs  # theirs, not the sweep's


@pytest.mark.parametrize(
    "values", [MINIMAL, merged(MINIMAL, SASL), ALL_ON], ids=["minimal", "sasl", "all-on"]
)
def test_gets_the_s3_settings_and_nothing_else(helm: Helm, values: dict[str, Any]) -> None:
    """No Kafka, schema registry, data files or other secrets (the identity numbers' key, a
    Kafka password, a client certificate): the S3 settings inline, the CA bundle for S3's TLS."""
    objects = helm.render(values)
    container = sweep_container(objects)
    assert "envFrom" not in container
    env = env_of(container)
    with_ca = bool(values.get("tls", {}).get("caBundle", {}).get("configMap"))
    assert set(env) == SWEEP_ENV | ({"SSL_CERT_FILE"} if with_ca else set())
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    for name in SWEEP_ENV - {"HOME", "RECORDFLOW_S3_ACCESS_KEY", "RECORDFLOW_S3_SECRET_KEY"}:
        assert env[name]["value"] == settings[name], name
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(find(objects, "CronJob", SWEEP))["volumes"]}
    assert set(mounts) == set(volumes)
    if with_ca:
        assert env["SSL_CERT_FILE"]["value"] == "/etc/recordflow-ca/ca.crt"
        assert mounts.pop("ca-bundle") == "/etc/recordflow-ca"
        assert volumes["ca-bundle"]["configMap"]["name"] == "city-ca"
    assert mounts == {"home": "/var/lib/recordflow", "tmp": "/tmp"}


def test_all_on_values_reach_its_settings(helm: Helm) -> None:
    env = env_of(sweep_container(helm.render(ALL_ON)))
    assert env["RECORDFLOW_BUCKET_PREFIX"]["value"] == "city-"
    assert env["RECORDFLOW_S3_ENDPOINT"]["value"] == "minio.storage:9000"


def test_network_policy_lets_it_reach_only_dns_and_s3(helm: Helm) -> None:
    objects = helm.render(ALL_ON)
    policy = find(objects, "NetworkPolicy", SWEEP)["spec"]
    labels = pod_labels(find(objects, "CronJob", SWEEP)).items()
    assert policy["podSelector"]["matchLabels"].items() <= labels  # it selects the sweep's pods
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy  # nothing comes in
    dns, s3 = policy["egress"]
    assert [(p["port"], p["protocol"]) for p in dns["ports"]] == [(53, "UDP"), (53, "TCP")]
    worker = find(objects, "NetworkPolicy", "rf-recordflow-worker")["spec"]
    assert dns == worker["egress"][0]  # the same DNS rule as every part's
    assert s3 == {"ports": [{"port": 9000, "protocol": "TCP"}],
                  "to": ALL_ON["networkPolicy"]["s3"]["to"]}  # fmt: skip
    # The workers' policy, which lets them reach Kafka and the registry, does not select it.
    assert not worker["podSelector"]["matchLabels"].items() <= labels


SCHEDULE_REFUSED = "is not a CronJob schedule: cron's five fields"


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"graceDays": -1}, "at '/stagingSweep/graceDays': minimum: got -1, want 0"),
        ({"graceDays": "7"}, "at '/stagingSweep/graceDays': got string, want integer"),
        ({"schedule": ""}, f'stagingSweep.schedule "" {SCHEDULE_REFUSED}'),
        ({"schedule": "30 2 * *"}, f'stagingSweep.schedule "30 2 * *" {SCHEDULE_REFUSED}'),
        ({"schedule": "CRON_TZ=UTC 30 2 * * *"}, SCHEDULE_REFUSED),  # spec.timeZone's to say
        ({"schedule": "@fortnightly"}, SCHEDULE_REFUSED),
        ({"gracePeriod": 7}, "additional properties 'gracePeriod' not allowed"),
    ],
)
def test_bad_values_are_refused(helm: Helm, sweep: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError) as refused:
        helm.render(merged(MINIMAL, {"stagingSweep": sweep}))
    assert message in str(refused.value)


def test_a_schedule_is_not_checked_when_the_sweep_is_off(helm: Helm) -> None:
    objects = helm.render(merged(MINIMAL, {"stagingSweep": {"enabled": False, "schedule": ""}}))
    assert not [o for o in objects if o["kind"] == "CronJob"]


@pytest.mark.parametrize(
    "schedule", ["0 3 * * *", "*/30 1-5 * JAN-MAR MON-FRI", "@weekly", "0\t3 * * 0"]
)
def test_good_schedules_are_taken(helm: Helm, schedule: str) -> None:
    cron = find(
        helm.render(merged(MINIMAL, {"stagingSweep": {"schedule": schedule}})), "CronJob", SWEEP
    )
    assert cron["spec"]["schedule"] == schedule
