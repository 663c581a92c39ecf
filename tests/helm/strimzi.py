"""Strimzi's CRDs for KafkaTopic and KafkaUser, to validate what `recordflow topics render strimzi`
and the chart's `strimzi.enabled` render, offline once downloaded.

Strimzi 0.49.0 introduced kafka.strimzi.io/v1. Its `io.strimzi:api` test jar on Maven Central
holds the CRDs its build generates for the v1 API (`crds/v1/043-Crd-kafkatopic.yaml`,
`044-Crd-kafkauser.yaml`, the same generator and model classes as the CRDs Strimzi installs).
Maven fetches it once into the checkout's git-ignored `.recordflow/downloads/` (as the local stack
fetches Kafka); the two YAML files are kept, the jar is not.

Validation is strict in the way a Kubernetes API server with strict field validation (kubectl's
default) is: the openAPIV3Schema of the v1 version, and an object schema that lists its
properties and does not say `x-kubernetes-preserve-unknown-fields` refuses any other field.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.helm.chart import DOWNLOADS

STRIMZI_VERSION = "0.49.0"
API_VERSION = "kafka.strimzi.io/v1"
ARTIFACT = f"io.strimzi:api:{STRIMZI_VERSION}:jar:tests"
CRD_FILES = {"KafkaTopic": "crds/v1/043-Crd-kafkatopic.yaml",
             "KafkaUser": "crds/v1/044-Crd-kafkauser.yaml"}  # fmt: skip
CRD_DIR = DOWNLOADS / f"strimzi-crds-{STRIMZI_VERSION}"
DOWNLOAD_LOG = DOWNLOADS / f"strimzi-crds-{STRIMZI_VERSION}.log"


class CrdError(Exception):
    pass


@contextmanager
def download_lock() -> Iterator[None]:
    """One process downloads (`make test` runs two); the other waits, then finds the files."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    with (DOWNLOADS / "strimzi-crds.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_crds() -> Path:
    """The folder holding the two CRDs, downloaded with Maven when missing."""
    with download_lock():
        if all((CRD_DIR / Path(name).name).exists() for name in CRD_FILES.values()):
            return CRD_DIR
        mvn = shutil.which("mvn")
        if mvn is None:
            raise CrdError("`mvn` not found: install Maven (apt-get install maven)")
        jar_dir = DOWNLOADS / f"strimzi-api-{STRIMZI_VERSION}"
        with DOWNLOAD_LOG.open("w") as log:
            result = subprocess.run([mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}",
                                     f"-DoutputDirectory={jar_dir}"],
                                    stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)  # fmt: skip
        jar = jar_dir / f"api-{STRIMZI_VERSION}-tests.jar"
        if result.returncode != 0 or not jar.exists():
            raise CrdError(
                f"mvn dependency:copy {ARTIFACT} failed:\n{DOWNLOAD_LOG.read_text()[-2000:]}"
            )
        CRD_DIR.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(jar) as archive:
            for name in CRD_FILES.values():
                (CRD_DIR / Path(name).name).write_bytes(archive.read(name))
        shutil.rmtree(jar_dir)  # Maven keeps its own copy in ~/.m2
        return CRD_DIR


@cache
def crd(kind: str) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((ensure_crds() / Path(CRD_FILES[kind]).name).read_text())
    return crd


def version_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    """The openAPIV3Schema of a served version of the kind's CRD."""
    (served,) = [v for v in crd(kind)["spec"]["versions"] if v["name"] == version and v["served"]]
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    return schema


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused wherever Kubernetes would prune them."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {key: strict(value) for key, value in out["properties"].items()}
        if (
            not out.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = strict(out[key])
    return out


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(strict(version_schema(kind)))


def problems(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse in `obj`: its apiVersion and kind, and its body against
    the CRD's schema ('' when there is nothing to refuse)."""
    kind = obj.get("kind")
    if kind not in CRD_FILES:
        return [f"kind {kind!r} is not one of {sorted(CRD_FILES)}"]
    found = [] if obj.get("apiVersion") == API_VERSION else [f"apiVersion {obj.get('apiVersion')}"]
    name = obj.get("metadata", {}).get("name")
    for error in validator(kind).iter_errors(obj):
        where = "/".join(str(part) for part in error.absolute_path)
        found.append(f"{kind}/{name} at {where}: {error.message}")
    return found
