"""`recordflow topics …`: reconcile the Kafka cluster with the topic catalog in `topics/`, or
render the catalog as Strimzi's resources for its operators to apply."""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.agency_registry import current_registry
from connectors.readback import KafkaUnreachable, ReadError
from recordflow.agencies import load_registry
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S
from topics.catalog import CatalogError
from topics.reconcile import (
    CONFLICT,
    PRODUCTION_REPLICATION_FACTOR,
    Change,
    ReconcileError,
    reconcile,
)
from topics.strimzi import DEFAULT_CLUSTER, StrimziError, check_options, to_yaml
from topics.strimzi import render as render_strimzi

app = typer.Typer(no_args_is_help=True, add_completion=False)

ACTION_STYLES = {
    "create": "green",
    "alter-config": "yellow",
    "add-partitions": "cyan",
    "add-acl": "magenta",
    CONFLICT: "bold red",
}


@app.callback()
def topics() -> None:
    """The topic catalog (topics/catalog/*.yaml) and the cluster / 主题目录与集群同步."""


@app.command()
def apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as a JSON list.")] = False,
    replication_factor: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="RECORDFLOW_TOPIC_REPLICATION_FACTOR",
            help="Replication factor for every topic; default: one per broker, up to 3 (1 on the "
            "local stack).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for Kafka on each request.")
    ] = KAFKA_TIMEOUT_S,
) -> None:
    """Create missing topics, set differing configs, add partitions and, on a cluster with an
    authorizer, the ACLs derived from the agency registry. Never deletes anything."""
    settings = Settings()
    try:
        # The live registry (onboarded agencies' topics and ACLs too), asked as patiently as
        # the reconciler asks Kafka.
        registry = current_registry(settings.model_copy(update={"read_deadline_s": timeout}))
        changes = reconcile(settings, registry=registry, dry_run=dry_run,
                            replication_factor=replication_factor, timeout=timeout)  # fmt: skip
    except KafkaUnreachable as exc:
        Console(stderr=True).print(f"[red]topics apply failed:[/red] cannot reach Kafka: {escape(str(exc))}",
                                   highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(1) from exc
    except (ReconcileError, CatalogError, ReadError) as exc:
        message = " ".join(str(exc).split())
        Console(stderr=True).print(
            f"[red]topics apply failed:[/red] {escape(message)}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps([change.as_dict() for change in changes], ensure_ascii=False))
        return
    _print_plan(changes, dry_run=dry_run)


def _print_plan(changes: list[Change], *, dry_run: bool) -> None:
    console = Console()
    if not changes:
        console.print("The cluster matches the catalog; nothing to change.")
        return
    title = "Topic plan (dry run: nothing applied)" if dry_run else "Topic changes applied"
    table = Table(title=title)
    table.add_column("action")
    table.add_column("topic", overflow="fold")
    table.add_column("detail")
    for change in changes:
        style = ACTION_STYLES.get(change.action, "")
        table.add_row(f"[{style}]{change.action}[/{style}]", change.topic, change.detail)
    console.print(table)
    conflicts = sum(change.action == CONFLICT for change in changes)
    if conflicts:
        console.print(f"[bold red]{conflicts} conflict(s)[/bold red] need a person; see above.")


render_app = typer.Typer(no_args_is_help=True, add_completion=False)
app.add_typer(render_app, name="render")


@render_app.callback()
def render() -> None:
    """The catalog and its ACLs as another tool's resources, printed, not applied."""


@render_app.command()
def strimzi(
    cluster: Annotated[
        str, typer.Option(help="The Kafka resource's name (the strimzi.io/cluster label).")
    ] = DEFAULT_CLUSTER,
    replication_factor: Annotated[
        int, typer.Option(help="Replication factor for every topic (a production cluster's).")
    ] = PRODUCTION_REPLICATION_FACTOR,
    namespace: Annotated[
        str | None,
        typer.Option(help="The namespace the Topic and User Operators watch; none: kubectl's."),
    ] = None,
) -> None:
    """KafkaTopics and KafkaUsers (kafka.strimzi.io/v1, Strimzi 0.49 or later) for what
    `topics apply` would make: every catalog topic, and each principal's SCRAM user with its
    ACLs. Reads the agency registry file (RECORDFLOW_AGENCIES_FILE), not Kafka."""
    settings = Settings()
    try:
        check_options(cluster, namespace, replication_factor)
    except StrimziError as exc:
        _fail("topics render strimzi", str(exc), status=2)
    try:
        registry = load_registry(settings.agencies_file)
        objects = render_strimzi(settings, registry, cluster=cluster, namespace=namespace,
                                 replication_factor=replication_factor)  # fmt: skip
    except (StrimziError, CatalogError) as exc:
        _fail("topics render strimzi", str(exc), status=1)
    typer.echo(to_yaml(objects), nl=False)


def _fail(command: str, message: str, *, status: int) -> NoReturn:
    Console(stderr=True).print(f"[red]{command} failed:[/red] {escape(' '.join(message.split()))}",
                               highlight=False, soft_wrap=True)  # fmt: skip
    raise typer.Exit(status)
