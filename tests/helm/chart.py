"""Helm for the chart tests: v4 built once from the Go module proxy into the checkout's git-ignored
`.recordflow/downloads/` (as the local stack builds versitygw), and `helm template` rendered into
objects. No cluster: everything here is offline once the binary is built."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "recordflow"
HELM_VERSION = "v4.3.2"
HELM_PACKAGE = "helm.sh/helm/v4/cmd/helm"
DOWNLOADS = ROOT / ".recordflow" / "downloads"
HELM = DOWNLOADS / f"helm-{HELM_VERSION}" / "helm"
BUILD_LOG = DOWNLOADS / f"helm-{HELM_VERSION}.log"
# The first build on a fresh machine downloads and compiles helm and the Kubernetes modules: 274 s
# here on two cores. The chart tests get this long (pytest's default is 600 s a test).
BUILD_TIMEOUT_S = 1800
RELEASE = "rf"
NAMESPACE = "archives"


class HelmError(Exception):
    pass


def go() -> str:
    """`go` on PATH, or where the Go tarball puts it (CI's /usr/local/go)."""
    found = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if found is None:
        raise HelmError("`go` not found on PATH nor in /usr/local/go/bin: install Go 1.24 or later")
    return found


def go_env() -> dict[str, str]:
    """The environment for `go`, its module and build caches kept in the downloads folder."""
    gopath = DOWNLOADS / "go"
    return {
        **os.environ,
        "GOMODCACHE": str(gopath / "mod"),
        "GOCACHE": str(gopath / "cache"),
        "GOPATH": str(gopath),
    }


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    """One process builds `name` (`make test` runs two); the other waits, then finds the binary."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    with (DOWNLOADS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_helm() -> tuple[Path, float | None]:
    """The helm binary, built with `go install` when missing; and the build's seconds (None when
    it was already there)."""
    with build_lock("helm"):
        if HELM.exists():
            return HELM, None
        env = {**go_env(), "GOBIN": str(HELM.parent)}
        began = time.monotonic()
        with BUILD_LOG.open("w") as log:
            result = subprocess.run([go(), "install", f"{HELM_PACKAGE}@{HELM_VERSION}"],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, check=False)  # fmt: skip
        if result.returncode != 0 or not HELM.exists():
            tail = BUILD_LOG.read_text()[-2000:]
            raise HelmError(f"go install {HELM_PACKAGE}@{HELM_VERSION} failed:\n{tail}")
        return HELM, time.monotonic() - began


class Helm:
    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        # Helm's own folders kept out of the user's home.
        self.env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        self.values_dir = home / "values"
        self.values_dir.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                              env=self.env, timeout=120, check=False)  # fmt: skip

    def values_file(self, values: dict[str, Any]) -> Path:
        self._count += 1
        path = self.values_dir / f"values-{os.getpid()}-{self._count}.yaml"
        path.write_text(yaml.safe_dump(values, allow_unicode=True))
        return path

    def template(self, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                        "--values", str(self.values_file(values)))  # fmt: skip

    def lint(self, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.run("lint", str(CHART), "--strict", "--namespace", NAMESPACE,
                        "--values", str(self.values_file(values)))  # fmt: skip

    def render(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """The rendered objects; HelmError with helm's message when it refuses the values."""
        result = self.template(values)
        if result.returncode != 0:
            raise HelmError(result.stderr)
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
    return matches[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment or Job, or of a CronJob's Jobs."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (workload, container) of the Deployments, Jobs and CronJobs."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "CronJob"):
            for container in pod_spec(obj)["containers"]:
                yield obj, container


# Values sets: the defaults; everything on (autoscaling with HPA, KEDA on the workers in
# ALL_ON_KEDA, monitoring, dashboards, NetworkPolicies, TLS with a client certificate, SASL with
# the gateway, console, lookup and hook Job signing in as themselves and the workers as the
# release-wide user, every Secret and file).
MINIMAL: dict[str, Any] = {}


def credentials(user: str, password: dict[str, str], s3: dict[str, str]) -> dict[str, Any]:
    """A part's `credentials` value: its Kafka user, its password's Secret, its S3 key's Secret."""
    return {"kafkaSaslUsername": user, "kafkaSasl": password, "s3": s3}


# Each part as its own principal (recordflow/principals.py): the KafkaUser's Secret named as the
# user, as Strimzi's User Operator writes it; the hook Job as an administrator, with other keys.
OWN_CREDENTIALS: dict[str, dict[str, Any]] = {
    part: credentials(user, {"name": user, "key": "password"}, {"name": f"recordflow-s3-{user}"})
    for part, user in [("workers", "pipeline"), ("gateway", "gateway"), ("console", "archivist"),
                       ("lookup", "lookup")]
} | {
    "topicsJob": credentials(
        "admin",
        {"name": "recordflow-kafka-admin", "key": "admin-password"},
        {"name": "recordflow-s3-admin", "accessKeyKey": "root-user", "secretKeyKey": "root-password"},
    )
}  # fmt: skip

PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
ALL_ON: dict[str, Any] = {
    "kafka": {
        "bootstrap": "kafka-kafka-bootstrap.kafka:9093",
        "securityProtocol": "SASL_SSL",
        "sasl": {"mechanism": "SCRAM-SHA-512", "username": "pipeline"},
        # A Strimzi KafkaUser's Secret (authentication: tls) as the client certificate.
        "tls": {
            "clientCertificate": {
                "secretName": "pipeline-tls",
                "certificateKey": "user.crt",
                "keyKey": "user.key",
            }
        },
    },
    "s3": {"endpoint": "minio.storage:9000", "secure": True, "createBuckets": True},
    "tls": {"caBundle": {"configMap": "city-ca", "key": "ca.crt"}},
    "clamdAddress": "tcp://clamd.security:3310",
    "prometheusUrl": "http://prometheus-operated.monitoring:9090",
    "names": {"topicPrefix": "city.", "bucketPrefix": "city-"},
    "settings": {"gateway_rate_per_s": 50, "console_timezone": "Asia/Shanghai"},
    "secrets": {
        "kafkaSasl": {"name": "recordflow-kafka", "key": "password"},
        "lookupStaffTokenKey": {"name": "recordflow-lookup", "key": "staff"},
        "lookupPortalTokenKey": {"name": "recordflow-lookup", "key": "portal"},
    },
    "files": {
        "agencies": "version: 1\nagencies: []\n",
        "retention": {"city-default.yaml": "version: 1\n"},
        "metadataRules": "version: 1\n",
        "accessRules": "default_years: 25\n",
    },
    "workers": {
        "autoscaling": {"enabled": True, "kind": "hpa", "minReplicas": 2, "maxReplicas": 6}
    },
    "gateway": {"autoscaling": {"enabled": True}, "credentials": OWN_CREDENTIALS["gateway"]},
    "console": {
        "replicas": 2,
        "autoscaling": {"enabled": True},
        "credentials": OWN_CREDENTIALS["console"],
    },
    "lookup": {
        "autoscaling": {"enabled": True},
        "downloadEndpoint": "https://files.archives.example.gov.cn",
        "credentials": OWN_CREDENTIALS["lookup"],
    },
    "topicsJob": {"credentials": OWN_CREDENTIALS["topicsJob"]},
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "dashboards": {"enabled": True, "annotations": {"grafana_folder": "recordflow"}},
    },
    "networkPolicy": {
        "enabled": True,
        "kafka": {"to": [PEER], "ports": [9093]},
        "schemaRegistry": {
            "to": [{"podSelector": {"matchLabels": {"app": "apicurio"}}}],
            "ports": [8080],
        },
        "s3": {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [9000]},
        "clamd": {"to": [{"podSelector": {"matchLabels": {"app": "clamd"}}}], "ports": [3310]},
        "prometheus": {
            "to": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [9090],
        },
        "metricsFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
        "consoleFrom": [{"ipBlock": {"cidr": "10.30.0.0/16"}}],
        "lookupFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "portal"}}}
        ],
    },
}


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`base` with `change` laid over it, dictionaries merged key by key."""
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


ALL_ON_KEDA = merged(ALL_ON, {"workers": {"autoscaling": {"kind": "keda"}}})
