"""Realistic values shared by the unit tests."""

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
