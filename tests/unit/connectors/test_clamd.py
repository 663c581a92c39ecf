"""The clamd client (connectors/clamd.py) against a small server in this file that speaks clamd's
INSTREAM protocol over TCP and a UNIX socket: clean, FOUND, ERROR, size limits, unreachable and
silent scanners. A scan that could not be made must come back "not-checked", never "clean"."""

from __future__ import annotations

import io
import socket
import socketserver
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.clamd import (
    DEFAULT_PORT,
    ClamdAddress,
    ClamdClient,
    ScanResult,
    parse_reply,
    scanner,
)

# The EICAR anti-virus test file: harmless, and detected by every scanner as a test signature.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Eicar-Test-Signature"


@dataclass
class Behaviour:
    """How the test server answers, and what it saw."""

    stream_max_length: int = 1024 * 1024
    error: str | None = None  # answer `<error> ERROR` to every scan
    silent: bool = False  # read the stream, never answer
    connections: int = 0
    commands: list[bytes] = field(default_factory=list)
    chunk_lengths: list[int] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)


class FakeClamd(socketserver.BaseRequestHandler):
    """Just enough of clamd: zPING, and zINSTREAM with 4-byte big-endian chunk lengths."""

    behaviour: Behaviour

    def handle(self) -> None:
        behaviour = self.server.behaviour  # type: ignore[attr-defined]
        behaviour.connections += 1
        command = self._read_until(b"\0")
        behaviour.commands.append(command)
        if command == b"zPING\0":
            self.request.sendall(b"PONG\0")
            return
        if command != b"zINSTREAM\0":
            self.request.sendall(b"UNKNOWN COMMAND\0")
            return
        total = 0
        while True:
            header = self._read_exactly(4)
            if header is None:
                return  # the client gave up mid-stream
            (length,) = struct.unpack("!I", header)
            if length == 0:
                break
            behaviour.chunk_lengths.append(length)
            total += length
            if total > behaviour.stream_max_length:
                self.request.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                return
            chunk = self._read_exactly(length)
            if chunk is None:
                return
            behaviour.received.extend(chunk)
        if behaviour.silent:
            threading.Event().wait(2)
            return
        if behaviour.error is not None:
            reply = f"{behaviour.error} ERROR"
        elif EICAR in behaviour.received:
            reply = f"stream: {SIGNATURE} FOUND"
        else:
            reply = "stream: OK"
        self.request.sendall(reply.encode() + b"\0")

    def _read_until(self, end: bytes) -> bytes:
        data = b""
        while not data.endswith(end) and len(data) < 64:
            byte = self.request.recv(1)
            if not byte:
                break
            data += byte
        return data

    def _read_exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            part = self.request.recv(size - len(data))
            if not part:
                return None
            data += part
        return data


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


@dataclass
class Running:
    address: str
    behaviour: Behaviour


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return thread


@pytest.fixture
def clamd_tcp() -> Iterator[Running]:
    """The test server on a TCP port of 127.0.0.1."""
    behaviour = Behaviour()
    with TCPServer(("127.0.0.1", 0), FakeClamd) as server:
        server.behaviour = behaviour  # type: ignore[attr-defined]
        thread = _serve(server)
        port = server.server_address[1]
        yield Running(f"tcp://127.0.0.1:{port}", behaviour)
        server.shutdown()
        thread.join()


@pytest.fixture
def clamd_unix() -> Iterator[Running]:
    """The test server on a UNIX socket."""
    behaviour = Behaviour()
    with tempfile.TemporaryDirectory(prefix="clamd") as folder:  # short: socket paths max ~107
        path = Path(folder) / "clamd.sock"
        with UnixServer(str(path), FakeClamd) as server:
            server.behaviour = behaviour  # type: ignore[attr-defined]
            thread = _serve(server)
            yield Running(f"unix://{path}", behaviour)
            server.shutdown()
            thread.join()


@pytest.fixture(params=["clamd_tcp", "clamd_unix"])
def clamd(request: pytest.FixtureRequest) -> Running:
    """The test server, once over TCP and once over a UNIX socket."""
    running: Running = request.getfixturevalue(request.param)
    return running


# --- scans -------------------------------------------------------------------------------
def test_clean_content_is_clean(clamd: Running) -> None:
    content = b"%PDF-1.7 an ordinary document" * 100
    result = ClamdClient(clamd.address, chunk_bytes=512).scan(io.BytesIO(content))
    assert result == ScanResult("clean", "clamd: OK")
    assert clamd.behaviour.commands == [b"zINSTREAM\0"]
    assert bytes(clamd.behaviour.received) == content
    assert max(clamd.behaviour.chunk_lengths) == 512  # chunks are framed at the client's size
    assert sum(clamd.behaviour.chunk_lengths) == len(content)


def test_eicar_is_found(clamd: Running) -> None:
    result = ClamdClient(clamd.address).scan_bytes(b"prefix " + EICAR)
    assert result == ScanResult("infected", SIGNATURE)


def test_error_reply_is_not_checked(clamd: Running) -> None:
    clamd.behaviour.error = "Can't allocate memory"
    result = ClamdClient(clamd.address).scan_bytes(b"anything")
    assert result.result == "not-checked"
    assert "Can't allocate memory" in result.detail


def test_content_over_the_client_limit_is_not_sent(clamd: Running) -> None:
    client = ClamdClient(clamd.address, max_stream_bytes=100)
    result = client.scan(io.BytesIO(b"x" * 101), size=101)
    assert result.result == "not-checked"
    assert "too large" in result.detail
    assert clamd.behaviour.connections == 0


def test_content_of_unknown_size_stops_at_the_client_limit(clamd: Running) -> None:
    client = ClamdClient(clamd.address, max_stream_bytes=1000, chunk_bytes=300)
    result = client.scan(io.BytesIO(b"x" * 1001))
    assert result.result == "not-checked"
    assert "too large" in result.detail
    assert len(clamd.behaviour.received) <= 1000


def test_content_over_the_server_limit_is_not_checked(clamd: Running) -> None:
    clamd.behaviour.stream_max_length = 1000  # clamd's StreamMaxLength below the client's limit
    result = ClamdClient(clamd.address, chunk_bytes=256).scan_bytes(b"x" * 5000)
    assert result.result == "not-checked"
    assert "StreamMaxLength" in result.detail


def test_content_at_the_limit_is_scanned(clamd: Running) -> None:
    result = ClamdClient(clamd.address, max_stream_bytes=1000).scan_bytes(b"x" * 1000)
    assert result.result == "clean"


def test_empty_content_is_scanned(clamd: Running) -> None:
    assert ClamdClient(clamd.address).scan_bytes(b"").result == "clean"
    assert clamd.behaviour.chunk_lengths == []  # only the zero-length terminator


def test_a_session_scans_content_fed_a_chunk_at_a_time(clamd: Running) -> None:
    client = ClamdClient(clamd.address)
    with client.session() as session:
        for part in (b"first part ", EICAR[:30], EICAR[30:]):
            session.write(part)
        result = session.finish()
    assert result == ScanResult("infected", SIGNATURE)


def test_refused_connection_is_not_checked() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = ClamdClient(f"tcp://127.0.0.1:{port}", timeout=2).scan_bytes(b"anything")
    assert result.result == "not-checked"
    assert "unreachable" in result.detail


def test_missing_unix_socket_is_not_checked(tmp_path: Path) -> None:
    result = ClamdClient(f"unix://{tmp_path}/none.sock").scan(io.BytesIO(b"x"), size=1)
    assert result.result == "not-checked"
    assert "unreachable" in result.detail


def test_silent_scanner_times_out_as_not_checked(clamd_tcp: Running) -> None:
    clamd_tcp.behaviour.silent = True
    result = ClamdClient(clamd_tcp.address, timeout=0.3).scan_bytes(b"anything")
    assert result.result == "not-checked"
    assert "timed out" in result.detail


def test_ping(clamd: Running) -> None:
    assert ClamdClient(clamd.address).ping()
    assert clamd.behaviour.commands == [b"zPING\0"]


def test_ping_of_nothing_is_false(tmp_path: Path) -> None:
    assert not ClamdClient(f"unix://{tmp_path}/none.sock").ping()


# --- replies and addresses ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "result", "detail"),
    [
        ("stream: OK", "clean", "OK"),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", "infected", "Win.Test.EICAR_HDB-1"),
        ("INSTREAM size limit exceeded. ERROR", "not-checked", "StreamMaxLength"),
        ("stream: Can't create temporary file ERROR", "not-checked", "temporary file"),
        ("", "not-checked", "unexpected"),
        ("PONG", "not-checked", "unexpected"),
    ],
)
def test_parse_reply(reply: str, result: str, detail: str) -> None:
    parsed = parse_reply(reply)
    assert parsed.result == result
    assert detail in parsed.detail


def test_addresses() -> None:
    assert ClamdAddress.parse("tcp://127.0.0.1:3311") == ClamdAddress("tcp", "127.0.0.1", 3311)
    assert ClamdAddress.parse("tcp://clamd.example").port == DEFAULT_PORT
    unix = ClamdAddress.parse("unix:///run/clamav/clamd.ctl")
    assert (unix.family, unix.path) == ("unix", "/run/clamav/clamd.ctl")
    assert str(unix) == "unix:///run/clamav/clamd.ctl"
    for bad in ("127.0.0.1:3310", "http://clamd:3310", "unix://relative/path", "tcp://:3310"):
        with pytest.raises(ValueError, match="clamd address"):
            ClamdAddress.parse(bad)


def test_no_address_means_no_scanner() -> None:
    assert scanner(None) is None
    assert scanner("") is None
    configured = scanner("tcp://127.0.0.1:3310", max_stream_bytes=10)
    assert configured is not None
    assert configured.max_stream_bytes == 10
