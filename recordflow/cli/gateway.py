"""`recordflow gateway [--host H --port N]`: the HTTP gateway for agency systems in any language
(connectors/gateway/), served by uvicorn. `--openapi` prints its OpenAPI document instead
(docs/openapi.json is that output)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from recordflow.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command("gateway")
    def gateway(
        host: Annotated[str | None, typer.Option(help="Default RECORDFLOW_GATEWAY_HOST.")] = None,
        port: Annotated[int | None, typer.Option(help="Default RECORDFLOW_GATEWAY_PORT.")] = None,
        openapi: Annotated[
            bool, typer.Option("--openapi", help="Print the OpenAPI document and exit.")
        ] = False,
        stack_home: Annotated[
            str | None,
            typer.Option(hidden=True, help="Set by `stack up`: how `stack down` knows its own."),
        ] = None,
    ) -> None:
        """Run the HTTP gateway (OpenAPI at /openapi.json, metrics at /metrics)."""
        from connectors.gateway.app import create_app, openapi_document

        settings = Settings()
        if openapi:
            sys.stdout.write(openapi_document())
            return
        import uvicorn

        logging.getLogger("connectors.gateway").setLevel(logging.INFO)
        uvicorn.run(
            create_app(settings),
            host=host or settings.gateway_host,
            port=port or settings.gateway_port,
            log_level="warning",  # the gateway logs each request itself, with its agency
            proxy_headers=False,
        )
