"""CPU time and memory of a process tree, from /proc (Linux).

CPU: utime + stime of every live process in the tree (`/proc/<pid>/stat` fields 14 and 15) plus
cutime + cstime of each (children it has already waited for). Memory: VmRSS now and VmHWM, the
peak resident set, from `/proc/<pid>/status`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Fields after the command name in /proc/<pid>/stat (the name, in parentheses, may hold spaces):
# state is field 3, so field n is at index n - 3.
PPID, UTIME, STIME, CUTIME, CSTIME = (n - 3 for n in (4, 14, 15, 16, 17))


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_s: float  # own user + system time
    children_cpu_s: float  # waited-for children's


def parse_stat(text: str, pid: int) -> ProcStat:
    fields = text[text.rindex(")") + 2 :].split()
    own = (int(fields[UTIME]) + int(fields[STIME])) / CLOCK_TICKS
    children = (int(fields[CUTIME]) + int(fields[CSTIME])) / CLOCK_TICKS
    return ProcStat(pid, int(fields[PPID]), own, children)


def read_stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text(), pid)
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None  # gone, or between fork and exec


def status_kb(pid: int, field: str, proc: Path = PROC) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM …), or None when the process is gone."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def process_tree(root: int, proc: Path = PROC) -> list[ProcStat]:
    """`root` and every live descendant."""
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (stat := read_stat(int(entry.name), proc)) is not None:
            stats[stat.pid] = stat
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(stats[pid])
        todo.extend(children.get(pid, []))
    return tree


@dataclass(frozen=True)
class TreeUsage:
    cpu_s: float
    rss_mb: float
    peak_rss_mb: float  # the largest VmHWM of one process in the tree


def tree_usage(root: int, proc: Path = PROC) -> TreeUsage:
    """CPU seconds so far, resident memory now and the largest peak of the tree under `root`."""
    tree = process_tree(root, proc)
    cpu = sum(stat.cpu_s + stat.children_cpu_s for stat in tree)
    rss = sum(status_kb(stat.pid, "VmRSS", proc) or 0 for stat in tree) / 1024
    peak = max((status_kb(stat.pid, "VmHWM", proc) or 0 for stat in tree), default=0) / 1024
    return TreeUsage(cpu, rss, peak)


def cpu_by_part(worker_pids: list[int], services: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of the workers (together), each local stack service by name, and this
    process (`bench`: the simulated agencies or the importer)."""
    usage = {"workers": sum(tree_usage(pid).cpu_s for pid in worker_pids)}
    for name, pid in services.items():
        usage[name] = tree_usage(pid).cpu_s
    own = read_stat(os.getpid())
    usage["bench"] = own.cpu_s if own else 0.0
    return usage
