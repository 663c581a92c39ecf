"""The Go subscriber (examples/go-subscriber/) on the real stack: a program with none of our
Python, only franz-go, its schema-registry client and hamba/avro, reads the records a worker
archived (the Confluent wire format, the writer schema fetched by id) and prints the same 档号 and
题名 as our own reader, Chinese titles byte for byte, and nothing of an aborted transaction. A
wrong address or topic is one line on stderr and a nonzero exit."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from avro_schemas.codec import Codec, Subject
from connectors.readback import catalog, read_topic
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.integration.test_parquet_export import archive

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-subscriber"
SOURCES = ("go.mod", "go.sum", "main.go")
# The first build downloads the modules from the Go module proxy and compiles them (about a
# minute on two cores); later ones reuse the binary, or the caches when a source changed.
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 120
IDLE = "5s"  # everything is committed before the subscriber starts: idle means done

TITLES = {
    "GO-1": "关于转发省档案局〔2026〕3号文件的通知",
    "GO-2": "备忘录",
    # A character beyond the BMP (four bytes in UTF-8), Chinese quotes, and what JSON escapes.
    "GO-3": "关于𡒄村“一网通办” & <试点> 工作的通知",
}


@pytest.fixture(scope="session")
def go_subscriber(stack_settings: Settings) -> Path:
    """The subscriber's binary, built once per version of its sources into the git-ignored home,
    with Go's module and build caches beside the project's other downloads."""
    go = shutil.which("go")
    if go is None:
        pytest.fail(
            "`go` not found on PATH: install Go 1.26 (.ci/run puts /usr/local/go/bin first)"
        )
    home = stack_settings.home.resolve()
    digest = hashlib.sha256(b"".join((EXAMPLE / name).read_bytes() for name in SOURCES))
    binary = home / "bin" / f"go-subscriber-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    cache = home / "downloads" / "go-subscriber-cache"
    env = {**os.environ, "GOMODCACHE": str(cache / "mod"), "GOCACHE": str(cache / "build")}
    # Built under a name of its own, then renamed: `make test`'s other process may build too.
    partial = binary.with_name(f"{binary.name}.{uuid.uuid4().hex}")
    result = subprocess.run(
        # -modcacherw: the module cache stays deletable with the rest of the home.
        [go, "build", "-modcacherw", "-buildvcs=false", "-o", str(partial), "."],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"go build failed:\n{result.stdout}{result.stderr}", pytrace=False)
    partial.replace(binary)
    for stale in binary.parent.glob("go-subscriber-*"):  # earlier versions' binaries
        if stale.name != binary.name:
            stale.unlink(missing_ok=True)
    return binary


def subscribe(binary: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The subscriber against `settings`' stack and archival-ready topic. Bytes, not text: its
    output must be UTF-8 by itself, whatever this process's locale."""
    return subprocess.run(
        [str(binary), "-brokers", settings.kafka_bootstrap, "-registry",
         settings.schema_registry_url, "-topic", settings.archival_ready_topic, *args],
        capture_output=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip


def publish_aborted(settings: Settings, record: dict[str, Any]) -> None:
    """`record` under another 档号 in the archival-ready topic, in a transaction that aborts: as
    a worker's publish that failed half-way leaves it."""
    codec = Codec.from_url(settings.schema_registry_url)
    value = codec.encode(
        Subject.for_topic(settings.archival_ready_topic, "archival_record"),
        {**record, "reference_code": "ABORTED-0001",
         "description": {**record["description"], "title": "已中止的发布"}},
    )  # fmt: skip
    producer = Producer({**settings.producer_config(),
                         "transactional.id": f"test-{uuid.uuid4().hex}"})  # fmt: skip
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(settings.archival_ready_topic, key=b"ABORTED-0001", value=value)
    producer.flush(30)
    producer.abort_transaction(30)


def test_the_go_subscriber_prints_what_python_reads_chinese_titles_intact(
    pipeline_settings: Settings, worker: WorkerProcess, go_subscriber: Path, tmp_path: Path
) -> None:
    settings = pipeline_settings
    archive(settings, tmp_path, {document: {"title": title} for document, title in TITLES.items()})
    codec = Codec.from_url(settings.schema_registry_url)
    published = [codec.decode(value, "archival_record")
                 for _, value in read_topic(settings, settings.archival_ready_topic)]  # fmt: skip
    want = sorted((r["reference_code"], r["description"]["title"]) for r in published)
    assert sorted(title for _, title in want) == sorted(TITLES.values())
    assert want == sorted((code, r["description"]["title"])
                          for code, r in catalog(settings, codec).items())  # fmt: skip
    publish_aborted(settings, published[0])

    result = subscribe(go_subscriber, settings, "-json", "-idle", IDLE)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stderr == b""
    lines = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    # A list, not a set: a record printed twice fails as well as one missing or misread.
    assert sorted((line["reference_code"], line["title"]) for line in lines) == want
    assert len({(line["partition"], line["offset"]) for line in lines}) == len(lines)
    # Its bytes are the titles' own UTF-8, not \u escapes: a portal reads them as they are.
    for title in TITLES.values():
        assert title.encode() in result.stdout

    # The default output, one tab-separated line a record; -max stops it without waiting.
    result = subscribe(go_subscriber, settings, "-max", "2", "-idle", "60s")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    printed = [tuple(line.split("\t")) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(printed) == 2
    assert set(printed) <= set(want)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound a moment ago, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def failure(binary: Path, settings: Settings) -> str:
    """The one line the subscriber writes on stderr when it fails (status 1, nothing on stdout).
    With -idle 60s a subscriber that waited instead of failing would exit 0 a minute later."""
    result = subscribe(binary, settings, "-idle", "60s")
    assert result.returncode == 1
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    return line


def test_a_registry_on_a_closed_port_is_one_line_on_stderr_and_a_nonzero_exit(
    stack_settings: Settings, go_subscriber: Path
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
    settings = stack_settings.model_copy(update={"schema_registry_url": url})
    assert failure(go_subscriber, settings) == (
        f"go-subscriber: schema registry {url}: dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


def test_a_topic_that_does_not_exist_is_one_line_on_stderr_and_a_nonzero_exit(
    stack_settings: Settings, go_subscriber: Path
) -> None:
    settings = stack_settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    assert failure(go_subscriber, settings) == (
        f"go-subscriber: kafka {settings.kafka_bootstrap}: "
        f"topic {settings.archival_ready_topic} does not exist"
    )
