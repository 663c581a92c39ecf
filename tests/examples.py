"""Realistic values shared by the tests."""

from __future__ import annotations

import datetime as dt
from typing import Any


def request_description() -> dict[str, Any]:
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
