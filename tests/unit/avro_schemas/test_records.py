"""avro_schemas/records.py is what the schemas say (it is generated from them), and the records
the tests build have exactly the fields of their type."""

from __future__ import annotations

from typing import Any

from avro_schemas import records
from avro_schemas.typing_gen import TARGET, source
from tests.examples import archival_receipt_record, archival_record, lifecycle_event


def test_the_types_are_generated_from_the_schemas_on_disk() -> None:
    assert TARGET.read_text(encoding="utf-8") == source(), (
        "avro_schemas/records.py is out of date: run `python -m avro_schemas.typing_gen`"
    )


def keys(kind: Any) -> set[str]:
    return set(kind.__annotations__)


def test_an_event_and_a_record_have_the_fields_of_their_types() -> None:
    event, record = lifecycle_event(), archival_record()
    assert set(event) == keys(records.DocumentLifecycleEvent)
    assert set(event["description"]) == keys(records.RecordDescription)
    assert set(event["components"][0]) == keys(records.Component)
    assert set(record) == keys(records.ArchivalRecord)
    assert "lock_until" in keys(records.ArchivalRecord)  # v4 of the record


def test_a_receipt_has_the_fields_of_its_type() -> None:
    assert set(archival_receipt_record()) == keys(records.ArchivalReceipt)
