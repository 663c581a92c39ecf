"""The `recordflow` console script: one CLI, a verb per job (docs/design.md, "CLI").

Exit status: 0 on success, 1 on failure (one line on stderr, whatever failed), 2 on a usage
error, 75 when a submission is held in the producer's outbox for later delivery (`submit`,
`outbox flush`). Human output by default, `--json` where a program reads it.
"""

from __future__ import annotations

import logging
import os
import sys

import typer
from pydantic import ValidationError

app = typer.Typer(
    name="recordflow",
    help="City-wide electronic-records transfer platform / 城市电子文件归档接收平台",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_subcommands() -> None:
    from recordflow.cli import (
        agencies,
        bench,
        buckets,
        console,
        credentials,
        deadletters,
        demo,
        export,
        gateway,
        imports,
        lookup,
        outbox,
        reasons,
        records,
        report,
        review,
        stack,
        submit,
        topics,
        verify,
        worker,
    )

    app.add_typer(stack.app, name="stack")
    app.add_typer(topics.app, name="topics")
    app.add_typer(buckets.app, name="buckets")
    app.add_typer(deadletters.app, name="deadletters")
    app.add_typer(outbox.app, name="outbox")
    app.add_typer(agencies.app, name="agencies")
    agencies.app.add_typer(credentials.app, name="credentials")
    app.add_typer(records.app, name="records")
    app.add_typer(review.app, name="review")
    app.add_typer(report.app, name="report")
    app.add_typer(export.app, name="export")
    app.add_typer(imports.app, name="import")
    app.add_typer(console.app, name="console")
    app.add_typer(lookup.app, name="lookup")
    submit.register(app)
    worker.register(app)
    verify.register(app)
    demo.register(app)
    bench.register(app)
    reasons.register(app)
    gateway.register(app)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _register_subcommands()
    # Click's own entry point, not Typer's: Typer's marks every exception with an attribute, which
    # fails on frozen ones (minio's S3Error) and hides the real error behind an AttributeError.
    command = typer.main.get_command(app)
    try:
        command(prog_name="recordflow")
    except Exception as exc:  # the last boundary: what no verb foresaw is one line, not a trace
        if os.environ.get("RECORDFLOW_TRACEBACK"):
            raise
        message = (
            validation_message(exc)
            if isinstance(exc, ValidationError)
            else " ".join(str(exc).split()) or "(no message)"
        )
        print(f"error: {type(exc).__name__}: {message} (RECORDFLOW_TRACEBACK=1 shows where)",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)


def validation_message(exc: ValidationError) -> str:
    """What is wrong with the settings (or another model), field by field, without the values
    given: pydantic's own text repeats every input, the Kafka SASL password among them."""
    return f"{exc.title}: " + "; ".join(
        ": ".join(
            part
            for part in (
                ".".join(str(loc) for loc in error["loc"]),
                error["msg"].removeprefix("Value error, "),
            )
            if part
        )
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    )
