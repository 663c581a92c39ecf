"""One bench run: its own topics, N worker processes in one consumer group, simulated agencies
submitting through the SDK's plain path, a collector reading the outcomes, a sampler reading
the workers' CPU and memory, then the two baselines over the same payloads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from avro_schemas.codec import Codec
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.agencies import Agency, load_registry
from recordflow.bench import baselines, gateway, procstats, stats, targets
from recordflow.bench.payloads import PayloadPlan, base_pdf, document_metadata, padded_pdf
from recordflow.localstack.setup import register_schemas
from recordflow.localstack.stack import Stack
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from recordflow.timeouts import KAFKA_TIMEOUT_S
from topics.catalog import TopicSpec, desired_topics
from topics.reconcile import admin_client, allowed_replication_factor, reconcile

# The catalog topics a run may give more partitions (`--partitions`): the ingest topics and the
# register topic with the changelogs co-partitioned with them, and the two output topics. Only a
# run's own, newly created topics: nothing on an existing cluster is changed.
PARTITIONED = frozenset({
    "ingest.{agency}.lifecycle.v1", "recordflow.lifecycle-history.changelog",
    "recordflow.register.v1", "recordflow.item-numbers.changelog",
    "records.archival-ready.v1", "records.catalog.v1",
})  # fmt: skip
UNIT_CODE = "BGS"  # 办公室: every agency has one
BASELINE_SAMPLE = 5000  # the baselines replay at most this many of the run's records
SAMPLE_INTERVAL_S = 1.0
STABLE_POLLS = 3  # the workers' assignments unchanged this many polls: the group has settled
SETTLE_TIMEOUT_S = 90.0
FAILED_SUBMISSIONS_LIMIT = 20


@dataclass(frozen=True)
class BenchOptions:
    payload: PayloadPlan
    records: int | None = 200
    duration_s: float | None = None
    rate: float | None = None
    workers: int = 1
    partitions: int | None = None
    submitters: int = 4
    baselines: bool = True
    chart: Path | None = None
    keep_topics: bool = False
    idle_timeout_s: float = 180.0
    # One more worker joins a third of the way through the load and leaves at two thirds; the
    # report gives the pause each change caused. Needs an open-loop run (rate and duration).
    rebalance: bool = False
    # The door the simulated agencies use: "sdk" (the SDK's plain path) or "gateway" (HTTP, with
    # a same-run comparison of submissions through both; recordflow/bench/gateway.py).
    via: str = "sdk"


@dataclass(frozen=True)
class Outcome:
    kind: str  # archived | rejected | review
    at: float  # the outcome message's timestamp (when the worker wrote it), wall clock
    latency_ms: float | None
    formats: tuple[str, ...] = ()
    reason: str | None = None


def bench_topics(
    settings: Settings, partitions: int | None, replication_factor: int | None = None
) -> list[TopicSpec]:
    """The catalog's topics for this run, with `partitions` where the run may choose them."""
    specs = desired_topics(settings, replication_factor=replication_factor)
    if partitions is None:
        return specs
    return [
        dataclasses.replace(spec, partitions=partitions) if spec.source in PARTITIONED else spec
        for spec in specs
    ]


def run_bench(settings: Settings, options: BenchOptions, console: Console) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    settings = settings.model_copy(update={
        "topic_prefix": f"{settings.topic_prefix}bench{run_id}.",
        "bucket_prefix": f"{settings.bucket_prefix}bench-",
    })  # fmt: skip
    Stack(settings).ensure_up(console)
    # As `topics apply` would: three replicas on the replicated profile, one on the plain stack.
    admin = admin_client(settings)
    factor = allowed_replication_factor(admin)
    brokers = len(admin.list_topics(timeout=KAFKA_TIMEOUT_S).brokers)
    specs = bench_topics(settings, options.partitions, factor)
    ingest_partitions = next(s.partitions for s in specs if s.source.startswith("ingest."))
    with console.status("准备主题、模式与存储桶 Applying the run's topics, schemas and buckets…"):
        reconcile(settings, desired=specs)
        register_schemas(settings)
        Storage(settings).ensure_buckets()
    run = _Run(settings, options, console, run_id)
    try:
        figures = run.pipeline()
        if options.via == "gateway":
            figures["via_gateway"] = run.compare_doors()
        figures.update(run.baselines(ingest_partitions))
    finally:
        if not options.keep_topics:
            _delete_topics(settings)
    figures["via"] = options.via
    figures["brokers"], figures["replication_factor"] = brokers, factor
    figures["partitions"] = {s.source: s.partitions for s in specs if s.source in PARTITIONED}
    figures["topic_prefix"] = settings.topic_prefix
    figures["ratio_to_s3_baseline"] = stats.ratio(
        figures["records_per_s"], figures["baseline_s3_records_per_s"]
    )
    figures["ratio_to_kafka_baseline"] = stats.ratio(
        figures["records_per_s"], figures["baseline_kafka_records_per_s"]
    )
    figures.update(targets.cpu_ceiling(figures))
    figures["targets"] = targets.judge(figures)
    chart = options.chart or settings.home / "bench" / f"bench-{run_id}.png"
    from recordflow.bench.chart import write_chart

    title = (f"recordflow bench {options.payload.label}, {options.workers} worker(s), "
             f"{figures['archived']} records, {figures['records_per_s']} rec/s")  # fmt: skip
    figures["chart"] = str(write_chart(chart, figures["timeline"], title))
    return stats.ordered_result(figures)


class _Run:
    def __init__(self, settings: Settings, options: BenchOptions, console: Console, run_id: str):
        self.settings, self.options, self.console, self.run_id = settings, options, console, run_id
        self.registry = load_registry(settings.agencies_file)
        self.agencies: list[Agency] = list(self.registry.agencies)
        self.codec = Codec.from_url(settings.schema_registry_url)
        self.decoder = baselines.WireDecoder(self.codec)
        self.outcomes: dict[str, Outcome] = {}
        self.event_times: dict[str, float] = {}
        self.sizes: Counter[int] = Counter()
        self.baseline_inputs: list[baselines.BaselineInput] = []
        self.failures: list[str] = []
        # The consumer group's changes under --rebalance: ("join" or "leave", when).
        self.changes: list[tuple[str, float]] = []
        self.samples: list[stats.Sample] = []
        self.peaks: dict[int, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        # One per submitting thread, made and connected before the load.
        self._submitters: list[Submitter] = []
        self._unclaimed: list[Submitter] = []  # those no submitting thread has taken yet
        self._stop = threading.Event()
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._base_pdfs = {agency.code: base_pdf(agency.name) for agency in self.agencies}
        self._http: gateway.HttpSubmitter | None = None  # a gateway run's HTTP clients

    # --- the pipeline run ---------------------------------------------------------------
    def pipeline(self) -> dict[str, Any]:
        options = self.options
        workers = [WorkerProcess(self.settings, name=f"bench-{self.run_id}-{n}")
                   for n in range(options.workers)]  # fmt: skip
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.wait_ready(self.console)
            # The simulated agencies connect while the group settles, not in the first records'
            # latency (a real agency system's producer is long since connected).
            if options.via == "sdk":
                self._submitters = [Submitter(self.settings, self.registry)
                                    for _ in range(options.submitters)]  # fmt: skip
                for submitter in self._submitters:
                    submitter.warm_up()
                self._unclaimed = list(self._submitters)
            _wait_settled(workers, self.console)
            pids = [w.process.pid for w in workers if w.process is not None]
            services = {s.service: s.pid for s in Stack(self.settings).status() if s.pid}
            before = procstats.cpu_by_part(pids, services)
            collector = threading.Thread(target=self._collect, name="bench-collector", daemon=True)
            sampler = threading.Thread(target=self._sample, args=(pids,), name="bench-sampler",
                                       daemon=True)  # fmt: skip
            extra = WorkerProcess(self.settings, name=f"bench-{self.run_id}-extra")
            changer = threading.Thread(target=self._join_and_leave, args=(extra,),
                                       name="bench-rebalance", daemon=True)  # fmt: skip
            with self._progress_bar():
                collector.start()
                sampler.start()
                start = time.time()
                if options.rebalance:
                    changer.start()
                if options.via == "gateway":
                    with gateway.serving(self.settings, self.registry) as self._http:
                        submitted = self._submit_all()
                else:
                    submitted = self._submit_all()
                if options.rebalance:
                    changer.join()
                self._await_outcomes(submitted)
            after = procstats.cpu_by_part(pids, services)
            end = time.time()
            self._stop.set()
            sampler.join(5)
            collector.join(10)
            for pid in pids:
                self.peaks[pid] = max(self.peaks.get(pid, 0.0),
                                      procstats.tree_usage(pid).peak_rss_mb)  # fmt: skip
        finally:
            self._stop.set()
            for worker in [*workers, extra]:
                worker.stop()
        return self._figures(start, end, submitted, before, after)

    def _join_and_leave(self, extra: WorkerProcess) -> None:
        """One worker more at a third of the load, gone (a clean SIGTERM: it leaves the group)
        at two thirds. Its CPU is not in the workers' figures."""
        duration = self.options.duration_s or 0.0
        started = time.time()
        for change, due in (("join", duration / 3), ("leave", 2 * duration / 3)):
            if self._stop.wait(max(0.0, started + due - time.time())):
                return
            self.changes.append((change, time.time()))
            if change == "join":
                extra.start()
            else:
                extra.stop()

    def _submit_all(self) -> int:
        options = self.options
        started = time.monotonic()
        in_flight = threading.Semaphore(options.submitters * 2)
        submitted = 0
        with tempfile.TemporaryDirectory(prefix="recordflow-bench-") as folder, \
                ThreadPoolExecutor(options.submitters, thread_name_prefix="submitter") as pool:  # fmt: skip
            index = 0
            while options.records is None or index < options.records:
                now = time.monotonic()
                if options.duration_s is not None and now - started >= options.duration_s:
                    break
                if len(self.failures) >= FAILED_SUBMISSIONS_LIMIT and not self.event_times:
                    raise RuntimeError(f"submissions fail: {self.failures[0]}")
                if options.rate:
                    due = started + index / options.rate
                    if due > now:
                        time.sleep(due - now)
                else:
                    in_flight.acquire()
                future = pool.submit(self._submit_one, index, Path(folder))
                if not options.rate:
                    future.add_done_callback(lambda _: in_flight.release())
                index += 1
            pool.shutdown(wait=True)
            for submitter in self._submitters:
                with contextlib.suppress(Exception):
                    submitter.close()  # waits for Kafka's acknowledgements
            submitted = len(self.event_times)
        return submitted

    def _submitter(self) -> Submitter:
        submitter = getattr(self._local, "submitter", None)
        if submitter is None:
            with self._lock:
                submitter = self._unclaimed.pop()  # the pool has one thread per submitter
            self._local.submitter = submitter
        return submitter

    def _submit_one(self, index: int, folder: Path) -> None:
        agency = self.agencies[index % len(self.agencies)]
        size = self.options.payload.size_of(index)
        metadata = document_metadata(self.run_id, index, agency.name, UNIT_CODE, dt.date.today())
        path = folder / f"{metadata['document_id']}.pdf"
        try:
            path.write_bytes(padded_pdf(self._base_pdfs[agency.code], size))
            if self._http is not None:  # over HTTP: the 202 comes once Kafka has the event
                submitted_at = time.time()
                event_id = self._http.submit(agency.code, metadata, path)
            else:
                submitter = self._submitter()
                upload_id = uuid.uuid4().hex
                components = submitter.stage(
                    agency, upload_id, [FileToSubmit(path, mime_type="application/pdf")]
                )
                event = submitter.build_event(agency, metadata, components, upload_id)
                receipt = submitter.produce_event(agency.code, event)
                receipt.delivery.add_done_callback(self._delivered)
                event_id, submitted_at = event["event_id"], event["event_time"].timestamp()
        except Exception as exc:
            with self._lock:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            return
        finally:
            path.unlink(missing_ok=True)
        with self._lock:
            self.event_times[event_id] = submitted_at
            self.sizes[size] += 1
            if self._http is None and len(self.baseline_inputs) < BASELINE_SAMPLE:
                self.baseline_inputs.append(baselines.BaselineInput(agency.code, event))
        if self._progress is not None:
            self._progress.advance(self._tasks["submitted"])

    def _delivered(self, delivery: Future[Any]) -> None:
        if delivery.exception() is not None:
            with self._lock:
                self.failures.append(f"Kafka: {delivery.exception()}")

    def _await_outcomes(self, submitted: int) -> None:
        if self._progress is not None:
            self._progress.update(self._tasks["archived"], total=submitted)
        last_count, last_change = -1, time.monotonic()
        while len(self.outcomes) < submitted:
            count = len(self.outcomes)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > self.options.idle_timeout_s:
                self.console.print(
                    f"[yellow]no outcome for {self.options.idle_timeout_s:.0f} s; "
                    f"{submitted - count} record(s) unfinished[/]"
                )
                return
            time.sleep(0.2)

    @contextlib.contextmanager
    def _progress_bar(self) -> Any:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn())  # fmt: skip
        total = self.options.records
        with Progress(*columns, console=self.console, transient=True) as progress:
            self._progress = progress
            self._tasks = {
                "submitted": progress.add_task("提交 submitted", total=total, rate=""),
                "archived": progress.add_task("归档 archived ", total=total, rate=""),
            }
            try:
                yield progress
            finally:
                self._progress = None

    # --- collecting outcomes and samples ------------------------------------------------
    def _collect(self) -> None:
        topics = {
            self.settings.archival_ready_topic: "archived",
            self.settings.deadletter_topic: "rejected",
            self.settings.review_topic: "review",
        }
        consumer = Consumer({**self.settings.kafka_config(),
                             "group.id": f"recordflow-bench-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})  # fmt: skip
        metadata = consumer.list_topics(timeout=30).topics
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                         for topic in topics for p in metadata[topic].partitions])  # fmt: skip
        first_archived: float | None = None
        try:
            while not self._stop.is_set():
                for message in consumer.consume(500, 0.2):
                    if message.error():
                        raise KafkaException(message.error())
                    outcome = self._outcome(topics[message.topic() or ""], message)
                    if outcome is None:
                        continue
                    event_id, result = outcome
                    self.outcomes.setdefault(event_id, result)
                    if result.kind == "archived" and first_archived is None:
                        first_archived = time.time()
                if self._progress is not None:
                    done = len(self.outcomes)
                    elapsed = time.time() - (first_archived or time.time())
                    shown = f"{done / elapsed:,.1f}/s" if elapsed > 1 else ""
                    self._progress.update(self._tasks["archived"], completed=done, rate=shown)
        finally:
            consumer.close()

    def _outcome(self, kind: str, message: Any) -> tuple[str, Outcome] | None:
        value = self.decoder.decode(message.value())
        event_id = value.get("event_id")
        if not event_id:
            return None
        at = message.timestamp()[1] / 1000
        if kind == "archived":
            filed = self.event_times.get(event_id, value["filed_at"].timestamp())
            puids = tuple(str(f.get("puid")) for f in value.get("formats") or [])
            return event_id, Outcome(kind, at, (at - filed) * 1000, puids)
        return event_id, Outcome(kind, at, None, reason=value.get("reason") or kind)

    def _sample(self, pids: list[int]) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            usages = [procstats.tree_usage(pid) for pid in pids]
            for pid, usage in zip(pids, usages, strict=True):
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), usage.peak_rss_mb)
            self.samples.append(stats.Sample(time.time(), sum(u.cpu_s for u in usages),
                                             sum(u.rss_mb for u in usages)))  # fmt: skip

    # --- figures ----------------------------------------------------------------------
    def _figures(self, start: float, end: float, submitted: int, before: dict[str, float],
                 after: dict[str, float]) -> dict[str, Any]:  # fmt: skip
        archived = {e: o for e, o in self.outcomes.items() if o.kind == "archived"}
        kinds = Counter(o.kind for o in self.outcomes.values())
        completions = [stats.Completion(o.at, o.latency_ms or 0.0) for o in archived.values()]
        first_event = min(self.event_times.values(), default=start)
        last_done = max((o.at for o in archived.values()), default=end)
        seconds = max(last_done - first_event, 1e-9)
        submit_seconds = max(self.event_times.values(), default=start) - first_event
        cpu = {name: round(after[name] - before.get(name, 0.0), 2) for name in after}
        wall = max(end - start, 1e-9)
        ncpu = os.cpu_count() or 1
        steady = stats.steady_rate(completions)
        sizes = dict(sorted(self.sizes.items()))
        return {
            "records": submitted,
            "seconds": round(seconds, 3),
            "records_per_s": stats.rate(len(archived), seconds),
            **stats.latency_summary([c.latency_ms for c in completions]),
            "cpu_s_per_record": round(cpu["workers"] / len(archived), 4) if archived else None,
            "peak_rss_mb": round(max(self.peaks.values(), default=0.0), 1),
            "worker_peak_rss_mb": [round(v, 1) for v in self.peaks.values()],
            "payload": self.options.payload.label,
            "payload_mean_bytes": round(sum(s * n for s, n in sizes.items()) / max(submitted, 1)),
            "payload_sizes": {str(size): count for size, count in sizes.items()},
            "workers": self.options.workers,
            "submitters": self.options.submitters,
            "target_rate_per_s": self.options.rate,
            "submitted": submitted,
            "archived": len(archived),
            "rejected": kinds["rejected"],
            "review": kinds["review"],
            "unfinished": submitted - len(self.outcomes),
            "rejections": dict(Counter(o.reason for o in self.outcomes.values() if o.reason)),
            "formats": dict(Counter(p for o in archived.values() for p in o.formats)),
            "submit_records_per_s": stats.rate(submitted, submit_seconds),
            "steady_records_per_s": None if steady is None else round(steady, 2),
            "submit_failures": len(self.failures),
            "cpu_s": cpu,
            "cpu_share": {name: round(value / (wall * ncpu), 3) for name, value in cpu.items()},
            **stats.rss_growth(self.samples, start, end),
            "rebalances": [
                stats.pause(change, at, first_event, completions) for change, at in self.changes
            ],
            "timeline": stats.timeline(
                first_event, last_done, list(self.event_times.values()), completions, self.samples
            ),
        }

    # --- baselines --------------------------------------------------------------------
    def compare_doors(self) -> dict[str, Any]:
        """Submissions alone through the SDK and through the gateway (no worker running), and
        the events the gateway produced in the run as the baselines' inputs."""
        count = min(self.options.records or gateway.COMPARE_RECORDS, gateway.COMPARE_RECORDS)
        if self.options.baselines:
            self.baseline_inputs = gateway.events_submitted(self.settings, self.agencies,
                                                            BASELINE_SAMPLE)  # fmt: skip
        with (
            self.console.status(f"提交对比 Submitting {count} through the SDK, then the gateway…"),
            tempfile.TemporaryDirectory(prefix="recordflow-bench-doors-") as folder,
        ):
            return gateway.compare(self.settings, self.registry, self.options.payload, count,
                                   self.options.submitters, self.run_id, Path(folder))  # fmt: skip

    def baselines(self, ingest_partitions: int) -> dict[str, Any]:
        inputs = self.baseline_inputs
        if not self.options.baselines or not inputs:
            return {"baseline_kafka_records_per_s": None, "baseline_s3_records_per_s": None,
                    "baseline_records": 0}  # fmt: skip
        with self.console.status(f"基线 Kafka baseline over {len(inputs)} events…"):
            kafka = baselines.kafka_baseline(
                self.settings, inputs, partitions=ingest_partitions,
                topic=self.settings.topic("scratch.kafka-baseline"),
            )  # fmt: skip
        with self.console.status(f"基线 S3 baseline over {len(inputs)} payloads…"):
            s3 = baselines.s3_baseline(
                self.settings, inputs, bucket=f"{self.settings.bucket_prefix}baseline",
                concurrency=self.options.workers * s3_requests_per_worker(self.settings),
                run_id=self.run_id,
            )  # fmt: skip
        return {
            "baseline_kafka_records_per_s": round(kafka, 2),
            "baseline_s3_records_per_s": round(s3, 2),
            "baseline_records": len(inputs),
        }


def s3_requests_per_worker(settings: Settings) -> int:
    """How many S3 requests one worker can have in flight: a record's S3 calls run in asyncio's
    default thread pool (min(32, cores + 4) threads), for up to register_concurrency records."""
    return min(settings.register_concurrency, min(32, (os.cpu_count() or 1) + 4))


def _wait_settled(workers: list[WorkerProcess], console: Console) -> None:
    """Until every worker has partitions and none has seen its assignment change for a while:
    a run that starts during a rebalance would measure the rebalance."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    seen: list[list[float]] = []
    with console.status("等待消费组稳定 Waiting for the consumer group to settle…"):
        while time.monotonic() < deadline:
            seen.append([worker.assigned_partitions() for worker in workers])
            recent = seen[-STABLE_POLLS:]
            if len(recent) == STABLE_POLLS and all(c == recent[0] for c in recent) \
                    and all(recent[0]):  # fmt: skip
                return
            time.sleep(1.0)
    raise TimeoutError("the bench's workers did not settle into a stable assignment")


def _delete_topics(settings: Settings) -> None:
    """A run's topics go when it ends (its records stay in the bench buckets)."""
    admin = AdminClient({**settings.kafka_config()})
    names = [n for n in admin.list_topics(timeout=30).topics if n.startswith(settings.topic_prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(KafkaException):
                future.result(30)
