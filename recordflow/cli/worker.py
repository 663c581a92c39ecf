"""`recordflow worker`: the stream processors (intake and register), run until stopped, with the
runtime settings the worker re-executes itself with."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from recordflow.settings import Settings

WORKER_RUNTIME_ENV = {
    # Siegfried runs in the worker on Go's runtime. Its heap starts at ~75 MB (the signatures);
    # Go's default, 100, lets it grow to ~148 MB resident before it settles, 50 holds it at
    # ~112 MB for the same CPU.
    "GOGC": "50",
    # glibc serves a request of 128 KiB or more with a mapping of its own, returned on free, but
    # raises that threshold to the size of any such block freed, up to 32 MiB (aiokafka's zstd
    # buffers are 2.5 MB). From then on large short-lived buffers come from the heap, among small
    # long-lived objects, and the heap grows through holes: the worker's RSS rose ~3.5 MB every
    # ~11,000 records while the memory in use stayed flat. A fixed threshold keeps large buffers
    # out of the heap, for ~4.5 ms more CPU per 1 MB record, whose buffers are now mapped afresh
    # each time (docs/performance.md, "Memory").
    "MALLOC_MMAP_THRESHOLD_": str(128 * 1024),
}


def worker(
    metrics_port: Annotated[int, typer.Option(help="Port for /metrics; 0 picks a free one.")] = -1,
    port_file: Annotated[
        Path | None, typer.Option(help="Write the bound metrics port here.")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
    prometheus_targets: Annotated[
        Path | None,
        typer.Option(
            help="The local stack's Prometheus target folder: announce this worker there "
            "(the demo, bench and tests pass it; a deployed worker is found by its platform)."
        ),
    ] = None,
) -> None:
    """Run the stream processors (intake and register) until stopped."""
    if missing := {k: v for k, v in WORKER_RUNTIME_ENV.items() if k not in os.environ}:
        # Both runtimes read these only from the environment the process started with, so the
        # worker re-executes itself with them. An operator's own values win.
        os.execve(sys.executable, sys.orig_argv, {**os.environ, **missing})
    from streams.app import run_worker

    settings = Settings()
    port = settings.metrics_port if metrics_port < 0 else metrics_port
    run_worker(settings, metrics_port=port, targets_dir=prometheus_targets, port_file=port_file,
               loglevel=loglevel)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(worker)
