"""The local stack's pure parts: config rendering, port parsing, pid ownership. No servers run;
the ownership tests use real (sleeping) processes, since that is what `stack down` must judge."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from recordflow.localstack.console import Console
from recordflow.localstack.gateway import Gateway
from recordflow.localstack.kafka import (
    Kafka,
    kafka_pom,
    kafka_port,
    kafka_server_properties,
    new_cluster_id,
    replicated_kafka_properties,
)
from recordflow.localstack.prometheus import Prometheus, prometheus_config, prometheus_targets_dir
from recordflow.localstack.registry import Registry
from recordflow.localstack.replicated import KafkaNode, replicated_settings
from recordflow.localstack.s3 import S3
from recordflow.localstack.service import StackError, cmdline_has, read_pid, tail
from recordflow.localstack.stack import SERVICES, Stack
from recordflow.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        kafka_bootstrap="127.0.0.1:29092",
        kafka_controller_port=29093,
        schema_registry_port=28081,
        s3_port=27070,
        prometheus_port=29090,
        gateway_port=28090,
        console_port=28095,
    )


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


# --- ports ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bootstrap", "port"),
    [
        ("127.0.0.1:19092", 19092),
        ("localhost:9092,other:9093", 9092),
        (" broker:1234 , x:1", 1234),
        ("[::1]:29092", 29092),
    ],
)
def test_kafka_port_is_the_first_brokers_port(bootstrap: str, port: int) -> None:
    assert kafka_port(bootstrap) == port


@pytest.mark.parametrize("bootstrap", ["127.0.0.1", "host:", "host:abc", ""])
def test_kafka_port_without_a_port_is_an_error(bootstrap: str) -> None:
    with pytest.raises(StackError, match="no port"):
        kafka_port(bootstrap)


@given(host=st.from_regex(r"[a-z0-9.-]{1,20}", fullmatch=True), port=st.integers(1, 65535))
def test_kafka_port_round_trips(host: str, port: int) -> None:
    assert kafka_port(f"{host}:{port}") == port


def test_ports_and_addresses_come_from_settings(settings: Settings) -> None:
    assert Kafka(settings).ports == [29092, 29093]
    assert Kafka(settings).address == "127.0.0.1:29092"
    assert Registry(settings).address == "http://127.0.0.1:28081/apis/ccompat/v7"
    assert S3(settings).address == "127.0.0.1:27070"
    assert Prometheus(settings).ports == [29090]
    assert Gateway(settings).address == "http://127.0.0.1:28090"
    assert Console(settings).address == "http://127.0.0.1:28095"


def test_the_gateway_runs_with_the_stacks_settings_and_no_secret_in_argv(
    settings: Settings,
) -> None:
    gateway = Gateway(settings)
    command = gateway.command()
    assert command[1:4] == ["-m", "recordflow", "gateway"]
    assert command[command.index("--port") + 1] == "28090"
    assert settings.s3_secret_key.get_secret_value() not in " ".join(command)
    assert gateway.env()["RECORDFLOW_S3_SECRET_KEY"] == settings.s3_secret_key.get_secret_value()
    assert gateway.env()["RECORDFLOW_HOME"] == str(settings.home.resolve())


def test_the_console_runs_with_the_stacks_settings_and_keeps_its_data_in_the_stack(
    settings: Settings,
) -> None:
    console = Console(settings)
    command = console.command()
    assert command[1:4] == ["-m", "recordflow", "console"]
    assert command[command.index("--port") + 1] == "28095"
    assert console.env()["RECORDFLOW_CONSOLE_DATA_DIR"] == str(
        settings.home.resolve() / "data" / "console"
    )
    assert console.env()["RECORDFLOW_HOME"] == str(settings.home.resolve())


def test_ports_are_configurable_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:39092")
    monkeypatch.setenv("RECORDFLOW_S3_PORT", "37070")
    stack = Stack(Settings())
    assert stack.service("kafka").address == "127.0.0.1:39092"
    assert stack.service("s3").address == "127.0.0.1:37070"


# --- rendered configuration -------------------------------------------------------------------


def test_kafka_server_properties_describe_a_single_kraft_node(tmp_path: Path) -> None:
    props = parse_properties(kafka_server_properties(29092, 29093, tmp_path / "kafka"))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["log.dirs"] == str(tmp_path / "kafka")
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"
    # Every listener named has a security protocol.
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    assert {props["controller.listener.names"], props["inter.broker.listener.name"]} <= set(
        protocols
    )


def test_extra_kafka_properties_replace_and_add(tmp_path: Path) -> None:
    extra = {"listeners": "SSL://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093",
             "ssl.keystore.type": "PEM"}  # fmt: skip
    props = parse_properties(kafka_server_properties(29092, 29093, tmp_path, extra=extra))
    assert props["listeners"] == extra["listeners"]
    assert props["ssl.keystore.type"] == "PEM"
    assert props["process.roles"] == "broker,controller"


def test_each_replicated_node_is_a_broker_and_a_voter_of_one_quorum(tmp_path: Path) -> None:
    nodes = [
        parse_properties(
            replicated_kafka_properties(n, 29290 + n, [29391, 29392, 29393], tmp_path / f"k{n}")
        )
        for n in (1, 2, 3)
    ]
    voters = "1@127.0.0.1:29391,2@127.0.0.1:29392,3@127.0.0.1:29393"
    assert [node["node.id"] for node in nodes] == ["1", "2", "3"]
    assert {node["controller.quorum.voters"] for node in nodes} == {voters}
    assert nodes[1]["listeners"] == "PLAINTEXT://127.0.0.1:29292,CONTROLLER://127.0.0.1:29392"
    assert len({node["log.dirs"] for node in nodes}) == 3
    for node in nodes:
        assert "controller.quorum.bootstrap.servers" not in node  # static voters instead
        assert node["min.insync.replicas"] == "2"
        assert node["default.replication.factor"] == "3"
        assert node["offsets.topic.replication.factor"] == "3"
        assert node["transaction.state.log.min.isr"] == "2"


def test_the_replicated_profile_runs_three_nodes_and_shares_the_rest(settings: Settings) -> None:
    replicated = replicated_settings(settings)
    stack = Stack(replicated)
    nodes = [s for s in stack.services if isinstance(s, KafkaNode)]
    assert [node.name for node in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert replicated.kafka_bootstrap == ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    ports = [port for node in nodes for port in node.ports]
    assert len(set(ports)) == 6 and not set(ports) & {29092, 29093}  # not the plain stack's
    assert stack.shared == {"registry", "s3"}
    # The shared servers are the plain stack's own: same home, so `stack down` there stops them.
    shared = [s for s in stack.services if s.name in stack.shared]
    assert {s.home for s in shared} == {settings.home.resolve()}
    assert {n.home for n in nodes} == {settings.home.resolve() / "brokers3"}
    assert len({n.marker for n in nodes}) == 3
    with pytest.raises(StackError, match="kafka-1, kafka-2, kafka-3, registry, s3"):
        stack.service("kafka")


def test_the_replicated_nodes_share_one_cluster_id(settings: Settings) -> None:
    replicated = replicated_settings(settings)
    ids = {KafkaNode(replicated, n).cluster_id() for n in (1, 2, 3)}
    assert len(ids) == 1


def test_kafka_pom_lists_kafka_and_a_log4j2_binding() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.fromstring(kafka_pom())
    assert pom.findtext("m:packaging", namespaces=ns) == "pom"
    coordinates = {
        (d.findtext("m:groupId", namespaces=ns), d.findtext("m:artifactId", namespaces=ns))
        for d in pom.iterfind("m:dependencies/m:dependency", ns)
    }
    assert ("org.apache.kafka", "kafka_2.13") in coordinates
    assert ("org.apache.logging.log4j", "log4j-slf4j2-impl") in coordinates


def test_cluster_ids_are_kafka_shaped_and_unique() -> None:
    ids = {new_cluster_id() for _ in range(100)}
    assert len(ids) == 100
    for cluster_id in ids:
        assert len(cluster_id) == 22 and "=" not in cluster_id
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_prometheus_scrapes_the_workers_target_files(settings: Settings) -> None:
    targets = prometheus_targets_dir(settings)
    assert targets.is_absolute() and targets.is_relative_to(settings.home.resolve())
    config = yaml.safe_load(prometheus_config(targets))
    assert config["global"]["scrape_interval"] == "5s"
    [job] = config["scrape_configs"]
    assert job["job_name"] == "recordflow-workers"
    assert job["file_sd_configs"] == [{"files": [f"{targets}/*.json"], "refresh_interval": "5s"}]


def test_each_service_is_marked_by_one_whole_argument_under_home(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Resolving java/prometheus is not what this test is about.
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    home = str(settings.home.resolve())
    for cls in SERVICES.values():
        service = cls(settings)
        assert service.command().count(service.marker) == 1, service.name
        assert home in service.marker, service.name


def test_the_s3_secret_is_not_on_the_command_line(settings: Settings) -> None:
    s3 = S3(settings)
    secret = settings.s3_secret_key.get_secret_value()
    assert secret not in " ".join(s3.command())
    assert s3.env()["ROOT_SECRET_ACCESS_KEY"] == secret


def test_services_start_in_the_documented_order() -> None:
    assert list(SERVICES) == [
        "kafka",
        "registry",
        "s3",
        "prometheus",
        "gateway",
        "console",
        "lookup",
    ]


# --- pid files, logs and ownership --------------------------------------------------------------


def test_cmdline_has_matches_whole_arguments_only() -> None:
    cmdline = b"/usr/bin/versitygw\0posix\0/tmp/a/data/s3\0"
    assert cmdline_has(cmdline, "/tmp/a/data/s3")
    assert not cmdline_has(cmdline, "/tmp/a/data")
    assert not cmdline_has(b"/usr/bin/versitygw\0/tmp/a/data/s3-old\0", "/tmp/a/data/s3")
    assert not cmdline_has(b"", "/tmp/a/data/s3")  # a zombie's cmdline is empty


def test_read_pid(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    assert read_pid(pid_file) is None
    pid_file.write_text("garbage")
    assert read_pid(pid_file) is None
    pid_file.write_text("1234\n")
    assert read_pid(pid_file) == 1234


def test_tail_returns_whole_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert tail(log) == ""
    log.write_text("".join(f"line {i} " + "x" * 300 + "\n" for i in range(1000)))
    last = tail(log, 3).splitlines()
    assert [line.split()[1] for line in last] == ["997", "998", "999"]
    log.write_text("a\nb\n")
    assert tail(log, 10) == "a\nb"


@pytest.fixture
def sleeper(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose argv carries S3's marker, like the versitygw we would start."""
    marker = S3(settings).marker
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    deadline = time.monotonic() + 10
    while marker.encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # until exec: before it, the child's argv is still pytest's
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that is not ours, e.g. one that reused a pid from a stale pid file."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_ownership_follows_the_marker(
    settings: Settings, sleeper: subprocess.Popen[bytes], stranger: subprocess.Popen[bytes]
) -> None:
    s3 = S3(settings)
    assert s3.owns(sleeper.pid)
    assert not s3.owns(stranger.pid)
    assert not Kafka(settings).owns(sleeper.pid)
    assert not s3.owns(os.getpid())


def test_down_stops_our_process_and_leaves_a_stranger_alone(
    settings: Settings, sleeper: subprocess.Popen[bytes], stranger: subprocess.Popen[bytes]
) -> None:
    stack = Stack(settings)
    s3, kafka = stack.service("s3"), stack.service("kafka")
    s3.pid_file.parent.mkdir(parents=True)
    s3.pid_file.write_text(f"{sleeper.pid}\n")
    kafka.pid_file.write_text(f"{stranger.pid}\n")  # a stale pid file, the pid reused

    assert [s.running_pid() for s in stack.services] == [None, None, sleeper.pid] + [None] * 4
    assert stack.down() == ["s3"]

    assert sleeper.wait(timeout=5) is not None
    assert stranger.poll() is None
    assert not s3.pid_file.exists() and not kafka.pid_file.exists()


def test_down_only_the_named_services(settings: Settings, sleeper: subprocess.Popen[bytes]) -> None:
    stack = Stack(settings)
    s3 = stack.service("s3")
    s3.pid_file.parent.mkdir(parents=True)
    s3.pid_file.write_text(f"{sleeper.pid}\n")
    assert stack.down(only=["kafka"]) == []
    assert sleeper.poll() is None and s3.pid_file.exists()
    assert stack.down(only=["s3"]) == ["s3"]
    assert sleeper.wait(timeout=5) is not None
    with pytest.raises(StackError, match="unknown service 'minio'"):
        stack.down(only=["minio"])
    with pytest.raises(StackError, match="stop them all to purge"):
        stack.down(purge=True, only=["s3"])


def test_down_purge_deletes_data_and_the_outbox_only(settings: Settings) -> None:
    stack = Stack(settings)
    data = stack.service("registry").data_dir
    data.mkdir(parents=True)
    (data / "registry.mv.db").write_text("x")
    downloads, outbox = settings.home / "downloads", settings.home / "outbox"
    downloads.mkdir()
    outbox.mkdir()
    (outbox / "outbox.sqlite3").write_text("published to the servers purged")
    assert stack.down(purge=True) == []
    assert not data.exists() and not outbox.exists() and downloads.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--brokers", "2"], "1 or 3, not 2"),
        (["--brokers", "3", "--secure"], "the secure profile has one broker"),
    ],
)
def test_a_bad_broker_count_is_one_line(args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from recordflow.cli import stack

    result = CliRunner().invoke(stack.app, ["status", *args])
    assert result.exit_code == 2
    assert message in result.output
