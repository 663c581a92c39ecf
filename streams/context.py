"""What every stage of the pipeline shares, built once per worker from the settings."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from archival import formats
from archival.checks import CheckItems, load_items
from archival.formats import FormatRegistry, load_formats
from archival.metadata import MetadataRules, load_metadata_rules
from archival.reasons import catalog as reasons_catalog
from archival.retention import Schedules, load_schedules
from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD, DEAD_LETTER, RETENTION_REVIEW
from connectors.agency_registry import RegistryView
from connectors.clamd import ClamdClient, scanner
from connectors.storage import Storage
from recordflow.agencies import AgencyRegistry
from recordflow.metrics import PipelineMetrics
from recordflow.settings import Settings

log = logging.getLogger(__name__)

# Options of each table's RocksDB store (streams/app.py), per table partition, so that memory
# stays bounded: RocksDB's defaults in faust (64 MiB write buffers, a 2 GiB block cache) would let
# a worker grow by gigabytes as its tables fill. Small, too, because a worker holds a store per
# partition (9 with the catalog's counts) and its memtables fill for minutes before their first
# flush: with 1 MiB buffers a worker's RSS still rose by 1-1.3 MB a minute for 10-20 minutes of a
# soak (docs/performance.md, "Memory"). Writes are a few hundred bytes; lookups are of keys that
# are mostly absent (the bloom filter answers) or recent (still in the memtable).
TABLE_OPTIONS = {
    "write_buffer_size": 256 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 256 * 1024,
    "block_cache_compressed_size": 0,
}


# The stages of a worker that send inputs to the dead-letter topic (the `stage` of reasons.yaml).
WORKER_STAGES = frozenset({"decode", "validate", "intake", "check", "register", "store"})


def worker_dead_letters() -> list[tuple[str, str]]:
    """The (stage, reason) pairs a worker's dead letters may carry (recordflow/reasons.yaml)."""
    return [
        (stage, reason.code)
        for reason in reasons_catalog().reasons
        if {"rejected", "parked"} & set(reason.kind)
        for stage in reason.stages
        if stage in WORKER_STAGES
    ]


@dataclass
class PipelineContext:
    settings: Settings
    agencies: AgencyRegistry
    schedules: Schedules
    metadata_rules: MetadataRules
    codec: Codec
    storage: Storage
    metrics: PipelineMetrics
    check_items: CheckItems
    formats: FormatRegistry
    scanner: ClamdClient | None
    worker_name: str = field(default="recordflow-worker")
    # Follows recordflow.agencies.v1; the worker takes each new registry into `agencies` and
    # subscribes to a new agency's ingest topic (streams/app.py, follow_registry).
    registry_view: RegistryView | None = None

    @functools.cached_property
    def person_key(self) -> bytes:
        """The key identity numbers are hashed with (archival/persons.py), read once."""
        return self.settings.person_key()

    @classmethod
    def build(
        cls, settings: Settings, registry: CollectorRegistry | None = None
    ) -> PipelineContext:
        metadata_rules = load_metadata_rules(settings.metadata_rules_file)
        view = RegistryView(settings).start()
        metrics = PipelineMetrics(registry or CollectorRegistry())
        metrics.expect((agency.code for agency in view.registry.agencies), worker_dead_letters())
        return cls(
            settings=settings,
            agencies=view.registry,
            registry_view=view,
            schedules=load_schedules(settings.retention_dir),
            metadata_rules=metadata_rules,
            codec=Codec.from_url(settings.schema_registry_url),
            storage=Storage(settings),
            metrics=metrics,
            check_items=load_items(settings.checks_file, metadata_rules=metadata_rules),
            formats=load_formats(settings.formats_file),
            scanner=scanner(settings.clamd_address),
        )

    def warm_up(self) -> None:
        """Do before the first event what the first events would otherwise queue behind: siegfried
        reading its signatures, the output schemas' ids from the registry. The latter only as a
        head start: with the registry down, encoding registers them later (and retries)."""
        formats.load_signatures()
        for subject in (self.archival_ready_subject, self.review_subject, self.deadletter_subject):
            try:
                self.codec.register(subject)
            except Exception as exc:  # best effort; the first encode retries
                log.warning(
                    "schema registry not reachable at start (%s); encoding will register later", exc
                )
                return

    @property
    def archival_ready_subject(self) -> Subject:
        return Subject.for_topic(self.settings.archival_ready_topic, ARCHIVAL_RECORD)

    @property
    def review_subject(self) -> Subject:
        return Subject.for_topic(self.settings.review_topic, RETENTION_REVIEW)

    @property
    def deadletter_subject(self) -> Subject:
        return Subject.for_topic(self.settings.deadletter_topic, DEAD_LETTER)
