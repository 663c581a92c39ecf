"""The local stack: real Kafka, schema registry, S3 server and Prometheus on 127.0.0.1.

docs/design.md, "Local stack". Each server is installed on first use from a package registry by name
(Maven for Kafka and Apicurio Registry, `go install` for versitygw, apt for Prometheus) and cached
under `settings.home`, which is git-ignored:

    <home>/downloads/…            installs, one folder per version (bumping a version reinstalls)
    <home>/data/<service>/        server data; kept by `down`, deleted by `down --purge`
    <home>/logs/<service>.log     the server's stdout and stderr
    <home>/run/<service>.pid      the pid of the process we started

Servers run detached from the CLI, so `up` and `down` are separate invocations: the pid files are
the only state, and a pid counts as ours only while its command line still carries our marker
(a pid can be reused by an unrelated process after ours died).
"""

from __future__ import annotations

import abc
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import httpx
import urllib3
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from recordflow.agencies import load_registry
from recordflow.localstack.secure import (
    ADMIN as ADMIN_PRINCIPAL,
)
from recordflow.localstack.secure import (
    Secrets,
    SecureProfileError,
    ensure_s3_accounts,
    ensure_scram_users,
    principals,
    secrets_path,
)
from recordflow.settings import PACKAGE_DIR, Settings

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"
# 3.0.x is the last Apicurio line that runs on Java 17 (3.1 and later are built for Java 21).
APICURIO_VERSION = "3.0.9"
VERSITYGW_PACKAGE = "github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION = "v1.8.0"

PROBE_TIMEOUT_S = 2.0  # one health probe; a healthy local server answers in milliseconds
POLL_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 30.0  # SIGTERM grace before SIGKILL; Kafka's clean shutdown takes a few seconds
LOG_TAIL_LINES = 30
# The pipeline's Prometheus alert rules, shipped with the package (pyproject's package-data).
ALERT_RULES = PACKAGE_DIR / "alerts" / "pipeline.rules.yaml"

Report = Callable[[str], None]


class StackError(Exception):
    """Something in the local stack failed; the message says which service and why."""


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    address: str
    running: bool  # a process started by `stack up` is alive
    healthy: bool  # the server answers its health check (whoever started it)
    pid: int | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# --- pure helpers (unit-tested) -----------------------------------------------------------


def kafka_port(bootstrap: str) -> int:
    """The port of the first `host:port` in a bootstrap list (`[::1]:9092` works too)."""
    first = bootstrap.split(",")[0].strip()
    _, sep, port = first.rpartition(":")
    if not sep or not port.isdigit():
        raise StackError(f"kafka_bootstrap {bootstrap!r} has no port (expected host:port)")
    return int(port)


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID as unpadded URL-safe base64, as Kafka's own tools make."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def kafka_server_properties(
    port: int, controller_port: int, log_dir: Path, *, admin_password: str | None = None
) -> str:
    """A single-node KRaft broker+controller, replication factors of 1, no topic auto-creation
    (topics come from the catalog in `topics/`).

    With `admin_password`, the secure profile's broker: clients sign in with SASL/SCRAM-SHA-512,
    the broker signs in to its own controller as the admin with SASL/PLAIN (KRaft controllers
    cannot use SCRAM), and StandardAuthorizer allows nothing that no ACL grants, except to the
    admin, the super user."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    if admin_password is not None:
        props.update(_secure_kafka_properties(port, controller_port, admin_password))
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _secure_kafka_properties(
    port: int, controller_port: int, admin_password: str
) -> dict[str, str]:
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    admin = f'username="{ADMIN_PRINCIPAL}" password="{admin_password}"'
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": f"{scram} required {admin};",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} required {admin} user_{ADMIN_PRINCIPAL}="{admin_password}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN_PRINCIPAL}",
    }


KAFKA_LOG4J2_YAML = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
"""


def kafka_pom() -> str:
    """A pom that only lists Kafka's runtime: `mvn dependency:copy-dependencies` resolves it."""
    deps = [
        ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    dependencies = "".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>recordflow</groupId><artifactId>kafka-runtime</artifactId>"
        "<version>1</version><packaging>pom</packaging>\n"
        f"  <dependencies>\n{dependencies}  </dependencies>\n"
        "</project>\n"
    )


def prometheus_config(targets_dir: Path, rule_files: Sequence[Path] = (ALERT_RULES,)) -> str:
    """Scrape whatever workers announce as file_sd target files in `targets_dir`, and evaluate
    the pipeline's alert rules (shipped in recordflow/alerts/; alerts show on /alerts)."""
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "recordflow-workers",
                "file_sd_configs": [
                    {"files": [str(targets_dir / "*.json")], "refresh_interval": "5s"}
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def cmdline_has(cmdline: bytes, marker: str) -> bool:
    """Whether a /proc/<pid>/cmdline (NUL-separated argv) has `marker` as one whole argument.
    Whole-argument matching keeps `/tmp/a/data/s3` from matching `/tmp/a/data/s3-other`."""
    return marker in cmdline.decode(errors="replace").split("\0")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a text file ('' if missing), reading only the end of it."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            block = 8192
            while True:  # grow the window until it holds enough whole lines
                start = max(0, size - block)
                f.seek(start)
                data = f.read()
                if start == 0 or data.count(b"\n") > lines:
                    break
                block *= 4
    except FileNotFoundError:
        return ""
    text = data.decode(errors="replace").splitlines()
    if start > 0:
        text = text[1:]  # the window began mid-line
    return "\n".join(text[-lines:])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S):
            return True
    except (OSError, OverflowError):  # OverflowError: a port outside 0-65535
        return False


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"`{tool}` not found on PATH: {hint}")
    return path


def _run_tool(
    cmd: list[str],
    log_file: Path,
    report: Report,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    redact: Sequence[str] = (),
) -> None:
    """Run an install step, copying its output to `log_file` and its latest line to `report`.
    Each string in `redact` (a password on the command line) is masked in the log."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    shown = " ".join(cmd)
    for secret in redact:
        shown = shown.replace(secret, "********")
    with log_file.open("a") as log:
        log.write(f"\n$ {shown}\n")
        began = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            plain = Text.from_ansi(line).plain.strip()  # no colour codes or [markup]
            if plain:
                report(escape(plain[:70]))
        code = proc.wait()
        log.write(f"\n(exit {code} after {time.monotonic() - began:.1f} s)\n")
    if code != 0:
        raise StackError(
            f"`{shown[:60]} …` failed (exit {code}); end of {log_file}:\n{tail(log_file)}"
        )


# --- the services ---------------------------------------------------------------------------


class Service(abc.ABC):
    """One server of the stack, bound to a Settings (ports, credentials, home)."""

    name: ClassVar[str]
    startup_timeout_s: ClassVar[float]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()

    @property
    def secure(self) -> bool:
        return self.settings.stack_profile == "secure"

    @property
    def downloads(self) -> Path:
        """Installs: the secure profile uses the plain stack's."""
        shared = self.settings.stack_shared_home
        return (shared.resolve() if shared is not None else self.home) / "downloads"

    @property
    def data_dir(self) -> Path:
        return self.home / "data" / self.name

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    @property
    def install_log(self) -> Path:
        return self.home / "logs" / f"install-{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / f"{self.name}.pid"

    @property
    @abc.abstractmethod
    def address(self) -> str: ...

    @property
    @abc.abstractmethod
    def ports(self) -> list[int]: ...

    @abc.abstractmethod
    def installed(self) -> bool: ...

    @abc.abstractmethod
    def install(self, report: Report) -> None: ...

    def prepare(self, report: Report) -> None:
        """Write config files and create data folders; runs before every start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def provision(self, report: Report) -> None:
        """Once healthy, on every `up`: idempotent setup the server needs (the secure profile's
        accounts). Nothing by default."""
        return

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    @property
    @abc.abstractmethod
    def marker(self) -> str:
        """One argument of `command()` that names a path under our home: how `down` tells our
        process from a stranger that reused the pid or a server started from another home."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @abc.abstractmethod
    def healthy(self) -> bool: ...

    def owns(self, pid: int) -> bool:
        try:
            return cmdline_has(Path(f"/proc/{pid}/cmdline").read_bytes(), self.marker)
        except OSError:  # gone, or not ours to read
            return False

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and self.owns(pid) else None

    def start(self) -> subprocess.Popen[bytes]:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n--- recordflow: starting {self.name} at {started} ---\n".encode())
            log.flush()
            # A new session: the server outlives the CLI and a Ctrl-C in the terminal.
            proc = subprocess.Popen(
                self.command(),
                cwd=self.home,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc


def _java() -> str:
    return _require("java", "install Java 17 (apt-get install openjdk-17-jre-headless)")


def _mvn() -> str:
    return _require("mvn", "install Maven (apt-get install maven)")


class Kafka(Service):
    name = "kafka"
    startup_timeout_s = 90.0

    @property
    def install_dir(self) -> Path:
        return self.downloads / f"kafka-{KAFKA_VERSION}"

    @property
    def port(self) -> int:
        return kafka_port(self.settings.kafka_bootstrap)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ports(self) -> list[int]:
        return [self.port, self.settings.kafka_controller_port]

    @property
    def properties_file(self) -> Path:
        # A profile that shares the plain stack's install keeps its config in its own home (the
        # secure profile's holds the admin's password).
        if self.settings.stack_shared_home is not None:
            return self.home / "config" / "server.properties"
        return self.install_dir / "server.properties"

    def _admin_password(self) -> str:
        stored = Secrets.load(secrets_path(self.settings))
        if stored is None:
            raise StackError(f"kafka: no {secrets_path(self.settings)}; run `stack up --secure`")
        return stored[ADMIN_PRINCIPAL].kafka_password.get_secret_value()

    @property
    def log4j_file(self) -> Path:
        return self.install_dir / "log4j2.yaml"

    def installed(self) -> bool:
        return (self.install_dir / ".installed").exists()

    def install(self, report: Report) -> None:
        self.install_dir.mkdir(parents=True, exist_ok=True)
        (self.install_dir / "pom.xml").write_text(kafka_pom())
        report("resolving Kafka jars with Maven")
        _run_tool(
            [
                _mvn(),
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DoutputDirectory=libs",
                "-DincludeScope=runtime",
            ],
            self.install_log,
            report,
            cwd=self.install_dir,
        )
        (self.install_dir / ".installed").touch()

    def _java_args(self) -> list[str]:
        return [
            "-cp",
            str(self.install_dir / "libs" / "*"),  # java expands the wildcard itself
            f"-Dlog4j2.configurationFile={self.log4j_file}",
        ]

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        password = self._admin_password() if self.secure else None
        properties = kafka_server_properties(
            self.port, self.settings.kafka_controller_port, self.data_dir, admin_password=password
        )
        self.properties_file.parent.mkdir(parents=True, exist_ok=True)
        # 0600 from the start: the secure profile's holds the admin's password.
        fd = os.open(self.properties_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(properties)
        self.log4j_file.write_text(KAFKA_LOG4J2_YAML)
        if not (self.data_dir / "meta.properties").exists():  # format once; later starts reuse
            report("formatting KRaft storage")
            command = self.format_command(
                new_cluster_id(), self.properties_file, admin_password=password
            )
            _run_tool(command, self.log_file, report, redact=[password] if password else [])

    def provision(self, report: Report) -> None:
        if not self.secure:
            return
        report("SCRAM credentials")
        names = [
            p.name for p in principals(self.settings, load_registry(self.settings.agencies_file))
        ]
        try:
            stored = Secrets.load_or_create(secrets_path(self.settings), names)
            ensure_scram_users(self.settings, stored, names)
        except SecureProfileError as exc:
            raise StackError(f"kafka: {exc}") from exc

    def format_command(
        self, cluster_id: str, properties_file: Path, *, admin_password: str | None = None
    ) -> list[str]:
        """Kafka's storage format for a single-node (standalone) KRaft quorum; with
        `admin_password`, the admin's SCRAM credential goes into the initial metadata, so the
        broker can sign in to itself before anyone could have created it."""
        scram = (
            # `=` form: the value may begin with "-" once someone chooses the password
            [f"--add-scram=SCRAM-SHA-512=[name={ADMIN_PRINCIPAL},password={admin_password}]"]
            if admin_password is not None
            else []
        )
        return [
            _java(),
            *self._java_args(),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            # `=` form: a random id may begin with "-", which would otherwise read as an option
            f"--cluster-id={cluster_id}",
            f"--config={properties_file}",
            *scram,
        ]

    def command(self) -> list[str]:
        return [_java(), "-Xmx768m", *self._java_args(), "kafka.Kafka", str(self.properties_file)]

    @property
    def marker(self) -> str:
        return str(self.properties_file)

    def healthy(self) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        if not port_open(self.port):  # skip the client's timeout when nothing listens
            return False
        # log_level 0: a broker that is still starting is expected, not worth a stderr line.
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.address,
            "log_level": 0,
        }
        if self.secure:  # the admin signs in; the plain stack takes anyone
            config |= {
                k: v for k, v in self.settings.kafka_config().items() if k != "bootstrap.servers"
            }
        admin = AdminClient(config)
        try:
            admin.list_topics(timeout=PROBE_TIMEOUT_S)
        except KafkaException:
            return False
        return True


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
        iam = ["--iam-dir", str(self.iam_dir)] if self.secure else []
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


def prometheus_targets_dir(settings: Settings) -> Path:
    """Where a worker of the local stack writes its file_sd target file, e.g. `<worker-id>.json`
    holding `[{"targets": ["127.0.0.1:<port>"], "labels": {...}}]`; Prometheus rereads it every
    5 s. Only workers told so write there: `recordflow worker --prometheus-targets DIR`, which the
    demo, bench and tests' launcher (recordflow/localstack/workers.py) passes; a deployed worker writes
    nothing and is found by its platform's service discovery."""
    return settings.home.resolve() / "data" / "prometheus" / "targets"


class Prometheus(Service):
    name = "prometheus"
    startup_timeout_s = 60.0

    @property
    def config_file(self) -> Path:
        return self.data_dir / "prometheus.yml"

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.prometheus_port}"

    @property
    def ports(self) -> list[int]:
        return [self.settings.prometheus_port]

    def installed(self) -> bool:
        return shutil.which("prometheus") is not None

    def install(self, report: Report) -> None:
        if os.geteuid() != 0:
            raise StackError(
                "`prometheus` not found on PATH: install it (apt-get install prometheus)"
            )
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
        report("apt-get install prometheus")
        try:
            _run_tool(install, self.install_log, report, env=apt)
        except StackError:  # most often stale package lists
            report("apt-get update")
            _run_tool(["apt-get", "update"], self.install_log, report, env=apt)
            _run_tool(install, self.install_log, report, env=apt)
        # The package may register a system service on the default port; we run our own.

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        targets = prometheus_targets_dir(self.settings)
        targets.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(prometheus_config(targets))

    def command(self) -> list[str]:
        return [
            _require("prometheus", "install it (apt-get install prometheus)"),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
        ]

    @property
    def marker(self) -> str:
        return f"--config.file={self.config_file}"

    def healthy(self) -> bool:
        try:
            ready = httpx.get(f"{self.address}/-/ready", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return ready.status_code == httpx.codes.OK


# Start order; `down` stops in reverse.
SERVICES: dict[str, type[Service]] = {cls.name: cls for cls in (Kafka, Registry, S3, Prometheus)}


# --- the stack ----------------------------------------------------------------------------


class Stack:
    """The servers for one Settings: `up`, `down`, `status`, `ensure_up`.

    The plain profile runs all four. The secure profile (recordflow/localstack/secure.py; Settings for its
    admin) runs its own Kafka and S3 server and uses the plain stack's schema registry: `up`
    starts that registry if it is not running, `down` leaves it to the plain stack."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.shared: set[str] = set()  # services that belong to the plain stack
        if settings.stack_profile == "secure":
            if settings.stack_shared_home is None or settings.s3_access_key != ADMIN_PRINCIPAL:
                raise StackError("the secure stack takes secure_settings() for its admin")
            plain = settings.model_copy(
                update={"home": settings.stack_shared_home, "stack_profile": "plain",
                        "stack_shared_home": None}
            )  # fmt: skip
            self.services: list[Service] = [Kafka(settings), Registry(plain), S3(settings)]
            self.shared = {Registry.name}
        else:
            self.services = [cls(settings) for cls in SERVICES.values()]
        # Processes this object started: polling them reaps them (no zombies in a test session).
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise StackError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")

    def status(self) -> list[ServiceStatus]:
        statuses = []
        for service in self.services:
            pid = service.running_pid()
            statuses.append(
                ServiceStatus(
                    service.name, service.address, pid is not None, service.healthy(), pid
                )
            )
        return statuses

    def ensure_up(self, console: Console | None = None) -> list[ServiceStatus]:
        """For test fixtures and the demo: quick when everything already answers."""
        statuses = self.status()
        if all(status.healthy for status in statuses):
            self.provision()
            return statuses
        return self.up(console)

    def provision(self, report: Report | None = None) -> None:
        """Each own service's idempotent setup (the secure profile's accounts)."""
        for service in self.services:
            if service.name not in self.shared:
                service.provision(report or (lambda _: None))

    def up(self, console: Console | None = None) -> list[ServiceStatus]:
        """Install what is missing, start what is not running, wait until all are healthy.

        All servers are started before waiting on any, so their startups overlap."""
        console = console or Console(stderr=True)
        columns = (
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[service]:<10}"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            tasks = {
                s.name: progress.add_task("waiting", total=1, service=s.name, start=False)
                for s in self.services
            }

            def reporter(service: Service) -> Report:
                return lambda text: progress.update(tasks[service.name], description=text)

            def done(service: Service, text: str) -> None:
                progress.update(tasks[service.name], completed=1, description=text)

            waiting: list[Service] = []
            for service in self.services:
                report = reporter(service)
                progress.start_task(tasks[service.name])  # its elapsed time counts from here
                try:
                    pid = service.running_pid()
                    if pid is not None:
                        report(f"already running (pid {pid})")
                    elif service.healthy():
                        done(service, f"{service.address} answers, not started by recordflow")
                        continue
                    else:
                        self._start(service, report)
                    waiting.append(service)
                except StackError:
                    report("[red]failed[/]")
                    raise

            for service in waiting:
                report = reporter(service)
                report("waiting until healthy")
                try:
                    self._wait_healthy(service)
                    if service.name not in self.shared:
                        service.provision(report)
                except StackError:
                    report("[red]failed[/]")
                    raise
                done(service, f"up at {service.address}")
        return self.status()

    def _start(self, service: Service, report: Report) -> None:
        busy = [port for port in service.ports if port_open(port)]
        if busy:
            raise StackError(
                f"{service.name}: port {busy[0]} is already in use by another process "
                "(stop it, or choose other ports with RECORDFLOW_* settings)"
            )
        if not service.installed():
            report("installing")
            service.install(report)
        service.prepare(report)
        report("starting")
        self._children[service.name] = service.start()

    def _wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + service.startup_timeout_s
        while time.monotonic() < deadline:
            if service.healthy():
                return
            # Our own child is asked directly: until it has exec'd, its command line is still
            # ours, and running_pid() would take it for gone.
            child = self._children.get(service.name)
            if (child.poll() is not None) if child else service.running_pid() is None:
                raise StackError(
                    f"{service.name} exited while starting; end of {service.log_file}:\n"
                    f"{tail(service.log_file)}"
                )
            time.sleep(POLL_INTERVAL_S)
        raise StackError(
            f"{service.name} not healthy after {service.startup_timeout_s:.0f} s; "
            f"end of {service.log_file}:\n{tail(service.log_file)}"
        )

    def down(self, purge: bool = False, only: Sequence[str] = ()) -> list[str]:
        """Stop the servers we started (SIGTERM, then SIGKILL after a grace period), or `only`
        the ones named (an outage for the chaos tests; `up` starts them again).

        Returns the names of the services stopped. Data stays unless `purge` (of all of them)."""
        if purge and only:
            raise StackError("--purge deletes every server's data: stop them all to purge")
        own = [s for s in self.services if s.name not in self.shared]  # not the plain stack's
        chosen = [self.service(name) for name in only if name not in self.shared] if only else own
        running = {s.name: pid for s in chosen if (pid := s.running_pid()) is not None}
        by_name = {s.name: s for s in self.services}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):  # it may have just exited
                os.kill(pid, signal.SIGTERM)  # all at once: the shutdowns overlap
        for name in reversed(list(running)):  # wait in reverse start order
            service, pid = by_name[name], running[name]
            if not self._wait_gone(service, pid, STOP_TIMEOUT_S):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_gone(service, pid, STOP_TIMEOUT_S)
        for service in chosen:
            service.pid_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.home / "data", ignore_errors=True)
        return list(running)

    def _wait_gone(self, service: Service, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            child = self._children.get(service.name)
            if child is not None and child.pid == pid:
                if child.poll() is not None:  # polling reaps our own child
                    del self._children[service.name]
                    return True
            elif not service.owns(pid):  # a zombie's cmdline is empty, so it counts as gone
                return True
            time.sleep(POLL_INTERVAL_S / 5)
        return False
