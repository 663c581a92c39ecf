"""The 挂接 report (目录挂接报告): what linking a catalogue to its page images found, as data.

Every catalogue row and every image file ends in exactly one place: a linked item, or a problem
with its reason code (recordflow/reasons.yaml, stage `import`). The importer adds what became of
each linked item it submitted (`record_outcome`). Rendering is in `render.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Which section of the report a reason code belongs to.
ROW_WITHOUT_IMAGES = "catalogue-row-without-images"
ORPHAN = "image-orphan"
PAGE_COUNT_MISMATCH = "page-count-mismatch"
DUPLICATE = "catalogue-duplicate"
CATALOGUE_ROW = frozenset(
    {
        "catalogue-invalid-reference",
        "catalogue-wrong-category",
        "catalogue-invalid-value",
        "catalogue-inconsistent",
    }
)
# The rest are DA/T 31 failures of an item that has both its row and its images.

CARRIER = "纸质"  # 载体 of the original
COPY_FORM = "数字化副本"  # what the archived record is of it
Outcome = Literal["archived", "rejected"]


@dataclass(frozen=True, order=True)
class LinkProblem:
    """One thing wrong, with its reason code; where it is as far as it is known."""

    reason: str
    message: str
    reference_code: str | None = None
    row: int | None = None  # the catalogue's row number, as a spreadsheet shows it
    file: str | None = None  # relative to the images folder, with "/"
    page: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "reference_code": self.reference_code,
            "row": self.row,
            "file": self.file,
            "page": self.page,
            "message": self.message,
        }


@dataclass(frozen=True)
class LinkedItem:
    """A catalogue entry with all its pages, every DA/T 31 check passed: ready to submit.

    `metadata` is the SDK's submission metadata (connectors/sdk.py); `files` are its computer
    files in order, `metadata["file_details"][n]` describing `files[n]` of a scan. `carrier` and
    `copy_form` are None for a born-digital record (a camera's photo): it is no copy of anything.
    `notes`: what linking filled in that the catalogue did not say (拍摄时间 from EXIF …).
    """

    reference_code: str
    row: int
    metadata: dict[str, Any]
    files: tuple[Path, ...]
    file_names: tuple[str, ...]  # relative to the images folder, as the report shows them
    pages: int
    digitized_at: str | None = None  # DA/T 46 has no element for it on the event: kept here
    carrier: str | None = CARRIER
    copy_form: str | None = COPY_FORM
    notes: tuple[str, ...] = ()

    @property
    def digitization(self) -> list[dict[str, Any]]:
        return [detail["digitization"] for detail in self.metadata["file_details"]]

    def as_json(self) -> dict[str, Any]:
        return {
            "reference_code": self.reference_code,
            "row": self.row,
            "document_id": self.metadata["document_id"],
            "pages": self.pages,
            "files": list(self.file_names),
            "digitization": self.digitization,
            "digitized_at": self.digitized_at,
            "carrier": self.carrier,
            "copy_form": self.copy_form,
            "notes": list(self.notes),
            "metadata": _jsonable(self.metadata),
        }


@dataclass(frozen=True)
class ItemOutcome:
    outcome: Outcome
    reason: str | None = None  # the pipeline's reason code for a rejected item
    detail: str | None = None


@dataclass
class LinkReport:
    catalogue: str
    images: str
    linked: list[LinkedItem] = field(default_factory=list)
    problems: list[LinkProblem] = field(default_factory=list)
    outcomes: dict[str, ItemOutcome] = field(default_factory=dict)

    def record_outcome(
        self,
        reference_code: str,
        outcome: Outcome,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        """What became of a linked item the importer submitted (filled in after linking)."""
        if reference_code not in {item.reference_code for item in self.linked}:
            raise KeyError(f"{reference_code} is not a linked item of this report")
        self.outcomes[reference_code] = ItemOutcome(outcome, reason, detail)

    def with_reason(self, *reasons: str) -> list[LinkProblem]:
        return [problem for problem in self.problems if problem.reason in reasons]

    @property
    def rows_without_images(self) -> list[LinkProblem]:
        return self.with_reason(ROW_WITHOUT_IMAGES)

    @property
    def orphans(self) -> list[LinkProblem]:
        return self.with_reason(ORPHAN)

    @property
    def page_count_mismatches(self) -> list[LinkProblem]:
        return self.with_reason(PAGE_COUNT_MISMATCH)

    @property
    def duplicates(self) -> dict[str, list[int]]:
        """Each 档号 the catalogue gives more than once, with its rows."""
        rows: dict[str, list[int]] = {}
        for problem in self.with_reason(DUPLICATE):
            if problem.reference_code is not None and problem.row is not None:
                rows.setdefault(problem.reference_code, []).append(problem.row)
        return rows

    @property
    def catalogue_errors(self) -> list[LinkProblem]:
        return [problem for problem in self.problems if problem.reason in CATALOGUE_ROW]

    @property
    def failures(self) -> list[LinkProblem]:
        """DA/T 31 failures of items that have both a row and images (page-count mismatches too)."""
        others = {ROW_WITHOUT_IMAGES, ORPHAN, DUPLICATE, *CATALOGUE_ROW}
        return [problem for problem in self.problems if problem.reason not in others]

    @property
    def held(self) -> list[str]:
        """The 档号 of items with a row and images that a DA/T 31 failure keeps from submission."""
        return sorted({p.reference_code for p in self.failures if p.reference_code is not None})

    def counts(self) -> dict[str, int]:
        counts = {"linked": len(self.linked), "held": len(self.held)}
        for problem in self.problems:
            counts[problem.reason] = counts.get(problem.reason, 0) + 1
        for outcome in self.outcomes.values():
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "catalogue": self.catalogue,
            "images": self.images,
            "counts": self.counts(),
            "linked": [item.as_json() for item in self.linked],
            "problems": [problem.as_json() for problem in self.problems],
            "outcomes": {
                code: {"outcome": o.outcome, "reason": o.reason, "detail": o.detail}
                for code, o in sorted(self.outcomes.items())
            },
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
