"""`recordflow demo`, the README's first command, run as a user runs it — twice."""

from __future__ import annotations

import json
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog
from recordflow.demo.digitized import BATCH, PHOTOS
from recordflow.demo.samples import GATEWAY_SAMPLES, ONBOARDED, SAMPLES
from recordflow.settings import Settings
from tests.integration.cli import run_cli


def _demo(settings: Settings) -> dict[str, Any]:
    result = run_cli(settings, "demo", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    done: dict[str, Any] = json.loads(result.stdout)
    return done


def test_demo_archives_good_samples_rejects_bad_ones_and_reruns_without_duplicates(
    pipeline_settings: Settings,
) -> None:
    first_run = _demo(pipeline_settings)
    first = first_run["submissions"]
    assert [row["via"] for row in first] == (
        ["sdk"] * len(SAMPLES)
        + ["gateway"] * len(GATEWAY_SAMPLES)
        + ["import"] * len(BATCH)
        + ["photos"] * len(PHOTOS)
        + ["package"]
    )
    # The offline package (a bag an OA system exported) is archived like any submission.
    (package,) = [row for row in first if row["via"] == "package"]
    assert package["status"] == "archived", package
    assert str(package["reference_code"]).startswith("Z109-WS·2025-")
    for row, sample in zip(first, SAMPLES, strict=False):
        if sample.bad:
            assert (row["status"], row["reason"]) == (
                sample.expected_status,
                sample.expected_reason,
            )
        else:
            assert row["status"] == "archived" and str(row["reference_code"]).endswith("-0001")
    # Over HTTP: an installed agency and one the demo onboarded on the running stack, each
    # with the 档号 its archival receipt gave.
    over_http = {row["agency"]: row for row in first if row["via"] == "gateway"}
    assert over_http.keys() == {"zjj", ONBOARDED.code}
    assert str(over_http["zjj"]["reference_code"]).startswith("Z109-WS·2026-D10-BGS-")
    assert str(over_http[ONBOARDED.code]["reference_code"]).startswith(
        f"{ONBOARDED.fonds_code}-WS·2026-"
    )
    # The paper backlog: the complete items archived under the 档号 their catalogue gives, the
    # one with a page never scanned held back for a rescan.
    scanned = [(row["reference_code"], row["status"], row["reason"]) for row in first
               if row["via"] == "import"]  # fmt: skip
    assert scanned == [
        ("Z101-WS·1998-Y-BGS-0001", "archived", None),
        ("Z101-WS·1998-Y-BGS-0002", "archived", None),
        ("Z101-WS·1998-Y-BGS-0003", "held", "page-missing"),
    ]
    # The photo batch: a scanned print and a camera's photo, each under its ZP 档号.
    photos = [(row["reference_code"], row["status"]) for row in first if row["via"] == "photos"]
    assert photos == [
        ("Z101-ZP·1986-Y-BGS-0001", "archived"),
        ("Z101-ZP·2026-Y-BGS-0001", "archived"),
    ]
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    archived = catalog(pipeline_settings, codec)
    assert (
        len(archived)
        == sum(1 for sample in SAMPLES if not sample.bad) + len(GATEWAY_SAMPLES) + 2 + 2 + 1
    )
    (camera,) = archived["Z101-ZP·2026-Y-BGS-0001"]["media_files"]
    assert (camera["device"], camera["captured_at"]) == ("Canon EOS R5", "2026-05-06T20:15:03")
    assert archived["Z101-ZP·2026-Y-BGS-0001"]["media"]["captured_at"] == "2026-05-06T20:15:03"
    assert {row["reference_code"] for row in over_http.values()} <= archived.keys()

    # Downstream: the public finds the digitized 1998 通知 (open 25 years after), not this
    # year's, which staff find too; the export holds every record archived.
    lookup = first_run["lookup"]
    assert {hit["reference_code"] for hit in lookup["public"]} == {
        "Z101-WS·1998-Y-BGS-0001",
        "Z101-WS·1998-Y-BGS-0002",
    }
    assert {hit["access"]["opens_on"] for hit in lookup["public"]} == {"2023-04-20", "2023-06-12"}
    assert all("<mark>通知</mark>" in hit["highlights"]["title"] for hit in lookup["public"])
    assert lookup["staff_total"] > lookup["public_total"] == 2
    assert first_run["export"]["kind"] == "full"
    exported = first_run["export"]
    assert exported["records"] + exported["withheld"] == len(archived)

    second_run = _demo(pipeline_settings)
    second = second_run["submissions"]
    assert [row["reference_code"] for row in second] == [row["reference_code"] for row in first]
    assert catalog(pipeline_settings, codec).keys() == archived.keys()
    # Nothing new was archived: nothing new to export, the same found.
    assert second_run["export"]["export_id"] is None
    assert second_run["lookup"]["public_total"] == 2
