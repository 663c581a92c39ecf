"""The base of the local stack's servers: `Service`, one server bound to a Settings, and the
helpers the servers share (install steps, health probes, pid files, logs).

Each server is installed on first use and cached under `settings.home`, which is git-ignored:

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
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from rich.text import Text

from recordflow.settings import Settings

PROBE_TIMEOUT_S = 2.0  # one health probe; a healthy local server answers in milliseconds
LOG_TAIL_LINES = 30

Report = Callable[[str], None]


class StackError(Exception):
    """Something in the local stack failed; the message says which service and why."""


# --- pure helpers (unit-tested) -----------------------------------------------------------


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


# --- the base of every server ----------------------------------------------------------------


class Service(abc.ABC):
    """One server of the stack, bound to a Settings (ports, credentials, home)."""

    name: str  # one per class, but for the replicated profile's brokers (kafka-1 …)
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
