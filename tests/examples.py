"""Realistic values shared by the tests."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from avro_schemas.records import (
    AgentEntity,
    ArchivalReceipt,
    ArchivalRecord,
    AuditEvent,
    BusinessActivity,
    DocumentLifecycleEvent,
    FileDetail,
    RecordDescription,
    RecordRelation,
    RetentionReview,
    SupplementaryDescription,
    VerifyRun,
)
from recordflow.errors import RecordRejected
from streams.intake import review_item
from topics.deadletter import Origin, dead_letter
from topics.receipts import archived


def request_description() -> RecordDescription:
    """The RecordDescription of a 请示 from 市住房和城乡建设局, as decoded from Avro."""
    return {
        "title": "关于申请老旧小区改造专项资金的请示",
        "document_number": "市建请〔2026〕41号",
        "responsible_party": "市住房和城乡建设局",
        "document_date": dt.date(2026, 4, 2),
        "document_type": "请示",
        "security_classification": "公开",
        "urgency": "加急",
        "keywords": ["老旧小区", "专项资金"],
        "abstract": None,
        "unit_code": "GHK",
        "year": 2026,
        "page_count": 3,
        "language": "zh",
    }


def notice_metadata(document_id: str, **overrides: object) -> dict[str, object]:
    """Submission metadata (as `recordflow submit --metadata` takes it) of a 通知 from 市人民政府办公厅
    (bgt) that every check passes and the city schedule decides (D10)."""
    return {
        "document_id": document_id,
        "title": "关于做好2026年防汛工作的通知",
        "document_number": f"市府办发〔2026〕{document_id}号",
        "responsible_party": "市人民政府办公厅",
        "document_date": "2026-05-06",
        "document_type": "通知",
        "unit_code": "BGS",
        **overrides,
    }


def photo_metadata(document_id: str, **overrides: object) -> dict[str, object]:
    """Submission metadata of a photo (照片档案, ZP; DA/T 54) of 市人民政府办公厅 (bgt): what the
    photographer, time and place say, which every check passes and the city schedule decides (Y:
    城市记忆)."""
    return {
        "document_id": document_id,
        "category": "ZP",
        "title": "深南大道夜景",
        "responsible_party": "市人民政府办公厅",
        "document_date": "2026-05-06",
        "document_type": "照片",
        "unit_code": "BGS",
        "keywords": ["城市记忆"],
        "media": {
            "creator": "李摄影",
            "captured_at": "2026-05-06T20:15",
            "place": "深南大道与华强北路交汇处",
            "persons": [],
            "background": "城市记忆拍摄工程第三期",
            "photo_number": "CSJY-2026-0031",
        },
        **overrides,
    }


# --- realistic records -------------------------------------------------------------------
SHA256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
SM3 = "becbbfaae6548b8bf0cfcad5a27183cd1be6093b1cceccc303d9c61d0a645268"
FILED_AT = dt.datetime(2026, 4, 2, 9, 30, 15, 123000, tzinfo=dt.UTC)


def lifecycle_event() -> DocumentLifecycleEvent:
    return {
        "event_id": "5d2b1c7e-8f3a-5b6c-9d0e-1f2a3b4c5d6e",
        "action": "FILED",
        "event_time": FILED_AT,
        "agency": {"code": "zjj", "name": "市住房和城乡建设局"},
        "document_id": "ZJJ-2026-0041",
        "upload_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "source_system": "OA",
        "actor": "张三",
        "description": request_description(),
        "components": [
            {
                "sequence": 1,
                "is_main": True,
                "title": None,
                "file_name": "关于申请老旧小区改造专项资金的请示.pdf",
                "mime_type": "application/pdf",
                "size_bytes": 48213,
                "checksums": [
                    {"algorithm": "SHA256", "value": SHA256},
                    {"algorithm": "SM3", "value": SM3},
                ],
                "payload": {
                    "bucket": "staging",
                    "key": "zjj/0f1e2d3c4b5a69788796a5b4c3d2e1f0/01-请示.pdf",
                    "version_id": None,
                    "inline_content": None,
                },
            },
            {
                "sequence": 2,
                "is_main": False,
                "title": "现场照片",
                "file_name": "现场照片.jpg",
                "mime_type": "image/jpeg",
                "size_bytes": 5,
                "checksums": [{"algorithm": "SHA256", "value": SHA256}],
                "payload": {
                    "bucket": None,
                    "key": None,
                    "version_id": None,
                    "inline_content": b"\xff\xd8\xff\xd9\x00",
                },
            },
        ],
        **da_t_46_extras(),
        # v3: what the retention schedule and the metadata rules need from the agency
        "retention_proposal": "D30",
        "issuer_relation": "self",
        "business_matter_code": "ZJJ-03-02",
        "absent_elements": [],
        # v4: what a transfer of an existing record adds (a new record has neither)
        "reference_code": None,
        "carrier": None,
        # v5: the archive category (null: WS) and a photo's or recording's description
        "category": None,
        "media": None,
        # v6: the persons the record concerns (权利人/当事人)
        "persons": [],
    }


class DaT46Extras(TypedDict):
    """The fields v2 of the event (and v3 of the record) add."""

    supplementary: SupplementaryDescription | None
    file_details: list[FileDetail]
    history: list[BusinessActivity]
    agents: list[AgentEntity]
    relations: list[RecordRelation]


def da_t_46_extras() -> DaT46Extras:
    """The DA/T 46 elements v2 of the event (and v3 of the record) add."""
    return {
        "supplementary": {
            "parallel_title": None,
            "subtitle": "2026年度",
            "subject_terms": ["城市更新", "资金"],
            "classification_code": "F299.27",
            "primary_recipients": ["市人民政府"],
            "copy_recipients": ["市财政局"],
            "secrecy_term": None,
            "draft_state": "正本",
            "rights_statement": "依申请公开",
            "control_marks": ["限制利用"],
        },
        "file_details": [
            {
                "sequence": 1,
                "creating_application": "WPS Office 12",
                "digitization": None,
                "signatures": [
                    {
                        "signature_id": "sig-1",
                        "rule": "GB/T 38540",
                        "time": FILED_AT - dt.timedelta(days=1),
                        "signer": "市住房和城乡建设局",
                        "result": "MEUCIQ…",
                        "certificate": b"0\x82\x01\x0a",
                        "certificate_reference": "https://ca.example.cn/certs/zjj.cer",
                        "algorithm": "SM2",
                    }
                ],
            },
            {
                "sequence": 2,
                "creating_application": None,
                "digitization": {
                    "form": "扫描件",
                    "resolution_dpi": 300,
                    "colour_mode": "彩色",
                    "compression": "JPEG",
                    "device": None,
                },
                "signatures": [],
            },
        ],
        "history": [
            {
                "action": "approved",
                "time": FILED_AT - dt.timedelta(days=1),
                "actor": "李四",
                "organisation": "市住房和城乡建设局",
                "status": "已签发",
                "basis": "局长办公会议决定",
                "description": None,
            }
        ],
        "agents": [
            {"agent_type": "个人", "name": "李四", "organisation_code": None, "position": "局长"}
        ],
        "relations": [
            {"related_id": "ZJJ-2026-0040", "relation_type": "references", "description": None}
        ],
    }


def archival_record() -> ArchivalRecord:
    event = lifecycle_event()
    code = "Z109-WS·2026-D30-GHK-0007"
    return {
        "reference_code": code,
        "fonds_code": "Z109",
        "fonds_name": "市住房和城乡建设局",
        "category": "WS",
        "year": 2026,
        "retention_period": "D30",
        "retention_rule_id": "city-default@2026.1/D30-request-reply",
        "unit_code": "GHK",
        "item_number": 7,
        "agency": event["agency"],
        "archives_code": "440300",
        "event_id": event["event_id"],
        "document_id": event["document_id"],
        "source_system": None,
        "description": event["description"],
        "components": [
            {
                **component,
                "payload": {
                    "bucket": "archive",
                    "key": f"Z109/2026/{code}/01-{SHA256}.pdf",
                    "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
                    "inline_content": None,
                },
            }
            for component in event["components"][:1]
        ],
        "filed_at": FILED_AT,
        "archived_at": FILED_AT + dt.timedelta(seconds=2, milliseconds=345),
        "retain_until": dt.date(2057, 1, 1),
        "formats": [
            {
                "sequence": 1,
                "puid": "fmt/354",
                "name": "Acrobat PDF/A - Portable Document Format",
                "version": "1b",
                "mime_type": "application/pdf",
                "basis": "byte match",
                "accepted": True,
                "technical": {"page_count": "3", "encrypted": "false"},
                "problems": [],
            }
        ],
        "check": {
            "stage": "YJ",
            "checked_at": FILED_AT + dt.timedelta(seconds=2),
            "verdict": "pass",
            "items": [
                {
                    "code": "YJ-1-1",
                    "result": "pass",
                    "reason": "SHA-256 matches the producer's digest",
                }
            ],
        },
        "flags": [],
        "provenance": [
            {
                "type": "fixity check",
                "time": FILED_AT + dt.timedelta(seconds=1),
                "agent": "recordflow.register",
                "outcome": "success",
                "detail": "SHA-256 and SM3 verified",
            },
        ],
        "package": {
            "bucket": "archive",
            "key": "Z109/2026/x/bag.tar",
            "version_id": "v1",
            "inline_content": None,
        },
        "supplementary": event["supplementary"],
        "file_details": event["file_details"],
        "history": event["history"],
        "agents": event["agents"],
        "relations": event["relations"],
        # v4
        "retention_proposal": "D30",
        "issuer_relation": "self",
        "business_matter_code": "ZJJ-03-02",
        "absent_elements": [],
        "lock_until": dt.date(2057, 1, 1),
        "appraisal_status": None,
        # v5
        "carrier": None,
        # v6
        "media": None,
        "media_files": [],
        # v7
        "persons": [],
    }


def dead_letter_record() -> dict[str, Any]:
    origin = Origin(
        topic="ingest.zjj.lifecycle.v1",
        partition=2,
        offset=1041,
        timestamp_ms=1775122215123,
        key=b"ZJJ-2026-0099",
        value=b"\x00\x00\x00\x00\x01\x02garbled",
        headers=[("ce_id", b"5d2b1c7e"), ("ce_source", None)],
    )
    rejection = RecordRejected("checksum-mismatch", "01-报告.pdf: SHA256 declared …", "register")
    record = dead_letter(origin, rejection, agency_code="zjj", event_id="5d2b1c7e")
    # failed_at is now(); the schema keeps milliseconds.
    record["failed_at"] = record["failed_at"].replace(microsecond=0)
    return record


def retention_review_record() -> RetentionReview:
    event = lifecycle_event()
    origin = Origin(
        "ingest.bdc.lifecycle.v1", 1, 77, None, b"BDC-2026-0150", b"\x00\x00\x00\x00\x01\x02", []
    )
    kept = [  # as intake's lifecycle-history table holds them
        {"event_id": "1c9e", "action": "created", "time": "2026-04-01T01:20:00.123000+00:00",
         "actor": "张三", "organisation": "市不动产登记中心", "status": None, "basis": None,
         "description": "CREATED in OA"},
    ]  # fmt: skip
    reason = "no rule of bdc-schedule@2026.1 or city-default@2026.1 decides a 备忘录"
    item = review_item(event, reason, origin, kept)
    item["queued_at"] = FILED_AT
    return item


def archival_receipt_record() -> ArchivalReceipt:
    """The ARCHIVED receipt of archival_record(): its 档号, archive time and retention."""
    return archived(archival_record())


def preservation_alert_record() -> dict[str, Any]:
    code = archival_record()["reference_code"]
    return {
        "reference_code": code,
        "agency_code": "zjj",
        "stage": "CQ",
        "problems": [
            {
                "code": "checksum-mismatch",
                "detail": f"关于申请老旧小区改造专项资金的请示.pdf: SHA256 recorded {SHA256}, "
                f"the stored bytes give {SM3}",
                "sequence": 1,
            },
            {
                "code": "retention-weakened",
                "detail": f"package archive/Z109/2026/{code}/package-….tar: retained until "
                "2030-01-01, the record needs 2057-01-01",
                "sequence": None,
            },
        ],
        "checked_at": FILED_AT + dt.timedelta(days=365),
    }


def audit_event_record() -> AuditEvent:
    """A bag downloaded from the console by an archivist (recordflow.audit.v1)."""
    return {
        "event_id": "5d0c5f5e-2a4b-4a8e-9a51-0b8f6f1c2d3e",
        "actor": "wang.dangan",
        "role": "staff",
        "action": "export",
        "target": archival_record()["reference_code"],
        "occurred_at": FILED_AT + dt.timedelta(days=2),
        "outcome": "success",
        "client_address": "10.20.3.41",
        "detail": "BagIt 包 2 个文件, 184320 字节",
    }


def verify_run_record() -> VerifyRun:
    """A nightly `recordflow verify` of every agency, which raised the alert above
    (records.verify-runs.v1)."""
    started = FILED_AT + dt.timedelta(days=365)
    return {
        "run_id": "0b6c2f7e-9a0e-4a55-8d1e-6f3c1c2b7a90",
        "started_at": started,
        "finished_at": started + dt.timedelta(minutes=42, seconds=7),
        "status": "completed",
        "agency": None,
        "since": None,
        "records_checked": 1842,
        "records_failed": 1,
        "objects_checked": 3706,
        "bytes_read": 9_876_543_210,
        "problem": None,
        "host": "archive-verify-01",
        "user": "recordflow",
    }
