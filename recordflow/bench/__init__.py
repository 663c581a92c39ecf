"""`recordflow bench`: drive the whole pipeline on the local stack and measure it beside the two
baselines it stands on (raw Kafka, raw S3), with the same payloads in the same run.

- `payloads`: sizes, the mix, realistic padded PDFs and their metadata;
- `run`: one run (its own topics, worker processes, submitters, collector, sampler);
- `baselines`: (a) Kafka produce → consume, (b) S3 GET + hash + PUT under object lock;
- `procstats`: CPU seconds and RSS of a process tree from /proc;
- `stats`: percentiles, the per-second timeline, the JSON report's keys;
- `chart`: the PNG of throughput and latency over the run (matplotlib, imported lazily).
- `lookup`: `--lookup`, the lookup service's store (rebuild, query latency) against answering
  the same queries by reading the catalog topic.

Latency is from each event's `event_time` to the timestamp of its archival-ready record (when the
worker wrote it). docs/performance.md has the figures measured and how to reproduce them.
"""

from recordflow.bench.payloads import PayloadPlan, parse_size
from recordflow.bench.run import BenchOptions, run_bench

__all__ = ["BenchOptions", "PayloadPlan", "parse_size", "run_bench"]
