"""The layer contracts of pyproject.toml ([tool.importlinter]) hold: each layer imports only the
ones below it, the archival domain imports no Kafka, S3, HTTP or faust library, and no package's
modules import each other in a circle (docs/design.md, "Layers")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_layer_contracts_are_kept() -> None:
    result = subprocess.run(
        [Path(sys.executable).parent / "lint-imports", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "0 broken" in result.stdout
