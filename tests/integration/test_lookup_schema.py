"""schemathesis against a live lookup service: whatever it generates from the OpenAPI document
(query parameters, path parameters, as staff and as the public), the service never answers 5xx,
and its answers fit the document (problem+json refusals included)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from connectors.lookup.tokens import STAFF, issue
from recordflow.localstack.lookup import running_lookup
from recordflow.settings import Settings

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
STAFF_KEY = "lookup-schema-test-staff-key-0123456789abcdef"


def fuzz(url: str, tmp_path: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCHEMATHESIS), "run", f"{url}/openapi.json",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
         *(part for header in headers for part in ("--header", header)),
         "--max-examples", "40", "--seed", "20261207", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache stays there
    )  # fmt: skip


def test_no_server_error_for_any_generated_input(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    settings = pipeline_settings.model_copy(update={
        "lookup_data_dir": tmp_path / "lookup", "lookup_staff_token_key": SecretStr(STAFF_KEY),
    })  # fmt: skip
    with running_lookup(settings) as url:
        token = issue(STAFF_KEY, STAFF, "fuzz", 600)
        for result in (fuzz(url, tmp_path), fuzz(url, tmp_path, f"Authorization: Bearer {token}")):
            assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
            generated = re.search(r"(\d+) generated", result.stdout)
            assert generated is not None and int(generated[1]) > 50, result.stdout[-2000:]
