"""What values change in the rendered objects: autoscaling (none, HPA, KEDA), NetworkPolicies,
Secrets taken by reference only, the data-file overrides, TLS, the pods' hardening."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.chart import (
    ALL_ON,
    ALL_ON_KEDA,
    BUILD_TIMEOUT_S,
    MINIMAL,
    Helm,
    HelmError,
    containers,
    find,
    merged,
    pod_spec,
)

# The first test of a fresh machine builds helm (go install: about 5 min on two cores).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

WORKER = "rf-recordflow-worker"


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def test_minimal_renders_the_four_deployments(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert deployments == {f"rf-recordflow-{c}" for c in ("worker", "gateway", "console", "lookup")}
    assert find(objects, "Deployment", WORKER)["spec"]["replicas"] == 2
    assert not [o for o in objects if o["kind"] in ("HorizontalPodAutoscaler", "NetworkPolicy")]
    assert find(objects, "PodDisruptionBudget", WORKER)["spec"]["maxUnavailable"] == 1


def test_standard_labels(helm: Helm) -> None:
    for obj in helm.render(ALL_ON):
        labels = obj["metadata"]["labels"]
        for key in ("name", "instance", "version", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, (obj["kind"], obj["metadata"]["name"], key)
        if obj["kind"] in ("Deployment", "Service", "Job", "CronJob"):
            assert "app.kubernetes.io/component" in labels


def test_hpa_replaces_replicas(helm: Helm) -> None:
    objects = helm.render(ALL_ON)
    worker = find(objects, "Deployment", WORKER)
    assert "replicas" not in worker["spec"]
    hpa = find(objects, "HorizontalPodAutoscaler", WORKER)
    assert hpa["spec"]["scaleTargetRef"]["name"] == WORKER
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert not [o for o in objects if o["kind"] == "ScaledObject"]
    hpas = {o["metadata"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert len(hpas) == 4


def test_keda_instead_of_hpa(helm: Helm) -> None:
    objects = helm.render(ALL_ON_KEDA)
    assert "replicas" not in find(objects, "Deployment", WORKER)["spec"]
    scaled = find(objects, "ScaledObject", WORKER)
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert "recordflow_consumer_lag_messages" in scaled["spec"]["triggers"][0]["metadata"]["query"]
    hpas = {o["metadata"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert WORKER not in hpas  # KEDA makes its own


def test_network_policies(helm: Helm) -> None:
    objects = helm.render(ALL_ON)
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    assert set(policies) == {
        f"rf-recordflow-{c}" for c in ("worker", "gateway", "console", "lookup", "staging-sweep")
    }
    worker = policies[WORKER]["spec"]
    ports = sorted(p["port"] for rule in worker["egress"] for p in rule["ports"])
    assert ports == [53, 53, 3310, 8080, 9000, 9093]  # DNS (UDP, TCP), clamd, registry, S3, Kafka
    assert all("to" in rule for rule in worker["egress"])
    assert worker["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}],
                                  "from": ALL_ON["networkPolicy"]["metricsFrom"]}]  # fmt: skip
    gateway = policies["rf-recordflow-gateway"]["spec"]["ingress"]
    assert gateway == [{"ports": [{"port": "http", "protocol": "TCP"}]}]  # from anywhere
    console = policies["rf-recordflow-console"]["spec"]
    assert console["ingress"][0]["from"] == ALL_ON["networkPolicy"]["consoleFrom"]
    assert 9090 in [p["port"] for rule in console["egress"] for p in rule["ports"]]
    lookup = policies["rf-recordflow-lookup"]["spec"]
    assert lookup["ingress"][0]["from"] == ALL_ON["networkPolicy"]["lookupFrom"]


def test_no_clamd_egress_without_clamd(helm: Helm) -> None:
    objects = helm.render(merged(ALL_ON, {"clamdAddress": ""}))
    worker = find(objects, "NetworkPolicy", WORKER)["spec"]
    assert 3310 not in [p["port"] for rule in worker["egress"] for p in rule["ports"]]


def test_secrets_only_by_reference(helm: Helm) -> None:
    objects = helm.render(ALL_ON)
    worker = find(objects, "Deployment", WORKER)["spec"]["template"]["spec"]["containers"][0]
    env = env_of(worker)
    assert env["RECORDFLOW_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "recordflow-kafka", "key": "password"}  # fmt: skip
    assert env["RECORDFLOW_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "recordflow-s3"
    assert (
        env["RECORDFLOW_PERSON_ID_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        == "recordflow-person-id"
    )
    secret_names = {"RECORDFLOW_KAFKA_SASL_PASSWORD", "RECORDFLOW_S3_ACCESS_KEY", "RECORDFLOW_S3_SECRET_KEY",
                    "RECORDFLOW_PERSON_ID_KEY", "RECORDFLOW_CONSOLE_SECRET_KEY",
                    "RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY", "RECORDFLOW_LOOKUP_PORTAL_TOKEN_KEY"}  # fmt: skip
    seen = set()
    for _, container in containers(objects):
        for name, entry in env_of(container).items():
            if name in secret_names:
                assert set(entry) == {"name", "valueFrom"}, name
                assert "secretKeyRef" in entry["valueFrom"], name
                seen.add(name)
    assert seen == secret_names
    console = find(objects, "Deployment", "rf-recordflow-console")["spec"]["template"]["spec"]
    assert "RECORDFLOW_CONSOLE_SECRET_KEY" in env_of(console["containers"][0])
    assert not [o for o in objects if o["kind"] == "Secret"]
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            assert not set(obj.get("data", {})) & secret_names


def test_no_secret_value_in_the_output(helm: Helm) -> None:
    """The local stack's S3 secret (Settings' default) and a password a careless user puts in
    settings never reach the rendered output: the former is not the chart's to know, the latter
    is refused."""
    result = helm.template(ALL_ON)
    assert result.returncode == 0, result.stderr
    assert "recordflow-local-secret" not in result.stdout
    assert "secretKeyRef" in result.stdout
    refused = helm.template(merged(ALL_ON, {"settings": {"kafka_sasl_password": "s3cr3t-value"}}))
    assert refused.returncode != 0
    assert "s3cr3t-value" not in refused.stdout


def test_sasl_off_means_no_password(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    for _, container in containers(objects):
        assert "RECORDFLOW_KAFKA_SASL_PASSWORD" not in env_of(container)
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    assert settings["RECORDFLOW_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert "RECORDFLOW_KAFKA_SASL_MECHANISM" not in settings


def test_tls_ca_bundle(helm: Helm) -> None:
    """The CA bundle is Kafka's CA file (RECORDFLOW_KAFKA_SSL_CA_FILE, which every Kafka client
    reads) and SSL_CERT_FILE (which minio reads), mounted in every workload, the hook Job too."""
    objects = helm.render(ALL_ON)
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    assert settings["SSL_CERT_FILE"] == "/etc/recordflow-ca/ca.crt"
    assert settings["RECORDFLOW_KAFKA_SSL_CA_FILE"] == "/etc/recordflow-ca/ca.crt"
    assert settings["RECORDFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["RECORDFLOW_S3_SECURE"] == "true"
    job = find(objects, "Job", "rf-recordflow-topics")["spec"]["template"]["spec"]
    assert env_of(job["containers"][0])["RECORDFLOW_KAFKA_SSL_CA_FILE"]["value"] == (
        "/etc/recordflow-ca/ca.crt"
    )
    for workload, container in containers(objects):
        name = workload["metadata"]["name"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["ca-bundle"]["mountPath"] == "/etc/recordflow-ca", name
        assert mounts["ca-bundle"]["readOnly"] is True, name
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        assert volumes["ca-bundle"]["configMap"]["name"] == "city-ca"
    minimal = find(helm.render(MINIMAL), "ConfigMap", "rf-recordflow-settings")["data"]
    assert "SSL_CERT_FILE" not in minimal
    assert "RECORDFLOW_KAFKA_SSL_CA_FILE" not in minimal


def test_ca_bundle_for_s3_alone(helm: Helm) -> None:
    """A CA bundle with PLAINTEXT Kafka is S3's only: Settings refuses a Kafka CA file without
    TLS to Kafka, so the chart does not set one."""
    objects = helm.render(merged(ALL_ON, {"kafka": {
        "securityProtocol": "PLAINTEXT", "tls": {"clientCertificate": {"secretName": ""}}}}))  # fmt: skip
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    assert settings["SSL_CERT_FILE"] == "/etc/recordflow-ca/ca.crt"
    assert not [name for name in settings if name.startswith("RECORDFLOW_KAFKA_SSL_")]
    for _, container in containers(objects):
        assert "ca-bundle" in {m["name"] for m in container["volumeMounts"]}
        assert "RECORDFLOW_KAFKA_SSL_CA_FILE" not in env_of(container)


@pytest.mark.parametrize("tls", ["SSL", "SASL_SSL", None])
def test_kafka_client_certificate(helm: Helm, tls: str | None) -> None:
    """With a client certificate (mTLS), every workload mounts the Secret's certificate and key,
    and only those, read-only, and each container's env points at them (not the shared settings:
    a part may have its own, tests/helm/test_credentials.py); without one, none of it."""
    values = (
        merged(ALL_ON, {"kafka": {"securityProtocol": tls}})
        if tls
        else merged(ALL_ON, {"kafka": {"tls": {"clientCertificate": {"secretName": ""}}}})
    )
    objects = helm.render(values)
    settings = find(objects, "ConfigMap", "rf-recordflow-settings")["data"]
    workloads = list(containers(objects))
    assert {w["kind"] for w, _ in workloads} == {"Deployment", "Job", "CronJob"}
    # The staging sweep talks to S3 alone: never a Kafka client certificate.
    (sweep,) = [pod_spec(w) for w, _ in workloads if w["kind"] == "CronJob"]
    assert "kafka-client-certificate" not in {v["name"] for v in sweep["volumes"]}
    workloads = [(w, c) for w, c in workloads if w["kind"] != "CronJob"]
    client_files = {"RECORDFLOW_KAFKA_SSL_CERT_FILE", "RECORDFLOW_KAFKA_SSL_KEY_FILE"}
    assert not client_files & set(settings)
    if tls is None:
        assert settings["RECORDFLOW_KAFKA_SSL_CA_FILE"] == "/etc/recordflow-ca/ca.crt"  # TLS still
        for workload, container in workloads:
            assert not client_files & set(env_of(container))
            assert "kafka-client-certificate" not in {m["name"] for m in container["volumeMounts"]}
            volumes = pod_spec(workload)["volumes"]
            assert "kafka-client-certificate" not in {v["name"] for v in volumes}
        return
    assert settings["RECORDFLOW_KAFKA_SECURITY_PROTOCOL"] == tls
    assert {w["kind"] for w, _ in workloads} == {"Deployment", "Job"}
    for workload, container in workloads:
        name = workload["metadata"]["name"]
        env = env_of(container)
        assert env["RECORDFLOW_KAFKA_SSL_CERT_FILE"] == {"name": "RECORDFLOW_KAFKA_SSL_CERT_FILE",
            "value": "/etc/recordflow-kafka-client/user.crt"}, name  # fmt: skip
        assert env["RECORDFLOW_KAFKA_SSL_KEY_FILE"] == {"name": "RECORDFLOW_KAFKA_SSL_KEY_FILE",
            "value": "/etc/recordflow-kafka-client/user.key"}, name  # fmt: skip
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["kafka-client-certificate"] == {"name": "kafka-client-certificate",
            "mountPath": "/etc/recordflow-kafka-client", "readOnly": True}, name  # fmt: skip
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        assert volumes["kafka-client-certificate"]["secret"] == {
            "secretName": "pipeline-tls",
            "defaultMode": 0o440,
            "items": [{"key": "user.crt", "path": "user.crt"},
                      {"key": "user.key", "path": "user.key"}],
        }, name  # fmt: skip


@pytest.mark.parametrize(
    ("key", "setting", "path"),
    [
        ("agencies", "RECORDFLOW_AGENCIES_FILE", "/etc/recordflow/agencies/agencies.yaml"),
        ("retention", "RECORDFLOW_RETENTION_DIR", "/etc/recordflow/retention"),
        ("metadataRules", "RECORDFLOW_METADATA_RULES_FILE",
         "/etc/recordflow/metadata-rules/metadata_rules.yaml"),
        ("accessRules", "RECORDFLOW_ACCESS_RULES_FILE", "/etc/recordflow/access-rules/access.yaml"),
    ],
)  # fmt: skip
def test_data_files_as_config_maps(helm: Helm, key: str, setting: str, path: str) -> None:
    objects = helm.render(ALL_ON)
    assert find(objects, "ConfigMap", "rf-recordflow-settings")["data"][setting] == path
    name = "rf-recordflow-" + path.split("/")[3]
    data = find(objects, "ConfigMap", name)["data"]
    given = ALL_ON["files"][key]
    assert data == (given if isinstance(given, dict) else {path.rsplit("/", 1)[1]: given})
    worker = find(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    mounts = [m["mountPath"] for m in worker["containers"][0]["volumeMounts"]]
    assert "/etc/recordflow/" + path.split("/")[3] in mounts
    # Not given: the image's own file (no setting, no ConfigMap).
    defaults = helm.render(MINIMAL)
    assert setting not in find(defaults, "ConfigMap", "rf-recordflow-settings")["data"]
    assert not [o for o in defaults if o["metadata"]["name"] == name]


def test_hardened_pods(helm: Helm) -> None:
    for workload, container in containers(helm.render(ALL_ON)):
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/var/lib/recordflow", "/tmp"} <= mounts
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["home"] and "emptyDir" in volumes["tmp"]


def test_probes_and_ports(helm: Helm) -> None:
    objects = helm.render(MINIMAL)
    for component in ("gateway", "console", "lookup"):
        pod = find(objects, "Deployment", f"rf-recordflow-{component}")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert "$(POD_IP)" in container["args"]
        service = find(objects, "Service", f"rf-recordflow-{component}")
        assert service["spec"]["ports"][0]["targetPort"] == "http"
    worker = find(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    assert env_of(container)["RECORDFLOW_METRICS_HOST"]["value"] == "$(POD_IP)"
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
    affinity = worker["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert affinity[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_worker_service_monitor_job(helm: Helm) -> None:
    """The alert rules select job="recordflow-worker": the ServiceMonitor gives the workers it."""
    monitor = find(helm.render(ALL_ON), "ServiceMonitor", WORKER)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert {
        "action": "replace",
        "targetLabel": "job",
        "replacement": "recordflow-worker",
    } in endpoint["relabelings"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def test_the_lookups_download_links_name_the_public_s3_address(helm: Helm) -> None:
    """lookup.downloadEndpoint reaches the lookup service alone, as the setting; unset, none."""
    public = "https://files.archives.example.gov.cn"
    setting = "RECORDFLOW_LOOKUP_DOWNLOAD_ENDPOINT"
    given = {
        obj["metadata"]["name"]: env_of(container).get(setting)
        for obj, container in containers(helm.render(merged(MINIMAL, {
            "lookup": {"downloadEndpoint": public}})))
    }  # fmt: skip
    assert given.pop("rf-recordflow-lookup") == {"name": setting, "value": public}
    assert set(given.values()) == {None}
    assert not [c for _, c in containers(helm.render(MINIMAL)) if setting in env_of(c)]
    for bad in ("files.archives.example.gov.cn", "https://files.archives.example.gov.cn/s3"):
        with pytest.raises(HelmError, match="downloadEndpoint"):
            helm.render(merged(MINIMAL, {"lookup": {"downloadEndpoint": bad}}))
    with pytest.raises(HelmError, match="lookup_download_endpoint"):  # the chart's to set
        helm.render(merged(MINIMAL, {"settings": {"lookup_download_endpoint": public}}))


def test_components_can_be_turned_off(helm: Helm) -> None:
    off: dict[str, Any] = {
        c: {"enabled": False}
        for c in ("workers", "gateway", "console", "lookup", "topicsJob", "stagingSweep")
    }
    off["s3"] = {"createBuckets": False}
    objects = helm.render(merged(ALL_ON, off))
    kinds = ("Deployment", "Job", "CronJob", "Service", "NetworkPolicy")
    assert not [o for o in objects if o["kind"] in kinds]


def test_buckets_are_created_first_when_asked(helm: Helm) -> None:
    def job(values: dict[str, Any]) -> dict[str, Any] | None:
        jobs = [o for o in helm.render(values) if o["kind"] == "Job"]
        return jobs[0]["spec"]["template"]["spec"] if jobs else None

    default = job(MINIMAL)
    assert default is not None and "initContainers" not in default
    assert [c["args"] for c in default["containers"]] == [["recordflow", "topics", "apply"]]

    both = job(merged(MINIMAL, {"s3": {"createBuckets": True}}))
    assert both is not None
    assert [c["args"] for c in both["initContainers"]] == [["recordflow", "buckets", "apply"]]
    assert [c["args"] for c in both["containers"]] == [["recordflow", "topics", "apply"]]
    s3_key = env_of(both["initContainers"][0])["RECORDFLOW_S3_SECRET_KEY"]
    assert s3_key["valueFrom"]["secretKeyRef"]["name"] == "recordflow-s3"

    strimzi = job(merged(MINIMAL, {"s3": {"createBuckets": True}, "strimzi": {"enabled": True}}))
    assert strimzi is not None and "initContainers" not in strimzi
    assert [c["args"] for c in strimzi["containers"]] == [["recordflow", "buckets", "apply"]]

    assert job(merged(MINIMAL, {"strimzi": {"enabled": True}})) is None
