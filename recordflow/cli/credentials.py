"""`recordflow agencies credentials issue CODE | revoke TOKEN_ID | list CODE`: the gateway's
bearer tokens (connectors/gateway/credentials.py). A token is printed once, when issued; the
topic keeps only its digest. Rotation: issue a second token, switch the client, revoke the first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from recordflow.cli.common import JsonFlag, console, fail, print_json
from recordflow.settings import Settings

app = typer.Typer(help="The gateway's bearer tokens / 网关访问令牌", no_args_is_help=True)


@app.command("issue")
def issue(
    agency: Annotated[str, typer.Argument(metavar="CODE", help="The agency's code.")],
    as_json: JsonFlag = False,
) -> None:
    """Issue a token for an agency; it is shown this once."""
    from connectors.gateway.credentials import CredentialError
    from connectors.gateway.credentials import issue as issue_token

    try:
        token_id, token = issue_token(Settings(), agency)
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json({"agency": agency, "token_id": token_id, "token": token})
        return
    console.print(f"token {token_id} for {agency} (shown once; keep it secret):", highlight=False)
    print(token)


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID")], as_json: JsonFlag = False
) -> None:
    """Revoke a token: every gateway refuses it within a second."""
    from connectors.gateway.credentials import CredentialError
    from connectors.gateway.credentials import revoke as revoke_token

    try:
        credential = revoke_token(Settings(), token_id)
    except CredentialError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json(credential.to_json())
        return
    console.print(f"token {token_id} of {credential.agency} revoked at {credential.revoked_at}")


@app.command("list")
def list_tokens(
    agency: Annotated[str, typer.Argument(metavar="CODE")], as_json: JsonFlag = False
) -> None:
    """An agency's tokens, live and revoked (ids and dates; never a secret)."""
    from connectors.gateway.credentials import tokens

    found = tokens(Settings(), agency)
    if as_json:
        print_json([{k: v for k, v in c.to_json().items() if k != "secret_sha256"} for c in found])
        return
    table = Table(title=f"网关令牌 Gateway tokens of {agency}")
    for column in ("token id", "issued 签发", "revoked 吊销"):
        table.add_column(column)
    for credential in found:
        revoked = credential.revoked_at.isoformat() if credential.revoked_at else ""
        table.add_row(credential.token_id, credential.issued_at.isoformat(), revoked)
    console.print(table)
