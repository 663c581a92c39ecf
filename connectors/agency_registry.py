"""The live agency registry: `agencies.yaml` (the agencies the platform was installed with) merged
with recordflow.agencies.v1 (those onboarded or offboarded since), and the writing of an entry.

A command reads it once (`current_registry`); a worker or gateway follows it (`RegistryView`),
so that an agency onboarded while they run is served at once. An entry on the topic replaces the
installed entry of the same code (offboarding an installed agency writes its entry with
offboarded_at set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import Producer

from connectors.compacted import CompactedView
from connectors.readback import TopicMissing, read_latest
from recordflow.agencies import Agency, AgencyRegistry, load_registry
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S

log = logging.getLogger(__name__)


def decode_entry(value: bytes) -> Agency:
    return Agency.model_validate_json(value)


def current_registry(settings: Settings) -> AgencyRegistry:
    """The registry as it stands now. Without the topic (a cluster where `recordflow topics apply`
    has not run yet) it is the installed registry alone."""
    installed = load_registry(settings.agencies_file)
    try:
        latest = read_latest(settings, settings.agencies_topic)
    except TopicMissing:
        log.info("%s is missing: the installed agencies only", settings.agencies_topic)
        return installed
    entries = [decode_entry(value) for m in latest.values() if (value := m.value()) is not None]
    return installed.merged(entries)


def publish_entry(settings: Settings, agency: Agency, *, timeout: float = KAFKA_TIMEOUT_S) -> None:
    """Write `agency` as its code's entry and wait until Kafka has it."""
    producer = Producer({**settings.producer_config(), "linger.ms": 0})
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    producer.produce(
        settings.agencies_topic,
        key=agency.code.encode(),
        value=agency.model_dump_json().encode(),
        on_delivery=delivered,
    )
    if producer.flush(timeout) or failures:
        raise RuntimeError(
            f"could not write {agency.code} to {settings.agencies_topic}: "
            + ("; ".join(failures) or f"no answer from Kafka in {timeout:g} s")
        )


class RegistryView:
    """The registry, kept current while a process runs; `on_change(registry)` hears of each new
    state (on the view's reading thread)."""

    def __init__(self, settings: Settings,
                 on_change: Callable[[AgencyRegistry], None] | None = None) -> None:  # fmt: skip
        self.installed = load_registry(settings.agencies_file)
        self._on_change = on_change
        self._view = CompactedView(
            settings, settings.agencies_topic, decode_entry, on_change=lambda _: self._changed()
        )
        self.registry = self.installed

    def start(self, *, wait: bool = True, retry_s: float = 5.0) -> RegistryView:
        """As CompactedView.start: until a background first read succeeds (`wait=False`), the
        registry is the installed one."""
        self._view.start(wait=wait, retry_s=retry_s)
        return self

    def refresh(self) -> None:
        self._view.refresh()

    def _changed(self) -> None:
        try:
            self.registry = self.installed.merged(self._view.snapshot().values())
        except ValueError as exc:  # e.g. a fonds code twice: kept as it was, and said loudly
            log.error("%s: the new registry is invalid, kept the previous one: %s",
                      self._view.topic, exc)  # fmt: skip
            return
        if self._on_change is not None:
            self._on_change(self.registry)

    def close(self) -> None:
        self._view.close()
