"""Archive categories (门类, metadata_rules.yaml `categories`): a photo (ZP, DA/T 54) or an
audio-video record (LY, DA/T 63) has the 文种 of its category and the description its standard
requires; a 文书 (WS) record is what it always was (archival/metadata.py, validate_category)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from archival.metadata import MetadataRules, load_metadata_rules, validate_category
from recordflow.errors import RecordRejected
from recordflow.settings import Settings
from tests.examples import lifecycle_event

RULES = load_metadata_rules(Settings().metadata_rules_file)
TODAY = dt.date(2026, 12, 7)
PHOTO = {
    "creator": "李摄影", "captured_at": "1986-05-01", "place": "罗湖口岸", "persons": ["王市长"],
    "background": "口岸开通仪式", "photo_number": "ZP-1986-001", "negative_number": None,
}  # fmt: skip


def record(
    category: str | None, document_type: str, media: dict[str, Any] | None
) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(dict(lifecycle_event()))
    event["description"]["document_type"] = document_type
    return {**event, "category": category, "media": media}


def reason_of(fields: dict[str, Any]) -> str:
    with pytest.raises(RecordRejected) as caught:
        validate_category(fields, RULES, today=TODAY)
    return caught.value.reason


def test_a_document_photo_and_recording_of_their_own_categories_pass() -> None:
    validate_category(record(None, "通知", None), RULES, today=TODAY)  # WS, as every record was
    validate_category(record("WS", "通知", None), RULES, today=TODAY)
    validate_category(record("ZP", "照片", PHOTO), RULES, today=TODAY)
    validate_category(record("LY", "录像", {**PHOTO, "place": None}), RULES, today=TODAY)


@pytest.mark.parametrize(
    ("category", "document_type", "media", "reason"),
    [
        ("XX", "通知", None, "unknown-category"),
        ("ZP", "通知", PHOTO, "document-type-not-in-category"),
        ("LY", "照片", PHOTO, "document-type-not-in-category"),
        (None, "照片", None, "document-type-not-in-category"),  # a photo is not a 文书 record
        ("WS", "通知", PHOTO, "media-description-not-expected"),
        ("ZP", "照片", None, "missing-photographer"),
        ("ZP", "照片", {**PHOTO, "creator": " "}, "missing-photographer"),
        ("ZP", "照片", {**PHOTO, "captured_at": None}, "missing-capture-time"),
        ("ZP", "照片", {**PHOTO, "place": ""}, "missing-capture-place"),
        ("LY", "录音", {**PHOTO, "creator": None}, "missing-recorder"),
        ("ZP", "照片", {**PHOTO, "place": "罗湖\x07口岸"}, "stray-characters"),
        ("ZP", "照片", {**PHOTO, "creator": "李" * 201}, "value-too-long"),
        ("ZP", "照片", {**PHOTO, "persons": ["王市长", "张" * 51]}, "value-too-long"),
    ],
)
def test_what_a_category_refuses(
    category: str | None, document_type: str, media: dict[str, Any] | None, reason: str
) -> None:
    assert reason_of(record(category, document_type, media)) == reason


@pytest.mark.parametrize(
    "captured_at", ["1986", "1986-05", "1986-05-01", "1986-05-01T09:30", "1986-05-01T09:30:15"]
)
def test_a_capture_time_as_precise_as_it_is_known(captured_at: str) -> None:
    validate_category(
        record("ZP", "照片", {**PHOTO, "captured_at": captured_at}), RULES, today=TODAY
    )


@pytest.mark.parametrize(
    "captured_at",
    ["1986/05/01", "86", "1986-13", "1986-02-30", "1986-05-01 09:30", "2027-01", "五月"],
)
def test_a_capture_time_in_no_known_form_or_to_come(captured_at: str) -> None:
    fields = record("ZP", "照片", {**PHOTO, "captured_at": captured_at})
    assert reason_of(fields) == "invalid-capture-time"


def test_a_legacy_code_is_of_the_records_category() -> None:
    photo = record("ZP", "照片", PHOTO)
    validate_category({**photo, "reference_code": "Z109-ZP·1986-Y-BGS-0001"}, RULES, today=TODAY)
    mislabelled = {**photo, "reference_code": "Z109-WS·1986-Y-BGS-0001"}
    assert reason_of(mislabelled) == "legacy-reference-code-invalid"


def test_the_photo_and_recording_document_types_belong_to_their_categories() -> None:
    assert RULES.category_claiming("照片") == "ZP"
    assert {RULES.category_claiming(kind) for kind in ("录音", "录像")} == {"LY"}
    assert RULES.category_claiming("通知") is None


def yaml_rules() -> dict[str, Any]:
    return yaml.safe_load(Settings().metadata_rules_file.read_text("utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data["categories"].pop("WS"), "WS"),
        (lambda data: data["categories"]["LY"]["document_types"].append("照片"), "two categories"),
        (lambda data: data["categories"]["ZP"]["document_types"].append("相片"), "value domain"),
        (
            lambda data: data["categories"]["ZP"]["required"].append(
                {"element": "lens", "reason": "missing-lens"}
            ),
            "MediaDescription",
        ),
        (lambda data: data["categories"].update({"zp": {"name": "x"}}), "pattern"),
    ],
    ids=["no-WS", "claimed-twice", "outside-domain", "unknown-element", "bad-code"],
)
def test_a_broken_categories_section_does_not_load(change: Any, message: str) -> None:
    data = yaml_rules()
    change(data)
    with pytest.raises(ValidationError, match=message):
        MetadataRules.model_validate(data)
