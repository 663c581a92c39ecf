"""TypedDicts of the records on the topics, generated from avro_schemas/*/v<N>.avsc (latest
versions) by `python -m avro_schemas.typing_gen`. Do not edit by hand."""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypedDict


class AgencyReference(TypedDict):
    """立档单位 The producing agency, as named in the agency registry."""

    code: str
    name: str


class RecordDescription(TypedDict):
    """内容描述与形式特征 Content description and form of a record (DA/T 46 文件实体)."""

    title: str
    document_number: str | None
    responsible_party: str
    document_date: dt.date
    document_type: str
    security_classification: str
    urgency: str | None
    keywords: list[str]
    abstract: str | None
    unit_code: str
    year: int
    page_count: int | None
    language: str


class Checksum(TypedDict):
    """固定性信息 Fixity information: a digest of a computer file's bytes."""

    algorithm: Literal["SHA256", "SM3"]
    value: str


class PayloadReference(TypedDict):
    """存储位置 Where a computer file's bytes are: an S3 object (claim check) or inline content."""

    bucket: str | None
    key: str | None
    version_id: str | None
    inline_content: bytes | None


class Component(TypedDict):
    """文档 One computer file of a record (DA/T 46 文档实体): the main document or an attachment."""

    sequence: int
    is_main: bool
    title: str | None
    file_name: str
    mime_type: str | None
    size_bytes: int
    checksums: list[Checksum]
    payload: PayloadReference


class SupplementaryDescription(TypedDict):
    """内容描述与形式特征（补充） The DA/T 46 content description and form elements beyond RecordDescription."""

    parallel_title: str | None
    subtitle: str | None
    subject_terms: list[str]
    classification_code: str | None
    primary_recipients: list[str]
    copy_recipients: list[str]
    secrecy_term: str | None
    draft_state: str | None
    rights_statement: str | None
    control_marks: list[str]


class Digitization(TypedDict):
    """数字化属性 How a digitized paper document was captured."""

    form: str | None
    resolution_dpi: int | None
    colour_mode: str | None
    compression: str | None
    device: str | None


class ElectronicSignature(TypedDict):
    """电子签名 An electronic signature on a computer file."""

    signature_id: str
    rule: str | None
    time: dt.datetime | None
    signer: str | None
    result: str | None
    certificate: bytes | None
    certificate_reference: str | None
    algorithm: str | None


class FileDetail(TypedDict):
    """文档（补充） DA/T 46 elements of one computer file beyond Component, matched by sequence."""

    sequence: int
    creating_application: str | None
    digitization: Digitization | None
    signatures: list[ElectronicSignature]


class BusinessActivity(TypedDict):
    """业务实体 One step of the agency business that produced or handled the record."""

    action: str
    time: dt.datetime
    actor: str | None
    organisation: str | None
    status: str | None
    basis: str | None
    description: str | None


class AgentEntity(TypedDict):
    """机构人员实体 A body or person involved with the record."""

    agent_type: str
    name: str
    organisation_code: str | None
    position: str | None


class RecordRelation(TypedDict):
    """文件实体关系 A relation from this record to another record."""

    related_id: str
    relation_type: str
    description: str | None


class Carrier(TypedDict):
    """载体 What a record is on, and its twin on another carrier (双套制 dual set: an electronic record
    and its paper copy; a digitized copy and its paper original)."""

    medium: str
    original_medium: str | None
    counterpart_code: str | None
    awaiting_counterpart: bool


class MediaDescription(TypedDict):
    """照片与录音录像的内容描述 What a photo (照片档案, DA/T 54-2014) or an audio-video record (录音录像档案, DA/T
    63-2017) shows, as its catalogue describes it; the files' technical properties are read
    from their bytes at receipt (MediaFile)."""

    creator: str | None
    captured_at: str | None
    place: str | None
    persons: list[str]
    background: str | None
    photo_number: str | None
    negative_number: str | None


class PersonConcerned(TypedDict):
    """权利人/当事人 A person the record concerns, as the agency's system names them (the real-estate
    registry's 权利人, a marriage record's 当事人). The event carries the resident identity number
    in clear; the archive never keeps it so (PersonNamed)."""

    role: str
    name: str
    id_number: str | None


class DocumentLifecycleEvent(TypedDict):
    """文件生命周期事件 A step in a document's life in an agency system (业务实体): created, revised, approved,
    issued, received, registered or filed. Produced to ingest.<agency>.lifecycle.v1, keyed
    by document id. v2 adds the rest of DA/T 46: supplementary description, file details
    (digitization, signatures), business history, agents and relations. v3 adds what the
    retention schedule and the metadata rules need from the agency: the period it proposes,
    the issuer's relation to it, the business-matter code, and the conditional elements it
    declares the document does not have. v4 adds what transfers of existing records need:
    the 档号 a legacy or digitized record already has (kept, never renumbered), and its
    carrier (载体) with its twin on paper (双套制). v5 adds the archive category (门类: WS 文书, ZP
    照片, LY 录音录像) and a photo's or recording's content description."""

    event_id: str
    action: Literal["CREATED", "REVISED", "APPROVED", "ISSUED", "RECEIVED", "REGISTERED", "FILED"]
    event_time: dt.datetime
    agency: AgencyReference
    document_id: str
    upload_id: str
    source_system: str | None
    actor: str | None
    description: RecordDescription
    components: list[Component]
    supplementary: SupplementaryDescription | None
    file_details: list[FileDetail]
    history: list[BusinessActivity]
    agents: list[AgentEntity]
    relations: list[RecordRelation]
    retention_proposal: str | None
    issuer_relation: str | None
    business_matter_code: str | None
    absent_elements: list[str]
    reference_code: str | None
    carrier: Carrier | None
    category: str | None
    media: MediaDescription | None
    persons: list[PersonConcerned]


class ComponentFormat(TypedDict):
    """格式信息 The identified format of one computer file and its technical metadata."""

    sequence: int
    puid: str | None
    name: str | None
    version: str | None
    mime_type: str | None
    basis: str
    accepted: bool
    technical: dict[str, str]
    problems: list[str]


class CheckItemResult(TypedDict):
    """检测项结果 The result of one check item."""

    code: str
    result: str
    reason: str


class CheckSummary(TypedDict):
    """四性检测 Summary of the four-property check (DA/T 70); the full report is in the package."""

    stage: str
    checked_at: dt.datetime
    verdict: str
    items: list[CheckItemResult]


class PreservationEvent(TypedDict):
    """保存事件 One action on the record (PREMIS event): received, validated, fixity checked, format
    identified, classified, stored, checked, registered."""

    type: str
    time: dt.datetime
    agent: str
    outcome: str
    detail: str | None


class MediaFile(TypedDict):
    """音视频与图像的技术参数 A photo, audio or video file's technical properties (DA/T 54 分辨率, 设备, 拍摄时间; DA/T
    63 时长, 编码, 采样率, 帧率, 分辨率), read from its bytes at receipt by the archive, not taken from
    the agency."""

    sequence: int
    kind: str
    width: int | None
    height: int | None
    resolution_dpi: int | None
    colour_mode: str | None
    duration_ms: int | None
    video_codec: str | None
    audio_codec: str | None
    frame_rate: float | None
    sample_rate_hz: int | None
    channels: int | None
    bit_rate: int | None
    device: str | None
    captured_at: str | None


class PersonNamed(TypedDict):
    """权利人/当事人 A person an archived record concerns, as the archive keeps them: the identity number
    only as a keyed hash (HMAC-SHA256 under the archive's person key), so that a citizen the
    portal vouches for finds the records naming them and nobody reads the number back."""

    role: str
    name: str
    id_hmac: str | None


class ArchivalRecord(TypedDict):
    """电子档案 An archived record: stored under write-once retention, numbered in its series,
    described by DA/T 46 metadata. Published to records.archival-ready.v1 and
    records.catalog.v1, keyed by reference code. v2 adds the format of each file, the four-
    property check, flags, provenance and the record's package. v3 adds the rest of DA/T 46:
    supplementary description, file details (digitization, signatures), business history,
    agents and relations. v4 adds what the agency said about retention and absent elements,
    the date the archive's object lock really holds to, and the appraisal status of a record
    whose period had already ended when it was received. v5 adds the record's carrier (载体)
    and its paper twin (双套制). v6 adds a photo's or recording's content description and the
    technical properties of its media files."""

    reference_code: str
    fonds_code: str
    fonds_name: str
    category: str
    year: int
    retention_period: Literal["Y", "D30", "D10"]
    retention_rule_id: str
    unit_code: str
    item_number: int
    agency: AgencyReference
    archives_code: str
    event_id: str
    document_id: str
    source_system: str | None
    description: RecordDescription
    components: list[Component]
    filed_at: dt.datetime
    archived_at: dt.datetime
    retain_until: dt.date | None
    formats: list[ComponentFormat]
    check: CheckSummary | None
    flags: list[str]
    provenance: list[PreservationEvent]
    package: PayloadReference | None
    supplementary: SupplementaryDescription | None
    file_details: list[FileDetail]
    history: list[BusinessActivity]
    agents: list[AgentEntity]
    relations: list[RecordRelation]
    retention_proposal: str | None
    issuer_relation: str | None
    business_matter_code: str | None
    absent_elements: list[str]
    lock_until: dt.date | None
    appraisal_status: str | None
    carrier: Carrier | None
    media: MediaDescription | None
    media_files: list[MediaFile]
    persons: list[PersonNamed]


class Header(TypedDict):
    """消息头 One Kafka header of the input."""

    key: str
    value: bytes | None


class DeadLetter(TypedDict):
    """退回记录 An input the pipeline could not accept, kept whole with the reason, so it can be
    inspected and replayed. Published to records.deadletter.v1, keyed by the original key."""

    reason: str
    message: str
    stage: str
    exception_class: str | None
    original_topic: str
    original_partition: int
    original_offset: int
    original_timestamp: dt.datetime | None
    original_key: bytes | None
    original_value: bytes | None
    original_headers: list[Header]
    agency_code: str | None
    event_id: str | None
    failed_at: dt.datetime


class RetentionReview(TypedDict):
    """保管期限待鉴定 A filed document that no retention rule decides, waiting for archive staff to decide
    its retention period. Published to records.retention-review.v1 (compacted), keyed by
    event id: PENDING when the pipeline queues it, DECIDED when staff decide. v2 adds the
    lifecycle steps the agency sent before filing, so that the decision sends them on and
    they become the archived record's business history. v3 adds the kind of review:
    RETENTION for a period no rule decides or that the agency's proposal disputes (both
    periods shown), APPRAISAL (到期鉴定) for an archived record whose period has ended; an
    appraisal decides destroy after the hold, or extend."""

    event_id: str
    status: Literal["PENDING", "DECIDED"]
    agency_code: str
    document_id: str
    title: str
    document_type: str
    reason: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_value: bytes
    queued_at: dt.datetime
    decided_period: str | None
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str | None
    history_before_filing: list[BusinessActivity]
    kind: Literal["RETENTION", "APPRAISAL"]
    proposed_period: str | None
    schedule_period: str | None
    schedule_rule_id: str | None
    reference_code: str | None
    retain_until: dt.date | None
    lock_until: dt.date | None
    appraisal_outcome: str | None


class PreservationProblem(TypedDict):
    """检测问题 One thing about the record that no longer matches the archive."""

    code: str
    detail: str
    sequence: int | None


class PreservationAlert(TypedDict):
    """长期保存检测告警 An archived record that no longer matches what the archive holds, found by the
    long-term preservation check (DA/T 70, stage CQ; `recordflow verify`). Published to
    records.preservation-alert.v1, keyed by reference code: one per record and check run."""

    reference_code: str
    agency_code: str
    stage: str
    problems: list[PreservationProblem]
    checked_at: dt.datetime


class ArchivalReceipt(TypedDict):
    """归档回执 One outcome of an agency's submission, told to that agency: archived with its 档号,
    rejected with the reason, held for review, decided by archive staff, or due for
    appraisal. Published to receipts.<agency>.v1 (compacted after a week), keyed by the
    agency's document id, so that the agency system learns what became of its document
    within seconds, without polling the catalog. receipt_id is derived from the event and
    the outcome, so a redelivered outcome is recognisably the same receipt."""

    receipt_id: str
    event_id: str | None
    document_id: str
    agency_code: str
    outcome: Literal["ARCHIVED", "REJECTED", "HELD_FOR_REVIEW", "DECIDED", "APPRAISAL_DUE"]
    occurred_at: dt.datetime
    archival_code: str | None
    archived_at: dt.datetime | None
    retention_period: str | None
    retention_rule: str | None
    retain_until: str | None
    reason_code: str | None
    reason_text: str | None
    stage: str | None
    decided_by: str | None
    decision: str | None


class AuditEvent(TypedDict):
    """审计事件 One action of a person on the archive staff's console (recordflow console): a sign-in
    (succeeded or failed), a sign-out, a page refused to a role, a package downloaded, and
    to come a retention decision, an appraisal or a dead-letter replay. Appended to
    recordflow.audit.v1, keyed by actor, never changed or deleted: the audit trail the
    security auditor (安全审计员) reads."""

    event_id: str
    actor: str
    role: str | None
    action: str
    target: str | None
    occurred_at: dt.datetime
    outcome: str
    client_address: str | None
    detail: str | None


class VerifyRun(TypedDict):
    """长期保存检测记录 One run of the long-term preservation check (DA/T 70, stage CQ; `recordflow
    verify`): what it was asked to check, how many records it checked and how many no longer
    match the archive, how much it read, and who ran it where. Published to records.verify-
    runs.v1, keyed by run id, when the run ends, whether it completed or not; each failing
    record's own alert is on records.preservation-alert.v1."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    status: str
    agency: str | None
    since: dt.datetime | None
    records_checked: int
    records_failed: int
    objects_checked: int
    bytes_read: int
    problem: str | None
    host: str
    user: str
