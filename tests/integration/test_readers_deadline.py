"""Readers end with one clear line when the broker goes away, after the read deadline
(`RECORDFLOW_READ_DEADLINE_S`), instead of hanging.

The shared broker is never stopped here (other tests run against it): each test that stops a
broker starts a private single-node Kafka of its own, from the plain stack's installed jars, on
free ports under a temporary home (recordflow/localstack/kafka.py's Kafka service, as the secure profile runs
its second broker), throttled by a client quota so that reading its topic takes long enough to be
stopped in the middle.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.readback import KafkaUnreachable, TopicReader, read_topic
from recordflow.localstack.kafka import Kafka
from recordflow.settings import Settings
from tests.integration.cli import run_cli

DEADLINE_S = 6.0
MARGIN_S = 8.0  # the read's last poll and probe, and the CLI's own start and exit
MESSAGES = 20_000
KEY_BYTES = 1000  # as hex: 2000 characters a key, so that the quota below makes reading slow
QUOTA_BYTES_PER_S = 1_000_000
STARTUP_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PrivateKafka:
    """A single-node Kafka of a test's own (its settings point at it), started and stopped here."""

    settings: Settings
    service: Kafka
    process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self.service.port

    def start(self) -> None:
        self.service.prepare(lambda _: None)
        self.process = self.service.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.service.healthy():
            assert self.process.poll() is None, f"private Kafka exited: {self.service.log_file}"
            assert time.monotonic() < deadline, f"private Kafka not up: {self.service.log_file}"
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM, as `recordflow stack down` stops a broker, and wait for it to be gone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)

    def throttle_consumers(self) -> None:
        """A default client quota on fetches, with Kafka's own ConfigCommand."""
        java = shutil.which("java")
        assert java is not None
        libs = self.service.install_dir / "libs" / "*"
        done = subprocess.run(
            [java, "-cp", str(libs), f"-Dlog4j2.configurationFile={self.service.log4j_file}",
             "kafka.admin.ConfigCommand", "--bootstrap-server", self.settings.kafka_bootstrap,
             "--alter", "--add-config", f"consumer_byte_rate={QUOTA_BYTES_PER_S}",
             "--entity-type", "clients", "--entity-default"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def fill(self, topic: str) -> None:
        """`topic` with MESSAGES tombstones (a catalog reads them as deleted records) under long
        keys."""
        config: dict[str, str | int | float | bool] = {**self.settings.kafka_config()}
        admin = AdminClient(config)
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(30)
        producer = Producer(self.settings.producer_config())
        for _ in range(MESSAGES):
            while True:
                try:
                    producer.produce(topic, key=os.urandom(KEY_BYTES).hex().encode(), value=None)
                    break
                except BufferError:
                    producer.poll(0.1)
        assert producer.flush(60) == 0


@pytest.fixture
def private_kafka(stack_settings: Settings, tmp_path: Path) -> Iterator[PrivateKafka]:
    """A throttled private broker holding a full records.catalog.v1 (no topic prefix)."""
    settings = stack_settings.model_copy(
        update={
            "home": tmp_path / "private-kafka",
            "stack_shared_home": stack_settings.home.resolve(),  # the installed jars
            "kafka_bootstrap": f"127.0.0.1:{free_port()}",
            "kafka_controller_port": free_port(),
            "read_deadline_s": DEADLINE_S,
        }
    )
    kafka = PrivateKafka(settings, Kafka(settings))
    kafka.start()
    try:
        kafka.throttle_consumers()
        kafka.fill(settings.catalog_topic)
        yield kafka
    finally:
        kafka.stop()


def established(pid: int, port: int) -> bool:
    """Whether process `pid` has a TCP connection established to 127.0.0.1:`port`."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == "01" and fields[9] in inodes:
            return True
    return False


@pytest.mark.parametrize("wait_for_transactions", [False, True], ids=["as-it-stands", "to-hwm"])
def test_a_read_fails_within_the_deadline_when_the_broker_stops_mid_read(
    private_kafka: PrivateKafka, stack_settings: Settings, wait_for_transactions: bool
) -> None:
    """Both ways of reading: up to the last stable offset (records, review list) and up to the
    high watermark waiting for transactions (dead letters, a decision's re-read)."""
    settings = private_kafka.settings
    reader = TopicReader(settings, settings.catalog_topic,
                         wait_for_transactions=wait_for_transactions)  # fmt: skip
    read = 0
    try:
        with pytest.raises(KafkaUnreachable) as unreachable:
            for _ in reader.read():
                read += 1
                if read == 1:
                    private_kafka.stop()
                    stopped = time.monotonic()
    finally:
        reader.close()
    took = time.monotonic() - stopped
    assert 0 < read < MESSAGES  # stopped in the middle
    assert str(unreachable.value) == (
        f"Kafka at 127.0.0.1:{private_kafka.port} unreachable for 6 s while reading "
        "records.catalog.v1"
    )
    assert took <= DEADLINE_S + MARGIN_S
    assert private_kafka.port != Kafka(stack_settings).port
    assert Kafka(stack_settings).healthy()  # the shared broker never noticed


def test_records_list_ends_with_one_line_when_the_broker_stops_mid_read(
    private_kafka: PrivateKafka,
) -> None:
    settings = private_kafka.settings
    env = {**os.environ, "RECORDFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "RECORDFLOW_READ_DEADLINE_S": str(DEADLINE_S), "RECORDFLOW_TOPIC_PREFIX": ""}  # fmt: skip
    cli = subprocess.Popen([sys.executable, "-m", "recordflow", "records", "list"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not established(cli.pid, private_kafka.port):
            assert cli.poll() is None, cli.communicate()
            assert time.monotonic() < deadline, "records list never connected"
            time.sleep(0.1)
        time.sleep(2)  # reading: the quota makes the whole topic take half a minute
        assert cli.poll() is None, "records list finished before the broker was stopped"
        stopping = time.monotonic()
        private_kafka.stop()
        stdout, stderr = cli.communicate(timeout=DEADLINE_S + MARGIN_S + 30)
        took = time.monotonic() - stopping
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 1
    assert stdout == ""
    assert stderr.splitlines() == [
        f"error: Kafka at 127.0.0.1:{private_kafka.port} unreachable for 6 s while reading "
        "records.catalog.v1"
    ]
    assert DEADLINE_S / 2 <= took <= DEADLINE_S + MARGIN_S


def test_a_slow_broker_is_not_an_unreachable_one(private_kafka: PrivateKafka) -> None:
    """The quota makes the fetches go quiet for longer than a short deadline; the broker still
    answers metadata, so the read goes on to the end."""
    settings = private_kafka.settings.model_copy(update={"read_deadline_s": 3.0})
    gaps, last, read = [], time.monotonic(), 0
    for _ in read_topic(settings, settings.catalog_topic):
        now = time.monotonic()
        gaps.append(now - last)
        last, read = now, read + 1
    assert read == MESSAGES
    assert max(gaps) > settings.read_deadline_s  # quiet for longer than the deadline, and on


@pytest.mark.parametrize(
    "verb",
    [
        ["records", "list"],
        ["records", "show", "Z109-WS·2026-D30-GHK-0001"],
        ["review", "list"],
        ["review", "list", "--appraisal"],
        ["deadletters", "list"],
        ["deadletters", "show", "0-1"],
    ],
    ids=lambda verb: "-".join(verb[:2]) + ("-appraisal" if "--appraisal" in verb else ""),
)
def test_a_reader_of_an_unreachable_address_fails_within_the_deadline(
    stack_settings: Settings, verb: list[str]
) -> None:
    topic = {"records": "records.catalog.v1", "review": "records.retention-review.v1",
             "deadletters": "records.deadletter.v1"}[verb[0]]  # fmt: skip
    port = free_port()  # nothing listens there
    began = time.monotonic()
    result = run_cli(stack_settings, *verb, env={"RECORDFLOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                                                 "RECORDFLOW_READ_DEADLINE_S": "3"})  # fmt: skip
    took = time.monotonic() - began
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: Kafka at 127.0.0.1:{port} unreachable for 3 s while reading {topic}"
    ]
    assert took <= 3 + MARGIN_S
