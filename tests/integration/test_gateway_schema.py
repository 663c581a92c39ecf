"""schemathesis against a live gateway: whatever it generates from the OpenAPI document (bodies,
parameters, headers, with a valid token and without), the gateway never answers 5xx, and its
answers fit the document."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from connectors.gateway import credentials
from recordflow.settings import Settings
from tests.integration.gateway_harness import running_gateway, wait_accepted

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_no_server_error_for_any_generated_input(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    settings = pipeline_settings.model_copy(
        update={"gateway_rate_per_s": 10_000.0, "gateway_rate_burst": 10_000}  # fuzz, not throttle
    )
    with running_gateway(settings) as url:
        _, token = credentials.issue(settings, "bgt")
        wait_accepted(url, token)
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{url}/openapi.json",
             "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
             "--header", f"Authorization: Bearer {token}", "--max-examples", "40",
             "--seed", "20261207", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache stays there
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated is not None and int(generated[1]) > 100, result.stdout[-2000:]
