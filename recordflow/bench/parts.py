"""`recordflow bench --parts`: the CPU that every archived file costs in the parts no pipeline can
skip, measured one part at a time in this process, without the stack.

A run's figures say what the whole pipeline costs; these say how much of it is the floor: the
digests (the agency's SDK computes them while staging, the worker again while fetching), the
SHA-256 minio signs each PUT's body with over plain HTTP, and identification (siegfried, pypdf, the
bomb scan). With a run's Kafka and S3 server CPU per record, they bound what the cores can archive
whatever the pipeline's own code costs (docs/performance.md, "What limits it").
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from archival import formats
from connectors.storage import Digests
from recordflow.bench.payloads import base_pdf, padded_pdf, size_label

# Enough repetitions for a few hundred milliseconds a part at either size.
BYTES_PER_PART = 32 * 1024 * 1024
MIN_REPEATS, MAX_REPEATS = 5, 300


def measure_parts(size: int) -> dict[str, float]:
    """CPU milliseconds per file of `size` bytes (a padded one-page PDF, as the bench submits), for
    each part, by `time.process_time`: siegfried works on Go's own threads."""
    data = padded_pdf(base_pdf("市人民政府办公厅"), size)
    formats.load_signatures()
    repeats = max(MIN_REPEATS, min(MAX_REPEATS, BYTES_PER_PART // max(size, 1)))
    with tempfile.TemporaryDirectory(prefix="recordflow-parts-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(data)
        parts: dict[str, Callable[[], object]] = {
            "digests (SHA-256, SM3, MD5 per part)": lambda: Digests().update(data),
            "PUT body signature (SHA-256)": lambda: hashlib.sha256(data).digest(),
            "identification, all": lambda: formats.identify(path, "通知.pdf", "application/pdf"),
            "identification: siegfried": lambda: formats._siegfried(path, "pdf"),
            "identification: bomb scan": lambda: formats.compression_bomb(path, data[:65536]),
            "identification: pypdf": lambda: formats._pdf(path),
        }
        return {name: _cpu_ms(part, repeats) for name, part in parts.items()}


def _cpu_ms(part: Callable[[], object], repeats: int) -> float:
    part()  # first call: caches, imports
    start = time.process_time()
    for _ in range(repeats):
        part()
    return round((time.process_time() - start) / repeats * 1000, 3)


def parts_report(sizes: list[int]) -> dict[str, dict[str, float]]:
    return {size_label(size): measure_parts(size) for size in sizes}
