"""Record packages against the real local S3 server (connectors/package.py): the content objects
and one package object go into the archive bucket under object lock, and `export_record` brings
the record back as a complete bag that the `bagit` library validates on its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

import bagit
import pytest

from archival.package import PackageError, package_record
from connectors.package import export_record
from connectors.storage import Digests, Storage
from recordflow.settings import Settings
from tests.unit.archival.test_package import CODE, EVENTS, PAYLOAD, archival_record

PACKAGE_TYPE = "application/x-tar"


def put(storage: Storage, key: str, data: bytes, content_type: str, permanent: bool) -> str:
    """One archive object version: a legal hold when permanent, else retention until tomorrow."""
    digests = Digests()
    digests.update(data)
    until = None if permanent else dt.date.today() + dt.timedelta(days=1)
    return storage.archive(
        key, io.BytesIO(data), digests, content_type=content_type, retain_until=until
    )


def archive_record(storage: Storage, settings: Settings, contents: dict[int, bytes]) -> dict[str, Any]:  # fmt: skip
    """Store each component's bytes (`contents`, by sequence) as the archive would, and return
    the record with its payloads pointing at the object versions just written."""
    record = archival_record(bucket=settings.archive_bucket)
    for component in record["components"]:
        payload = component["payload"]
        payload["version_id"] = put(
            storage, payload["key"], contents[component["sequence"]], component["mime_type"],
            permanent=component["sequence"] == 1,
        )  # fmt: skip
    return record


def store_package(storage: Storage, settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    tar_bytes = package_record(record, EVENTS, {"result": "pass"})
    key = f"Z109/2026/{CODE}/bag-{hashlib.sha256(tar_bytes).hexdigest()}.tar"
    version = put(storage, key, tar_bytes, PACKAGE_TYPE, permanent=False)
    return {"bucket": settings.archive_bucket, "key": key, "version_id": version}


def test_export_gives_a_bag_that_bagit_validates(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    storage = Storage(pipeline_settings)
    record = archive_record(storage, pipeline_settings, PAYLOAD)
    package = store_package(storage, pipeline_settings, record)

    bag_dir = export_record(storage, record, package, tmp_path / "export")

    assert bag_dir == tmp_path / "export" / CODE
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert bag.info["External-Identifier"] == CODE
    assert sorted(p.name for p in (bag_dir / "data").iterdir()) == [
        "01-关于申请老旧小区改造专项资金的请示.pdf", "02-现场 照片.jpg"
    ]  # fmt: skip
    assert (bag_dir / "data" / "02-现场 照片.jpg").read_bytes() == PAYLOAD[2]
    # The exported tag files are the archived package's own bytes.
    response = storage.client.get_object(
        package["bucket"], package["key"], version_id=package["version_id"]
    )
    try:
        archived = response.read()
    finally:
        response.close()
        response.release_conn()
    record_xml = (bag_dir / "metadata" / "record.xml").read_bytes()
    assert record_xml in archived
    assert (bag_dir / "fetch.txt").exists(), "kept: bagit accepts it once every file is present"

    # Tampering with a downloaded file after export is caught by bagit alone.
    main = bag_dir / "data" / "01-关于申请老旧小区改造专项资金的请示.pdf"
    changed = bytearray(main.read_bytes())
    changed[-1] ^= 0x20
    main.write_bytes(bytes(changed))
    with pytest.raises(bagit.BagValidationError) as failure:
        bagit.Bag(str(bag_dir)).validate()
    assert any(isinstance(d, bagit.ChecksumMismatch) for d in failure.value.details)


def test_export_refuses_content_that_differs_from_the_manifest(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    """An archived object whose bytes are not what the package's manifest says (same size, other
    bytes) fails the export with PackageError, and nothing half-built is left behind."""
    storage = Storage(pipeline_settings)
    swapped = bytes(reversed(PAYLOAD[2]))
    assert len(swapped) == len(PAYLOAD[2]) and swapped != PAYLOAD[2]
    record = archive_record(storage, pipeline_settings, {1: PAYLOAD[1], 2: swapped})
    package = store_package(storage, pipeline_settings, record)  # manifest: PAYLOAD's digests

    with pytest.raises(PackageError) as failure:
        export_record(storage, record, package, tmp_path)
    assert failure.value.reason == "checksum-mismatch"
    assert "data/02-现场 照片.jpg" in str(failure.value)
    assert not (tmp_path / CODE).exists()

    # An export into a folder that already holds the bag is refused, not merged.
    (tmp_path / CODE).mkdir()
    with pytest.raises(PackageError, match="exists"):
        export_record(storage, record, package, tmp_path)


def test_export_of_a_missing_package(pipeline_settings: Settings, tmp_path: Path) -> None:
    storage = Storage(pipeline_settings)
    missing = {"bucket": pipeline_settings.archive_bucket, "key": f"{CODE}/none.tar"}
    with pytest.raises(PackageError) as failure:
        export_record(storage, archival_record(), missing, tmp_path)
    assert failure.value.reason == "object-missing"
