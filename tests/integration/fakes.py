"""Stand-ins for outside servers the local stack does not run, for the tests that need one to
misbehave: a clamd that is down, then answers."""

from __future__ import annotations

import socket
import struct
import threading

from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings


class FakeClamd:
    """Accepts connections and drops them (a clamd that is down or restarting) until `answer()`;
    then reads each INSTREAM to its end and says `stream: OK`."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.answering = threading.Event()
        self.dropped = 0
        self.scanned = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def answer(self) -> None:
        self.answering.set()

    def close(self) -> None:
        self.server.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                if not self.answering.is_set():
                    self.dropped += 1
                    continue
                self._scan(connection)

    def _scan(self, connection: socket.socket) -> None:
        stream = connection.makefile("rb")
        assert stream.read(len(b"zINSTREAM\0")) == b"zINSTREAM\0"
        while (length := struct.unpack("!I", stream.read(4))[0]) != 0:
            stream.read(length)
        connection.sendall(b"stream: OK\0")
        self.scanned += 1


def scanning_worker(
    settings: Settings, clamd: FakeClamd, name: str
) -> tuple[Settings, WorkerProcess]:
    """A worker (started, ready) whose virus scanner is `clamd`, and its settings."""
    settings = settings.model_copy(update={"clamd_address": f"tcp://127.0.0.1:{clamd.port}"})
    worker = WorkerProcess(settings, name=f"{name}-{settings.topic_prefix[:-1]}")
    worker.start()
    try:
        worker.wait_ready()
    except Exception:
        worker.stop()
        raise
    return settings, worker
