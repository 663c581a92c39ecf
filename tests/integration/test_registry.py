"""The codec against the real schema registry (Apicurio's Confluent-compatible API)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from confluent_kafka.schema_registry import Schema
from rich.console import Console

from avro_schemas.codec import COMPATIBILITY, Codec, CodecError, Subject
from avro_schemas.schemas import (
    ARCHIVAL_RECORD,
    DEAD_LETTER,
    RECORD_TYPES,
    load_schema_json,
    versions,
)
from recordflow.localstack.setup import register_schemas
from recordflow.localstack.stack import Stack
from recordflow.settings import Settings
from topics.catalog import desired_topics


def test_every_subject_is_backward_transitive(pipeline_settings: Settings) -> None:
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    subjects = [
        f"{spec.name}-value" for spec in desired_topics(pipeline_settings) if spec.value_schema
    ]
    assert f"{pipeline_settings.archival_ready_topic}-value" in subjects
    assert f"{pipeline_settings.ingest_topic('bgt')}-value" in subjects
    for subject in subjects:
        assert codec.registry.get_latest_version(subject).schema_id is not None
        assert codec.registry.get_compatibility(subject) == "BACKWARD_TRANSITIVE"


def test_each_version_registers_over_the_earlier_ones(pipeline_settings: Settings) -> None:
    """The registry itself accepts every schema version as a BACKWARD_TRANSITIVE successor of the
    earlier ones, as it must when a running cluster moves to the next version."""
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    for record_type in RECORD_TYPES:
        subject = f"{pipeline_settings.topic_prefix}evolution.{record_type}-value"
        ids = []
        for version in versions(record_type):
            schema = Schema(load_schema_json(record_type, version), "AVRO")
            ids.append(codec.registry.register_schema(subject, schema))
            codec.registry.set_compatibility(subject, COMPATIBILITY)
        assert len(set(ids)) == len(ids) == len(codec.registry.get_versions(subject))


def test_round_trip_and_wire_format(pipeline_settings: Settings) -> None:
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    subject = Subject.for_topic(pipeline_settings.deadletter_topic, DEAD_LETTER)
    letter = {
        "reason": "missing-title", "message": "题名为空", "stage": "validate", "exception_class": None,
        "original_topic": "ingest.bgt.lifecycle.v1", "original_partition": 2, "original_offset": 41,
        "original_timestamp": None, "original_key": b"BGT-1", "original_value": b"\x00\x01",
        "original_headers": [{"key": "ce_id", "value": b"1"}], "agency_code": "bgt", "event_id": None,
        "failed_at": dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC),
    }  # fmt: skip
    data = codec.encode(subject, letter)
    assert data[0] == 0
    assert (
        int.from_bytes(data[1:5], "big")
        == codec.registry.get_latest_version(subject.name).schema_id
    )
    assert Codec.from_url(pipeline_settings.schema_registry_url).decode(data, DEAD_LETTER) == letter
    with pytest.raises(CodecError) as unknown:
        codec.decode(b"\x00\x7f\xff\xff\x00" + data[5:], DEAD_LETTER)
    assert unknown.value.reason == "unknown-schema"
    with pytest.raises(CodecError) as truncated:
        codec.decode(data[:-3], DEAD_LETTER)
    assert truncated.value.reason == "malformed-avro"


@pytest.mark.chaos  # it stops the shared registry: alone, after the others
def test_schemas_survive_a_registry_restart(pipeline_settings: Settings) -> None:
    before = register_schemas(pipeline_settings)
    stack = Stack(pipeline_settings)
    registry = stack.service("registry")
    pid = registry.running_pid()
    assert pid is not None, "the registry was not started by this project's stack"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while registry.running_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.5)  # until it has exited and let go of its database file
    assert registry.running_pid() is None and not registry.healthy()
    stack.ensure_up(Console(stderr=True))
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    subject = f"{pipeline_settings.archival_ready_topic}-value"
    assert (
        codec.registry.get_latest_version(subject).schema_id
        == before[pipeline_settings.archival_ready_topic]
    )
    assert register_schemas(pipeline_settings) == before
    assert (
        Subject.for_topic(pipeline_settings.archival_ready_topic, ARCHIVAL_RECORD).name == subject
    )
