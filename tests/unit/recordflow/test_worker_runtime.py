"""The runtime settings the worker re-executes itself with (recordflow/cli/worker.py) do what their
comments say, on this machine's C library."""

from __future__ import annotations

import os
import subprocess
import sys

from recordflow.cli.worker import WORKER_RUNTIME_ENV

# After glibc frees a 2.5 MB mapped block (aiokafka's zstd buffer), is a 1 MB block still
# mapped on its own (1), or carved from the heap (0)?
MAPPED_AFTER_A_LARGE_FREE = """
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(2_500_000))
before = libc.mallinfo2().hblks
block = libc.malloc(1_000_000)
print(libc.mallinfo2().hblks - before)
"""


def mapped_after_a_large_free(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", MAPPED_AFTER_A_LARGE_FREE], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return int(out)


def test_the_fixed_mmap_threshold_keeps_large_buffers_out_of_the_heap() -> None:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert mapped_after_a_large_free(plain) == 0  # glibc's sliding threshold
    assert mapped_after_a_large_free({**plain, **WORKER_RUNTIME_ENV}) == 1
