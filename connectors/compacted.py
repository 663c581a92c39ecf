"""The latest value of each key of a compacted topic, kept current while a process runs.

What running processes must learn without a restart lives on compacted topics: the agency registry
(`recordflow.agencies.v1`, connectors/agency_registry.py) and the gateway's credentials
(`recordflow.gateway-credentials.v1`). Every worker and gateway replica reads the whole topic at
start and then follows it, so a new agency or a revoked token reaches all of them within
`interval_s`, and they need share no disk.

Reading is connectors/readback.py's `TopicReader` (read_committed, no consumer group, bounded
silence): a view never moves anybody's offsets. A tombstone (null value) removes its key; a value
the decoder refuses is logged and skipped, so one bad entry cannot stop a worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from connectors.readback import ReadError, TopicReader
from recordflow.settings import Settings

log = logging.getLogger(__name__)

V = TypeVar("V")


class CompactedView(Generic[V]):
    """`start()` reads the topic to its end (raising ReadError when it cannot) and then follows
    it on a daemon thread; `start(wait=False)` makes that first read on the thread too, retried
    every `retry_s` until Kafka answers (a server that may start during an outage: `ready` says
    when the view holds the topic). `refresh()` reads to the end now, for a caller that must see a
    write it just made. `on_change(changed)` is called, on the reading thread, with the keys whose
    values a read changed."""

    def __init__(self, settings: Settings, topic: str, decode: Callable[[bytes], V], *,
                 interval_s: float = 1.0,
                 on_change: Callable[[Mapping[str, V | None]], None] | None = None) -> None:  # fmt: skip
        self.topic = topic
        self.interval_s = interval_s
        self._decode = decode
        self._on_change = on_change
        self._settings = settings
        self._reader: TopicReader | None = None  # made by the first read: it asks Kafka
        self._values: dict[str, V] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *, wait: bool = True, retry_s: float = 5.0) -> CompactedView[V]:
        if wait:
            self.refresh()
            self.ready.set()
        self._thread = threading.Thread(target=self._follow, args=(retry_s,),
                                        name=f"view-{self.topic}", daemon=True)  # fmt: skip
        self._thread.start()
        return self

    def refresh(self) -> None:
        with self._lock:
            if self._reader is None:
                self._reader = TopicReader(self._settings, self.topic)
            changed: dict[str, V | None] = {}
            for message in self._reader.read():
                raw_key = message.key()
                if raw_key is None:
                    continue
                key = raw_key.decode("utf-8", "replace")
                raw = message.value()
                if raw is None:
                    self._values.pop(key, None)
                    changed[key] = None
                    continue
                try:
                    value = self._decode(raw)
                except Exception as exc:  # a bad entry is skipped, never fatal to the reader
                    log.warning("%s: skipped the entry for %r: %s", self.topic, key, exc)
                    continue
                self._values[key] = value
                changed[key] = value
        if changed and self._on_change is not None:
            self._on_change(changed)

    def get(self, key: str) -> V | None:
        with self._lock:
            return self._values.get(key)

    def snapshot(self) -> dict[str, V]:
        with self._lock:
            return dict(self._values)

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 35)
        with self._lock:
            if self._reader is not None:
                self._reader.close()

    def _follow(self, retry_s: float) -> None:
        while not self.ready.is_set():
            try:
                self.refresh()
                self.ready.set()
            except ReadError as exc:
                log.warning("%s: not readable yet: %s", self.topic, exc)
                if self._stopped.wait(retry_s):
                    return
        while not self._stopped.wait(self.interval_s):
            try:
                self.refresh()
            except ReadError as exc:  # Kafka away: the view keeps what it had and tries again
                log.warning("%s: %s", self.topic, exc)
