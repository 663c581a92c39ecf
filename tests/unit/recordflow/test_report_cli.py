"""`recordflow report transfer` without a server: usage errors are one line and exit 2 before any
topic is read, and the register the connectors would build reaches the terminal, the JSON, the
HTML page and the PDF (the reading itself is tests/integration/test_transfer_register.py's)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pypdf
import pytest
from typer.testing import CliRunner

import connectors.agency_registry
import connectors.transfer_register
from archival.transfer_register.build import Labels, Period, TransferRegister, build_register
from avro_schemas.codec import Codec
from recordflow.agencies import Agency, Archives, load_registry
from recordflow.cli import report
from recordflow.settings import Settings
from tests.examples import archival_record

SETTINGS = Settings()
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """No Kafka: the installed registry, and a register built from one archived record of zjj
    (2026-04-02 CST). Returns the calls the CLI made to read the topics."""
    monkeypatch.setenv("RECORDFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # would fail if asked
    calls: list[dict[str, Any]] = []

    def registry(settings: Settings) -> Any:
        return load_registry(settings.agencies_file)

    def read(settings: Settings, codec: Codec, *, agency: Agency, archives: Archives,
             period: Period, prepared_by: str | None,
             produced_at: dt.datetime) -> TransferRegister:  # fmt: skip
        calls.append({"agency": agency.code, "period": period, "prepared_by": prepared_by})
        return build_register(
            [archival_record()], [], [], agency=agency, archives=archives, period=period,
            labels=Labels.load(settings.metadata_rules_file, settings.checks_file),
            prepared_by=prepared_by, produced_at=produced_at,
        )  # fmt: skip

    monkeypatch.setattr(connectors.agency_registry, "current_registry", registry)
    monkeypatch.setattr(connectors.transfer_register, "transfer_register", read)
    return calls


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-13-01", "--to", "2026-12-31"], "--from '2026-13-01' is not a date (YYYY-MM-DD, or today)"),
    (["--from", "2026-01-01", "--to", "31.12.2026"], "--to '31.12.2026' is not a date (YYYY-MM-DD, or today)"),
    (["--from", "2026-12-31", "--to", "2026-01-01"], "--from 2026-12-31 is after --to 2026-01-01"),
    (["--from", "2026-01-01", "--to", "2026-12-31", "--agency", "xyz"],
     "unknown agency 'xyz'; registered: bdc, bgt, fy, zjj, zwfw"),
])  # fmt: skip
def test_a_bad_argument_is_one_line_and_exit_2(
    args: list[str], message: str, offline: list[dict[str, Any]]
) -> None:
    agency = [] if "--agency" in args else ["--agency", "zjj"]
    result = CliRunner().invoke(report.app, ["transfer", *agency, *args])
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == f"error: {message}"
    assert result.output.strip().count("\n") == 0
    assert offline == []  # no topic was read


def test_a_missing_font_is_told_before_any_topic_is_read(
    offline: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECORDFLOW_REPORT_FONT_FILE", str(tmp_path / "none.ttc"))
    result = CliRunner().invoke(report.app, ["transfer", "--agency", "zjj", "--from", "today",
                                             "--to", "today", "--pdf", str(tmp_path / "r.pdf")])  # fmt: skip
    assert result.exit_code == 1
    assert "apt-get install fonts-wqy-zenhei" in result.output
    assert result.output.strip().count("\n") == 0
    assert offline == [] and not (tmp_path / "r.pdf").exists()


def test_json_for_programs(offline: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(report.app, ["transfer", "--agency", "zjj", "--from", "2026-04-02",
                                             "--to", "2026-04-02", "--by", "王档案", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"] == {"items": 1, "files": 1, "bytes": 48213}
    assert data["prepared_by"] == "王档案"
    assert offline == [{"agency": "zjj", "prepared_by": "王档案",
                        "period": Period(dt.date(2026, 4, 2), dt.date(2026, 4, 2))}]  # fmt: skip


def test_today_is_the_day_in_china_standard_time(offline: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        report.app, ["transfer", "--agency", "bgt", "--from", "today", "--to", "today", "--json"]
    )
    assert result.exit_code == 0, result.output
    today = dt.datetime.now(CST).date()
    assert offline[0]["period"] in (Period(today, today), Period(today - dt.timedelta(1), today))
    assert json.loads(result.stdout)["totals"]["items"] == 0  # the record is zjj's


def test_html_and_pdf_files_and_the_terminal_summary(
    offline: list[dict[str, Any]], tmp_path: Path
) -> None:
    args = ["transfer", "--agency", "zjj", "--from", "2026-01-01", "--to", "2026-12-31"]
    written = CliRunner().invoke(report.app, [*args, "--html", str(tmp_path / "r.html"),
                                              "--pdf", str(tmp_path / "r.pdf")])  # fmt: skip
    assert written.exit_code == 0, written.output
    assert "已写入 written (HTML)" in written.output and "已写入 written (PDF)" in written.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "fmt/354" in page and "47.1 KiB (48,213 B)" in page
    pages = pypdf.PdfReader(tmp_path / "r.pdf").pages
    assert "电子档案移交与接收登记表" in pages[0].extract_text()
    shown = CliRunner().invoke(report.app, args)
    assert shown.exit_code == 0, shown.output
    for text in ("电子档案移交与接收登记表", "市住房和城乡建设局 (zjj)", "2026-01-01 至 2026-12-31",
                 "47.1 KiB (48,213 B)", "D30 定期30年", "fmt/354", "真实性 authenticity"):  # fmt: skip
        assert text in shown.output, text
    unwritable = CliRunner().invoke(report.app, [*args, "--html", str(tmp_path / "no" / "r.html")])
    assert unwritable.exit_code == 1
    assert unwritable.output.startswith("error: cannot write ")
