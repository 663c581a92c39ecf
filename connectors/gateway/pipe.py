"""A request body streamed to S3 as it arrives: the event loop feeds the body's chunks into a
small queue, and minio's `put_object`, on a worker thread, reads them as a file. So a file of
hundreds of MB goes from the client to S3 (a multipart upload, hashed by `Storage.stage` on the
way) holding at most one part (64 MiB, minio's buffer) and a few chunks in memory, and nothing on
the gateway's disk."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator

from connectors.gateway.limits import too_large

DEPTH = 8  # chunks in flight between the event loop and the uploading thread
PUT_WAIT_S = 0.2  # how often a full queue looks whether the reader has stopped


class BodyPipe:
    """`read(size)` for the uploading thread; `feed(chunks)` for the event loop."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=DEPTH)
        self._buffer = bytearray()
        self._ended = False
        self.reader_done = threading.Event()  # the uploading thread stopped reading, for any reason

    # --- the uploading thread ----------------------------------------------------------------
    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            item = self._queue.get()
            if item is None:
                self._ended = True
            elif isinstance(item, BaseException):
                raise item  # the client went away, or sent too much: the upload is aborted
            else:
                self._buffer += item
        take = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        chunk = bytes(self._buffer[:take])
        del self._buffer[:take]
        return chunk

    # --- the event loop ------------------------------------------------------------------------
    async def _put(self, item: bytes | BaseException | None) -> bool:
        """Queue an item, waiting while the queue is full; False when the reader has stopped."""
        while True:
            try:
                self._queue.put_nowait(item)
                return True
            except queue.Full:
                if self.reader_done.is_set():
                    return False
                await asyncio.sleep(PUT_WAIT_S / 10)

    async def feed(self, chunks: AsyncIterator[bytes], limit: int, what: str) -> None:
        """Pass the body on, then its end; past `limit` bytes, stop the reader and raise 413.
        Returns early when the reader stopped first (its own outcome says why)."""
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit, what)
                if chunk and not await self._put(chunk):
                    return
        except BaseException as exc:
            await self._put(ConnectionAbortedError(f"the body was not received whole: {exc}"))
            raise
        await self._put(None)
