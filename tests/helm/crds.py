"""The CustomResourceDefinitions the chart's optional objects need, offline: read from their
projects' Go modules, which the Go module proxy serves (`go mod download`, cached with the rest of
the tests' Go modules in `.recordflow/downloads/go/`)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.helm import strimzi
from tests.helm.chart import go, go_env

# The newest versions the proxy serves whose go.mod Go 1.26 accepts (KEDA v2.21 wants Go 1.27).
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
KEDA = "github.com/kedacore/keda/v2@v2.20.2"
# (module, file in it); Strimzi's KafkaTopic and KafkaUser come from Maven (tests/helm/strimzi.py).
CRD_FILES = [
    (PROMETHEUS_OPERATOR, "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"),
    (PROMETHEUS_OPERATOR, "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"),
    (KEDA, "config/crd/bases/keda.sh_scaledobjects.yaml"),
]  # fmt: skip
ESTABLISH_TIMEOUT_S = 30
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def module_dir(module: str) -> Path:
    """The extracted module, downloaded when missing."""
    result = subprocess.run([go(), "mod", "download", "-json", module], env=go_env(),
                            capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    info = json.loads(result.stdout) if result.stdout else {}
    if result.returncode != 0 or "Dir" not in info:
        raise RuntimeError(f"go mod download {module} failed: {info.get('Error')} {result.stderr}")
    return Path(info["Dir"])


def definitions() -> list[dict[str, Any]]:
    dirs = {module: module_dir(module) for module in dict(CRD_FILES)}
    fetched = [yaml.safe_load((dirs[module] / file).read_text()) for module, file in CRD_FILES]
    return [*fetched, *(strimzi.crd(kind) for kind in strimzi.CRD_FILES)]


def install(api: httpx.Client, crds: list[dict[str, Any]]) -> None:
    """Creates the definitions and waits until the API server serves their kinds."""
    for crd in crds:
        api.post(CRDS_PATH, json=crd).raise_for_status()
    for crd in crds:
        name = crd["metadata"]["name"]
        deadline = time.monotonic() + ESTABLISH_TIMEOUT_S
        while not established(api.get(f"{CRDS_PATH}/{name}").raise_for_status().json()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not established after {ESTABLISH_TIMEOUT_S} s")
            time.sleep(0.2)


def established(crd: dict[str, Any]) -> bool:
    conditions = crd.get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
