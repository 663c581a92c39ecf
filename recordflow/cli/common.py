"""What the verbs of `recordflow` share: the consoles, `--json`, `--deadline` and `--metrics-file`,
one-line failures, JSON output and the exit status of a held submission."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from recordflow.jsonvalues import json_ready

# Wide enough for a reference code and a title when the output goes to a file or a CI log.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(
        f"[red]error:[/] {message}", highlight=False, soft_wrap=True
    )  # one line, never wrapped
    return typer.Exit(code)


def print_json(value: Any) -> None:
    text = json.dumps(json_ready(value, content="omit"), ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")


def print_json_line(value: Any) -> None:
    """One JSON document on one line (JSON Lines), flushed: for a command that goes on running
    and prints a document per round."""
    sys.stdout.write(json.dumps(json_ready(value, content="omit"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


# sysexits.h EX_TEMPFAIL, which mail transfer agents return for a message queued for later: the
# submission is safe in the outbox and `recordflow outbox flush` will deliver it.
EXIT_HELD = 75

DeadlineOption = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0,
        help="Seconds to keep retrying while Kafka or S3 is unreachable "
        "(default: RECORDFLOW_SUBMIT_DEADLINE_S, 60).",
    ),
]

# For a command that runs and ends (docs/design.md, "Observability"): its findings as Prometheus
# series, in a file node_exporter's textfile collector reads or `curl --data-binary @FILE` pushes
# to a Pushgateway. The file is replaced whole (prometheus_client writes a copy, then renames it).
MetricsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--metrics-file",
        help="Also write what this run found as Prometheus metrics to this file (text format, "
        "for node_exporter's textfile collector or a Pushgateway).",
    ),
]
