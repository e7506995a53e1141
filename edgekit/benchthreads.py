"""How many threads the runtime made for an ``edgekit bench`` run, and whether they outnumber the cores (device-safe).

At T threads LiteRT runs what XNNPACK takes on XNNPACK's pool (T-1 workers) and the kernels XNNPACK refuses on its
own pools (T-1 workers each, made by the first kernel that uses one), beside the calling thread. When those
threads outnumber the cores, where the OS puts them decides the time: facex's emotion model at 2 threads on this
project's 2-vCPU VM (3 runtime threads) ran 11.3-13.0 ms with each thread pinned so that LiteRT's busiest worker
(it spins between jobs) had a core without the calling thread, 20.1 ms with the two others on the caller's core,
120 ms with the busy one there, and 12.1-20.2 ms unpinned from one process to the next
(``scripts/bench_thread_placement.py``; docs/BENCHMARKS.md, "thread placement"). A single run's median is then one
placement's, so bench counts the threads the runtime made (Linux: the process's tasks before the interpreter is
made and after its first invoke) and says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

TASKS = Path("/proc/self/task")


def thread_ids() -> frozenset[int] | None:
    """This process's thread ids (None where the OS does not list them)."""
    try:
        return frozenset(int(t) for t in os.listdir(TASKS))
    except (OSError, ValueError):
        return None


def new_threads(before: frozenset[int] | None) -> int | None:
    """How many of this process's threads were not in ``before`` (None when either listing is unknown)."""
    now = thread_ids()
    return None if before is None or now is None else len(now - before)


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def crowding_warnings(runs: Sequence[tuple[int | None, int | None]], cores: int) -> list[str]:
    """A warning per (threads, runtime threads) run whose runtime threads and the calling thread outnumber
    ``cores``."""
    out = []
    for threads, made in runs:
        if made is None or made + 1 <= cores:
            continue
        out.append(f"at {threads or 'the default'} thread(s) the runtime ran {made} thread(s) of its own beside the "
                   f"calling one, more than this machine's {cores} core(s): where the OS put them decides the time, "
                   "so this median is one placement's (one model here ran 1.6x slower, or 10x, from run to run; "
                   "docs/BENCHMARKS.md, \"thread placement\"). Run it again to see another, or use fewer threads.")
    return out


__all__ = ["crowding_warnings", "new_threads", "thread_ids", "usable_cores"]
