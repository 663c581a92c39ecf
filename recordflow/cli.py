"""The `recordflow` console script: one CLI, a verb per job (see DESIGN.md, "CLI").

Exit status: 0 on success, 1 on failure, 2 on a usage error, 75 when a submission is held in the
producer's outbox for later delivery (`submit`, `outbox flush`). Human output by default,
`--json` where a program reads it.
"""

from __future__ import annotations

import logging

import typer

from recordflow.settings import Settings

app = typer.Typer(
    name="recordflow",
    help="City-wide electronic-records transfer platform / 城市电子文件归档接收平台",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def settings() -> Settings:
    return Settings()


def _register_subcommands() -> None:
    from recordflow import (
        commands,
        commands_deadletters,
        commands_outbox,
        commands_stack,
        commands_topics,
    )

    app.add_typer(commands_stack.app, name="stack")
    app.add_typer(commands_topics.app, name="topics")
    app.add_typer(commands_deadletters.app, name="deadletters")
    app.add_typer(commands_outbox.app, name="outbox")
    commands.register(app)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _register_subcommands()
    app()
