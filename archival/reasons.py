"""The reason codes (原因代码): loaded from `recordflow/reasons.yaml`, the one place they are written
down, and rendered as docs/reason-codes.md (`recordflow reasons --markdown`).

A base-layer module: it reads YAML and knows nothing of Kafka, S3 or faust, so the CLI, the SDK,
the gateway and the console can all say what a code means. Loading fails, naming the place, on an
unknown key, a code that is not lower-case-with-dashes, a code given twice, a kind, stage or
remedy that is not declared, a DA/T 70 item that recordflow/checks.yaml does not list, or a
remedy that cannot mend the kind (a transient code is waited out; a parked record is replayed).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recordflow.settings import PACKAGE_DIR

REASONS_FILE = PACKAGE_DIR / "reasons.yaml"
CHECKS_FILE = PACKAGE_DIR / "checks.yaml"
DOC_PATH = "docs/reason-codes.md"
GENERATE_COMMAND = f".venv/bin/recordflow reasons --markdown > {DOC_PATH}"
# Lower-case words with dashes between; a word may hold digits after its first letter, as the
# failure codes s3-refused and s3-unavailable have since they were first given.
CODE_PATTERN = r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$"
DAT70_ITEM_PATTERN = r"^YJ-[1-4]-[1-9][0-9]*$"
SDK_STAGE = "sdk"  # the producer SDK and `recordflow submit`, refusing before anything is sent

Kind = Literal["rejected", "parked", "transient", "review", "held"]
Remedy = Literal["replay", "resubmit", "none", "wait", "decide", "reimport"]
# What mends a code of each kind: a transient one is waited out, a review outcome is decided by
# staff, a parked record is replayed, a rejected input is replayed, resubmitted, or neither, and a
# held item is imported again.
REMEDIES_OF_KIND: dict[str, frozenset[str]] = {
    "transient": frozenset({"wait"}),
    "review": frozenset({"decide"}),
    "parked": frozenset({"replay"}),
    "rejected": frozenset({"replay", "resubmit", "none"}),
    # Digitized paper that did not link (目录挂接): never sent, so nothing is replayed; the scan or
    # the catalogue is corrected and the batch imported again.
    "held": frozenset({"reimport"}),
}

Text = Annotated[str, Field(min_length=1)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
StageName = Annotated[str, Field(pattern=CODE_PATTERN)]
Dat70Item = Annotated[str, Field(pattern=DAT70_ITEM_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(Strict):
    zh: Text
    en: Text


class Named(Strict):
    """A kind, remedy or stage: its short name in both languages and, for the page, what it is."""

    zh: Text
    en: Text
    about: Bilingual | None = None


class Reason(Strict):
    code: Code
    kind: Annotated[list[Kind], Field(min_length=1)]
    stages: Annotated[list[StageName], Field(min_length=1)]
    zh: Text
    en: Text
    dat70: list[Dat70Item] = []
    remedy: Remedy
    action: Bilingual

    @model_validator(mode="after")
    def _consistent(self) -> Reason:
        for name, values in (("kind", self.kind), ("stages", self.stages), ("dat70", self.dat70)):
            if len(set(values)) != len(values):
                raise ValueError(f"{self.code}: {name} names a value twice: {values}")
        alone = {"transient", "review"} & set(self.kind)
        if alone and len(self.kind) > 1:
            raise ValueError(f"{self.code}: kind {sorted(alone)[0]} cannot go with another kind")
        for kind in self.kind:
            if self.remedy not in REMEDIES_OF_KIND[kind]:
                allowed = ", ".join(sorted(REMEDIES_OF_KIND[kind]))
                raise ValueError(
                    f"{self.code}: remedy {self.remedy!r} cannot mend a {kind} input ({allowed})"
                )
        return self

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ReasonCatalog(Strict):
    version: Literal[1]
    kinds: dict[Kind, Named]
    remedies: dict[Remedy, Named]
    stages: dict[StageName, Named]  # in the order an input meets them
    intro: Text
    reasons: list[Reason]

    @model_validator(mode="after")
    def _complete(self) -> ReasonCatalog:
        for what, declared, known in (
            ("kinds", self.kinds, get_args(Kind)),
            ("remedies", self.remedies, get_args(Remedy)),
        ):
            missing = [name for name in known if name not in declared]
            if missing:
                raise ValueError(f"{what} must describe {', '.join(missing)}")
        seen: set[str] = set()
        for reason in self.reasons:
            if reason.code in seen:
                raise ValueError(f"reason code {reason.code!r} is given twice")
            seen.add(reason.code)
            unknown = [stage for stage in reason.stages if stage not in self.stages]
            if unknown:
                raise ValueError(
                    f"{reason.code}: stage {unknown[0]!r} is not one of {', '.join(self.stages)}"
                )
        return self

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    def get(self, code: str) -> Reason | None:
        return next((reason for reason in self.reasons if reason.code == code), None)


def load_reasons(path: Path = REASONS_FILE, checks: Path = CHECKS_FILE) -> ReasonCatalog:
    """The reason catalog at `path`, its DA/T 70 items checked against the check items in
    `checks` (recordflow/checks.yaml). ValueError, naming the file, when it is not valid."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        catalog = ReasonCatalog.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid reason catalog: {exc}") from exc
    items = check_items(checks)
    for reason in catalog.reasons:
        unknown = [item for item in reason.dat70 if item not in items]
        if unknown:
            raise ValueError(f"{path}: {reason.code}: {unknown[0]} is not an item of {checks}")
    return catalog


def check_items(path: Path = CHECKS_FILE) -> dict[str, str]:
    """The DA/T 70 check items at receipt by code, each with its Chinese name."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {str(item["code"]): str(item["zh"]) for item in data["items"]}


@cache
def catalog() -> ReasonCatalog:
    """The shipped catalog, loaded once."""
    return load_reasons()


# --- the page ------------------------------------------------------------------------------
def render_markdown(reasons: ReasonCatalog | None = None, checks: Path = CHECKS_FILE) -> str:
    """docs/reason-codes.md: the intro and the legend, then one section per kind (a code that is
    rejected before numbering and parked after has a section of its own) and in it one table per
    stage: the first pipeline stage that gives the code."""
    reasons = reasons or catalog()
    lines = _preamble(reasons) + _legend(reasons)
    items = check_items(checks)
    for kinds in sorted({_kind_key(reasons, reason) for reason in reasons.reasons}):
        names = [list(reasons.kinds)[index] for index in kinds]
        heading_zh = "、".join(reasons.kinds[name].zh for name in names)
        heading_en = " / ".join(reasons.kinds[name].en for name in names)
        lines += [*([""] if lines[-1] else []), f"## {heading_zh} — {heading_en}", ""]
        if len(names) > 1:
            lines += [
                "Rejected before the record is numbered; parked, with its 档号 kept, after. "
                "编号前失败为拒收，编号后失败为暂存（保留档号）。",
                "",
            ]
        of_kind = [reason for reason in reasons.reasons if _kind_key(reasons, reason) == kinds]
        for stage_index in sorted({_stage_key(reasons, reason) for reason in of_kind}):
            stage_name = list(reasons.stages)[stage_index]
            stage = reasons.stages[stage_name]
            rows = sorted(
                (reason for reason in of_kind if _stage_key(reasons, reason) == stage_index),
                key=lambda reason: reason.code,
            )
            lines += [f"### {stage.zh} {stage.en} (`{stage_name}`)", ""]
            lines += [*_table(rows, reasons, items), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _preamble(reasons: ReasonCatalog) -> list[str]:
    return [
        "<!-- Generated from recordflow/reasons.yaml by `recordflow reasons --markdown`. "
        "Do not edit by hand. -->",
        "",
        "# 原因代码 Reason codes",
        "",
        "> 本页由 `recordflow reasons --markdown` 根据 `recordflow/reasons.yaml` 生成，请勿手工编辑。"
        "<br>Generated from `recordflow/reasons.yaml`; do not edit by hand: edit the YAML and run "
        f"`{GENERATE_COMMAND}`.",
        "",
        reasons.intro.strip(),
    ]


def _legend(reasons: ReasonCatalog) -> list[str]:
    lines = ["", "## 类别 Kinds", ""]
    for kind_name, kind in reasons.kinds.items():
        lines.append(f"- **{kind.zh} {kind.en}** (`{kind_name}`): {_about(kind)}")
    lines += ["", "## 环节 Stages", ""]
    for stage_name, stage in reasons.stages.items():
        lines.append(f"- **`{stage_name}`** {stage.zh} / {stage.en}: {_about(stage)}")
    lines += ["", "## 处理方式 Remedies", ""]
    for remedy_name, remedy in reasons.remedies.items():
        lines.append(f"- **`{remedy_name}`**: {remedy.zh} / {remedy.en}")
    return lines


def _kind_key(reasons: ReasonCatalog, reason: Reason) -> tuple[int, ...]:
    order = list(reasons.kinds)
    return tuple(sorted(order.index(kind) for kind in reason.kind))


def _stage_key(reasons: ReasonCatalog, reason: Reason) -> int:
    """The first pipeline stage that gives the code (the SDK only repeats the pipeline's checks
    before sending, so it lists a code only when nothing else gives it)."""
    order = list(reasons.stages)
    indexes = [order.index(stage) for stage in reason.stages if stage != SDK_STAGE]
    return min(indexes or [order.index(SDK_STAGE)])


def _about(named: Named) -> str:
    if named.about is None:
        return ""
    return f"{_one_line(named.about.zh)}<br>{_one_line(named.about.en)}"


def _table(rows: Iterable[Reason], reasons: ReasonCatalog, items: dict[str, str]) -> list[str]:
    lines = [
        "| 代码 code | 含义 meaning | 环节 stage | DA/T 70 | 处理 remedy | 怎么办 what to do |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for reason in rows:
        remedy = reasons.remedies[reason.remedy]
        cells = [
            f"`{reason.code}`",
            f"**{_cell(reason.zh)}**<br>{_cell(reason.en)}",
            ", ".join(f"`{stage}`" for stage in reason.stages),
            "<br>".join(f"{item} {items[item]}" for item in reason.dat70),
            f"{remedy.zh}<br>{remedy.en}",
            f"{_cell(reason.action.zh)}<br>{_cell(reason.action.en)}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, its pipes escaped."""
    return _one_line(text).replace("|", "\\|")
