"""`recordflow bench`: push N records through the whole pipeline on the local stack and measure.

Each run has its own topics (a fresh prefix) so that it starts from an empty pipeline, and its
own `bench-` buckets so that the demo's archive is not mixed with synthetic records. Latency is
from each event's time to the moment its archival-ready record is read back.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException
from rich.console import Console
from rich.progress import Progress

from avro_schemas.codec import Codec
from connectors.sdk import FileToSubmit, Submitter
from recordflow.settings import Settings
from recordflow.setup import prepare
from recordflow.workers import WorkerProcess

UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
RESULT_TIMEOUT_S = 600.0


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*", text.upper())
    if not match:
        raise ValueError(f"size {text!r} is not like 10KB, 512B or 1MB")
    return int(float(match[1]) * UNITS[match[2]])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_bench(
    settings: Settings, *, records: int, payload_bytes: int, console: Console
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={"topic_prefix": f"bench{run_id}.", "bucket_prefix": "bench-"}
    )
    prepare(settings, console)
    worker = WorkerProcess(settings, name=f"bench-{run_id}")
    worker.start()
    try:
        worker.wait_ready(console)
        with tempfile.TemporaryDirectory(prefix="recordflow-bench-") as tmp:
            paths = []
            for index in range(records):
                path = Path(tmp) / f"bench-{index:06d}.pdf"
                path.write_bytes(os.urandom(payload_bytes))
                paths.append(path)
            submitter = Submitter(settings)
            started = time.monotonic()
            event_times: dict[str, float] = {}
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("提交 Submitting", total=records)
                for index, path in enumerate(paths):
                    metadata = {
                        "document_id": f"BENCH-{run_id}-{index:06d}",
                        "title": f"基准测试文件 {index}",
                        "document_number": f"基准〔{run_id}〕{index}号",
                        "responsible_party": "市人民政府办公厅",
                        "document_date": dt.date.today().isoformat(),
                        "document_type": "通知",
                        "unit_code": "BGS",
                    }
                    receipt = submitter.submit("bgt", [FileToSubmit(path)], metadata, wait=False)
                    event_times[receipt.event_id] = time.time()
                    progress.advance(task)
            submitter.close()
            submitted_s = time.monotonic() - started
            arrivals = _await_records(settings, set(event_times), console)
        finished_s = (
            max(arrivals.values()) - min(event_times.values()) if arrivals else float("nan")
        )
    finally:
        worker.stop()
    latencies_ms = [(arrivals[event_id] - event_times[event_id]) * 1000 for event_id in arrivals]
    return {
        "records": records,
        "archived": len(arrivals),
        "payload_bytes": payload_bytes,
        "seconds": round(finished_s, 3),
        "records_per_s": round(len(arrivals) / finished_s, 2) if arrivals else 0.0,
        "submit_records_per_s": round(records / submitted_s, 2),
        "p50_ms": round(statistics.median(latencies_ms), 1) if latencies_ms else None,
        "p99_ms": round(percentile(latencies_ms, 0.99), 1) if latencies_ms else None,
        "topic_prefix": settings.topic_prefix,
    }


def _await_records(settings: Settings, event_ids: set[str], console: Console) -> dict[str, float]:
    """Wall-clock time at which each event's archival-ready record was read back."""
    codec = Codec.from_url(settings.schema_registry_url)
    consumer = Consumer({**settings.kafka_config(), "group.id": f"recordflow-bench-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([settings.archival_ready_topic])
    arrivals: dict[str, float] = {}
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("归档 Archiving", total=len(event_ids))
            while len(arrivals) < len(event_ids) and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                if message.error():
                    raise KafkaException(message.error())
                record = codec.decode(message.value(), "archival_record")
                if record["event_id"] in event_ids:
                    arrivals.setdefault(record["event_id"], time.time())
                    progress.update(task, completed=len(arrivals))
    finally:
        consumer.close()
    return arrivals
