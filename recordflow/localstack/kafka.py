"""The local stack's Kafka: a single-node KRaft broker and controller, its jars resolved from
Maven Central; on the secure profile, SASL/SCRAM sign-in and ACLs (StandardAuthorizer)."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from recordflow.agencies import load_registry
from recordflow.localstack.secure import ADMIN as ADMIN_PRINCIPAL
from recordflow.localstack.secure import (
    Secrets,
    SecureProfileError,
    ensure_scram_users,
    principals,
    secrets_path,
)
from recordflow.localstack.service import (
    PROBE_TIMEOUT_S,
    Report,
    Service,
    StackError,
    _java,
    _mvn,
    _run_tool,
    port_open,
)

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"
REPLICATED_MIN_INSYNC = 2


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
    port: int,
    controller_port: int,
    log_dir: Path,
    *,
    admin_password: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """A single-node KRaft broker+controller, replication factors of 1, no topic auto-creation
    (topics come from the catalog in `topics/`).

    With `admin_password`, the secure profile's broker: clients sign in with SASL/SCRAM-SHA-512,
    the broker signs in to its own controller as the admin with SASL/PLAIN (KRaft controllers
    cannot use SCRAM), and StandardAuthorizer allows nothing that no ACL grants, except to the
    admin, the super user. `extra` properties replace or add to these (a test's TLS listeners,
    tests/integration/test_kafka_tls.py)."""
    props = _node_properties(1, port, controller_port, log_dir)
    props["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{controller_port}"
    if admin_password is not None:
        props.update(_secure_kafka_properties(port, controller_port, admin_password))
    props.update(extra or {})
    return _properties_text(props)


def replicated_kafka_properties(
    node_id: int, port: int, controller_ports: Sequence[int], log_dir: Path
) -> str:
    """Node `node_id` (1-based) of a KRaft cluster whose every node is a broker and a controller,
    the nodes' controllers listening on `controller_ports` in order. A static quorum (the voters
    listed, no formatting of each node's directory id); replication factor 3 and
    min.insync.replicas 2 for every topic the brokers create themselves, so a write with acks=all
    still succeeds with one broker away, and fails rather than land on a single one."""
    voters = ",".join(f"{n}@127.0.0.1:{p}" for n, p in enumerate(controller_ports, start=1))
    props = _node_properties(node_id, port, controller_ports[node_id - 1], log_dir)
    props |= {
        "controller.quorum.voters": voters,
        "default.replication.factor": str(len(controller_ports)),
        "min.insync.replicas": str(REPLICATED_MIN_INSYNC),
        "offsets.topic.replication.factor": str(len(controller_ports)),
        "transaction.state.log.replication.factor": str(len(controller_ports)),
        "transaction.state.log.min.isr": str(REPLICATED_MIN_INSYNC),
    }
    return _properties_text(props)


def _node_properties(
    node_id: int, port: int, controller_port: int, log_dir: Path
) -> dict[str, str]:
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
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


def _properties_text(props: dict[str, str]) -> str:
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


# --- the service ----------------------------------------------------------------------------


class Kafka(Service):
    name = "kafka"
    startup_timeout_s = 90.0
    node_id = 1  # a single node; the replicated profile's are 1, 2 and 3

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
    def controller_port(self) -> int:
        return self.settings.kafka_controller_port

    @property
    def ports(self) -> list[int]:
        return [self.port, self.controller_port]

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
        properties = self.server_properties(password)
        self.properties_file.parent.mkdir(parents=True, exist_ok=True)
        # 0600 from the start: the secure profile's holds the admin's password.
        fd = os.open(self.properties_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(properties)
        self.log4j_file.write_text(KAFKA_LOG4J2_YAML)
        if not (self.data_dir / "meta.properties").exists():  # format once; later starts reuse
            report("formatting KRaft storage")
            command = self.format_command(
                self.cluster_id(), self.properties_file, admin_password=password
            )
            _run_tool(command, self.log_file, report, redact=[password] if password else [])

    def server_properties(self, admin_password: str | None) -> str:
        return kafka_server_properties(
            self.port, self.controller_port, self.data_dir, admin_password=admin_password
        )

    def cluster_id(self) -> str:
        return new_cluster_id()

    # A single node's quorum is itself: formatted as its own voter.
    quorum_format_args: tuple[str, ...] = ("--standalone",)

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
        """Kafka's storage format (for a single node, a standalone KRaft quorum); with
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
            *self.quorum_format_args,
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
            metadata = admin.list_topics(timeout=PROBE_TIMEOUT_S)
        except KafkaException:
            return False
        # Listed once registered with the quorum and unfenced; until then it answers but takes
        # no replicas, and a topic created meanwhile would get fewer than it should.
        return self.node_id in metadata.brokers
