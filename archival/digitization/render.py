"""The 挂接 report as CSV (for a spreadsheet: UTF-8 with a BOM, which Excel needs to read Chinese),
as an HTML page (a Jinja2 template, autoescaped) and as JSON for programs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jinja2

from archival.digitization.report import LinkReport

CSV_HEADER = (
    "档号 reference_code",
    "目录行 row",
    "文件 file",
    "页 page",
    "结果 status",
    "原因代码 reason",
    "说明 message",
)
LINKED = "linked"
STATUS = {"linked": "已挂接", "held": "未挂接", "archived": "已归档", "rejected": "被拒收"}
# Section headings of the page, in order: reason codes, Chinese and English.
SECTIONS = (
    (
        (
            "catalogue-invalid-reference",
            "catalogue-wrong-category",
            "catalogue-invalid-value",
            "catalogue-inconsistent",
        ),
        "目录行错误",
        "Catalogue rows in error",
    ),
    (("catalogue-duplicate",), "目录中档号重复", "Duplicate 档号 in the catalogue"),
    (("catalogue-row-without-images",), "有目录无图像", "Catalogue rows without images"),
    (("image-orphan",), "有图像无目录", "Images without a row (orphans)"),
    (("page-count-mismatch",), "页数不符", "Page-count mismatches"),
    (
        (
            "page-missing",
            "page-duplicate",
            "resolution-too-low",
            "resolution-unknown",
            "format-not-accepted",
            "image-unreadable",
        ),
        "DA/T 31 检查未通过",
        "DA/T 31 failures",
    ),
)
# Whatever no section above names: the category's description as the SDK checks it (a photo's
# missing-photographer …), so that every problem is on the page.
OTHERS = ("著录项检查未通过", "Description check failed")
_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("archival.digitization", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render_json(report: LinkReport) -> str:
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n"


def render_csv(report: LinkReport) -> str:
    """One line per linked item (its outcome once the importer has one, else what linking filled
    in) and per problem."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for item in report.linked:
        outcome = report.outcomes.get(item.reference_code)
        status = outcome.outcome if outcome else LINKED
        writer.writerow(
            [
                item.reference_code,
                item.row,
                "；".join(item.file_names),
                item.pages,
                STATUS[status],
                outcome.reason or "" if outcome else "",
                (outcome.detail if outcome else None) or "；".join(item.notes),
            ]
        )
    for problem in report.problems:
        writer.writerow(
            [
                problem.reference_code or "",
                problem.row or "",
                problem.file or "",
                problem.page or "",
                STATUS["held"],
                problem.reason,
                problem.message,
            ]
        )
    return out.getvalue()


def render_html(report: LinkReport) -> str:
    sections = [
        (zh, en, [p for p in report.problems if p.reason in reasons])
        for reasons, zh, en in SECTIONS
    ]
    named = {reason for reasons, _, _ in SECTIONS for reason in reasons}
    if others := [p for p in report.problems if p.reason not in named]:
        sections.append((*OTHERS, others))
    return _environment.get_template("linking_report.html.j2").render(
        report=report, sections=sections, status=STATUS
    )


def write_report(report: LinkReport, folder: Path) -> dict[str, Path]:
    """report.csv, report.html and report.json in `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "csv": (folder / "report.csv", "\ufeff" + render_csv(report)),
        "html": (folder / "report.html", render_html(report)),
        "json": (folder / "report.json", render_json(report)),
    }
    for path, text in written.values():
        path.write_text(text, encoding="utf-8", newline="")
    return {kind: path for kind, (path, _) in written.items()}
