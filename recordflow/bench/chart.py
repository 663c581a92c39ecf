"""The run's chart: archived records per second and latency (p50, p99) per one-second bucket.

matplotlib is imported here, on first use, with its Agg backend (no display), so that nothing
else in the CLI pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_chart(path: Path, buckets: Sequence[dict[str, Any]], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = [bucket["t"] for bucket in buckets]
    figure, (throughput, latency) = pyplot.subplots(
        2, 1, sharex=True, figsize=(10, 6.5), constrained_layout=True
    )
    try:
        width = (seconds[1] - seconds[0]) if len(seconds) > 1 else 1.0
        throughput.bar(seconds, [b["archived"] for b in buckets], width=width, align="edge",
                       color="#2b7bba", label="archived / s")  # fmt: skip
        throughput.step(seconds, [b["submitted"] for b in buckets], where="post",
                        color="#d95f02", linewidth=1.0, label="submitted / s")  # fmt: skip
        throughput.set_ylabel("records per second")
        throughput.legend(loc="upper right")
        throughput.set_title(title)
        for key, colour in (("p50_ms", "#1b9e77"), ("p99_ms", "#e7298a")):
            points = [(b["t"] + width / 2, b[key]) for b in buckets if b[key] is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                latency.plot(xs, ys, marker=".", linewidth=1.0, color=colour,
                             label=key.replace("_ms", ""))  # fmt: skip
        latency.set_ylabel("latency, ms (event time → archival-ready)")
        latency.set_xlabel("seconds since the first submission")
        if any(b["p99_ms"] for b in buckets):
            latency.set_yscale("log")
            latency.legend(loc="upper left")
        figure.savefig(path, dpi=100)
    finally:
        pyplot.close(figure)
    return path
