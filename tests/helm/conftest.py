"""The chart tests' helm and, for the install tests, a kube-apiserver: each built once per machine
(a missing Go, a failed build or a server that does not start fails the tests, never skips them)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.helm import crds
from tests.helm.apiserver import Cluster, ensure_kube_apiserver
from tests.helm.chart import Helm, ensure_helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary, seconds = ensure_helm()
    if seconds is not None:
        print(f"\nbuilt helm with go install in {seconds:.0f} s", file=sys.stderr)
    return Helm(binary, tmp_path_factory.mktemp("helm"))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """kube-apiserver and etcd for the install tests, with the CRDs the chart's optional objects
    need; stopped at the end. One that cannot start fails the tests with its log."""
    binary, seconds = ensure_kube_apiserver()
    if seconds is not None:
        print(f"\nbuilt kube-apiserver in {seconds:.0f} s", file=sys.stderr)
    definitions = crds.definitions()
    cluster = Cluster(binary, tmp_path_factory.mktemp("cluster"))
    cluster.start()
    try:
        with cluster.client() as api:
            crds.install(api, definitions)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    with cluster.client() as client:
        yield client
