"""The local stack's schema registry: Apicurio Registry (Confluent-compatible API) from Maven
Central, its schemas in a file-backed H2 database."""

from __future__ import annotations

import tarfile
from pathlib import Path

import httpx

from recordflow.localstack.service import (
    PROBE_TIMEOUT_S,
    Report,
    Service,
    StackError,
    _java,
    _mvn,
    _run_tool,
)

# 3.0.x is the last Apicurio line that runs on Java 17 (3.1 and later are built for Java 21).
APICURIO_VERSION = "3.0.9"


class Registry(Service):
    name = "registry"
    startup_timeout_s = 120.0

    @property
    def install_dir(self) -> Path:
        return self.downloads / f"apicurio-registry-{APICURIO_VERSION}"

    @property
    def jar(self) -> Path:
        return self.install_dir / f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.schema_registry_port}"

    @property
    def address(self) -> str:
        return f"{self.base_url}/apis/ccompat/v7"

    @property
    def ports(self) -> list[int]:
        return [self.settings.schema_registry_port]

    def installed(self) -> bool:
        return self.jar.exists()

    def install(self, report: Report) -> None:
        self.install_dir.mkdir(parents=True, exist_ok=True)
        report("downloading Apicurio Registry with Maven (~110 MB)")
        _run_tool(
            [
                _mvn(),
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all",
                f"-DoutputDirectory={self.install_dir}",
            ],
            self.install_log,
            report,
        )
        archive = self.install_dir / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        report("extracting")
        with tarfile.open(archive) as tar:
            tar.extractall(self.install_dir, filter="data")
        archive.unlink()  # Maven keeps its own copy in ~/.m2
        if not self.jar.exists():
            raise StackError(f"registry: {archive.name} did not contain {self.jar.name}")

    @property
    def _datasource_arg(self) -> str:
        # File-backed H2: schemas survive a restart (in-memory would lose them).
        return f"-Dapicurio.datasource.url=jdbc:h2:file:{self.data_dir / 'registry'}"

    def command(self) -> list[str]:
        return [
            _java(),
            "-Xmx512m",
            f"-Dquarkus.http.port={self.settings.schema_registry_port}",
            "-Dquarkus.http.host=127.0.0.1",
            "-Dapicurio.storage.kind=sql",
            "-Dapicurio.storage.sql.kind=h2",
            self._datasource_arg,
            "-jar",
            str(self.jar),
        ]

    @property
    def marker(self) -> str:
        return self._datasource_arg

    def healthy(self) -> bool:
        try:
            with httpx.Client(base_url=self.base_url, timeout=PROBE_TIMEOUT_S) as http:
                ready = http.get("/health/ready")
                if ready.status_code != httpx.codes.OK or ready.json().get("status") != "UP":
                    return False
                return http.get("/apis/ccompat/v7/subjects").status_code == httpx.codes.OK
        except (httpx.HTTPError, ValueError):  # ValueError: a non-JSON answer
            return False
