"""A minimal client for ClamAV's scanning daemon, clamd, over TCP or a UNIX socket.

It speaks clamd's INSTREAM command (see `man clamd`): `zINSTREAM\\0`, then the content as chunks
each prefixed by its length as a 4-byte big-endian unsigned integer, then a zero length; clamd
answers one NUL-terminated line, `stream: OK`, `stream: <signature> FOUND`, or `<message> ERROR`.

A scan never raises and never says "clean" unless clamd said OK: content larger than the size
limit (clamd's StreamMaxLength, 25 MiB by default), an unreachable scanner, a timeout, an ERROR
reply or anything unexpected is "not-checked" with the reason in `detail` (DA/T 70: a file too
large to scan is not checked, never passed).

`InstreamSession` takes the content a chunk at a time, so a caller that is already reading a file
(hashing it, copying it to the archive) can scan it in the same pass instead of reading it twice.

Written by hand rather than taken from PyPI: `clamd` (1.0.2, 2014) and `pyclamd` (0.4.0, 2017) are
unmaintained, the maintained fork `clamav-client` is GPL-2.0 (this project is Apache-2.0), and
`clamdpy` would still leave the size limit, the never-raise contract and the chunk-at-a-time
session to write here; the protocol itself is the short part.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO, Literal
from urllib.parse import urlsplit

from archival.checks import ScanResult
from recordflow.timeouts import CLAMD_TIMEOUT_S

log = logging.getLogger(__name__)

DEFAULT_PORT = 3310
DEFAULT_STREAM_MAX_LENGTH = 25 * 1024 * 1024  # clamd's own default StreamMaxLength
CHUNK_BYTES = 64 * 1024
MAX_REPLY_BYTES = 4096
LENGTH = struct.Struct("!I")  # chunk length: 4 bytes, unsigned, network (big-endian) order
END_OF_STREAM = LENGTH.pack(0)
SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded"


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: `tcp://host:port` (port 3310 by default) or `unix:///path/to/socket`."""

    family: Literal["tcp", "unix"]
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""

    @classmethod
    def parse(cls, address: str) -> ClamdAddress:
        parts = urlsplit(address)
        if parts.scheme == "tcp" and parts.hostname:
            try:
                port = parts.port or DEFAULT_PORT
            except ValueError as exc:
                raise ValueError(f"bad port in clamd address {address!r}") from exc
            return cls("tcp", host=parts.hostname, port=port)
        if parts.scheme == "unix" and parts.path and not parts.netloc:
            return cls("unix", path=parts.path)
        raise ValueError(
            f"clamd address {address!r} is neither tcp://HOST:PORT nor unix:///PATH/TO/SOCKET"
        )

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}" if self.family == "tcp" else f"unix://{self.path}"

    def connect(self, timeout: float) -> socket.socket:
        if self.family == "tcp":
            return socket.create_connection((self.host, self.port), timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        return sock


def parse_reply(reply: str) -> ScanResult:
    """clamd's answer to INSTREAM, as a scan result."""
    if reply == "stream: OK":
        return ScanResult("clean", "clamd: OK")
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return ScanResult("infected", reply.removeprefix("stream: ").removesuffix(" FOUND"))
    if reply.startswith(SIZE_LIMIT_REPLY):
        return ScanResult.not_checked(
            "larger than the scanner's StreamMaxLength (clamd refused it)"
        )
    if reply.endswith("ERROR"):
        return ScanResult.not_checked(f"clamd error: {reply.removesuffix('ERROR').strip()}")
    return ScanResult.not_checked(f"unexpected clamd reply {reply!r}")


class InstreamSession:
    """One INSTREAM scan, fed a chunk at a time. `write` never raises; `finish` gives the result.

    The connection opens on the first write (or on finish, for empty content). Once the content
    passes the size limit, or the connection fails, further writes are ignored and finish reports
    "not-checked" with the reason.
    """

    def __init__(self, client: ClamdClient) -> None:
        self._client = client
        self._sock: socket.socket | None = None
        self._sent = 0
        self._outcome: ScanResult | None = None  # decided early: too large, or unreachable

    def __enter__(self) -> InstreamSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        if self._outcome is not None or not data:
            return
        limit = self._client.max_stream_bytes
        if self._sent + len(data) > limit:
            self._give_up(_too_large(f"more than {limit}", limit))
            return
        try:
            sock = self._connected()
            for start in range(0, len(data), self._client.chunk_bytes):
                chunk = data[start : start + self._client.chunk_bytes]
                sock.sendall(LENGTH.pack(len(chunk)) + chunk)
        except OSError as exc:
            self._give_up(self._lost(exc))
            return
        self._sent += len(data)

    def finish(self) -> ScanResult:
        """Send the end of the stream and read clamd's verdict."""
        if self._outcome is None:
            try:
                sock = self._connected()
                sock.sendall(END_OF_STREAM)
                self._outcome = parse_reply(self._read_reply(sock))
            except OSError as exc:
                self._outcome = self._lost(exc)
        self.close()
        return self._client.logged(self._outcome)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self._sock = self._client.address.connect(self._client.timeout)
            self._sock.sendall(b"zINSTREAM\0")
        return self._sock

    def _give_up(self, outcome: ScanResult) -> None:
        self._outcome = outcome
        self.close()

    def _lost(self, exc: OSError) -> ScanResult:
        # clamd closes the connection when the stream passes its own StreamMaxLength; its reply
        # may still be waiting to be read.
        if self._sock is not None:
            try:
                reply = self._read_reply(self._sock)
            except OSError:
                reply = ""
            if reply:
                return parse_reply(reply)
        kind = "timed out" if isinstance(exc, TimeoutError) else "unreachable"
        detail = f"scanner {kind} at {self._client.address}: {exc}"
        return ScanResult("not-checked", detail, unavailable=True)

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        reply = b""
        while not reply.endswith((b"\0", b"\n")) and len(reply) < MAX_REPLY_BYTES:
            data = sock.recv(MAX_REPLY_BYTES)
            if not data:
                break
            reply += data
        return reply.rstrip(b"\0\n").decode("utf-8", errors="replace").strip()


class ClamdClient:
    """A clamd at one address. Every call opens its own connection, so one client serves threads."""

    def __init__(
        self,
        address: str | ClamdAddress,
        *,
        max_stream_bytes: int = DEFAULT_STREAM_MAX_LENGTH,
        timeout: float = CLAMD_TIMEOUT_S,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.address = address if isinstance(address, ClamdAddress) else ClamdAddress.parse(address)
        self.max_stream_bytes = max_stream_bytes
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes

    def session(self) -> InstreamSession:
        return InstreamSession(self)

    def scan(self, content: BinaryIO, size: int | None = None) -> ScanResult:
        """Scan a readable binary stream from its current position to its end.

        With `size` given, content over the limit is not sent at all.
        """
        if size is not None and size > self.max_stream_bytes:
            return self.logged(_too_large(str(size), self.max_stream_bytes))
        with self.session() as session:
            while chunk := content.read(self.chunk_bytes):
                session.write(chunk)
            return session.finish()

    def scan_bytes(self, data: bytes) -> ScanResult:
        if len(data) > self.max_stream_bytes:
            return self.logged(_too_large(str(len(data)), self.max_stream_bytes))
        with self.session() as session:
            session.write(data)
            return session.finish()

    def logged(self, result: ScanResult) -> ScanResult:
        if result.result == "not-checked":
            log.warning("virus scan not done by %s: %s", self.address, result.detail)
        return result

    def ping(self) -> bool:
        """True when clamd answers PING with PONG."""
        try:
            with self.address.connect(self.timeout) as sock:
                sock.sendall(b"zPING\0")
                return InstreamSession._read_reply(sock) == "PONG"
        except OSError:
            return False


def scanner(
    address: str | None,
    *,
    max_stream_bytes: int = DEFAULT_STREAM_MAX_LENGTH,
    timeout: float = CLAMD_TIMEOUT_S,
) -> ClamdClient | None:
    """The client for a configured address, or None when no scanner is configured."""
    if not address:
        return None
    return ClamdClient(address, max_stream_bytes=max_stream_bytes, timeout=timeout)


def _too_large(size: str, limit: int) -> ScanResult:
    return ScanResult.not_checked(
        f"file too large to scan: {size} bytes, the scanner's limit is {limit} (StreamMaxLength)"
    )
