"""The container image (image/Containerfile), run as the Helm chart runs it.

The image is built by scripts/build-image.sh, as `make image` does (30-45 s when at most the code
changed; the first build, debootstrap included, 3-5 minutes), then run with podman and
runc: host network (the local stack listens on 127.0.0.1), user 10001 from the image, a read-only
root file system with tmpfs at RECORDFLOW_HOME and /tmp, no capabilities, no new privileges — the
chart's pod security context. A `recordflow worker` started from it takes a PDF and an MP4 the SDK
submits from here and archives them: siegfried (inside the pygfried wheel) names their formats,
FFmpeg (inside the av wheel) reads the video.

Why runc and these flags, on this machine: crun refuses a host whose cgroups are hybrid (v1 and v2,
as here: "cgroups in hybrid mode not supported"), runc does not; no systemd, so cgroupfs; and root
here may not raise its own rlimits, while podman's defaults (1,048,576 open files) are above this
machine's hard limit, so the test names limits below it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess, settings_environment
from recordflow.settings import Settings
from tests.format_samples import ACCEPTED_SAMPLES

ROOT = Path(__file__).resolve().parents[2]
IMAGE_WORK = ROOT / ".recordflow" / "image"  # where scripts/build-image.sh works and stores
HOME_IN_IMAGE = "/var/lib/recordflow"
RUN_DIR_IN_IMAGE = "/run/recordflow"  # the worker's port file, on a folder shared with the test
OUTCOME_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_S = 120.0
BUILD_TIMEOUT_S = 1500.0

# The first build (debootstrap, the dependencies' wheels, the image) runs in the first test.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 600)


def podman() -> list[str]:
    """podman on the build's own storage, with runc and cgroupfs (see the module's docstring)."""
    return ["podman", "--root", str(IMAGE_WORK / "storage"), "--runroot", str(IMAGE_WORK / "run"),
            "--cgroup-manager", "cgroupfs", "--runtime", "runc", "--events-backend", "file"]  # fmt: skip


def run_options() -> list[str]:
    """`podman run`'s options for the chart's pod: host network, read-only root, tmpfs home and
    /tmp (the chart's emptyDirs; `U` gives the home to the image's user as fsGroup does), no
    capabilities, no new privileges."""
    files = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
    return ["--network", "host", "--read-only", "--tmpfs", "/tmp:rw,mode=1777",
            "--tmpfs", f"{HOME_IN_IMAGE}:rw,U", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--ulimit", f"nofile={files}:{files}", "--ulimit", "nproc=4096:4096"]  # fmt: skip


@pytest.fixture(scope="module")
def image() -> str:
    """The image's tag, built now: from nothing on a fresh clone, else from the build's caches."""
    built = subprocess.run(
        ["scripts/build-image.sh"], cwd=ROOT, env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )  # fmt: skip
    assert built.returncode == 0, f"the image did not build:\n{built.stderr[-4000:]}"
    return built.stdout.strip().splitlines()[-1]


def in_image(image: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*podman(), "run", "--rm", *run_options(), image, *command],
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)  # fmt: skip


class ImageWorker(WorkerProcess):
    """`recordflow worker` in a container of the image, otherwise what the tests' WorkerProcess
    is: its log in the stack's logs, its metrics read through the port file it writes (to a
    folder of the test's mounted into the container)."""

    def __init__(self, settings: Settings, *, image: str, run_dir: Path) -> None:
        super().__init__(settings, name=f"image-{settings.topic_prefix.rstrip('.')}")
        self.image = image
        self.container = f"recordflow-test-{uuid.uuid4().hex[:8]}"
        self.port_file = run_dir / "worker.port"

    def settings_in_image(self) -> dict[str, str]:
        """The test's settings as the container's environment, but for paths: those name this
        machine's files; in the image, its own (RECORDFLOW_HOME and the data files it ships).
        The identity numbers' key is this process's, as every worker of a deployment shares one."""
        paths = {f"RECORDFLOW_{name.upper()}" for name in type(self.settings).model_fields
                 if isinstance(getattr(self.settings, name), Path)}  # fmt: skip
        env = {k: v for k, v in settings_environment(self.settings).items() if k not in paths}
        env["RECORDFLOW_PERSON_ID_KEY"] = self.settings.person_key().decode()
        return env

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.settings_in_image()}

    def command(self) -> list[str]:
        # `-e NAME` without a value: podman passes its own environment's, so the credentials
        # stay out of `ps`.
        passed = [arg for name in sorted(self.settings_in_image()) for arg in ("-e", name)]
        return [*podman(), "run", "--rm", "--name", self.container, *run_options(),
                "--volume", f"{self.port_file.parent}:{RUN_DIR_IN_IMAGE}:U", *passed, self.image,
                "recordflow", "worker", "--metrics-port", "0", "--loglevel", self.loglevel,
                "--port-file", f"{RUN_DIR_IN_IMAGE}/{self.port_file.name}"]  # fmt: skip

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        """A command in the running worker's container (as its user)."""
        return subprocess.run([*podman(), "exec", self.container, *command],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)  # fmt: skip

    def remove(self) -> None:
        """The container gone, whatever became of `podman run` (killed, it leaves it running)."""
        subprocess.run([*podman(), "rm", "--force", "--time", "5", "--ignore", self.container],
                       capture_output=True, timeout=COMMAND_TIMEOUT_S)  # fmt: skip

    def stop(self) -> None:
        super().stop()
        self.remove()

    def kill(self) -> None:
        super().kill()
        self.remove()


@pytest.fixture
def image_worker(pipeline_settings: Settings, image: str, tmp_path: Path) -> Iterator[ImageWorker]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    worker = ImageWorker(pipeline_settings, image=image, run_dir=run_dir)
    worker.start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def test_image_runs_every_command_as_a_user_without_the_jdk(image: str) -> None:
    shown = in_image(image)  # the image's CMD: `recordflow --help`
    assert shown.returncode == 0, shown.stderr
    for command in ("worker", "gateway", "console", "lookup", "topics"):
        assert f" {command} " in shown.stdout, command
    # No JDK (nor Kafka's jars, which would need one).
    script = 'id -u; id -g; echo "$RECORDFLOW_HOME"; command -v java || echo no-java'
    who = in_image(image, "sh", "-c", f"{script}; ls /usr/lib/jvm 2>/dev/null || echo no-jvm")
    assert who.returncode == 0, who.stderr
    assert who.stdout.split() == ["10001", "10001", HOME_IN_IMAGE, "no-java", "no-jvm"]


def test_worker_from_the_image_archives_what_the_sdk_submits(
    pipeline_settings: Settings, image_worker: ImageWorker, tmp_path: Path
) -> None:
    # The worker runs as 10001, on a root it cannot write.
    inside = image_worker.exec("sh", "-c", "id -u; touch /probe 2>&1 || true")
    assert inside.returncode == 0, inside.stderr
    read_only = "touch: cannot touch '/probe': Read-only file system"
    assert inside.stdout.splitlines() == ["10001", read_only]

    samples = {name: (make, puid) for name, make, puid, _ in ACCEPTED_SAMPLES}
    submitter = Submitter(pipeline_settings)
    receipts = {}
    for index, name in enumerate(("report.pdf", "meeting.mp4")):
        make, puid = samples[name]
        path = tmp_path / name
        path.write_bytes(make())
        meta = {"document_id": f"ZJJ-IMG-{index}", "title": f"关于镜像测试{index}的通知",
                "document_number": f"市建发〔2026〕{index}号", "responsible_party": "市住房和城乡建设局",
                "document_date": "2026-07-01", "document_type": "通知", "unit_code": "BGS"}  # fmt: skip
        receipts[name] = (puid, submitter.submit("zjj", [FileToSubmit(path)], meta))
    submitter.close()

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    ids = {receipt.event_id for _, receipt in receipts.values()}
    outcomes = watch_outcomes(pipeline_settings, codec, ids, timeout_s=OUTCOME_TIMEOUT_S)
    records = {r["event_id"]: r for r in catalog(pipeline_settings, codec).values()}
    for name, (puid, receipt) in receipts.items():
        outcome = outcomes.get(receipt.event_id)
        assert outcome is not None and outcome.status == "archived", (name, outcome)
        (identified,) = records[receipt.event_id]["formats"]
        assert identified["puid"] == puid and identified["accepted"], (name, identified)
    assert image_worker.metric("recordflow_worker_assigned_partitions") > 0
