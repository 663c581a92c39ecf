"""The reason codes (recordflow/reasons.yaml): every code the code base can give is listed, every
listed code is given somewhere, the catalog is checked as it loads, docs/reason-codes.md is the
generated page and `recordflow reasons` prints what programs can read."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from archival.metadata import load_metadata_rules
from archival.reasons import (
    CHECKS_FILE,
    DOC_PATH,
    GENERATE_COMMAND,
    REASONS_FILE,
    ReasonCatalog,
    catalog,
    check_items,
    load_reasons,
    render_markdown,
)

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("archival", "streams", "topics", "connectors", "avro_schemas", "recordflow")
METADATA_RULES = ROOT / "recordflow" / "metadata_rules.yaml"
# Exceptions whose first argument is a reason code (HttpProblem: the HTTP doors' problem+json
# answers; LinkProblem: a problem in the digitization import's linking report; PackageProblem:
# what reading a transfer package found, archival/packages/; TokenRefused: a lookup token the
# service does not trust, connectors/lookup/tokens.py); Failure
# (connectors/failures.py) takes it second.
REASON_FIRST = frozenset(
    {
        "RecordRejected",
        "Parked",
        "CodecError",
        "HttpProblem",
        "LinkProblem",
        "PackageProblem",
        "TokenRefused",
    }
)
FAILURE = "Failure"
FAILURES_MODULE = "connectors.failures"
# Outcomes an agency sees that are not dead letters, and the file that gives each.
REVIEW_OUTCOMES = {"retention-undecided": ROOT / "connectors" / "readback.py"}


# --- what the code base gives ------------------------------------------------------------------
def _failure_names(tree: ast.Module, module: str) -> set[str]:
    """The names under which a module calls connectors.failures.Failure: the SDK has a Failure of
    its own, whose second argument is a sentence, not a code."""
    if module == FAILURES_MODULE:
        return {FAILURE}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == FAILURES_MODULE:
            names |= {alias.asname or alias.name for alias in node.names if alias.name == FAILURE}
    return names


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def scan_code() -> tuple[dict[str, list[str]], list[str]]:
    """Codes given by a literal in a call to RecordRejected, Parked, CodecError or Failure, each
    with where; and the calls whose code is neither a literal nor passed on from an object that
    carries one (`exc.reason`, `rule.reason` …), which no scan can read."""
    given: dict[str, list[str]] = defaultdict(list)
    unreadable: list[str] = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            module = ".".join(relative.with_suffix("").parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(relative))
            failure_names = _failure_names(tree, module)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = _called(node)
                if name in REASON_FIRST:
                    position = 0
                elif name in failure_names and isinstance(node.func, ast.Name):
                    position = 1
                else:
                    continue
                argument = next((kw.value for kw in node.keywords if kw.arg == "reason"), None)
                if argument is None and len(node.args) > position:
                    argument = node.args[position]
                where = f"{relative}:{node.lineno}"
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    given[argument.value].append(where)
                elif not (isinstance(argument, ast.Attribute) and argument.attr == "reason"):
                    shown = ast.unparse(argument) if argument is not None else "(none)"
                    unreadable.append(f"{where} {name}({shown}, …)")
    return dict(given), unreadable


def _reason_values(node: Any) -> set[str]:
    """Every `reason:` value anywhere in a YAML document."""
    if isinstance(node, dict):
        found = {str(node["reason"])} if "reason" in node else set()
        for value in node.values():
            found |= _reason_values(value)
        return found
    if isinstance(node, list):
        return set().union(*(_reason_values(item) for item in node)) if node else set()
    return set()


def metadata_rule_codes() -> set[str]:
    """The metadata rules' codes: the `reason:` keys of the file, and those the loaded rules fill
    in by default (max_length's value-too-long)."""
    written = _reason_values(yaml.safe_load(METADATA_RULES.read_text(encoding="utf-8")))
    rules = load_metadata_rules(METADATA_RULES)
    loaded = {
        *(refusal.reason for refusal in rules.refused),
        *(rule.reason for rule in rules.required),
        *(limit.reason for limit in rules.max_length),
        *(domain.reason for domain in rules.value_domains.values()),
        *(domain.reason for domain in rules.entity_domains.values()),
        *(domain.reason for domain in rules.event_domains.values()),
        *(conditional.reason for conditional in rules.conditional),
    }
    return written | loaded


def given_codes() -> set[str]:
    in_code, _ = scan_code()
    return set(in_code) | metadata_rule_codes() | set(REVIEW_OUTCOMES)


def test_every_code_the_code_base_gives_is_listed() -> None:
    missing = sorted(given_codes() - set(catalog().codes))
    in_code, _ = scan_code()
    assert not missing, "codes given but not in recordflow/reasons.yaml: " + "; ".join(
        f"{code} ({', '.join(in_code.get(code, ['metadata_rules.yaml']))})" for code in missing
    )


def test_every_listed_code_is_given_somewhere() -> None:
    stale = sorted(set(catalog().codes) - given_codes())
    assert not stale, f"codes in recordflow/reasons.yaml that nothing gives any more: {stale}"


def test_every_code_is_read_from_a_literal_or_passed_on() -> None:
    _, unreadable = scan_code()
    assert not unreadable, (
        "reason codes the scan cannot read (write the code as a literal, or pass on `x.reason`): "
        + "; ".join(unreadable)
    )


def test_review_outcomes_are_given_where_said() -> None:
    for code, path in REVIEW_OUTCOMES.items():
        assert f'"{code}"' in path.read_text(encoding="utf-8"), f"{code} not in {path}"
        listed = catalog().get(code)
        assert listed is not None and listed.kind == ["review"], code


def test_the_scan_sees_each_kind_of_call() -> None:
    """The scan is not vacuous: it finds a code of each source the issue names."""
    in_code, _ = scan_code()
    assert any(where.startswith("archival/metadata.py") for where in in_code["unknown-agency"])
    assert any(where.startswith("avro_schemas/codec.py") for where in in_code["not-avro"])
    assert any(where.startswith("connectors/failures.py") for where in in_code["s3-refused"])
    assert any(where.startswith("connectors/storage.py") for where in in_code["payload-missing"])
    assert {"classified-not-accepted", "title-too-long", "value-too-long"} <= metadata_rule_codes()


# --- the catalog -------------------------------------------------------------------------------
def test_failure_codes_say_what_the_taxonomy_does() -> None:
    """connectors/failures.py: its transient codes are waited out; its permanent ones after
    numbering (streams/resilience.py retry_until_done) park the record."""
    failures = ROOT / "connectors" / "failures.py"
    tree = ast.parse(failures.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == FAILURE and len(node.args) >= 2:
            kind, code = node.args[0], node.args[1]
            assert isinstance(kind, ast.Name) and isinstance(code, ast.Constant)
            listed = catalog().get(str(code.value))
            assert listed is not None
            if kind.id == "TRANSIENT":
                assert listed.kind == ["transient"], code.value
            else:
                assert "rejected" in listed.kind and listed.remedy == "replay", code.value


def test_dat70_items_are_check_items() -> None:
    items = check_items(CHECKS_FILE)
    assert "YJ-1-1" in items
    for reason in catalog().reasons:
        assert set(reason.dat70) <= set(items), reason.code


def _catalog_data() -> dict[str, Any]:
    data = yaml.safe_load(REASONS_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _with_reason(**changes: Any) -> dict[str, Any]:
    data = _catalog_data()
    data["reasons"] = [{**data["reasons"][0], **changes}]
    return data


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_with_reason(code="Not_A_Code"), "code"),
        (_with_reason(code="-dash"), "code"),
        (_with_reason(colour="red"), "colour"),
        (_with_reason(kind=[]), "kind"),
        (_with_reason(kind=["lost"]), "kind"),
        (_with_reason(kind=["rejected", "rejected"]), "twice"),
        (_with_reason(kind=["transient", "rejected"], remedy="wait"), "cannot go with"),
        (_with_reason(kind=["transient"], remedy="replay"), "cannot mend"),
        (_with_reason(kind=["rejected", "parked"], remedy="resubmit"), "cannot mend"),
        (_with_reason(stages=["nowhere"]), "nowhere"),
        (_with_reason(dat70=["GD-1-1"]), "dat70"),
        (_with_reason(remedy="pray"), "remedy"),
        (_with_reason(action={"zh": "重新提交"}), "action.en"),
        (_with_reason(zh=""), "zh"),
    ],
)
def test_a_bad_entry_is_refused(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ReasonCatalog.model_validate(data)


def test_a_code_given_twice_is_refused() -> None:
    data = _catalog_data()
    data["reasons"] = [data["reasons"][0], data["reasons"][0]]
    with pytest.raises(ValueError, match="given twice"):
        ReasonCatalog.model_validate(data)


def test_an_undescribed_kind_is_refused() -> None:
    data = _catalog_data()
    del data["kinds"]["parked"]
    with pytest.raises(ValueError, match="kinds must describe parked"):
        ReasonCatalog.model_validate(data)


def test_an_unknown_check_item_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reasons.yaml"
    path.write_text(yaml.safe_dump(_with_reason(dat70=["YJ-4-9"]), allow_unicode=True), "utf-8")
    with pytest.raises(ValueError, match="YJ-4-9 is not an item"):
        load_reasons(path)


def test_the_s3_codes_fit_the_code_pattern() -> None:
    """The pattern takes the digits of codes given since the start (s3-refused)."""
    assert {"s3-refused", "s3-unavailable"} <= set(catalog().codes)


def test_the_page_is_the_generated_one() -> None:
    page = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert page == render_markdown(), (
        f"{DOC_PATH} is not what recordflow/reasons.yaml generates: run `{GENERATE_COMMAND}`"
    )


def test_the_page_lists_every_code_once() -> None:
    page = render_markdown()
    assert "do not edit by hand" in page.splitlines()[4]
    for code in catalog().codes:
        assert page.count(f"| `{code}` |") == 1, code


def _recordflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "recordflow", *args],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_the_cli_prints_json_programs_can_read() -> None:
    result = _recordflow("reasons", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert [entry["code"] for entry in printed] == catalog().codes
    missing = next(entry for entry in printed if entry["code"] == "payload-missing")
    assert missing["remedy"] == "replay"
    assert missing["kind"] == ["rejected"]
    assert missing["action"]["zh"] and missing["action"]["en"]


def test_the_cli_prints_the_page_and_a_table() -> None:
    page = _recordflow("reasons", "--markdown")
    assert page.returncode == 0, page.stderr
    assert page.stdout == render_markdown()
    table = _recordflow("reasons")
    assert table.returncode == 0, table.stderr
    assert "checksum-mismatch" in table.stdout
    assert "文件摘要值与声明不符" in table.stdout
    both = _recordflow("reasons", "--json", "--markdown")
    assert both.returncode == 2
