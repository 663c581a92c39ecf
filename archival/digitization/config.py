"""The linking configuration (recordflow/digitization.yaml): catalogue column names, file-name
rules, the DA/T 31 thresholds and what differs by archive category (门类: paper, photos). Data, so
that each archive's spelling is a line of YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from archival import reference
from archival.reference import CATEGORY_WS
from recordflow.settings import PACKAGE_DIR

DEFAULT_FILE = PACKAGE_DIR / "digitization.yaml"
REQUIRED_COLUMNS = ("reference_code", "title")
Column = Literal[
    "reference_code",
    "document_number",
    "responsible_party",
    "title",
    "document_date",
    "page_count",
    "security_classification",
    "retention_period",
    "remarks",
    "document_type",
    "fonds_code",
    "year",
    "unit_code",
    "item_number",
    "device",
    "digitized_at",
    "creator",
    "captured_at",
    "place",
    "persons",
    "background",
    "photo_number",
    "negative_number",
    "carrier",
]
Layout = Literal["flat", "per-item"]
Format = Literal["JPEG", "TIFF", "JPEG2000", "PDF", "OFD"]
MIDDLE_DOT = "·"
ELECTRONIC = "electronic"  # a `carriers` value: the file is the original (born digital)


class CategoryLinking(BaseModel):
    """What a batch of one archive category (门类) checks and submits differently: the batch's
    category is the command's (`import digitized`: WS, `import photos`: ZP)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    original_medium: str = Field(min_length=1)  # 载体 of the original when the row does not say
    # The 载体 column's words → ELECTRONIC or the original's 载体; none: the column is not read.
    carriers: dict[str, str] = {}
    pages: int | None = Field(default=None, gt=0)  # every item has this many; None: its 页数
    min_dpi: int | None = Field(default=None, gt=0)  # of a scan; None: the batch's min_dpi
    accepted_formats: tuple[Format, ...] | None = None  # None: the batch's accepted_formats


class LinkConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    columns: dict[Column, tuple[str, ...]]
    retention_periods: dict[str, Literal["Y", "D30", "D10"]]
    middle_dot_spellings: tuple[str, ...] = Field(min_length=1)
    layout: Layout
    ignore: tuple[str, ...] = ()
    min_dpi: int = Field(gt=0)
    min_dpi_by_fonds: dict[str, int] = {}
    accepted_formats: tuple[Format, ...] = Field(min_length=1)
    document_id_prefix: str
    categories: dict[str, CategoryLinking]

    @field_validator("columns")
    @classmethod
    def _required(cls, columns: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if missing := [name for name in REQUIRED_COLUMNS if not columns.get(name)]:
            raise ValueError(f"columns must name {', '.join(missing)}")
        headers = [header for names in columns.values() for header in names]
        if twice := sorted({h for h in headers if headers.count(h) > 1}):
            raise ValueError(f"headers given for more than one column: {twice}")
        return columns

    @field_validator("middle_dot_spellings")
    @classmethod
    def _spellings(cls, spellings: tuple[str, ...]) -> tuple[str, ...]:
        # A spelling that a 档号 holds elsewhere ("-", a letter, a digit) would make names ambiguous.
        if bad := [s for s in spellings if len(s) != 1 or re.fullmatch(r"[-A-Z0-9]", s)]:
            raise ValueError(f"middle-dot spellings must be one character, not - A-Z 0-9: {bad}")
        return spellings

    @field_validator("categories")
    @classmethod
    def _paper(cls, categories: dict[str, CategoryLinking]) -> dict[str, CategoryLinking]:
        if CATEGORY_WS not in categories:
            raise ValueError(f"categories must describe {CATEGORY_WS}, digitized paper")
        return categories

    def category(self, code: str) -> CategoryLinking:
        if code not in self.categories:
            raise ValueError(
                f"no batch of category {code} can be linked: {', '.join(self.categories)}"
            )
        return self.categories[code]

    def min_dpi_for(self, fonds_code: str, category: str = CATEGORY_WS) -> int:
        """The collection's minimum, else the category's, else the batch's."""
        return self.min_dpi_by_fonds.get(
            fonds_code, self.category(category).min_dpi or self.min_dpi
        )

    def formats_for(self, category: str) -> tuple[Format, ...]:
        return self.category(category).accepted_formats or self.accepted_formats

    def reference_pattern(self) -> str:
        """The 档号 as a regular expression in which its `·` may be any accepted spelling."""
        spelled = "(?:" + "|".join(re.escape(s) for s in self.middle_dot_spellings) + ")"
        return reference.REFERENCE_CODE.pattern.replace(MIDDLE_DOT, spelled)


def load_link_config(path: Path = DEFAULT_FILE) -> LinkConfig:
    with path.open(encoding="utf-8") as handle:
        return LinkConfig.model_validate(yaml.safe_load(handle))
