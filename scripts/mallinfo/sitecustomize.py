"""A diagnostic for a worker's memory (docs/performance.md, "Memory"): put this folder on
PYTHONPATH and every `recordflow worker` process that starts writes, every 30 s, one JSON line
to /tmp/mallinfo-<pid>.jsonl: its RSS, glibc's heap in all arenas (`arena`), what of it is in use
(`uordblks`) and free (`fordblks`), the blocks mapped on their own (`hblkhd`), all in MB, and
the blocks Python's allocator holds. RSS that grows while `uordblks` stays flat is a heap
fragmenting, not memory kept. (The first line, ~12 MB, is the process before the worker
re-executes itself with its runtime settings.)

    PYTHONPATH=scripts/mallinfo .venv/bin/recordflow bench --size 10KB --rate 38 --duration 1800
"""

import sys

if sys.argv[1:2] == ["worker"]:
    import ctypes
    import json
    import os
    import threading
    import time

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip

    def sample(path: str) -> None:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        while True:
            info = libc.mallinfo2()
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            row = {"t": time.strftime("%H:%M:%S"), "rss": round(rss / 2**20, 1),
                   **{k: round(getattr(info, k) / 2**20, 2) for k in ("arena", "uordblks", "fordblks", "hblkhd")},
                   "pyblocks": sys.getallocatedblocks()}  # fmt: skip
            with open(path, "a") as out:
                out.write(json.dumps(row) + "\n")
            time.sleep(30)

    path = f"/tmp/mallinfo-{os.getpid()}.jsonl"
    threading.Thread(target=sample, args=(path,), daemon=True, name="mallinfo").start()
