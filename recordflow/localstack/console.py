"""The local stack's web console: `recordflow console` on `console_port` (18095), started by `stack
up` after the gateway and stopped by `stack down`. Like the gateway it is the project's own
program: it waits for Kafka itself (its store catches up, sign-ins answer 503 until the accounts
are read), so it counts as up once it answers /healthz. Its data folder (the store, the session
key) is the service's: `stack down --purge` deletes it, and the next start rebuilds the store.

`running_console(settings)` serves a console for other Settings (a test's own topics) inside the
calling process: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from recordflow.localstack.webapp import WebService, serve_in_thread
from recordflow.settings import Settings


class Console(WebService):
    name = "console"

    @property
    def port(self) -> int:
        return self.settings.console_port

    def env(self) -> dict[str, str]:
        """The stack's settings, with the service's own data folder."""
        return {**super().env(), "RECORDFLOW_CONSOLE_DATA_DIR": str(self.data_dir)}


@contextmanager
def running_console(settings: Settings) -> Iterator[str]:
    """The console's base URL while it runs in this process, once ready (accounts read, store
    caught up)."""
    from connectors.console.app import create_app

    with serve_in_thread(create_app(settings), "console") as url:
        yield url
