"""`recordflow report transfer` on the real stack: what 市人民政府办公厅 (bgt) sent today — two
文书 and a photo archived (one flagged for review), one rejected for its 文种, one waiting for a
retention decision — is what its receiving register counts, as JSON and as a PDF."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pypdf

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests import media
from tests.examples import notice_metadata, photo_metadata
from tests.format_samples import pdf_bytes, pe_executable_bytes
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0


def test_the_register_of_what_an_agency_sent_today(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    settings = pipeline_settings
    notice = tmp_path / "防汛通知.pdf"
    notice.write_bytes(pdf_bytes())
    program = tmp_path / "附件程序.exe"  # archived, but its format fails YJ-3-2: flagged
    program.write_bytes(pe_executable_bytes())
    photo = media.photo_jpeg(tmp_path / "深南大道夜景.jpg")
    memo = tmp_path / "备忘录.pdf"
    memo.write_bytes(pdf_bytes(pages=1))
    submitter = Submitter(settings)
    try:
        ids = {
            "notice": submitter.submit("bgt", [FileToSubmit(notice)],
                                       notice_metadata("BGT-TR-1")),
            "program": submitter.submit("bgt", [FileToSubmit(program)],
                                        notice_metadata("BGT-TR-2", title="关于启用值班系统的通知")),
            "photo": submitter.submit("bgt", [FileToSubmit(photo)], photo_metadata("BGT-TR-3")),
            # The SDK would refuse it; sent anyway, intake rejects it: a dead letter.
            "bad type": submitter.submit("bgt", [FileToSubmit(notice)],
                                         notice_metadata("BGT-TR-4", document_type="布告"),
                                         validate=False),
            "memo": submitter.submit("bgt", [FileToSubmit(memo)], notice_metadata(
                "BGT-TR-5", document_type="备忘录", title="防汛值班工作备忘录")),
        }  # fmt: skip
    finally:
        submitter.close()
    event_ids = {name: receipt.event_id for name, receipt in ids.items()}
    codec = Codec.from_url(settings.schema_registry_url)
    outcomes = watch_outcomes(settings, codec, set(event_ids.values()), timeout_s=TIMEOUT_S)
    status = {name: outcomes[event_id] for name, event_id in event_ids.items()}
    assert {name: outcome.status for name, outcome in status.items()} == {
        "notice": "archived", "program": "archived", "photo": "archived", "bad type": "rejected",
        "memo": "review",
    }, status  # fmt: skip
    assert status["bad type"].reason == "unknown-document-type"
    flagged_code = str(status["program"].reference_code)
    records = [r for r in catalog(settings, codec).values() if r["agency"]["code"] == "bgt"]
    archived_bytes = sum(c["size_bytes"] for r in records for c in r["components"])
    assert archived_bytes == notice.stat().st_size + program.stat().st_size + photo.stat().st_size

    result = run_cli(settings, "report", "transfer", "--agency", "bgt", "--from", "today",
                     "--to", "today", "--by", "王档案", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    register = json.loads(result.stdout)
    assert register["agency"]["fonds_code"] == "Z101" and register["prepared_by"] == "王档案"
    assert register["totals"] == {"items": 3, "files": 3, "bytes": archived_bytes}
    assert {t["key"]: t["items"] for t in register["by_category"]} == {"WS": 2, "ZP": 1, "LY": 0}
    assert {t["key"]: t["items"] for t in register["by_retention"]} == {"Y": 1, "D30": 0, "D10": 2}
    # Per format, as the register stage identified each file: the photo's and the notice's
    # accepted, the program's not.
    identified = {r["event_id"]: r["formats"][0] for r in records}
    files = [identified[event_ids[name]] for name in ("notice", "program", "photo")]
    per_format = Counter((found["puid"], found["accepted"]) for found in files)
    assert {(f["puid"], f["accepted"]): f["files"] for f in register["by_format"]} == per_format
    accepted = {name: found["accepted"] for name, found in zip(("notice", "program", "photo"),
                                                                files, strict=True)}  # fmt: skip
    assert accepted == {"notice": True, "program": False, "photo": True}
    check = register["check"]
    assert (check["passed"], check["flagged"], check["failed_after_store"]) == (2, 1, 0)
    (flagged,) = check["records"]
    assert (flagged["reference_code"], flagged["title"]) == (flagged_code, "关于启用值班系统的通知")
    assert "YJ-3-2" in [finding["code"] for finding in flagged["findings"]]
    (rejected,) = register["dead_letters"]["by_reason"]
    assert (rejected["reason"], rejected["letters"], rejected["submissions"]) == (
        "unknown-document-type", 1, 1,
    )  # fmt: skip
    assert [item["document_id"] for item in register["pending_review"]] == ["BGT-TR-5"]

    other = run_cli(settings, "report", "transfer", "--agency", "zjj", "--from", "today",
                    "--to", "today", "--json")  # fmt: skip
    assert json.loads(other.stdout)["totals"]["items"] == 0  # the register is bgt's alone

    pdf = tmp_path / "登记表.pdf"
    printed = run_cli(settings, "report", "transfer", "--agency", "bgt", "--from", "today",
                      "--to", "today", "--pdf", str(pdf))  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    pages = pypdf.PdfReader(pdf).pages
    text = "\n".join(page.extract_text() for page in pages)
    for expected in ("电子档案移交与接收登记表", "市人民政府办公厅", "市档案馆", flagged_code,
                     "unknown-document-type", "防汛值班工作备忘录", "照片档案",
                     f"第 {len(pages)} 页 共 {len(pages)} 页"):  # fmt: skip
        assert expected in text, expected
