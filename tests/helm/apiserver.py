"""A real kube-apiserver on etcd for the install tests: the API server built once from the Go module
proxy into `.recordflow/downloads/` (as helm is, in chart.py), etcd from Debian's `etcd-server`
(scripts/install-system-deps.sh). No kubelet, scheduler or controller-manager: objects are
admitted, validated and stored, and no Pod ever runs."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helm.chart import DOWNLOADS, build_lock, go, go_env

# The Kubernetes release kubernetes-validate checks the chart against (test_chart.py), at the
# newest patch the Go module proxy serves. Its staging modules (k8s.io/api, k8s.io/apiserver, …)
# are tagged v0.MINOR.PATCH.
KUBERNETES_VERSION = "v1.37.2"
STAGING_VERSION = "v0.37.2"
KUBE_APISERVER = DOWNLOADS / f"kube-apiserver-{KUBERNETES_VERSION}" / "kube-apiserver"
APISERVER_BUILD_LOG = DOWNLOADS / f"kube-apiserver-{KUBERNETES_VERSION}.log"
# The first build downloads Kubernetes' modules and compiles about 2,000 packages: 11 min of CPU,
# 21 min of wall time here while two other builds shared the two cores.
APISERVER_BUILD_TIMEOUT_S = 1800
# etcd starts in a second, kube-apiserver in about 5 (its post-start hooks write the bootstrap
# RBAC policy and priority levels).
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 15


class ApiServerError(Exception):
    pass


def staging_replaces(kubernetes_go_mod: str) -> list[str]:
    """k8s.io/kubernetes' go.mod points each staging module at its own tree
    (`k8s.io/api => ./staging/src/k8s.io/api`), which `go install` refuses in a dependency: the
    same modules at their tagged versions instead."""
    modules = re.findall(r"^\s*(k8s\.io/\S+) => \./staging/", kubernetes_go_mod, re.MULTILINE)
    if not modules:
        raise ApiServerError("k8s.io/kubernetes' go.mod has no staging replace directives")
    return [f"replace {module} => {module} {STAGING_VERSION}" for module in modules]


def ensure_kube_apiserver() -> tuple[Path, float | None]:
    """The kube-apiserver binary, built when missing; and the build's seconds (None when it was
    already there)."""
    with build_lock("kube-apiserver"):
        if KUBE_APISERVER.exists():
            return KUBE_APISERVER, None
        began = time.monotonic()
        with APISERVER_BUILD_LOG.open("w") as log:
            try:
                build_kube_apiserver(log)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                log.flush()
                tail = APISERVER_BUILD_LOG.read_text()[-3000:]
                raise ApiServerError(f"building kube-apiserver {KUBERNETES_VERSION} failed "
                                     f"({error}); {APISERVER_BUILD_LOG}:\n{tail}") from error  # fmt: skip
        return KUBE_APISERVER, time.monotonic() - began


def build_kube_apiserver(log: IO[str]) -> None:
    """A throwaway module requiring k8s.io/kubernetes with the staging modules pinned, then
    `go build` of its cmd/kube-apiserver: static, without debug symbols (a smaller binary, a
    shorter link), written under another name until it is whole."""
    module = DOWNLOADS / f"kube-apiserver-{KUBERNETES_VERSION}-module"
    module.mkdir(parents=True, exist_ok=True)
    env = {**go_env(), "CGO_ENABLED": "0"}
    deadline = time.monotonic() + APISERVER_BUILD_TIMEOUT_S

    def run(*args: str) -> str:
        remaining = deadline - time.monotonic()
        result = subprocess.run([go(), *args], cwd=module, env=env, stdout=subprocess.PIPE,
                                stderr=log, text=True, timeout=remaining, check=True)  # fmt: skip
        return result.stdout

    kubernetes = f"k8s.io/kubernetes@{KUBERNETES_VERSION}"
    go_mod = Path(json.loads(run("mod", "download", "-json", kubernetes))["GoMod"])
    (module / "go.mod").write_text(
        "module recordflow.test/kube-apiserver\n\n"
        f"require k8s.io/kubernetes {KUBERNETES_VERSION}\n\n"
        + "\n".join(staging_replaces(go_mod.read_text()))
        + "\n"
    )
    run("get", f"k8s.io/kubernetes/cmd/kube-apiserver@{KUBERNETES_VERSION}")
    # The version the server reports (helm's .Capabilities.KubeVersion); v0.0.0 without these.
    major, minor = KUBERNETES_VERSION[1:].split(".")[:2]
    version = "k8s.io/component-base/version"
    ldflags = (f"-s -w -X {version}.gitVersion={KUBERNETES_VERSION} -X {version}.gitMajor={major}"
               f" -X {version}.gitMinor={minor} -X {version}.gitTreeState=clean")  # fmt: skip
    partial = KUBE_APISERVER.with_name("kube-apiserver.partial")
    run("build", "-trimpath", f"-ldflags={ldflags}", "-o", str(partial),
        "k8s.io/kubernetes/cmd/kube-apiserver")  # fmt: skip
    partial.rename(KUBE_APISERVER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


class Cluster:
    """etcd and kube-apiserver in `home`, on free loopback ports, with one admin (a static token
    in group system:masters, which RBAC's bootstrap policy makes cluster-admin) and a kubeconfig
    for helm."""

    def __init__(self, kube_apiserver: Path, home: Path) -> None:
        self.kube_apiserver = kube_apiserver
        self.home = home
        self.token = secrets.token_urlsafe(32)
        self.url = f"https://127.0.0.1:{free_port()}"
        self.ca = home / "certs" / "apiserver.crt"  # self-signed by kube-apiserver at start
        self.kubeconfig = home / "kubeconfig"
        self._processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> None:
        try:
            etcd = self._start_etcd()
            self._start_apiserver(etcd)
        except BaseException:
            self.stop()
            raise
        self._write_kubeconfig()

    def stop(self) -> None:
        for process, _ in reversed(self._processes):
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def client(self) -> httpx.Client:
        trusted = ssl.create_default_context(cafile=self.ca)
        return httpx.Client(base_url=self.url, verify=trusted, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=self.home)
        self._processes.append((process, log))
        return process

    def _wait_until(self, name: str, ready: Callable[[], bool]) -> None:
        """Until `ready()`; ApiServerError with a log's tail when a process exits (its log) or
        time runs out (the log of `name`, started last)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            exited = [log for process, log in self._processes if process.poll() is not None]
            if exited or time.monotonic() > deadline:
                log = exited[0] if exited else self._processes[-1][1]
                why = "exited" if exited else f"not ready after {START_TIMEOUT_S} s"
                raise ApiServerError(f"{name}: {log.stem} {why}; {log}:\n{log_tail(log)}")
            time.sleep(0.2)

    def _start_etcd(self) -> str:
        etcd = shutil.which("etcd")
        if etcd is None:
            raise ApiServerError("etcd not found: install Debian's etcd-server (make deps)")
        client = f"http://127.0.0.1:{free_port()}"
        peer = f"http://127.0.0.1:{free_port()}"
        self._spawn("etcd", [etcd, "--name", "test", "--data-dir", str(self.home / "etcd"),
                             "--listen-client-urls", client, "--advertise-client-urls", client,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"test={peer}"])  # fmt: skip
        with httpx.Client() as plain:
            self._wait_until("etcd", lambda: answers(plain, f"{client}/health"))
        return client

    def _start_apiserver(self, etcd: str) -> None:
        keys = self.home / "service-account.key"
        keys.write_bytes(service_account_key())
        tokens = self.home / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        self._spawn("kube-apiserver", [
            str(self.kube_apiserver),
            f"--etcd-servers={etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.url.rsplit(':', 1)[1]}",
            f"--cert-dir={self.ca.parent}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={keys}",
            f"--service-account-signing-key-file={keys}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/24",
            # No endpoints for the `kubernetes` Service: they would be the advertised 127.0.0.1,
            # a loopback address Endpoints refuse (and no pod here would use them).
            "--endpoint-reconciler-type=none",
        ])  # fmt: skip

        def ready() -> bool:
            try:  # the serving certificate is written just before the server listens
                with self.client() as api:
                    return answers(api, "/readyz")
            except (FileNotFoundError, ssl.SSLError):
                return False

        self._wait_until("kube-apiserver", ready)

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.ca)}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
            "current-context": "test",
        }  # fmt: skip
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)


def answers(client: httpx.Client, url: str) -> bool:
    """Whether `url` answers 200 now (a refused connection is a no, not an error)."""
    try:
        response = client.get(url, timeout=5)
    except httpx.TransportError:
        return False
    return response.status_code == httpx.codes.OK


def service_account_key() -> bytes:
    """The key kube-apiserver signs service-account tokens with (and checks them by)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip
