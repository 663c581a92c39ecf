"""`recordflow lookup serve | rebuild | token`: the lookup service for the portal and staff
(connectors/lookup/): serve it, rebuild its store from the catalog, issue a staff token."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from recordflow.cli.common import JsonFlag, console, err, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(help="The lookup service / 档案查询服务", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Default RECORDFLOW_LOOKUP_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default RECORDFLOW_LOOKUP_PORT.")] = None,
    stack_home: Annotated[
        str | None,
        typer.Option(hidden=True, help="Set by `stack up`: how `stack down` knows its own."),
    ] = None,
) -> None:
    """Serve the search API (OpenAPI at /docs and /openapi.json); the store follows the catalog."""
    import uvicorn

    from connectors.lookup.app import create_app

    settings = Settings()
    logging.getLogger("connectors.lookup").setLevel(logging.INFO)
    uvicorn.run(create_app(settings), host=host or settings.lookup_host,
                port=port or settings.lookup_port, log_level="warning", proxy_headers=False)  # fmt: skip


@app.command("rebuild")
def rebuild(
    timeout: Annotated[float, typer.Option(min=1, help="Give up after this many seconds.")] = 3600,
    as_json: JsonFlag = False,
) -> None:
    """Delete the store and read the whole catalog into it again (a running service keeps its
    open file: stop it first)."""
    from archival.access import load_access_rules
    from avro_schemas.codec import Codec
    from connectors.lookup.store import LookupFollower, Store

    settings = Settings()
    path = settings.lookup_path / "store.sqlite3"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    began = time.monotonic()
    store = Store.for_settings(settings, load_access_rules(settings.access_rules_file))
    follower = LookupFollower(store, settings, Codec.from_url(settings.schema_registry_url))
    follower.start()
    try:
        with err.status("重建 Rebuilding the lookup store from the catalog…") as status:
            while not follower.caught_up.wait(1.0):
                status.update(f"重建 Rebuilding… {store.count():,} records")
                if time.monotonic() - began > timeout:
                    raise fail(f"the store did not catch up with the catalog in {timeout:.0f} s")
    finally:
        follower.close()
    seconds = round(time.monotonic() - began, 1)
    records, size = store.count(), path.stat().st_size
    if as_json:
        print_json({"store": str(path), "records": records, "seconds": seconds, "bytes": size})
    else:
        console.print(f"{records:,} records in {seconds} s → {path} ({size / 1e6:,.1f} MB)")


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who the token is for, e.g. wang.li")],
    hours: Annotated[float, typer.Option(min=0.1, max=12, help="How long it is valid.")] = 8,
) -> None:
    """Print a staff token (sees every record but state secrets; what it is used for is audited),
    signed with RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY or else the local stack's key."""
    from connectors.lookup.tokens import STAFF, issue
    from recordflow.localstack.lookup import stack_staff_key

    settings = Settings()
    key = settings.lookup_staff_token_key
    secret = key.get_secret_value() if key is not None else stack_staff_key(settings)
    if secret is None:
        raise fail("RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY is not set (nor has the local stack's "
                   "lookup service made a key): no staff token can be signed", 2)  # fmt: skip
    print(issue(secret, STAFF, name, int(hours * 3600)))
