"""The demo's bundled samples (recordflow/demo/samples.py): the good ones pass every check the pipeline
makes without servers, each bad one fails with the reason it is meant to show, and the files are
rendered byte-identically every time (so the archive recognises a rerun as the same records)."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from archival.filenames import safe_filename
from archival.metadata import load_metadata_rules, validate_event
from archival.retention import Decision, Undecided, classify, load_schedules
from archival.signatures import check_signature
from connectors import sdk
from connectors.sdk import description_from_metadata, event_id_for
from connectors.storage import Digests
from recordflow.agencies import Agency, load_registry
from recordflow.demo.samples import (
    FORGED,
    NO_TITLE,
    SAMPLES,
    TAMPERED,
    UNDECIDED,
    UNKNOWN_AGENCY,
    Sample,
    render_pdf,
    render_scan,
    submission_metadata,
    write_files,
)
from recordflow.errors import RecordRejected
from recordflow.settings import PACKAGE_DIR
from streams.register import verify

REGISTRY = load_registry(PACKAGE_DIR / "agencies.yaml")
SCHEDULES = load_schedules(PACKAGE_DIR / "retention")
RULES = load_metadata_rules(PACKAGE_DIR / "metadata_rules.yaml")
STAGING = "staging"
MAX_FILE_BYTES = 512 * 1024 * 1024
GOOD = [sample for sample in SAMPLES if sample.bad is None]
BAD = [sample for sample in SAMPLES if sample.bad is not None]


def sample_id(sample: Sample) -> str:
    return str(sample.metadata["document_id"])


def owner_of(sample: Sample) -> Agency:
    agency = REGISTRY.get(sample.agency)
    assert agency is not None, f"{sample.agency} is not registered"
    return agency


def staged_components(agency: Agency, files: list[Path]) -> list[dict[str, Any]]:
    """The components the SDK would declare for these files (as Submitter.stage builds them)."""
    upload_id = uuid.UUID(int=0).hex
    components = []
    for sequence, path in enumerate(files, start=1):
        digests = Digests()
        digests.update(path.read_bytes())
        components.append(
            {
                "sequence": sequence,
                "is_main": sequence == 1,
                "title": None,
                "file_name": path.name,
                "mime_type": None,
                "size_bytes": digests.size,
                "checksums": [
                    {"algorithm": "SHA256", "value": digests.sha256.hexdigest()},
                    {"algorithm": "SM3", "value": digests.sm3.hexdigest()},
                ],
                "payload": {
                    "bucket": STAGING,
                    "version_id": None,
                    "inline_content": None,
                    "key": f"{agency.code}/{upload_id}/{sequence:02d}-{safe_filename(path.name)}",
                },
            }
        )
    return components


def event_for(sample: Sample, directory: Path) -> dict[str, Any]:
    """The lifecycle event the demo produces for a sample (claimed agency and all)."""
    owner = owner_of(sample)
    components = staged_components(owner, write_files(sample, directory))
    claimed = sample.claimed_agency or {"code": owner.code, "name": owner.name}
    sha256s = [component["checksums"][0]["value"] for component in components]
    return {
        "event_id": event_id_for(claimed["code"], sample_id(sample), "FILED", sha256s),
        "action": "FILED",
        "agency": claimed,
        "document_id": sample_id(sample),
        "description": description_from_metadata(sample.metadata),
        "components": components,
        **sdk.da_t_46_from_metadata(sample.metadata),
        **sdk.retention_fields_from_metadata(sample.metadata),
    }


def validate(event: dict[str, Any], sample: Sample) -> None:
    validate_event(
        event,
        owner_of(sample),
        REGISTRY,
        RULES,
        max_file_bytes=MAX_FILE_BYTES,
        staging_bucket=STAGING,
    )


# --- the set of samples ------------------------------------------------------------------
def test_samples_cover_every_agency_and_every_kind_of_fault() -> None:
    assert {sample.agency for sample in GOOD} == {agency.code for agency in REGISTRY.agencies}
    assert sorted(str(sample.bad) for sample in BAD) == sorted(
        [TAMPERED, NO_TITLE, UNKNOWN_AGENCY, UNDECIDED, FORGED]
    )
    assert all(sample.expected_reason for sample in BAD)
    assert not any(sample.expected_reason for sample in GOOD)


def test_document_ids_are_unique() -> None:
    ids = [sample_id(sample) for sample in SAMPLES]
    assert len(ids) == len(set(ids))


def decide(event: dict[str, Any], sample: Sample) -> Decision | Undecided:
    return classify(event, owner_of(sample), SCHEDULES)


# What the schedules decide for each good sample (the demo's retention mix); a rule id without a
# rule set is the city default's.
EXPECTED_RULES = {
    "BGT-2026-0003": ("D10", "D10-routine"),
    "BGT-2026-0012": ("Y", "Y-important-meeting"),
    "ZJJ-2026-0041": ("D30", "zjj-schedule@2026.2/D30-special-funds"),
    "ZJJ-2026-0007": ("Y", "Y-regulation"),
    "BDC-2026-0102": ("D30", "bdc-schedule@2026.1/D30-registration-statistics"),
    # The 批复 answers 南山区's 请示 (a document id, not a 档号): with nothing to look it up in, the
    # reply to a lower body's request on a general matter.
    "ZWFW-2026-0033": ("D30", "D30-reply-to-lower"),
    "FY-2026-0219": ("D10", "D10-routine"),
    "ZWFW-2026-0051": ("D10", "D10-routine"),
}


@pytest.mark.parametrize("sample", GOOD, ids=sample_id)
def test_good_sample_passes_and_is_decided(sample: Sample, tmp_path: Path) -> None:
    event = event_for(sample, tmp_path)
    validate(event, sample)
    decision = decide(event, sample)
    assert isinstance(decision, Decision), decision
    period, rule = EXPECTED_RULES[sample_id(sample)]
    expected_rule = rule if "@" in rule else f"{SCHEDULES.city.name}/{rule}"
    assert (decision.period, decision.rule_id) == (period, expected_rule)


def test_the_reply_sample_takes_the_period_of_the_request_it_answers(tmp_path: Path) -> None:
    (sample,) = [sample for sample in GOOD if sample_id(sample) == "ZWFW-2026-0033"]
    event = event_for(sample, tmp_path)
    asked: list[tuple[str, str]] = []

    def archived(agency_code: str, related_id: str) -> str | None:
        asked.append((agency_code, related_id))
        return "Z109-WS·2026-Y-SPK-0029"

    decision = classify(event, owner_of(sample), SCHEDULES, archived_code=archived)
    assert decision == Decision("Y", f"{SCHEDULES.city.name}/reply-follows-request")
    assert asked == [("zwfw", "ZWFW-2026-0029")]


def test_every_good_sample_has_an_expected_rule() -> None:
    assert set(EXPECTED_RULES) == {sample_id(sample) for sample in GOOD}


def bad(kind: str) -> Sample:
    (sample,) = [sample for sample in BAD if sample.bad == kind]
    return sample


def test_no_title(tmp_path: Path) -> None:
    sample = bad(NO_TITLE)
    with pytest.raises(RecordRejected) as caught:
        validate(event_for(sample, tmp_path), sample)
    assert caught.value.reason == sample.expected_reason == "missing-title"


def test_undecided(tmp_path: Path) -> None:
    sample = bad(UNDECIDED)
    event = event_for(sample, tmp_path)
    validate(event, sample)  # nothing else is wrong with it
    outcome = decide(event, sample)
    assert isinstance(outcome, Undecided)
    assert "no rule of bdc-schedule@2026.1 or city-default@" in outcome.reason
    assert sample.expected_reason == "retention-undecided"


def test_unknown_agency(tmp_path: Path) -> None:
    sample = bad(UNKNOWN_AGENCY)
    assert sample.claimed_agency["code"] != sample.agency
    assert REGISTRY.get(sample.claimed_agency["code"]) is None
    event = event_for(sample, tmp_path)
    with pytest.raises(RecordRejected) as caught:
        validate(event, sample)
    assert caught.value.reason == sample.expected_reason == "unknown-agency"
    # The same document under its own agency's name would pass: the claim is the only fault.
    validate({**event, "agency": {"code": sample.agency, "name": owner_of(sample).name}}, sample)


def test_tampered(tmp_path: Path) -> None:
    """The demo rewrites twenty bytes of the staged main file after hashing: same size, other
    bytes. Intake accepts the event; register's verification catches it by digest alone."""
    sample = bad(TAMPERED)
    event = event_for(sample, tmp_path)
    validate(event, sample)
    assert isinstance(decide(event, sample), Decision)
    main = write_files(sample, tmp_path)[0]
    content = bytearray(main.read_bytes())
    content[-40:-20] = b"X" * 20
    staged = Digests()
    staged.update(bytes(content))
    assert staged.size == event["components"][0]["size_bytes"]
    with pytest.raises(RecordRejected) as caught:
        verify(event["components"][0], staged)
    assert caught.value.reason == sample.expected_reason == "checksum-mismatch"


# --- rendering ---------------------------------------------------------------------------
PDF_ARGS = (
    "关于做好2026年春节期间值班工作的通知",
    "市府办发〔2026〕3号",
    "市人民政府办公厅",
    "2026-01-20",
    "各有关单位：\n　　特此通知。",
)


def test_render_pdf_is_deterministic() -> None:
    first, second = render_pdf(*PDF_ARGS), render_pdf(*PDF_ARGS)
    assert first == second
    assert first.startswith(b"%PDF-")
    assert first.rstrip().endswith(b"%%EOF")


def test_render_pdf_depends_on_its_content() -> None:
    other = render_pdf("关于做好2026年国庆期间值班工作的通知", *PDF_ARGS[1:])
    assert other != render_pdf(*PDF_ARGS)
    assert render_pdf(PDF_ARGS[0], None, *PDF_ARGS[2:]) != render_pdf(*PDF_ARGS)


def test_render_scan_is_a_deterministic_jpeg() -> None:
    first, second = render_scan("FY-2026-0219", 12), render_scan("FY-2026-0219", 12)
    assert first == second
    assert first[:3] == b"\xff\xd8\xff" and first.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(first)) as image:
        assert image.format == "JPEG"
        assert image.size == (620, 877)
        assert image.mode == "L"
    assert render_scan("FY-2026-0219", 13) != first
    assert render_scan("FY-2026-0220", 12) != first


def test_write_files_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sample in SAMPLES:
        first, second = write_files(sample, tmp_path / "a"), write_files(sample, tmp_path / "b")
        assert [path.name for path in first] == [path.name for path in second]
        assert [hashlib.sha256(p.read_bytes()).digest() for p in first] == [
            hashlib.sha256(p.read_bytes()).digest() for p in second
        ]
        main = first[0]
        assert main.stem == sample_id(sample)
        assert main.suffix == (".jpg" if sample.kind == "scan" else ".pdf")
        assert len(first) == (2 if sample.attachment else 1)
        if sample.attachment:
            assert sample.attachment in first[1].name and first[1].suffix == ".jpg"


def test_samples_carry_da_t_46_history_relations_and_digitization() -> None:
    """The 批复 answers a 请示 and has its history; the scanned court letter its capture details.
    Fixed times keep the demo deterministic; the SDK accepts both as they stand."""
    by_id = {sample_id(sample): sample for sample in SAMPLES}
    reply = sdk.da_t_46_from_metadata(by_id["ZWFW-2026-0033"].metadata)
    assert [r["relation_type"] for r in reply["relations"]] == ["responds-to"]
    assert [step["action"] for step in reply["history"]] == [
        "received",
        "approved",
        "issued",
        "filed",
    ]
    times = [step["time"] for step in reply["history"]]
    assert times == sorted(times) and all(time.tzinfo is not None for time in times)
    scan = sdk.da_t_46_from_metadata(by_id["FY-2026-0219"].metadata)
    assert scan["file_details"][0]["digitization"] == {
        "form": "扫描件", "resolution_dpi": 300, "colour_mode": "灰度", "compression": "JPEG",
        "device": None,
    }  # fmt: skip
    assert sdk.da_t_46_from_metadata(by_id["ZWFW-2026-0033"].metadata) == reply  # deterministic


def _signature_checks(sample: Sample, directory: Path) -> list[tuple[str, str]]:
    files = write_files(sample, directory)
    details = sdk.da_t_46_from_metadata(submission_metadata(sample, files))["file_details"]
    (signed,) = details  # the main document, as the SDK sends it
    assert signed["sequence"] == 1
    return [
        (check.result, check.reason)
        for check in (check_signature(s, files[0]) for s in signed["signatures"])
    ]


def test_the_signed_sample_carries_an_agency_signature_that_verifies(tmp_path: Path) -> None:
    (sample,) = [sample for sample in GOOD if sample.signed]
    [(result, reason)] = _signature_checks(sample, tmp_path)
    assert result == "pass", reason
    assert sample.metadata["responsible_party"] in reason
    unsigned = next(sample for sample in GOOD if not sample.signed)
    assert submission_metadata(unsigned, write_files(unsigned, tmp_path)) is unsigned.metadata


def test_forged_signature_fails(tmp_path: Path) -> None:
    sample = bad(FORGED)
    event = event_for(sample, tmp_path)
    validate(event, sample)  # intake finds nothing wrong: the signature is the register's to check
    [(result, reason)] = _signature_checks(sample, tmp_path)
    assert result == "fail" and "does not match the file" in reason
    assert sample.expected_reason == "four-property-check-failed"
