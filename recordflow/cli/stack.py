"""`recordflow stack up|down|status|logs`: the local stack of real servers (see stack.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from recordflow.localstack.replicated import BROKERS, replicated_settings
from recordflow.localstack.secure import secure_settings
from recordflow.localstack.service import StackError, tail
from recordflow.localstack.stack import SERVICES, ServiceStatus, Stack
from recordflow.settings import Settings

app = typer.Typer(
    help="The local stack: Kafka, schema registry, S3, Prometheus, the gateway and the console "
    "on 127.0.0.1.",
    no_args_is_help=True,
)

SERVICE_HELP = (
    f"One of {', '.join(SERVICES)}; with --brokers {BROKERS}, "
    f"{', '.join(f'kafka-{n}' for n in range(1, BROKERS + 1))} too."
)

Secure = Annotated[
    bool,
    typer.Option(
        "--secure",
        help="The secure profile: SASL/SCRAM Kafka with ACLs and an S3 server with IAM accounts, "
        "on ports of their own beside the plain stack (which keeps running).",
    ),
]

Brokers = Annotated[
    int,
    typer.Option(
        "--brokers",
        help=f"1, the plain stack; or {BROKERS}, the replicated profile: {BROKERS} Kafka brokers "
        "(replication factor 3, min.insync.replicas=2) on ports of their own, sharing the plain "
        "stack's schema registry and S3.",
    ),
]

console = Console()
errors = Console(stderr=True)


def _table(statuses: list[ServiceStatus]) -> Table:
    table = Table("service", "address", "state", "pid")
    for status in statuses:
        if status.healthy:
            state = "[green]up[/]" if status.running else "[green]up[/] (not started by recordflow)"
        else:
            state = "[yellow]starting or unhealthy[/]" if status.running else "[red]down[/]"
        table.add_row(status.service, status.address, state, str(status.pid or ""))
    return table


@app.command()
def up(secure: Secure = False, brokers: Brokers = 1) -> None:
    """Install what is missing, start what is not running, wait until everything is healthy."""
    try:
        statuses = _stack(secure, brokers, create=True).up(errors)
    except StackError as exc:
        # As Text, not markup: the message quotes log lines, which are full of [brackets].
        errors.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(_table(statuses))


@app.command()
def down(
    services: Annotated[
        list[str] | None, typer.Argument(metavar="[SERVICE]...", help="Only these; default all.")
    ] = None,
    purge: Annotated[
        bool,
        typer.Option(
            help="Also delete the servers' data, and the outbox that recorded what was sent."
        ),
    ] = False,
    secure: Secure = False,
    brokers: Brokers = 1,
) -> None:
    """Stop the servers `stack up` started (nothing else). Data is kept unless --purge."""
    try:
        stopped = _stack(secure, brokers).down(purge=purge, only=services or ())
    except StackError as exc:
        errors.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        console.print("data deleted")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for programs.")] = False,
    secure: Secure = False,
    brokers: Brokers = 1,
) -> None:
    """Show each server and whether it answers. Exit 1 unless all are healthy."""
    statuses = _stack(secure, brokers).status()
    if as_json:
        print(json.dumps([s.to_json() for s in statuses], indent=2))
    else:
        console.print(_table(statuses))
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


@app.command()
def logs(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help=SERVICE_HELP)],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    secure: Secure = False,
    brokers: Brokers = 1,
) -> None:
    """Print the end of a server's log."""
    stack = _stack(secure, brokers)
    try:
        log_file = stack.service(service).log_file
    except StackError as exc:
        raise typer.BadParameter(str(exc), param_hint="SERVICE") from exc
    if not log_file.exists():
        errors.print(f"no log yet: {log_file}")
        raise typer.Exit(1)
    text = tail(log_file, lines)
    if text:
        print(text, flush=True)
    if follow:
        _follow(log_file)


def _stack(secure: bool, brokers: int, *, create: bool = False) -> Stack:
    """The plain stack; with `secure` the secure profile beside it (signed in as its admin;
    `create` generates the profile's credentials the first time); with `brokers` 3 the
    replicated profile."""
    if brokers not in (1, BROKERS):
        raise typer.BadParameter(f"1 or {BROKERS}, not {brokers}", param_hint="--brokers")
    if secure and brokers != 1:
        raise typer.BadParameter("the secure profile has one broker", param_hint="--brokers")
    plain = Settings()
    if secure:
        return Stack(secure_settings(plain, create=create))
    return Stack(replicated_settings(plain) if brokers == BROKERS else plain)


def _follow(log_file: Path) -> None:
    with log_file.open("rb") as f:
        f.seek(0, os.SEEK_END)
        try:
            while True:
                chunk = f.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            return
