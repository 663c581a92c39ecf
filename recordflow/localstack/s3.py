"""The local stack's S3 server: versitygw over a POSIX folder, built with `go install`; on the
secure profile, with versitygw's internal IAM for the principals' accounts."""

from __future__ import annotations

import os
from pathlib import Path

import urllib3

from recordflow.agencies import load_registry
from recordflow.localstack.secure import (
    Secrets,
    SecureProfileError,
    ensure_s3_accounts,
    principals,
    secrets_path,
)
from recordflow.localstack.service import (
    PROBE_TIMEOUT_S,
    Report,
    Service,
    StackError,
    _require,
    _run_tool,
)

VERSITYGW_PACKAGE = "github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION = "v1.8.0"


class S3(Service):
    name = "s3"
    startup_timeout_s = 60.0

    @property
    def binary(self) -> Path:
        return self.downloads / f"versitygw-{VERSITYGW_VERSION}" / "versitygw"

    @property
    def versions_dir(self) -> Path:
        return self.home / "data" / "s3-versions"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.s3_port}"

    @property
    def ports(self) -> list[int]:
        return [self.settings.s3_port]

    def installed(self) -> bool:
        return self.binary.exists()

    def install(self, report: Report) -> None:
        go = _require("go", "install Go 1.24 or later (https://go.dev/doc/install)")
        report("building versitygw with go install (a few minutes the first time)")
        _run_tool(
            # -v prints each package as it compiles: the progress line for a long build.
            [
                go,
                "install",
                "-v",
                f"{VERSITYGW_PACKAGE}@{VERSITYGW_VERSION}",
            ],
            self.install_log,
            report,
            env={**os.environ, "GOBIN": str(self.binary.parent)},
        )

    @property
    def iam_dir(self) -> Path:
        """The secure profile's accounts (versitygw's internal IAM: a JSON file)."""
        return self.home / "data" / "s3-iam"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        if self.secure:
            self.iam_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def provision(self, report: Report) -> None:
        if not self.secure:
            return
        report("IAM accounts")
        names = [
            p.name for p in principals(self.settings, load_registry(self.settings.agencies_file))
        ]
        try:
            stored = Secrets.load_or_create(secrets_path(self.settings), names)
            ensure_s3_accounts(self.settings, stored, names)
        except SecureProfileError as exc:
            raise StackError(f"s3: {exc}") from exc

    def command(self) -> list[str]:
        # The secure profile adds versitygw's internal IAM: accounts besides the root, which
        # may do only what bucket policies grant them (the root and admins bypass policies,
        # never object locks).
        # Its account cache is off: in v1.8.0 an update keeps the access key as a view of the
        # admin request's buffer, which later requests rewrite, so one account was checked
        # against another's secret (tests/integration/secure/test_secure_s3.py). Reading the
        # small IAM file on each request costs nothing here.
        iam = ["--iam-dir", str(self.iam_dir), "--iam-cache-disable"] if self.secure else []
        return [
            str(self.binary),
            "--access",
            self.settings.s3_access_key,
            "--port",
            self.address,
            # Off by default in versitygw: every request would open a new connection. MinIO keeps
            # connections alive, and the workers' connection pools rely on it.
            "--keep-alive",
            *iam,
            "posix",
            "--versioning-dir",
            str(self.versions_dir),
            str(self.data_dir),
        ]

    def env(self) -> dict[str, str]:
        # The secret goes by environment, not argv, so `ps` does not show it.
        secret = self.settings.s3_secret_key.get_secret_value()
        return {**os.environ, "ROOT_SECRET_ACCESS_KEY": secret}

    @property
    def marker(self) -> str:
        return str(self.data_dir)

    def healthy(self) -> bool:
        from minio import Minio
        from minio.error import MinioException

        # No retries: minio's default client retries a refused connection for seconds.
        http = urllib3.PoolManager(timeout=PROBE_TIMEOUT_S, retries=False)
        client = Minio(
            self.address,
            access_key=self.settings.s3_access_key,
            secret_key=self.settings.s3_secret_key.get_secret_value(),
            secure=False,
            region=self.settings.s3_region,
            http_client=http,
        )
        try:
            client.list_buckets()  # also proves the credentials work
        except (MinioException, urllib3.exceptions.HTTPError):
            return False
        finally:
            http.clear()
        return True
