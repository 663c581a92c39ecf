"""Getting a cluster ready for the pipeline: topics (and, where Kafka has an authorizer, ACLs)
from the catalog, schemas in the registry with their compatibility, buckets with object lock and,
on the secure profile, their bucket policies. Idempotent; the demo, the benchmark and the test
fixtures all start here."""

from __future__ import annotations

from rich.console import Console

from avro_schemas.codec import Codec, Subject
from connectors.bucket_policies import apply_bucket_policies, bucket_policies
from connectors.storage import Storage
from recordflow.agencies import load_registry
from recordflow.localstack.stack import Stack
from recordflow.settings import Settings
from topics.catalog import desired_topics
from topics.reconcile import reconcile


def register_schemas(settings: Settings, codec: Codec | None = None) -> dict[str, int]:
    """Register every catalog topic's value schema (latest version) under `<topic>-value`."""
    codec = codec or Codec.from_url(settings.schema_registry_url)
    registered = {}
    for spec in desired_topics(settings):
        if spec.value_schema is None:
            continue
        record_type = spec.value_schema.split("/")[0]
        registered[spec.name] = codec.register(Subject.for_topic(spec.name, record_type))
    return registered


def prepare(settings: Settings, console: Console, *, local_stack: bool = True) -> None:
    if local_stack:
        Stack(settings).ensure_up(console)
    with console.status("准备主题、模式与存储桶 Applying topics, schemas and buckets…"):
        reconcile(settings)
        register_schemas(settings)
        storage = Storage(settings)
        storage.ensure_buckets()
        if settings.stack_profile == "secure":
            registry = load_registry(settings.agencies_file)
            apply_bucket_policies(storage.client, bucket_policies(settings, registry))
