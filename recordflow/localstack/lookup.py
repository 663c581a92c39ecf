"""The local stack's lookup service: `recordflow lookup serve` on `lookup_port` (18096), started by
`stack up` after the console and stopped by `stack down`. Like the gateway it is the project's own
program and waits for Kafka itself (its store catches up with the catalog), so it counts as up
once it answers /healthz. Its data folder holds its store and the local stack's staff-token key
(made on first start, readable by this user only): `recordflow lookup token` signs with that key
when RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY is unset, and `stack down --purge` deletes both.

`running_lookup(settings)` serves a lookup service for other Settings (a test's or the demo's
own topics) inside the calling process: uvicorn on a free port of 127.0.0.1, in a thread;
`lookup_process(settings)` runs `recordflow lookup serve` for them in a process of its own (the
secure profile's test: signed in as the lookup principal, as production runs it)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recordflow.localstack.webapp import WebService, program_process, serve_in_thread
from recordflow.settings import Settings

KEY_FILE = "staff-token.key"


class Lookup(WebService):
    name = "lookup"

    @property
    def port(self) -> int:
        return self.settings.lookup_port

    def command(self) -> list[str]:
        return [sys.executable, "-m", "recordflow", "lookup", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--stack-home", str(self.data_dir)]  # fmt: skip

    def env(self) -> dict[str, str]:
        """The stack's settings, with the service's own data folder and staff-token key."""
        env = {**super().env(), "RECORDFLOW_LOOKUP_DATA_DIR": str(self.data_dir)}
        if self.settings.lookup_staff_token_key is None:
            env["RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY"] = local_staff_key(self.data_dir)
        return env


def local_staff_key(data_dir: Path) -> str:
    """The local stack's staff-token key, made on first use."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def stack_staff_key(settings: Settings) -> str | None:
    """The key the local stack's lookup service trusts for staff tokens, if it has made one."""
    path = Lookup(settings).data_dir / KEY_FILE
    return path.read_text().strip() if path.exists() else None


@contextmanager
def running_lookup(settings: Settings) -> Iterator[str]:
    """The lookup service's base URL while it runs in this process, once its store has caught up
    with the catalog."""
    from connectors.lookup.app import create_app

    with serve_in_thread(create_app(settings), "lookup") as url:
        yield url


@contextmanager
def lookup_process(settings: Settings) -> Iterator[str]:
    """`recordflow lookup serve` with `settings` in a process of its own; its base URL while it
    runs, once its store has caught up with the catalog. Its log: `<home>/logs/lookup-<port>.log`."""
    with program_process(settings, ["lookup", "serve"], "lookup") as url:
        yield url
