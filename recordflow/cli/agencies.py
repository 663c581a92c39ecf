"""`recordflow agencies list`: the agency registry (recordflow/agencies.yaml), each agency's
fonds codes and ingest topic."""

from __future__ import annotations

import typer
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, print_json
from recordflow.settings import Settings

app = typer.Typer(help="The agency registry / 立档单位名录", no_args_is_help=True)


@app.command("list")
def agencies_list(as_json: JsonFlag = False) -> None:
    """List the registered agencies and their fonds codes."""
    from recordflow.agencies import load_registry

    settings = Settings()
    registry = load_registry(settings.agencies_file)
    if as_json:
        print_json([
            {**agency.model_dump(), "ingest_topic": settings.ingest_topic(agency.code)}
            for agency in registry.agencies
        ])  # fmt: skip
        return
    table = Table(title=f"立档单位 Agencies → {registry.archives.name}")
    for column in ("code 代码", "name 名称", "fonds 全宗号", "units 机构", "ingest topic 接收主题"):
        table.add_column(column)
    for agency in registry.agencies:
        units = ", ".join(f"{unit.code} {unit.name}" for unit in agency.units)
        table.add_row(
            agency.code, agency.name, agency.fonds_code, units, settings.ingest_topic(agency.code)
        )
    console.print(table)
