"""`helm install` into a real kube-apiserver on etcd (apiserver.py; no kubelet, so no Pod runs):
every object of each value set accepted by the API server and stored as rendered (nothing pruned,
nothing dropped), the topics hook Job too; values the chart refuses install nothing."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest
import yaml

from tests.helm.apiserver import APISERVER_BUILD_TIMEOUT_S, Cluster
from tests.helm.chart import (
    ALL_ON,
    ALL_ON_KEDA,
    BUILD_TIMEOUT_S,
    CHART,
    MINIMAL,
    RELEASE,
    Helm,
    merged,
)

# The first test of a fresh machine builds helm and kube-apiserver (see their build timeouts).
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + APISERVER_BUILD_TIMEOUT_S)

# Each set is installed into a namespace of its own.
INSTALL_SETS: dict[str, dict[str, Any]] = {
    "minimal": MINIMAL,
    "all-on": ALL_ON,
    "all-on-keda": ALL_ON_KEDA,
    "strimzi": merged(MINIMAL, {"strimzi": {"enabled": True}}),
}


def install(helm: Helm, cluster: Cluster, namespace: str, values: dict[str, Any],
            release: str = RELEASE) -> subprocess.CompletedProcess[str]:  # fmt: skip
    # --no-hooks: the pre-install hook is a Job, whose Pod never runs without a kubelet; helm would
    # wait for it until --timeout and fail the install. test_hooks_are_accepted creates the hooks.
    return helm.run("install", release, str(CHART), "--kubeconfig", str(cluster.kubeconfig),
                    "--namespace", namespace, "--create-namespace", "--no-hooks",
                    "--values", str(helm.values_file(values)))  # fmt: skip


def helm_get(helm: Helm, cluster: Cluster, what: str, namespace: str) -> list[dict[str, Any]]:
    """The release's objects (`manifest`) or hooks (`hooks`) as helm recorded them."""
    result = helm.run("get", what, RELEASE, "--kubeconfig", str(cluster.kubeconfig),
                      "--namespace", namespace)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def collection_url(api: httpx.Client, obj: dict[str, Any], namespace: str) -> str:
    """Where objects of `obj`'s kind live, as the API server's discovery says (the plural and
    whether it is namespaced)."""
    version = obj["apiVersion"]
    base = f"/apis/{version}" if "/" in version else f"/api/{version}"
    (resource,) = [r for r in api.get(base).raise_for_status().json()["resources"]
                   if r["kind"] == obj["kind"] and "/" not in r["name"]]  # fmt: skip
    scope = f"/namespaces/{namespace}" if resource["namespaced"] else ""
    return f"{base}{scope}/{resource['name']}"


# What Go's `omitempty` leaves out of a stored object (False too: 0 == False).
GO_ZEROS: list[Any] = ["", 0, [], {}, None]


def differences(rendered: Any, stored: Any, where: str = "") -> list[str]:
    """Where the stored object lacks or changed what was rendered. The API server may add
    (defaults, status, metadata): only what the chart wrote is compared. It drops a zero value
    (Go's omitempty: `value: ""` of an env var), which means the same as none."""
    if isinstance(rendered, dict) and isinstance(stored, dict):
        problems = []
        for key, value in rendered.items():
            if key in stored:
                problems += differences(value, stored[key], f"{where}.{key}")
            elif value not in GO_ZEROS:
                problems.append(f"{where}.{key} dropped")
        return problems
    if isinstance(rendered, list) and isinstance(stored, list) and len(rendered) == len(stored):
        return [problem for i, (r, s) in enumerate(zip(rendered, stored, strict=True))
                for problem in differences(r, s, f"{where}[{i}]")]  # fmt: skip
    return [] if rendered == stored else [f"{where}: rendered {rendered!r}, stored {stored!r}"]


def check_stored(api: httpx.Client, objects: list[dict[str, Any]], namespace: str) -> None:
    problems = []
    for obj in objects:
        url = f"{collection_url(api, obj, namespace)}/{obj['metadata']['name']}"
        response = api.get(url)
        if response.status_code == httpx.codes.NOT_FOUND:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} not found")
            continue
        stored = response.raise_for_status().json()
        problems += [f"{obj['kind']}/{obj['metadata']['name']}{problem}"
                     for problem in differences(obj, stored)]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_differences() -> None:
    """The check below finds a dropped or changed field, and lets the server add its defaults."""
    rendered = {"spec": {"ports": [{"port": 80}], "env": [{"name": "A", "value": ""}], "x": 1}}
    assert differences(rendered, {"spec": {"ports": [{"port": 80, "protocol": "TCP"}],
                                           "env": [{"name": "A"}], "x": 1}}) == []  # fmt: skip
    assert differences(rendered, {"spec": {"ports": [{"port": 80}], "env": [{"name": "A"}]}}) == [
        ".spec.x dropped"
    ]
    assert differences(rendered, {"spec": {"ports": [], "env": [{"name": "A"}], "x": "1"}}) == [
        ".spec.ports: rendered [{'port': 80}], stored []",
        ".spec.x: rendered 1, stored '1'",
    ]


# The Secrets ALL_ON reads: the workers' release-wide S3 key and SASL password, the other parts'
# own (tests/helm/chart.py, OWN_CREDENTIALS), the identity numbers', console's, client
# certificate's and lookup's keys.
ALL_ON_SECRETS = {
    "recordflow-s3", "recordflow-kafka", "gateway", "recordflow-s3-gateway", "archivist",
    "recordflow-s3-archivist", "lookup", "recordflow-s3-lookup", "recordflow-kafka-admin",
    "recordflow-s3-admin", "recordflow-person-id", "recordflow-console", "pipeline-tls",
    "recordflow-lookup",
}  # fmt: skip


def notes_secrets(stdout: str) -> set[str]:
    """The Secrets NOTES.txt says the release reads."""
    (line,) = [
        line for line in stdout.splitlines() if line.startswith("Secrets this release reads")
    ]
    return set(line.split(": ", 1)[1].removesuffix(".").split(", "))


@pytest.mark.parametrize("name", INSTALL_SETS)
def test_install_stores_every_object(helm: Helm, cluster: Cluster, api: httpx.Client,
                                     name: str) -> None:  # fmt: skip
    namespace = f"install-{name}"
    result = install(helm, cluster, namespace, INSTALL_SETS[name])
    assert result.returncode == 0, result.stderr
    assert "STATUS: deployed" in result.stdout, result.stdout
    objects = helm_get(helm, cluster, "manifest", namespace)
    rendered = helm.render(INSTALL_SETS[name])
    hooks = [o for o in rendered if "helm.sh/hook" in o["metadata"].get("annotations", {})]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert names == {(o["kind"], o["metadata"]["name"]) for o in rendered if o not in hooks}
    check_stored(api, objects, namespace)
    if name == "all-on":  # NOTES names each part's own Secrets, and the workers' release-wide ones
        assert notes_secrets(result.stdout) == ALL_ON_SECRETS
    if name == "strimzi":  # the operators make the topics: no topics Job, no hooks
        assert {"KafkaTopic", "KafkaUser"} <= {o["kind"] for o in objects}
        assert helm_get(helm, cluster, "hooks", namespace) == []


@pytest.mark.parametrize("name", [name for name in INSTALL_SETS if name != "strimzi"])
def test_hooks_are_accepted(helm: Helm, cluster: Cluster, api: httpx.Client, name: str) -> None:
    """The hooks --no-hooks left out (the topics Job and its agency ConfigMap), created as helm
    would create them: accepted and stored; their Pods are never started."""
    namespace = f"hooks-{name}"
    result = install(helm, cluster, namespace, INSTALL_SETS[name])
    assert result.returncode == 0, result.stderr
    hooks = helm_get(helm, cluster, "hooks", namespace)
    assert "Job" in {o["kind"] for o in hooks}
    for hook in hooks:
        # Strict, as helm's server-side apply: an unknown field is an error, not a warning.
        response = api.post(collection_url(api, hook, namespace), json=hook,
                            params={"fieldValidation": "Strict"})  # fmt: skip
        assert response.status_code == httpx.codes.CREATED, response.text
    check_stored(api, hooks, namespace)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"workers": {"replicsa": 3}}, "additional properties 'replicsa' not allowed"),
        ({"settings": {"s3_secret_key": "hunter2"}}, "s3_secret_key"),  # a secret as a value
        ({"workers": {"replicas": 7}}, "at most workers.partitions"),  # a template's own check
        (
            {"gateway": {"credentials": {"kafkaSaslUsername": "gateway"}}},
            "gateway.credentials.kafkaSaslUsername is set but kafka.sasl.mechanism is empty",
        ),
    ],
)
def test_refused_values_install_nothing(helm: Helm, cluster: Cluster, api: httpx.Client,
                                        values: dict[str, Any], message: str) -> None:  # fmt: skip
    result = install(helm, cluster, "refused", values, release="refused")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert api.get("/api/v1/namespaces/refused").status_code == httpx.codes.NOT_FOUND
    releases = api.get("/api/v1/secrets", params={"labelSelector": "owner=helm,name=refused"})
    assert releases.raise_for_status().json()["items"] == []
