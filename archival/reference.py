"""Archival reference codes (档号, DA/T 22-2015): `全宗号-门类代码·年度-保管期限代码-机构代码-件号`.

A series is everything but the item number; item numbers run from 0001 within a series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# 门类代码: WS 文书 (official documents), and what metadata_rules.yaml's `categories` add (ZP 照片
# photos, LY 录音录像 audio-video); a record that names no category is WS.
CATEGORY_WS = "WS"
REFERENCE_CODE = re.compile(
    r"(?P<fonds>[A-Z0-9]{4})-(?P<category>[A-Z]{2})·(?P<year>[0-9]{4})-(?P<period>Y|D30|D10)"
    r"-(?P<unit>[A-Z0-9]{1,8})-(?P<item>(?!0000)[0-9]{4})"  # item numbers run from 0001
)
MAX_ITEM = 9999


@dataclass(frozen=True)
class Series:
    fonds_code: str
    year: int
    period: str
    unit_code: str
    category: str = CATEGORY_WS

    def __str__(self) -> str:
        return f"{self.fonds_code}-{self.category}·{self.year}-{self.period}-{self.unit_code}"

    def code(self, item_number: int) -> str:
        if not 1 <= item_number <= MAX_ITEM:
            raise ValueError(f"item number {item_number} is outside 1..{MAX_ITEM} in series {self}")
        return f"{self}-{item_number:04d}"


def category_of(fields: Mapping[str, Any]) -> str:
    """A record's archive category (门类代码): the event's or record's, WS when it names none."""
    return fields.get("category") or CATEGORY_WS


def parse(code: str) -> tuple[Series, int]:
    match = REFERENCE_CODE.fullmatch(code)
    if not match:
        raise ValueError(f"{code!r} is not an archival reference code like Z109-WS·2011-Y-BGS-0001")
    series = Series(
        match["fonds"], int(match["year"]), match["period"], match["unit"], match["category"]
    )
    return series, int(match["item"])
