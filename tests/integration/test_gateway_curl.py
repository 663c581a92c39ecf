"""The gateway called by curl (tests/integration/gateway_curl.sh), as a Java or .NET system's
HTTP client would call it: one-step, a retry, two-step, status, 401."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from connectors.gateway import credentials
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.gateway_harness import PDF, ingest_events, running_gateway, wait_accepted

SCRIPT = Path(__file__).with_name("gateway_curl.sh")


def test_curl_end_to_end(pipeline_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "notice.json").write_text(json.dumps(notice_metadata("CURL-1"), ensure_ascii=False),
                                          encoding="utf-8")  # fmt: skip
    (tmp_path / "upload.json").write_text(json.dumps(notice_metadata("CURL-2"), ensure_ascii=False),
                                          encoding="utf-8")  # fmt: skip
    (tmp_path / "通知.pdf").write_bytes(PDF)
    with running_gateway(pipeline_settings) as url:
        _, token = credentials.issue(pipeline_settings, "bgt")
        wait_accepted(url, token)
        result = subprocess.run(["sh", str(SCRIPT), url, token, str(tmp_path)],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    one_step, two_step = result.stdout.split()
    events = {event["event_id"]: event for event in ingest_events(pipeline_settings, "bgt")}
    assert set(events) == {one_step, two_step}
    assert events[one_step]["document_id"] == "CURL-1"
    assert events[two_step]["document_id"] == "CURL-2"
    for event in events.values():
        (component,) = event["components"]
        assert component["file_name"] == "通知.pdf"
        assert component["mime_type"] == "application/pdf"
