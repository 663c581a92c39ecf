"""When a dropped package is complete (connectors/drops.py): the pure rules."""

from __future__ import annotations

from connectors.drops import complete_local, complete_s3, in_progress, is_temporary


def test_temporary_names() -> None:
    assert all(map(is_temporary, ["a.zip.part", "a.tmp", ".a.zip", "~a.xml"]))
    assert not any(map(is_temporary, ["a.zip", "a.xml", "bag", "a.partial.zip"]))


def test_a_local_file_is_complete_under_its_final_name_and_a_folder_with_its_marker() -> None:
    entries = {
        "eep.xml": False,  # renamed from a temporary name
        "writing.zip.part": False,
        ".hidden.zip": False,
        "bag": True,
        "bag.ready": False,
        "filling": True,  # no marker: may still be filling up
        "in-progress": True,
        "done": True,
        "failed": True,
        "late.zip": False,
        "late.zip.ready": False,
    }
    assert complete_local(entries) == ["bag", "eep.xml", "late.zip"]


def test_an_s3_package_is_complete_with_its_marker_only() -> None:
    keys = ["a.zip", "a.zip.ready", "b.zip", "bag/bagit.txt", "bag/data/x.pdf", "bag.ready",
            "c.zip.part", "done/old.zip", "in-progress/x.zip"]  # fmt: skip
    assert complete_s3(keys) == ["a.zip", "bag"]


def test_reports_in_progress_are_no_packages() -> None:
    assert in_progress(["x.zip", "x.zip.report.json", "x.zip.report.txt", "bag", "bag"]) == [
        "bag",
        "x.zip",
    ]
