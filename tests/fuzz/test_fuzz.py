"""A bounded coverage-guided fuzz run (atheris) of the decoder and metadata validation, from the
committed seed corpus: any exception but a CodecError or RecordRejected with a known reason code
is a crash, and fails this test with the input that caused it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "decode_validate.py"
SEEDS = HARNESS.parent / "corpus" / "decode_validate"
MAX_TOTAL_TIME_S = 40  # libFuzzer stops after this long, or after MAX_RUNS inputs
MAX_RUNS = 2_000_000
PER_INPUT_TIMEOUT_S = 10  # one input that takes longer is a hang, reported as a crash
RSS_LIMIT_MB = 2048


def test_decoder_and_validation_survive_a_bounded_fuzz_run(tmp_path: Path) -> None:
    found = tmp_path / "found"  # what the run adds to the corpus; the seeds stay as committed
    found.mkdir()
    run = subprocess.run(
        [sys.executable, str(HARNESS), f"-max_total_time={MAX_TOTAL_TIME_S}",
         f"-runs={MAX_RUNS}", f"-timeout={PER_INPUT_TIMEOUT_S}", f"-rss_limit_mb={RSS_LIMIT_MB}",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(found), str(SEEDS)],
        capture_output=True, text=True, timeout=MAX_TOTAL_TIME_S + 60, check=False,
    )  # fmt: skip
    crashes = sorted(path.name for path in tmp_path.glob("*-*") if path.is_file())
    report = "\n".join(run.stderr.splitlines()[-40:])
    assert run.returncode == 0 and not crashes, f"fuzzing found {crashes}:\n{report}"
    assert "Done" in run.stderr and "runs in" in run.stderr, report  # it really ran
    assert len(list(SEEDS.iterdir())) >= 10
