"""The long-term check's pure comparisons (connectors/verify.py): each problem code with an input
that triggers it and one that does not, the record selection, the alert's and the run summary's
shapes. No S3 or Kafka here; tests/integration/test_verify.py runs the reads on the real stack."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import io
import tarfile
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archival.package import CST, package_record
from avro_schemas.schemas import PRESERVATION_ALERT, VERIFY_RUN, parsed_schema
from connectors.storage import PERMANENT_UNTIL
from connectors.verify import (
    CHECKSUM_MISMATCH,
    COMPLETED,
    INCOMPLETE,
    LEGAL_HOLD_MISSING,
    OBJECT_MISSING,
    PACKAGE_MISMATCH,
    PROBLEM_CODES,
    PROBLEM_NAMES,
    RETENTION_WEAKENED,
    SIZE_MISMATCH,
    Lock,
    ObjectRead,
    Problem,
    RecordResult,
    alert,
    content_problems,
    lock_problems,
    package_listing,
    package_problems,
    parse_since,
    run_summary,
    select,
)
from tests.unit.archival.test_package import CODE, EVENTS, MAIN, PHOTO, archival_record, component

RETAIN_UNTIL = dt.date(2057, 1, 1)
MIDNIGHT = dt.datetime(2057, 1, 1, tzinfo=dt.UTC)


def read_of(data: bytes) -> ObjectRead:
    return ObjectRead(
        hashlib.sha256(data).hexdigest(), hashlib.new("sm3", data).hexdigest(), len(data)
    )


def codes(problems: list[Problem]) -> list[str]:
    return [problem.code for problem in problems]


def main_component() -> dict[str, Any]:
    return component(1, "请示.pdf", MAIN, "application/pdf", "archive")


# --- content: object-missing, checksum-mismatch, size-mismatch ---------------------------------
def test_the_stored_bytes_match() -> None:
    assert content_problems(main_component(), read_of(MAIN)) == []


def test_object_missing() -> None:
    problems = content_problems(main_component(), None)
    assert codes(problems) == [OBJECT_MISSING]
    assert problems[0].sequence == 1 and "version v1-3HL4kq+t/J" in problems[0].detail


def test_object_missing_when_the_record_names_no_version() -> None:
    unversioned = main_component()
    unversioned["payload"]["version_id"] = None
    assert codes(content_problems(unversioned, read_of(MAIN))) == [OBJECT_MISSING]


def test_checksum_mismatch_on_either_digest() -> None:
    changed = read_of(MAIN[:-1] + b"X")  # same size, other bytes
    problems = content_problems(main_component(), changed)
    assert codes(problems) == [CHECKSUM_MISMATCH, CHECKSUM_MISMATCH]
    assert ["SHA256" in problems[0].detail, "SM3" in problems[1].detail] == [True, True]
    only_sm3 = ObjectRead(read_of(MAIN).sha256, "0" * 64, len(MAIN))
    assert codes(content_problems(main_component(), only_sm3)) == [CHECKSUM_MISMATCH]


def test_checksum_mismatch_when_the_record_lacks_a_digest() -> None:
    sha_only = main_component()
    sha_only["checksums"] = sha_only["checksums"][:1]
    problems = content_problems(sha_only, read_of(MAIN))
    assert codes(problems) == [CHECKSUM_MISMATCH] and "no SM3" in problems[0].detail


def test_digests_compare_in_any_case() -> None:
    upper = main_component()
    for checksum in upper["checksums"]:
        checksum["value"] = checksum["value"].upper()
    assert content_problems(upper, read_of(MAIN)) == []


def test_size_mismatch() -> None:
    recorded = main_component()
    recorded["size_bytes"] += 1
    problems = content_problems(recorded, read_of(MAIN))
    assert codes(problems) == [SIZE_MISMATCH]
    assert f"recorded {len(MAIN) + 1} bytes, stored {len(MAIN)}" in problems[0].detail


@given(data=st.binary(max_size=256), other=st.binary(max_size=256))
def test_any_bytes_match_their_own_record_and_no_other(data: bytes, other: bytes) -> None:
    recorded = component(1, "a.bin", data, "application/octet-stream", "archive")
    assert content_problems(recorded, read_of(data)) == []
    if other != data:
        found = set(codes(content_problems(recorded, read_of(other))))
        assert CHECKSUM_MISMATCH in found
        assert (SIZE_MISMATCH in found) == (len(other) != len(data))


# --- lock: retention-weakened, legal-hold-missing ----------------------------------------------
@pytest.mark.parametrize(
    "until", [MIDNIGHT, MIDNIGHT + dt.timedelta(hours=23), MIDNIGHT + dt.timedelta(days=400)]
)
def test_compliance_retention_until_at_least_the_record_date_holds(until: dt.datetime) -> None:
    assert lock_problems("D30", RETAIN_UNTIL, Lock("COMPLIANCE", until), "x") == []
    assert lock_problems("D10", RETAIN_UNTIL, Lock("COMPLIANCE", until), "x") == []


@pytest.mark.parametrize(
    ("lock", "says"),
    [
        (Lock("COMPLIANCE", MIDNIGHT - dt.timedelta(seconds=1)), "retained until 2056-12-31"),
        (Lock("GOVERNANCE", MIDNIGHT), "mode GOVERNANCE, not COMPLIANCE"),
        (Lock(), "mode none"),
        (Lock("COMPLIANCE", None), "retained until no date"),
        (Lock(legal_hold=True), "mode none"),  # a hold can be lifted; it is no retention
    ],
)
def test_retention_weakened(lock: Lock, says: str) -> None:
    problems = lock_problems("D30", RETAIN_UNTIL, lock, "a.pdf", 2)
    assert codes(problems) == [RETENTION_WEAKENED]
    assert says in problems[0].detail and problems[0].sequence == 2


def test_retention_compares_the_utc_date() -> None:
    # 2057-01-01 07:00 in Beijing is still 2056-12-31 in UTC: a day short.
    beijing = dt.datetime(2057, 1, 1, 7, tzinfo=CST)
    assert codes(lock_problems("D10", RETAIN_UNTIL, Lock("COMPLIANCE", beijing), "x")) == [
        RETENTION_WEAKENED
    ]
    naive = dt.datetime(2057, 1, 1)  # read as UTC
    assert lock_problems("D10", RETAIN_UNTIL, Lock("COMPLIANCE", naive), "x") == []


def test_a_fixed_term_record_without_retain_until_is_weakened() -> None:
    assert codes(lock_problems("D30", None, Lock("COMPLIANCE", MIDNIGHT), "x")) == [
        RETENTION_WEAKENED
    ]


def test_permanent_needs_a_legal_hold_and_compliance_retention_until_permanent() -> None:
    forever = Lock("COMPLIANCE", PERMANENT_UNTIL, legal_hold=True)
    assert lock_problems("Y", None, forever, "x") == []
    problems = lock_problems("Y", None, Lock("COMPLIANCE", PERMANENT_UNTIL), "package", None)
    assert codes(problems) == [LEGAL_HOLD_MISSING] and problems[0].sequence is None
    # A hold alone can be released, and the version deleted, by the root account.
    assert codes(lock_problems("Y", None, Lock(legal_hold=True), "x")) == [RETENTION_WEAKENED]
    shorter = Lock("COMPLIANCE", MIDNIGHT, legal_hold=True)
    assert codes(lock_problems("Y", None, shorter, "x")) == [RETENTION_WEAKENED]
    assert codes(
        lock_problems("Y", None, dataclasses.replace(forever, mode="GOVERNANCE"), "x")
    ) == [RETENTION_WEAKENED]


# --- package: object-missing, package-mismatch -------------------------------------------------
def packaged(record: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The record with its package (key named by its SHA-256) and the package's bytes."""
    tar_bytes = package_record(record, EVENTS)
    key = f"Z109/2026/{CODE}/package-{hashlib.sha256(tar_bytes).hexdigest()}.tar"
    return {**record, "package": {"bucket": "archive", "key": key, "version_id": "p1",
                                  "inline_content": None}}, tar_bytes  # fmt: skip


def test_the_package_matches_its_record() -> None:
    record, tar_bytes = packaged(archival_record())
    assert package_problems(record, tar_bytes) == []
    listing = package_listing(tar_bytes, CODE)
    assert listing.external_identifier == CODE
    assert (
        sorted(listing.manifest)
        == sorted(listing.fetch)
        == [
            "data/01-关于申请老旧小区改造专项资金的请示.pdf",
            "data/02-现场 照片.jpg",
        ]
    )


def test_a_record_without_a_package_has_none_to_check() -> None:
    assert package_problems({**archival_record(), "package": None}, None) == []


def test_package_object_missing() -> None:
    record, _ = packaged(archival_record())
    assert codes(package_problems(record, None)) == [OBJECT_MISSING]
    record["package"]["version_id"] = None
    assert codes(package_problems(record, b"")) == [OBJECT_MISSING]


def test_package_bytes_that_differ_from_the_name() -> None:
    record, tar_bytes = packaged(archival_record())
    changed = tar_bytes.replace(b"BagIt-Version: 1.0", b"BagIt-Version: 0.9")
    problems = package_problems(record, changed)
    assert codes(problems) == [PACKAGE_MISMATCH] and "the stored bytes give" in problems[0].detail
    record["package"]["key"] = f"Z109/2026/{CODE}/bag.tar"
    assert codes(package_problems(record, tar_bytes)) == [PACKAGE_MISMATCH]


def test_package_manifest_that_differs_from_the_record() -> None:
    record, tar_bytes = packaged(archival_record())
    tampered = copy.deepcopy(record)
    photo = next(c for c in tampered["components"] if c["sequence"] == 2)
    photo["checksums"][0]["value"] = hashlib.sha256(b"other").hexdigest()
    problems = package_problems(tampered, tar_bytes)
    assert codes(problems) == [PACKAGE_MISMATCH]
    assert problems[0].sequence == 2 and "manifest-sha256.txt" in problems[0].detail


def test_package_fetch_that_differs_from_the_record() -> None:
    record, tar_bytes = packaged(archival_record())
    moved = copy.deepcopy(record)
    next(c for c in moved["components"] if c["sequence"] == 1)["payload"]["version_id"] = "v9"
    problems = package_problems(moved, tar_bytes)
    assert codes(problems) == [PACKAGE_MISMATCH]
    assert problems[0].sequence == 1 and "fetch.txt" in problems[0].detail


def test_package_with_a_file_the_record_lacks_or_misses_one() -> None:
    record, tar_bytes = packaged(archival_record())
    fewer = {**record, "components": [c for c in record["components"] if c["sequence"] == 1]}
    problems = package_problems(fewer, tar_bytes)
    assert codes(problems) == [PACKAGE_MISMATCH] and "does not have" in problems[0].detail
    extra = component(3, "附件.pdf", PHOTO, "application/pdf", "archive")
    more = {**record, "components": [*record["components"], extra]}
    assert codes(package_problems(more, tar_bytes)) == [PACKAGE_MISMATCH, PACKAGE_MISMATCH]


def test_package_of_another_record() -> None:
    other = archival_record()
    other["reference_code"] = CODE.replace("0007", "0008")
    _, tar_bytes = packaged(other)
    record, _ = packaged(archival_record())
    record["package"]["key"] = f"k/package-{hashlib.sha256(tar_bytes).hexdigest()}.tar"
    problems = package_problems(record, tar_bytes)  # its folder is named for the other code
    assert codes(problems) == [PACKAGE_MISMATCH] and f"no {CODE}/" in problems[0].detail


def test_package_that_names_another_record() -> None:
    record, tar_bytes = packaged(archival_record())
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    info = f"{CODE}/bag-info.txt"
    files[info] = files[info].replace(
        f"External-Identifier: {CODE}".encode(), b"External-Identifier: X"
    )
    relabelled = _tar(files)
    record["package"]["key"] = f"k/package-{hashlib.sha256(relabelled).hexdigest()}.tar"
    problems = package_problems(record, relabelled)
    assert codes(problems) == [PACKAGE_MISMATCH] and "External-Identifier 'X'" in problems[0].detail


def test_package_that_is_not_a_readable_bag() -> None:
    record, _ = packaged(archival_record())
    for junk in (b"not a tar at all", _tar({f"{CODE}/bagit.txt": b"BagIt-Version: 1.0\n"})):
        record["package"]["key"] = f"k/package-{hashlib.sha256(junk).hexdigest()}.tar"
        problems = package_problems(record, junk)
        assert codes(problems) == [PACKAGE_MISMATCH]


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


# --- which records, and the alert ---------------------------------------------------------------
def test_select_by_agency_and_archive_time() -> None:
    base = archival_record()
    records = [
        {**base, "reference_code": "B", "agency": {"code": "zjj", "name": ""},
         "archived_at": dt.datetime(2026, 5, 1, 16, tzinfo=dt.UTC)},  # 5-02 00:00 in Beijing
        {**base, "reference_code": "A", "agency": {"code": "bgt", "name": ""},
         "archived_at": dt.datetime(2026, 5, 1, 15, 59, tzinfo=dt.UTC)},
    ]  # fmt: skip
    assert [r["reference_code"] for r in select(records)] == ["A", "B"]
    assert [r["reference_code"] for r in select(records, agency="bgt")] == ["A"]
    assert [r["reference_code"] for r in select(records, since=parse_since("2026-05-02"))] == ["B"]
    assert select(records, agency="fy") == []


def test_parse_since() -> None:
    assert parse_since("2026-05-02") == dt.datetime(2026, 5, 2, tzinfo=CST)
    assert parse_since("2026-05-02T08:00:00+00:00") == dt.datetime(2026, 5, 2, 8, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_since("last week")


def test_alert_fits_its_schema() -> None:
    checked_at = dt.datetime(2026, 6, 1, 2, 3, 4, 567000, tzinfo=dt.UTC)
    result = RecordResult(CODE, "zjj", "D30", checked_at, checked_at, 3, 100, [
        Problem(CHECKSUM_MISMATCH, "a.pdf: SHA256 recorded …", 1),
        Problem(PACKAGE_MISMATCH, "package …"),
    ])  # fmt: skip
    value = alert(result)
    assert value["stage"] == "CQ" and value["problems"][1]["sequence"] is None
    assert fastavro.validation.validate(value, parsed_schema(PRESERVATION_ALERT), raise_errors=True)
    assert result.as_json()["status"] == "problems"


def test_problem_codes_are_the_schema_doc_s() -> None:
    schema = parsed_schema(PRESERVATION_ALERT)
    problem = schema["fields"][3]["type"]["items"]
    doc = next(f["doc"] for f in problem["fields"] if f["name"] == "code")
    assert all(code in doc for code in PROBLEM_CODES)


def test_every_problem_code_has_a_name_for_people() -> None:
    assert set(PROBLEM_NAMES) == set(PROBLEM_CODES)
    assert all(zh and en for zh, en in PROBLEM_NAMES.values())


def test_a_run_summary_counts_its_results_and_fits_its_schema() -> None:
    started = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    ok = RecordResult("A", "bgt", "D10", started, started, 2, 300)
    bad = RecordResult(CODE, "zjj", "Y", started, started, 1, 50, [Problem(OBJECT_MISSING, "…")])
    run = run_summary("r-1", started, started + dt.timedelta(seconds=3), [ok, bad],
                      agency=None, since=parse_since("2026-05-01"), host="h", user="u")  # fmt: skip
    assert (run["status"], run["records_checked"], run["records_failed"]) == (COMPLETED, 2, 1)
    assert (run["objects_checked"], run["bytes_read"], run["problem"]) == (3, 350, None)
    assert fastavro.validation.validate(run, parsed_schema(VERIFY_RUN), raise_errors=True)
    stopped = run_summary("r-2", started, started, [ok], agency="bgt", since=None, host="h",
                          user="u", problem="storage-error: …")  # fmt: skip
    assert (stopped["status"], stopped["records_checked"]) == (INCOMPLETE, 1)
    assert stopped["agency"] == "bgt" and stopped["problem"] == "storage-error: …"
