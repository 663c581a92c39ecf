"""`recordflow submit`: a document and its attachments to the archives, through the producer's
outbox, as the producer SDK does.

Exit status 75 when the submission is held in the outbox for later delivery (`recordflow outbox
flush`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from recordflow.cli.common import (
    EXIT_HELD,
    DeadlineOption,
    JsonFlag,
    console,
    err,
    fail,
    print_json,
)
from recordflow.errors import SubmitError
from recordflow.settings import Settings


def submit(
    agency: Annotated[
        str, typer.Option("--agency", help="Agency code from `recordflow agencies list`.")
    ],
    metadata: Annotated[
        Path, typer.Option("--metadata", help="JSON file with the record's metadata.")
    ],
    files: Annotated[list[Path], typer.Argument(help="The main document first, then attachments.")],
    deadline: DeadlineOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Submit a document (and attachments) to the archives, as the producer SDK does.

    The submission goes through the outbox (RECORDFLOW_OUTBOX_DIR): once accepted it is safe
    there, whatever happens to the files given. If Kafka or S3 stays unreachable past the
    deadline, it is held there (exit status 75) and `recordflow outbox flush` delivers it later.
    """
    from connectors.outbox import Outbox, OutboxError, SubmissionHeld
    from connectors.sdk import FileToSubmit, Submitter

    try:
        meta = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read metadata {metadata}: {exc}", 2) from exc
    if not isinstance(meta, dict):
        raise fail(f"{metadata} must hold a JSON object", 2)
    for path in files:
        if not path.is_file():
            raise fail(f"{path}: no such file", 2)
    settings = Settings()
    try:
        with Outbox(settings.outbox_path) as outbox:
            submitter = Submitter(settings, outbox=outbox)
            try:
                receipt = submitter.submit(
                    agency, [FileToSubmit(path) for path in files], meta, deadline_s=deadline
                )
            finally:
                submitter.close()
    except SubmissionHeld as exc:
        entry = exc.entry
        if as_json:
            print_json({"status": "held", "reason": exc.reason, "outbox": str(settings.outbox_path),
                        **entry.as_json()})  # fmt: skip
        err.print(
            f"[yellow]held:[/] 已存入发件箱 {entry.document_id} (event {entry.event_id}) is held "
            f"in the outbox, not yet delivered ({exc.reason}); `recordflow outbox flush` delivers "
            "it when Kafka and S3 are back",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        raise typer.Exit(EXIT_HELD) from exc
    except (SubmitError, OutboxError) as exc:
        raise fail(str(exc)) from exc
    result = receipt.as_json()
    if as_json:
        print_json({"status": "delivered", **result})
        return
    if receipt.already_delivered:
        console.print(f"[green]已提交 submitted earlier[/] event {result['event_id']} → "
                      f"{result['topic']} partition {result['partition']} offset {result['offset']}; "
                      "the outbox had delivered this very document, nothing was sent again")  # fmt: skip
    else:
        console.print(f"[green]已提交 submitted[/] event {result['event_id']} → {result['topic']} "
                      f"partition {result['partition']} offset {result['offset']}")  # fmt: skip
    for file in result["files"]:
        console.print(f"  {file['file_name']}  {file['size_bytes']} B  sha256 {file['sha256']}")


def register(app: typer.Typer) -> None:
    app.command()(submit)
