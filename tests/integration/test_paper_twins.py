"""The dual set (双套制, issue 15) on the real stack: an electronic record filed as waiting for
its paper twin is listed by `records list --awaiting-paper` until staff register the twin with
`records pair`; a second, different twin is refused in one line; a single-set agency's record
cannot wait for one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from avro_schemas.codec import Codec
from connectors.readback import watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.errors import SubmitError
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0
AWAITING = {"medium": "electronic", "awaiting_counterpart": True}


def test_a_record_waits_for_its_paper_twin_until_staff_register_it(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "通知.pdf"
    path.write_bytes(b"%PDF-1.4 " + os.urandom(1024))
    submitter = Submitter(pipeline_settings)
    event_id = submitter.submit("bgt", [FileToSubmit(path)],
                                notice_metadata("BGT-TWIN-1", carrier=AWAITING)).event_id  # fmt: skip
    with pytest.raises(SubmitError, match="zwfw files single-set"):
        submitter.submit("zwfw", [FileToSubmit(path)],
                         notice_metadata("ZWFW-TWIN-1", responsible_party="市政务服务数据管理局",
                                         carrier=AWAITING))  # fmt: skip
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    code = watch_outcomes(pipeline_settings, codec, {event_id}, timeout_s=TIMEOUT_S)[
        event_id
    ].reference_code
    assert code is not None

    def waiting() -> list[str]:
        listed = run_cli(pipeline_settings, "records", "list", "--awaiting-paper", "--json")
        assert listed.returncode == 0, listed.stderr
        return [r["reference_code"] for r in json.loads(listed.stdout)]

    assert waiting() == [code]
    paired = run_cli(pipeline_settings, "records", "pair", code, "--paper", "Z101-WS·2026-D10-BGS-0901",
                     "--by", "王档案", "--json")  # fmt: skip
    assert paired.returncode == 0, paired.stderr
    record = json.loads(paired.stdout)
    assert record["carrier"]["counterpart_code"] == "Z101-WS·2026-D10-BGS-0901"
    assert record["carrier"]["awaiting_counterpart"] is False
    assert record["provenance"][-1]["agent"] == "archive-staff:王档案"
    assert waiting() == []
    again = run_cli(pipeline_settings, "records", "pair", code, "--paper", "Z101-WS·2026-D10-BGS-0901",
                    "--by", "王档案")  # fmt: skip
    assert again.returncode == 0, again.stderr  # the same twin again: nothing changes
    other = run_cli(pipeline_settings, "records", "pair", code, "--paper", "Z101-WS·2026-D10-BGS-0902",
                    "--by", "李档案")  # fmt: skip
    assert other.returncode == 1 and other.stderr.count("\n") == 1
    assert f"{code} is already paired with Z101-WS·2026-D10-BGS-0901" in other.stderr
