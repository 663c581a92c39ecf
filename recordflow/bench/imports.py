"""`recordflow bench --import`: how fast a digitization batch comes in, against a raw copy.

The run generates a batch of 300-dpi A4 JPEG pages of about 3 MB each (noise compresses badly, as
real scans of paper do; each page carries its own JPEG comment, so no two are the same bytes), a
catalogue for them, and imports it as `recordflow import digitized` does — link, DA/T 31 checks,
submit through the outbox, and wait until the worker has archived every item. Then, in the same
run, the raw copy baseline: each page read from disk, hashed (SHA-256 + SM3, as the pipeline
does) and written to a scratch S3 bucket, from as many threads as the importer submits from.
Both report pages/s and MB/s; the goal is at least half the baseline's rate.
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from minio.deleteobjects import DeleteObject
from PIL import Image
from rich.console import Console

from archival.digitization import link_batch, load_link_config
from archival.metadata import load_metadata_rules
from connectors.importer import SUBMIT_THREADS, import_items, linked_items
from connectors.outbox import Outbox
from connectors.storage import PART_SIZE, Digests, Storage
from recordflow.bench import procstats, stats
from recordflow.localstack.setup import prepare
from recordflow.localstack.stack import Stack
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings

AGENCY, FONDS, UNIT = "bgt", "Z101", "BGS"
A4_300_DPI = (2480, 3508)
GOAL_RATIO = 0.5


def page_bytes(base: bytes, comment: str) -> bytes:
    """`base` (a JPEG) with a comment segment after its start marker: other bytes, same image."""
    text = comment.encode()
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return base[:2] + segment + base[2:]


def base_page(seed: int = 7) -> bytes:
    """A greyscale A4 page at 300 dpi whose noise makes a JPEG of about 3 MB."""
    rng = random.Random(seed)
    width, height = A4_300_DPI
    image = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=40, dpi=(300, 300))
    return buffer.getvalue()


def write_batch(root: Path, items: int, pages: int, run_id: str) -> tuple[Path, Path, list[Path]]:
    """The catalogue and the pages; (catalogue, images folder, every page)."""
    images = root / "images"
    images.mkdir(parents=True)
    base = base_page()
    written = []
    with (root / "目录.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["档号", "文号", "责任者", "题名", "日期", "页数", "保管期限"])
        for item in range(1, items + 1):
            code = f"{FONDS}-WS·1990-Y-{UNIT}-{item:04d}"
            writer.writerow([code, f"市府办发〔1990〕{item}号", "市人民政府办公厅",
                             f"关于第{item}批档案数字化工作的通知", "1990-06-15", pages, "永久"])  # fmt: skip
            for page in range(1, pages + 1):
                path = images / f"{code}-{page}.jpg"
                path.write_bytes(page_bytes(base, f"{run_id} {code} p{page}"))
                written.append(path)
    return root / "目录.csv", images, written


def run_import_bench(settings: Settings, items: int, pages: int, console: Console, *,
                     workers: int = 1) -> dict[str, Any]:  # fmt: skip
    run_id = f"imp{int(time.time())}"
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}{run_id}.",
                                           "bucket_prefix": f"{settings.bucket_prefix}{run_id}-",
                                           "outbox_dir": None})  # fmt: skip
    prepare(settings, console)
    group = [WorkerProcess(settings, name=f"bench-{run_id}-{n}") for n in range(1, workers + 1)]
    with tempfile.TemporaryDirectory(prefix="recordflow-bench-import-") as tmp:
        root = Path(tmp)
        try:
            # The workers start while the batch is written; they live in sessions of their own,
            # so whatever fails from here on (a full disk) must still stop them.
            for worker in group:
                worker.start()
            with console.status(f"生成 Generating {items} items × {pages} pages of ~3 MB…"):
                catalogue, images, paths = write_batch(root, items, pages, run_id)
            size = sum(path.stat().st_size for path in paths)
            for worker in group:
                worker.wait_ready(console)
            settings = settings.model_copy(update={"outbox_dir": root / "outbox"})
            pids = [worker.process.pid for worker in group if worker.process is not None]
            services = {s.service: s.pid for s in Stack(settings).status() if s.pid}
            cpu_before = procstats.cpu_by_part(pids, services)
            began = time.monotonic()
            with console.status("导入 Importing (link, check, submit, archive)…"):
                report = link_batch(catalogue, images, load_link_config(settings.digitization_file))
                batch = linked_items(report, AGENCY,
                                     load_metadata_rules(settings.metadata_rules_file))  # fmt: skip
                outbox = Outbox(settings.outbox_path)
                try:
                    results = import_items(settings, batch, outbox)
                finally:
                    outbox.close()
            imported_s = time.monotonic() - began
            import_cpu = _per_page(cpu_before, procstats.cpu_by_part(pids, services), len(paths))
        finally:
            for worker in group:
                worker.stop()
        with console.status("基线 Raw copy: read, hash, write to S3…"):
            cpu_before = procstats.cpu_by_part([], services)
            baseline_s = raw_copy(settings, paths, run_id)
            baseline_cpu = _per_page(cpu_before, procstats.cpu_by_part([], services), len(paths))
        # The run's scratch copies (its staged pages, the raw copy's) would fill the disk in a few
        # runs; its archive bucket stays, under the lock every archived object carries.
        for bucket in (settings.staging_bucket, f"{settings.bucket_prefix}baseline"):
            _remove_bucket(Storage(settings), bucket)
    archived = sum(result.status == "archived" for result in results)
    imported = _rates(len(paths), size, imported_s)
    baseline = _rates(len(paths), size, baseline_s)
    ratio = stats.ratio(imported["pages_per_s"], baseline["pages_per_s"])
    return {
        "items": items, "pages": len(paths), "megabytes": round(size / 1e6, 1), "workers": workers,
        "linked": len(report.linked), "archived": archived, "import": imported,
        "outcomes": {r.key: r.status + (f" {r.reason}: {r.detail}" if r.reason else "")
                     for r in results if r.status != "archived"},
        "raw_copy_baseline": baseline, "ratio_to_baseline": ratio, "goal_ratio": GOAL_RATIO,
        "cpu_ms_per_page": {"import": import_cpu, "raw_copy": baseline_cpu},
        "met": ratio is not None and ratio >= GOAL_RATIO,
    }  # fmt: skip


def raw_copy(settings: Settings, paths: list[Path], run_id: str) -> float:
    """Seconds to read, hash and PUT every page to a scratch bucket, SUBMIT_THREADS at a time."""
    client = Storage(settings).client
    bucket = f"{settings.bucket_prefix}baseline"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)

    def copy(path: Path) -> None:
        digests = Digests(etag=False)  # the two digests the pipeline keeps, nothing more
        data = path.read_bytes()
        digests.update(data)
        client.put_object(bucket, f"raw/{run_id}/{path.name}", io.BytesIO(data), len(data),
                          content_type="image/jpeg", part_size=PART_SIZE,
                          metadata={"sha256": digests.sha256.hexdigest(),
                                    "sm3": digests.sm3.hexdigest()})  # fmt: skip

    began = time.monotonic()
    with ThreadPoolExecutor(SUBMIT_THREADS, thread_name_prefix="raw-copy") as pool:
        list(pool.map(copy, paths))
    return time.monotonic() - began


def _remove_bucket(storage: Storage, bucket: str) -> None:
    client = storage.client
    names = (DeleteObject(o.object_name) for o in client.list_objects(bucket, recursive=True)
             if o.object_name is not None)  # fmt: skip
    failed = list(client.remove_objects(bucket, names))
    if failed:
        raise OSError(f"{bucket}: {len(failed)} object(s) not deleted, first: {failed[0]}")
    client.remove_bucket(bucket)


def _rates(pages: int, size: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 2), "pages_per_s": stats.rate(pages, seconds),
            "mb_per_s": round(size / 1e6 / seconds, 2) if seconds > 0 else 0.0}  # fmt: skip


def _per_page(before: dict[str, float], after: dict[str, float], pages: int) -> dict[str, float]:
    """Milliseconds of CPU each part spent per page between the two readings, and their total:
    on one shared host, where both runs keep every core busy, the ratio of the two runs' rates is
    the inverse ratio of their totals."""
    spent = {part: round(1000 * (after[part] - before.get(part, 0.0)) / pages, 1)
             for part in after if part in before}  # fmt: skip
    return {**spent, "total": round(sum(spent.values()), 1)}
