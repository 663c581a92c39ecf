"""The local stack: real Kafka, schema registry, S3 server and Prometheus on 127.0.0.1.

docs/design.md, "Local stack". Each server is installed on first use from a package registry by name
(Maven for Kafka and Apicurio Registry, `go install` for versitygw, apt for Prometheus) and runs
from `settings.home` (service.py describes the layout). A module per server (kafka.py,
registry.py, s3.py, prometheus.py), each a `Service` (service.py); `Stack` here runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from recordflow.localstack.console import Console as ConsoleService
from recordflow.localstack.gateway import Gateway
from recordflow.localstack.kafka import Kafka
from recordflow.localstack.lookup import Lookup
from recordflow.localstack.prometheus import Prometheus
from recordflow.localstack.registry import Registry
from recordflow.localstack.replicated import BROKERS, KafkaNode
from recordflow.localstack.s3 import S3
from recordflow.localstack.secure import ADMIN as ADMIN_PRINCIPAL
from recordflow.localstack.service import Report, Service, StackError, port_open, tail
from recordflow.settings import Settings

POLL_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 30.0  # SIGTERM grace before SIGKILL; Kafka's clean shutdown takes a few seconds


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    address: str
    running: bool  # a process started by `stack up` is alive
    healthy: bool  # the server answers its health check (whoever started it)
    pid: int | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# Start order; `down` stops in reverse. The gateway, the console and the lookup service are the
# project's own programs: the plain profile runs them beside the servers
# (recordflow/localstack/gateway.py, console.py, lookup.py).
SERVICES: dict[str, type[Service]] = {
    cls.name: cls for cls in (Kafka, Registry, S3, Prometheus, Gateway, ConsoleService, Lookup)
}
# The project's own programs among them: a test or the demo runs its own, on its own topics.
PROGRAMS = {Gateway.name, ConsoleService.name, Lookup.name}


# --- the stack ----------------------------------------------------------------------------


class Stack:
    """The servers for one Settings: `up`, `down`, `status`, `ensure_up`.

    The plain profile runs all four. The secure profile (recordflow/localstack/secure.py; Settings for its
    admin) runs its own Kafka and S3 server and uses the plain stack's schema registry: `up`
    starts that registry if it is not running, `down` leaves it to the plain stack. The
    replicated profile (replicated.py) runs three Kafka nodes and shares the registry and S3
    the same way."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.shared: set[str] = set()  # services that belong to the plain stack
        if settings.stack_profile == "secure":
            if settings.stack_shared_home is None or settings.s3_access_key != ADMIN_PRINCIPAL:
                raise StackError("the secure stack takes secure_settings() for its admin")
            plain = settings.model_copy(
                update={"home": settings.stack_shared_home, "stack_profile": "plain",
                        "stack_shared_home": None}
            )  # fmt: skip
            self.services: list[Service] = [Kafka(settings), Registry(plain), S3(settings)]
            self.shared = {Registry.name}
        elif settings.stack_profile == "replicated":
            plain = settings.model_copy(
                update={"home": settings.stack_shared_home, "stack_profile": "plain",
                        "stack_shared_home": None}
            )  # fmt: skip
            nodes = [KafkaNode(settings, node_id) for node_id in range(1, BROKERS + 1)]
            self.services = [*nodes, Registry(plain), S3(plain)]
            self.shared = {Registry.name, S3.name}
        else:
            self.services = [cls(settings) for cls in SERVICES.values()]
        # Processes this object started: polling them reaps them (no zombies in a test session).
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        names = ", ".join(service.name for service in self.services)
        raise StackError(f"unknown service {name!r}; one of {names}")

    def status(self) -> list[ServiceStatus]:
        statuses = []
        for service in self.services:
            pid = service.running_pid()
            statuses.append(
                ServiceStatus(
                    service.name, service.address, pid is not None, service.healthy(), pid
                )
            )
        return statuses

    def ensure_up(self, console: Console | None = None) -> list[ServiceStatus]:
        """For test fixtures and the demo: quick when everything already answers."""
        statuses = self.status()
        # The servers, that is: a test runs its own gateway and console, on its own topics.
        if all(status.healthy for status in statuses if status.service not in PROGRAMS):
            self.provision()
            return statuses
        return self.up(console)

    def provision(self, report: Report | None = None) -> None:
        """Each own service's idempotent setup (the secure profile's accounts)."""
        for service in self.services:
            if service.name not in self.shared:
                service.provision(report or (lambda _: None))

    def up(self, console: Console | None = None) -> list[ServiceStatus]:
        """Install what is missing, start what is not running, wait until all are healthy.

        All servers are started before waiting on any, so their startups overlap."""
        console = console or Console(stderr=True)
        columns = (
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[service]:<10}"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            tasks = {
                s.name: progress.add_task("waiting", total=1, service=s.name, start=False)
                for s in self.services
            }

            def reporter(service: Service) -> Report:
                return lambda text: progress.update(tasks[service.name], description=text)

            def done(service: Service, text: str) -> None:
                progress.update(tasks[service.name], completed=1, description=text)

            waiting: list[Service] = []
            for service in self.services:
                report = reporter(service)
                progress.start_task(tasks[service.name])  # its elapsed time counts from here
                try:
                    pid = service.running_pid()
                    if pid is not None:
                        report(f"already running (pid {pid})")
                    elif service.healthy():
                        done(service, f"{service.address} answers, not started by recordflow")
                        continue
                    else:
                        self._start(service, report)
                    waiting.append(service)
                except StackError:
                    report("[red]failed[/]")
                    raise

            for service in waiting:
                report = reporter(service)
                report("waiting until healthy")
                try:
                    self._wait_healthy(service)
                    if service.name not in self.shared:
                        service.provision(report)
                except StackError:
                    report("[red]failed[/]")
                    raise
                done(service, f"up at {service.address}")
        return self.status()

    def _start(self, service: Service, report: Report) -> None:
        busy = [port for port in service.ports if port_open(port)]
        if busy:
            raise StackError(
                f"{service.name}: port {busy[0]} is already in use by another process "
                "(stop it, or choose other ports with RECORDFLOW_* settings)"
            )
        if not service.installed():
            report("installing")
            service.install(report)
        service.prepare(report)
        report("starting")
        self._children[service.name] = service.start()

    def _wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + service.startup_timeout_s
        while time.monotonic() < deadline:
            if service.healthy():
                return
            # Our own child is asked directly: until it has exec'd, its command line is still
            # ours, and running_pid() would take it for gone.
            child = self._children.get(service.name)
            if (child.poll() is not None) if child else service.running_pid() is None:
                raise StackError(
                    f"{service.name} exited while starting; end of {service.log_file}:\n"
                    f"{tail(service.log_file)}"
                )
            time.sleep(POLL_INTERVAL_S)
        raise StackError(
            f"{service.name} not healthy after {service.startup_timeout_s:.0f} s; "
            f"end of {service.log_file}:\n{tail(service.log_file)}"
        )

    def down(self, purge: bool = False, only: Sequence[str] = ()) -> list[str]:
        """Stop the servers we started (SIGTERM, then SIGKILL after a grace period), or `only`
        the ones named (an outage for the chaos tests; `up` starts them again).

        Returns the names of the services stopped. Data stays unless `purge` (of all of them)."""
        if purge and only:
            raise StackError("--purge deletes every server's data: stop them all to purge")
        own = [s for s in self.services if s.name not in self.shared]  # not the plain stack's
        chosen = [self.service(name) for name in only if name not in self.shared] if only else own
        running = {s.name: pid for s in chosen if (pid := s.running_pid()) is not None}
        by_name = {s.name: s for s in self.services}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):  # it may have just exited
                os.kill(pid, signal.SIGTERM)  # all at once: the shutdowns overlap
        for name in reversed(list(running)):  # wait in reverse start order
            service, pid = by_name[name], running[name]
            if not self._wait_gone(service, pid, STOP_TIMEOUT_S):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_gone(service, pid, STOP_TIMEOUT_S)
        for service in chosen:
            service.pid_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.home / "data", ignore_errors=True)
            # The outbox records what was published to the servers just emptied: kept, it would
            # tell a rerun (an import, the demo) that its events were sent, and nothing is sent.
            shutil.rmtree(self.home / "outbox", ignore_errors=True)
        return list(running)

    def _wait_gone(self, service: Service, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            child = self._children.get(service.name)
            if child is not None and child.pid == pid:
                if child.poll() is not None:  # polling reaps our own child
                    del self._children[service.name]
                    return True
            elif not service.owns(pid):  # a zombie's cmdline is empty, so it counts as gone
                return True
            time.sleep(POLL_INTERVAL_S / 5)
        return False
