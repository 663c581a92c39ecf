"""The faust-streaming application: `recordflow worker` runs it.

Two stages, one Kafka hop between them (docs/design.md, "One record's way"):
    ingest.<agency>.lifecycle.v1 ──intake──► recordflow.register.v1 ──register──► records.*
Driver: aiokafka (`kafka://`), at-least-once, every effect idempotent (docs/design.md, "Processing
guarantees"). Topics are created by `recordflow topics apply`, never by the worker.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import shutil
import socket
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry

from recordflow.metrics import scrape_address
from recordflow.settings import Settings
from recordflow.timeouts import WORKER_HEARTBEAT_S, WORKER_SESSION_TIMEOUT_S
from streams import intake, lag, register
from streams.context import PipelineContext, worker_dead_letters
from streams.health import Readiness, start_http_server
from streams.recovery import PipelineApp, SeekFirstTableManager
from topics.catalog import TopicSpec, desired_topics

log = logging.getLogger(__name__)

KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
# How soon a new agency's ingest topic is read: the registry is checked every REGISTRY_CHECK_S
# and faust resubscribes RESUBSCRIBE_AFTER_S after a change.
REGISTRY_CHECK_S = 2.0
RESUBSCRIBE_AFTER_S = 1.0
PRODUCER_MAX_REQUEST_BYTES = 2 * 1024 * 1024


def build_app(settings: Settings, ctx: PipelineContext) -> faust.App:
    specs = {spec.name: spec for spec in desired_topics(settings, registry=ctx.agencies)}
    partitions = specs[settings.register_topic].partitions
    app = PipelineApp(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=_credentials(settings),
        key_serializer="raw",
        value_serializer="raw",
        # Tables on disk (RocksDB), not in memory: the item numbers keep an entry for every
        # record ever archived. They are still rebuilt from their changelogs by a new process.
        store="rocksdb://",
        datadir=str(process_datadir(settings)),
        web_enabled=False,
        topic_allow_declare=False,  # the topic catalog owns topics; see `recordflow topics apply`
        topic_disable_leader=True,
        topic_partitions=partitions,
        producer_acks=-1,
        # A dead letter wraps an input of up to 1 MiB; records.deadletter.v1 takes 2 MiB.
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        broker_session_timeout=WORKER_SESSION_TIMEOUT_S,
        broker_heartbeat_interval=WORKER_HEARTBEAT_S,
        processing_guarantee="at_least_once",
        TableManager=SeekFirstTableManager,
    )
    register_topic = app.topic(settings.register_topic, key_serializer="raw", value_serializer="raw",
                               partitions=partitions)  # fmt: skip
    deadletters = app.topic(settings.deadletter_topic, key_serializer="raw", value_serializer="raw")
    history_partitions = specs[settings.lifecycle_history_changelog_topic].partitions
    ingest = app.topic(*ingest_topics(ctx), key_serializer="raw", value_serializer="raw")
    # A list, not app.topic's tuple: faust's clones of a channel (the agent's) share this object,
    # so follow_registry changes it in place and every clone reads the new agency's topic.
    ingest.topics = list(ingest.topics)
    intake.attach(app, ctx, ingest, register_topic, deadletters, history_partitions,
                  partial(max_message_bytes, specs))  # fmt: skip
    follow_registry(app, ctx, ingest)
    register.attach(app, ctx, register_topic, deadletters, partitions)
    lag.attach(app, ctx.metrics.consumer_lag)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's signal stub is too narrow
    async def on_assigned(sender: faust.App, assigned: set[object], **_: object) -> None:
        ctx.metrics.assigned_partitions.set(len(assigned))
        log.info("assigned %d partitions", len(assigned))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust's signal stub is too narrow
    async def on_revoked(sender: faust.App, revoked: set[TP], **_: object) -> None:
        # Inputs of a revoked partition are redelivered to its next owner: no longer unfinished here.
        ctx.metrics.progress.forget(revoked)
        ctx.metrics.consumer_lag.forget(revoked)

    return app


def ingest_topics(ctx: PipelineContext) -> list[str]:
    return [ctx.settings.ingest_topic(agency.code) for agency in ctx.agencies.agencies]


def follow_registry(app: faust.App, ctx: PipelineContext, ingest: faust.TopicT) -> None:
    """Take each new state of the agency registry (ctx.registry_view, which follows
    recordflow.agencies.v1) and subscribe to a newly onboarded agency's ingest topic, without a
    restart. An offboarded agency's topic is still read: what it sent before is archived.

    faust resubscribes when a channel's topics change (its Conductor), but only after a quiet
    period (45 s by default, shortened here: onboarding is rare) and it drops a change flagged
    during a rebalance, so the check below runs until the consumer has every topic."""
    if ctx.registry_view is None:
        return
    view = ctx.registry_view
    conductor = app.topics
    conductor._resubscribe_sleep_lock_seconds = RESUBSCRIBE_AFTER_S  # type: ignore[attr-defined]

    @app.timer(REGISTRY_CHECK_S)
    async def subscribe_new_agencies() -> None:
        if view.registry is not ctx.agencies:
            ctx.agencies = view.registry
            agencies = (agency.code for agency in ctx.agencies.agencies)
            ctx.metrics.expect(agencies, worker_dead_letters())
            ingest.topics[:] = ingest_topics(ctx)  # type: ignore[index]
            log.info("agency registry changed: reading %s", ", ".join(ingest.topics))
        subscribed = conductor._topic_name_index  # type: ignore[attr-defined]
        if any(topic not in subscribed for topic in ingest.topics):
            conductor._flag_changes()  # type: ignore[attr-defined]


def max_message_bytes(specs: Mapping[str, TopicSpec], topic: str) -> int:
    """The most a message to `topic` may hold: its max.message.bytes (Kafka's default when the
    catalog sets none), and never more than the workers' producer sends in one request."""
    limit = int(specs[topic].config.get("max.message.bytes", KAFKA_DEFAULT_MAX_MESSAGE_BYTES))
    return min(limit, PRODUCER_MAX_REQUEST_BYTES)


def process_datadir(settings: Settings) -> Path:
    """This process's own folder for its table files, removed when it exits. RocksDB locks its
    files, so workers on one machine cannot share a folder; those left by a killed worker (of any
    consumer group) are removed by the next one to start."""
    workers = settings.home.resolve() / "worker"
    host = socket.gethostname()
    for stale in workers.glob(f"*/{host}-*"):
        pid = stale.name.removeprefix(f"{host}-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    datadir = workers / settings.consumer_group / f"{host}-{os.getpid()}"
    datadir.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, datadir, ignore_errors=True)
    return datadir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The workers' sign-in and TLS, from the same Settings as every confluent-kafka client's:
    SASL (the secure profile's pipeline principal, or production's user), over TLS with SASL_SSL;
    TLS alone with SSL. The TLS context (Settings.kafka_ssl_context) verifies the brokers against
    kafka_ssl_ca_file or the system's CAs and presents the client certificate when one is set."""
    context = settings.kafka_ssl_context()
    if settings.kafka_sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def serve_metrics(
    settings: Settings,
    registry: CollectorRegistry,
    port: int,
    targets_dir: Path | None,
    ready: Readiness | None = None,
) -> int:
    """Serve /metrics and /ready (streams/health.py) on settings.metrics_host and, when given the
    local stack's `targets_dir` (`recordflow worker --prometheus-targets`), tell its Prometheus
    where to scrape this worker. Elsewhere the platform's own service discovery finds the worker;
    nothing is written."""
    server = start_http_server(port, settings.metrics_host, registry, ready or Readiness())
    bound = int(server.server_port)
    if targets_dir is not None:
        targets_dir.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        for stale in targets_dir.glob(f"worker-{host}-*.json"):  # a killed worker's, left behind
            pid = stale.stem.removeprefix(f"worker-{host}-")
            if pid.isdigit() and not _alive(int(pid)):
                stale.unlink(missing_ok=True)
        target = targets_dir / f"worker-{host}-{os.getpid()}.json"
        labels = {
            "job": "recordflow-worker",
            "instance_name": f"worker-{os.getpid()}",
            "app": settings.consumer_group,
        }
        address = scrape_address(settings.metrics_host, bound)
        target.write_text(json.dumps([{"targets": [address], "labels": labels}]))
        atexit.register(target.unlink, missing_ok=True)
    return bound


def run_worker(settings: Settings, *, metrics_port: int, targets_dir: Path | None = None,
               port_file: Path | None = None, loglevel: str = "info") -> None:  # fmt: skip
    """Run the worker until stopped. `targets_dir`: the local stack's Prometheus target folder,
    given only by the local stack's launchers (recordflow/localstack/workers.py); None elsewhere."""
    registry = CollectorRegistry()
    ctx = PipelineContext.build(settings, registry)
    readiness = Readiness()
    bound = serve_metrics(settings, registry, metrics_port, targets_dir, readiness)
    log.info("metrics on http://%s/metrics", scrape_address(settings.metrics_host, bound))
    if port_file is not None:
        port_file.write_text(str(bound))
    ctx.warm_up()
    app = build_app(settings, ctx)
    readiness.app = app
    # Everything built so far lives as long as the process: out of the collector's sight, a full
    # collection scans the objects events create, not the ~150,000 of imports and set-up (it took
    # 65-95 ms, every ~10 s under load, holding up every record in flight).
    gc.collect()
    gc.freeze()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
