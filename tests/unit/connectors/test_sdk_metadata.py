"""The producer SDK's pure parts (connectors/sdk.py): turning submission metadata into a
RecordDescription, and deriving the event id that makes a resubmission recognisable."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from hypothesis import assume, given
from hypothesis import strategies as st

from archival.persons import validate_persons
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, load_schema_json
from connectors import sdk
from connectors.sdk import (
    DESCRIPTION_FIELDS,
    EVENT_FIELDS,
    EVENT_NAMESPACE,
    FileToSubmit,
    Submitter,
    description_from_metadata,
    event_id_for,
)
from recordflow.errors import RecordRejected, SubmitError
from recordflow.settings import Settings

METADATA: dict[str, Any] = {
    "document_id": "ZJJ-2026-0041",
    "source_system": "OA",
    "title": "关于申请老旧小区改造专项资金的请示",
    "document_number": "市建请〔2026〕41号",
    "responsible_party": "市住房和城乡建设局",
    "document_date": "2026-04-02",
    "document_type": "请示",
    "unit_code": "GHK",
    "keywords": ["老旧小区", "专项资金"],
    "page_count": 3,
}


def test_full_metadata() -> None:
    assert description_from_metadata(METADATA) == {
        "title": "关于申请老旧小区改造专项资金的请示",
        "document_number": "市建请〔2026〕41号",
        "responsible_party": "市住房和城乡建设局",
        "document_date": dt.date(2026, 4, 2),
        "document_type": "请示",
        "security_classification": "公开",
        "urgency": None,
        "keywords": ["老旧小区", "专项资金"],
        "abstract": None,
        "unit_code": "GHK",
        "year": 2026,
        "page_count": 3,
        "language": "zh",
    }


def test_defaults() -> None:
    description = description_from_metadata({"document_date": "2025-12-31"})
    assert description == {
        "title": "",
        "document_number": None,
        "responsible_party": "",
        "document_date": dt.date(2025, 12, 31),
        "document_type": "",
        "security_classification": "公开",
        "urgency": None,
        "keywords": [],
        "abstract": None,
        "unit_code": "",
        "year": 2025,  # the document date's year
        "page_count": None,
        "language": "zh",
    }


def test_description_has_exactly_the_schema_fields() -> None:
    assert set(description_from_metadata(METADATA)) == DESCRIPTION_FIELDS


def test_explicit_values_override_defaults() -> None:
    description = description_from_metadata(
        {
            **METADATA,
            "year": "2027",
            "language": "en",
            "security_classification": "内部",
            "urgency": "加急",
            "keywords": None,
            "page_count": "12",
        }
    )
    assert description["year"] == 2027
    assert description["language"] == "en"
    assert description["security_classification"] == "内部"
    assert description["urgency"] == "加急"
    assert description["keywords"] == []
    assert description["page_count"] == 12


def test_event_fields_are_accepted_but_not_described() -> None:
    metadata = {**METADATA, "actor": "张三", "action": "FILED"}
    description = description_from_metadata(metadata)
    assert not set(description) & EVENT_FIELDS


@pytest.mark.parametrize("date", ["", "2026-13-01", "2026-02-30", "02/04/2026", "明天", None])
def test_bad_date(date: object) -> None:
    metadata = {**METADATA, "document_date": date}
    with pytest.raises(SubmitError, match="document_date"):
        description_from_metadata(metadata)


def test_missing_date() -> None:
    metadata = {key: value for key, value in METADATA.items() if key != "document_date"}
    with pytest.raises(SubmitError, match="document_date"):
        description_from_metadata(metadata)


def test_date_object_accepted() -> None:
    description = description_from_metadata({**METADATA, "document_date": dt.date(2026, 4, 2)})
    assert description["document_date"] == dt.date(2026, 4, 2)


@pytest.mark.parametrize("keywords", ["老旧小区", ["老旧小区", 3], [None], {"a": 1}, 7])
def test_bad_keywords(keywords: object) -> None:
    with pytest.raises(SubmitError, match="keywords"):
        description_from_metadata({**METADATA, "keywords": keywords})


@pytest.mark.parametrize(
    ("field", "value"),
    [("year", "二〇二六"), ("year", [2026]), ("page_count", "three"), ("page_count", {})],
)
def test_bad_numbers(field: str, value: object) -> None:
    with pytest.raises(SubmitError, match="whole numbers"):
        description_from_metadata({**METADATA, field: value})


@pytest.mark.parametrize("field", ["titel", "agency", "retention_period", "Title"])
def test_unknown_field(field: str) -> None:
    with pytest.raises(SubmitError, match=f"unknown metadata field.*{field}"):
        description_from_metadata({**METADATA, field: "x"})


def test_unknown_fields_named_in_order() -> None:
    with pytest.raises(SubmitError, match="alpha, zeta"):
        description_from_metadata({**METADATA, "zeta": 1, "alpha": 2})


def test_non_string_document_number_is_a_submit_error() -> None:
    try:
        description = description_from_metadata({**METADATA, "document_number": 41})
    except SubmitError:
        return
    assert isinstance(description["document_number"], str)


@pytest.mark.parametrize(("field", "value"), [("year", 2025.5), ("page_count", 2.7)])
def test_fractional_numbers_are_refused(field: str, value: float) -> None:
    with pytest.raises(SubmitError):
        description_from_metadata({**METADATA, field: value})


@pytest.mark.parametrize("field", ["document_number", "urgency", "abstract"])
@pytest.mark.parametrize("value", [41, 4.5, True, ["加急"], {"a": "b"}])
def test_optional_text_fields_must_be_strings(field: str, value: object) -> None:
    with pytest.raises(SubmitError, match=f"{field} must be a string or null"):
        description_from_metadata({**METADATA, field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("year", True), ("year", False), ("page_count", True), ("page_count", "٣"), ("year", "-2026")],
)
def test_bools_and_other_non_numbers_are_refused(field: str, value: object) -> None:
    with pytest.raises(SubmitError, match="whole numbers"):
        description_from_metadata({**METADATA, field: value})


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("year", 2025, 2025), ("year", 2025.0, 2025), ("year", " 2025 ", 2025), ("page_count", 0, 0)],
)
def test_whole_numbers_are_accepted(field: str, value: object, expected: int) -> None:
    assert description_from_metadata({**METADATA, field: value})[field] == expected


# --- event ids ---------------------------------------------------------------------------
AGENCY = st.from_regex(r"[a-z][a-z0-9-]{1,30}", fullmatch=True).filter(lambda s: "\n" not in s)
ACTION = st.sampled_from(
    ["CREATED", "REVISED", "APPROVED", "ISSUED", "RECEIVED", "REGISTERED", "FILED"]
)
SHA256S = st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), max_size=3)
INPUTS = st.tuples(AGENCY, st.text(min_size=1, max_size=40), ACTION, SHA256S)


def test_event_id_is_a_name_based_uuid() -> None:
    sha = "a" * 64
    event_id = event_id_for("zjj", "ZJJ-2026-0041", "FILED", [sha])
    assert event_id == str(uuid.uuid5(EVENT_NAMESPACE, f"zjj|ZJJ-2026-0041|FILED|{sha}"))
    assert uuid.UUID(event_id).version == 5


@given(inputs=INPUTS)
def test_event_id_is_deterministic(inputs: tuple[str, str, str, list[str]]) -> None:
    agency, document_id, action, sha256s = inputs
    first = event_id_for(agency, document_id, action, sha256s)
    assert first == event_id_for(agency, document_id, action, list(sha256s))
    assert uuid.UUID(first).version == 5


@given(a=INPUTS, b=INPUTS)
def test_event_id_differs_when_any_input_differs(
    a: tuple[str, str, str, list[str]], b: tuple[str, str, str, list[str]]
) -> None:
    assume(a != b)
    assert event_id_for(*a) != event_id_for(*b)


@given(
    inputs=INPUTS, which=st.sampled_from(["agency", "document", "action", "files"]), data=st.data()
)
def test_changing_one_input_changes_the_id(
    inputs: tuple[str, str, str, list[str]], which: str, data: st.DataObject
) -> None:
    agency, document_id, action, sha256s = inputs
    if which == "agency":
        agency = data.draw(AGENCY.filter(lambda value: value != inputs[0]))
    elif which == "document":
        document_id = data.draw(st.text(min_size=1, max_size=40).filter(lambda v: v != inputs[1]))
    elif which == "action":
        action = data.draw(ACTION.filter(lambda value: value != inputs[2]))
    else:
        sha256s = data.draw(SHA256S.filter(lambda value: value != inputs[3]))
    assert event_id_for(*inputs) != event_id_for(agency, document_id, action, sha256s)


def test_order_of_files_matters() -> None:
    first, second = "a" * 64, "b" * 64
    assert event_id_for("zjj", "D", "FILED", [first, second]) != event_id_for(
        "zjj", "D", "FILED", [second, first]
    )


# --- the Submitter checks metadata before it uploads anything -----------------------------
class _NoProducer:
    """Stands in for confluent_kafka.Producer: these tests never reach Kafka."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))  # as 127.0.0.1:9 would


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"security_classification": "机密"}, "classified-not-accepted"),
        ({"document_number": None}, "missing-document-number"),  # a 请示 has its 文号
        ({"document_type": "请求"}, "unknown-document-type"),
    ],
)
def test_a_refused_submission_uploads_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, changes: dict[str, Any], reason: str
) -> None:
    monkeypatch.setattr(sdk, "Producer", _NoProducer)
    submitter = Submitter(Settings(kafka_bootstrap="127.0.0.1:9"))
    staged: list[object] = []

    def stage(*args: object) -> list[dict[str, Any]]:
        staged.append(args)
        return []

    monkeypatch.setattr(submitter, "stage", stage)
    document = tmp_path / "请示.pdf"
    document.write_bytes(b"%PDF-1.7")

    with pytest.raises(SubmitError, match=f"^{reason}: "):
        submitter.submit("zjj", [FileToSubmit(document)], {**METADATA, **changes})
    assert staged == []

    # The same submission with good metadata gets as far as staging its file.
    with pytest.raises(SubmitError, match=r"^no-content: "):  # the stand-in staged nothing
        submitter.submit("zjj", [FileToSubmit(document)], METADATA)
    assert len(staged) == 1


# --- the rest of DA/T 46: supplementary, file_details, history, agents, relations --------------
DA_T_46: dict[str, Any] = {
    "supplementary": {"subtitle": "2026年度", "primary_recipients": ["市人民政府"],
                      "draft_state": "正本", "control_marks": ["限制利用"]},
    "file_details": [
        {"sequence": 1, "creating_application": "WPS Office 12",
         "signatures": [{"signature_id": "sig-1", "time": "2026-04-02T09:30:00+08:00",
                         "signer": "市住房和城乡建设局", "certificate": "MIIB",
                         "algorithm": "SM2"}]},
        {"sequence": 2, "digitization": {"form": "扫描件", "resolution_dpi": 300,
                                         "colour_mode": "灰度", "compression": "JPEG"}},
    ],
    "history": [{"action": "approved", "time": "2026-04-01T16:00:00Z", "basis": "局长办公会议"}],
    "agents": [{"agent_type": "个人", "name": "李四", "position": "局长"}],
    "relations": [{"related_id": "ZJJ-2026-0040", "relation_type": "references"}],
}  # fmt: skip
CST = dt.timezone(dt.timedelta(hours=8))


def test_da_t_46_fields_are_accepted_and_converted() -> None:
    metadata = {**METADATA, **DA_T_46}
    assert set(description_from_metadata(metadata)) == DESCRIPTION_FIELDS  # as before
    extras = sdk.da_t_46_from_metadata(metadata)
    assert extras["supplementary"] == {
        "parallel_title": None, "subtitle": "2026年度", "subject_terms": [],
        "classification_code": None, "primary_recipients": ["市人民政府"], "copy_recipients": [],
        "secrecy_term": None, "draft_state": "正本", "rights_statement": None,
        "control_marks": ["限制利用"],
    }  # fmt: skip
    first, second = extras["file_details"]
    assert first["digitization"] is None and second["signatures"] == []
    assert first["signatures"][0] == {
        "signature_id": "sig-1", "rule": None, "time": dt.datetime(2026, 4, 2, 9, 30, tzinfo=CST),
        "signer": "市住房和城乡建设局", "result": None, "certificate": b"0\x82\x01",
        "certificate_reference": None, "algorithm": "SM2",
    }  # fmt: skip
    assert second["digitization"] == {"form": "扫描件", "resolution_dpi": 300,
                                      "colour_mode": "灰度", "compression": "JPEG",
                                      "device": None}  # fmt: skip
    assert extras["history"] == [
        {"action": "approved", "time": dt.datetime(2026, 4, 1, 16, tzinfo=dt.UTC), "actor": None,
         "organisation": None, "status": None, "basis": "局长办公会议", "description": None}
    ]  # fmt: skip
    assert extras["agents"] == [
        {"agent_type": "个人", "name": "李四", "organisation_code": None, "position": "局长"}
    ]
    assert extras["relations"] == [
        {"related_id": "ZJJ-2026-0040", "relation_type": "references", "description": None}
    ]
    event_fields = json.loads(load_schema_json(DOCUMENT_LIFECYCLE_EVENT))["fields"]
    assert set(sdk.DA_T_46_FIELDS) <= {f["name"] for f in event_fields}


def test_da_t_46_fields_default_when_absent() -> None:
    assert sdk.da_t_46_from_metadata(METADATA) == {
        "supplementary": None, "file_details": [], "history": [], "agents": [], "relations": [],
        "reference_code": None, "carrier": None, "category": None, "media": None, "persons": [],
    }  # fmt: skip


def test_the_persons_a_record_concerns_are_checked_and_their_numbers_never_shown_whole() -> None:
    """A valid number (GB 11643-1999's own example) passes; a wrong check character is refused
    with the number masked; a person needs a role and a name."""
    good = {"role": "权利人", "name": "张三", "id_number": "11010519491231002x"}
    fields = sdk.da_t_46_from_metadata({**METADATA, "persons": [good]})
    assert fields["persons"] == [good]
    validate_persons(fields["persons"])
    with pytest.raises(RecordRejected, match=r"invalid-id-number|not a resident") as refused:
        validate_persons([{**good, "id_number": "110105194912310021"}])
    assert refused.value.reason == "invalid-id-number"
    assert "110105********0021" in refused.value.message
    assert "110105194912310021" not in refused.value.message
    with pytest.raises(RecordRejected) as incomplete:
        validate_persons([{**good, "name": " "}])
    assert incomplete.value.reason == "person-incomplete"


def test_a_transfer_keeps_its_code_and_carrier() -> None:
    carrier = {"medium": "digitized", "original_medium": "纸质"}
    fields = sdk.da_t_46_from_metadata(
        {**METADATA, "reference_code": "Z109-WS·2010-D10-BGS-0001", "carrier": carrier}
    )
    assert fields["reference_code"] == "Z109-WS·2010-D10-BGS-0001"
    assert fields["carrier"] == {**carrier, "counterpart_code": None, "awaiting_counterpart": False}
    with pytest.raises(SubmitError, match=r"carrier\.awaiting_counterpart must be true or false"):
        sdk.da_t_46_from_metadata({**METADATA, "carrier": {"medium": "electronic",
                                                          "awaiting_counterpart": "yes"}})  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"supplementary": ["正本"]}, "supplementary must be an object, not list"),
        ({"supplementary": {"draft": "正本"}}, "supplementary: unknown field(s) draft"),
        ({"supplementary": {"subject_terms": "城市"}}, "supplementary.subject_terms must be a list"),
        ({"supplementary": {"subject_terms": [1]}},
         "supplementary.subject_terms[0] must be a string, not int"),
        ({"history": {"action": "filed"}}, "history must be a list, not dict"),
        ({"history": ["filed"]}, "history[0] must be an object, not str"),
        ({"history": [{"time": "2026-04-01T16:00:00Z"}]}, "history[0].action is required"),
        ({"history": [{"action": "filed"}]}, "history[0].time is required"),
        ({"history": [{"action": "filed", "time": "yesterday"}]},
         "history[0].time must be an ISO 8601 time like 2026-05-18T09:30:00+08:00"),
        ({"history": [{"action": "filed", "time": "2026-04-01T16:00:00"}]},
         "history[0].time must carry its time zone"),
        ({"history": [{"action": "filed", "time": 1775000000}]}, "history[0].time must be an ISO"),
        ({"file_details": [{"sequence": "1"}]},
         "file_details[0].sequence must be a whole number, not '1'"),
        ({"file_details": [{"sequence": 1, "digitization": {"resolution_dpi": True}}]},
         "file_details[0].digitization.resolution_dpi must be a whole number"),
        ({"file_details": [{"sequence": 1, "signatures": [{"signature_id": "s",
                                                           "certificate": "not base64!"}]}]},
         "file_details[0].signatures[0].certificate must be base64 text"),
        ({"file_details": [{"sequence": 1, "signatures": [{"signature_id": "s",
                                                           "certificate": 12}]}]},
         "file_details[0].signatures[0].certificate must be base64 text: not int"),
        ({"agents": [{"agent_type": "个人"}]}, "agents[0].name is required"),
        ({"agents": [{"agent_type": "个人", "name": None}]},
         "agents[0].name must be a string, not NoneType"),
        ({"relations": [{"related_id": "X"}]}, "relations[0].relation_type is required"),
    ],
)  # fmt: skip
def test_da_t_46_fields_of_the_wrong_shape(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SubmitError) as caught:
        sdk.da_t_46_from_metadata({**METADATA, **changes})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"relations": [{"related_id": "X", "relation_type": "answers"}]},
         "unknown-relation-type"),
        ({"agents": [{"agent_type": "部门", "name": "办公室"}]}, "unknown-agent-type"),
    ],
)  # fmt: skip
def test_entity_values_outside_their_domain_upload_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, changes: dict[str, Any], reason: str
) -> None:
    monkeypatch.setattr(sdk, "Producer", _NoProducer)
    submitter = Submitter(Settings(kafka_bootstrap="127.0.0.1:9"))
    monkeypatch.setattr(submitter, "stage", lambda *args: pytest.fail("staged a file"))
    document = tmp_path / "请示.pdf"
    document.write_bytes(b"%PDF-1.7")
    with pytest.raises(SubmitError, match=f"^{reason}: "):
        submitter.submit("zjj", [FileToSubmit(document)], {**METADATA, **changes})
    assert submitter.entities({**METADATA, **changes}, validate=False)  # unchecked: converted
