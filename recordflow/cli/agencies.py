"""`recordflow agencies list | onboard | offboard`: the agency registry (recordflow/agencies.yaml
and the agencies onboarded since, on recordflow.agencies.v1) and everything derived from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, fail, print_json
from recordflow.settings import Settings

if TYPE_CHECKING:
    from connectors.onboarding import Step

app = typer.Typer(help="The agency registry / 立档单位名录", no_args_is_help=True)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
Secure = Annotated[
    bool,
    typer.Option("--secure", help="On the local stack's secure profile, signed in as its admin."),
]


@app.command("list")
def agencies_list(as_json: JsonFlag = False) -> None:
    """List the registered agencies and their fonds codes."""
    from connectors.agency_registry import current_registry
    from connectors.readback import ReadError

    settings = Settings()
    try:
        registry = current_registry(settings)
    except ReadError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json([
            {**agency.model_dump(), "active": agency.active,
             "ingest_topic": settings.ingest_topic(agency.code)}
            for agency in registry.agencies
        ])  # fmt: skip
        return
    table = Table(title=f"立档单位 Agencies → {registry.archives.name}")
    for column in ("code 代码", "name 名称", "fonds 全宗号", "units 机构", "ingest topic 接收主题"):
        table.add_column(column)
    for agency in registry.agencies:
        units = ", ".join(f"{unit.code} {unit.name}" for unit in agency.units)
        code = agency.code if agency.active else f"{agency.code} (已退出 offboarded)"
        table.add_row(
            code, agency.name, agency.fonds_code, units, settings.ingest_topic(agency.code)
        )
    console.print(table)


@app.command()
def onboard(
    code: Annotated[str, typer.Argument(help="Agency code: lowercase, used in topic names.")],
    name: Annotated[str, typer.Option("--name", help="The agency's name / 机构名称.")],
    fonds: Annotated[str, typer.Option("--fonds", help="Its fonds code / 全宗号, e.g. Z123.")],
    unit: Annotated[
        list[str], typer.Option("--unit", help="A unit as CODE:名称 (repeat), e.g. BGS:办公室.")
    ],
    fonds_name: Annotated[
        str | None, typer.Option("--fonds-name", help="The fonds' name (default: --name).")
    ] = None,
    schedule_dir: Annotated[
        Path | None,
        typer.Option(help="Where the retention-schedule skeleton goes (default: the schedules')."),
    ] = None,
    dry_run: DryRun = False,
    secure: Secure = False,
    as_json: JsonFlag = False,
) -> None:
    """Onboard an agency in one step: topics, ACLs, principal, S3 policy, schedule skeleton,
    gateway credentials and its registry entry. Running workers take it up without a restart."""
    from connectors.agency_registry import current_registry
    from connectors.onboarding import OnboardingError, new_agency, onboard
    from connectors.readback import ReadError
    from topics.reconcile import ReconcileError

    settings, create_principal = _settings(secure)
    try:
        agency = new_agency(code, name, fonds, fonds_name, unit)
        outcome = onboard(
            settings,
            current_registry(settings),
            agency,
            schedule_dir=schedule_dir or settings.retention_dir,
            create_principal=create_principal,
            dry_run=dry_run,
        )
    except (OnboardingError, ReadError, ReconcileError, RuntimeError) as exc:
        raise fail(f"onboard {code}: {' '.join(str(exc).split())}") from exc
    if as_json:
        print_json({"agency": outcome.agency.model_dump(), "dry_run": dry_run,
                    "steps": [step.as_dict() for step in outcome.steps],
                    "token_id": outcome.token_id, "token": outcome.token})  # fmt: skip
        return
    _print_steps(f"接入 Onboarding {agency.code} {agency.name}", outcome.steps, dry_run)
    if outcome.token:
        console.print(
            f"网关令牌 Gateway token (shown once, stored hashed; id {outcome.token_id}):\n"
            f"  [bold]{outcome.token}[/bold]",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def offboard(
    code: Annotated[str, typer.Argument(help="The agency's code.")],
    dry_run: DryRun = False,
    secure: Secure = False,
    as_json: JsonFlag = False,
) -> None:
    """Revoke an agency's right to submit (ACLs, S3 policy, gateway tokens); everything it sent
    stays archived and readable."""
    from connectors.agency_registry import current_registry
    from connectors.onboarding import OnboardingError, offboard
    from connectors.readback import ReadError
    from topics.reconcile import ReconcileError

    settings, _ = _settings(secure)
    try:
        outcome = offboard(settings, current_registry(settings), code, dry_run=dry_run)
    except (OnboardingError, ReadError, ReconcileError, RuntimeError) as exc:
        raise fail(f"offboard {code}: {' '.join(str(exc).split())}") from exc
    if as_json:
        print_json({"agency": outcome.agency.model_dump(), "dry_run": dry_run,
                    "steps": [step.as_dict() for step in outcome.steps]})  # fmt: skip
        return
    _print_steps(f"退出 Offboarding {code}", outcome.steps, dry_run)


def _settings(secure: bool) -> tuple[Settings, Callable[[str], None] | None]:
    """The Settings to act with and, on the secure local stack, how to create a principal."""
    plain = Settings()
    if not secure:
        return plain, None
    from functools import partial

    from recordflow.localstack.secure import create_principal, secure_settings

    admin = secure_settings(plain)
    return admin, partial(create_principal, admin)


def _print_steps(title: str, steps: list[Step], dry_run: bool) -> None:
    table = Table(title=f"{title}{' (dry run: nothing changed)' if dry_run else ''}")
    for column in ("step 步骤", "target 对象", "detail 说明"):
        table.add_column(column, overflow="fold")
    for step in steps:
        table.add_row(step.action, step.target, step.detail)
    console.print(table)
