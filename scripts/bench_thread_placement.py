"""Where the OS puts LiteRT's threads, and what that costs, on THIS machine (issue 14's diagnostic).

facex's emotion model ran 13-14 ms or 19-24 ms at 2 threads on this project's 2-vCPU VM from one `edgekit bench`
to the next (calm hand-over both times), against 12.4 ms at one thread. At T threads LiteRT runs what XNNPACK takes
on XNNPACK's pool (T-1 workers) and the convolutions XNNPACK refuses on its own pool (ruy's, T-1 more): with the
calling thread, 2T-1 threads, more than the cores when 2T-1 > cores, and then where the OS puts them decides.

This script runs MODEL at --threads in a fresh process per arrangement: the calling thread pinned to core 0 and
each runtime thread pinned to a core (every arrangement of up to 4 of them), and once unpinned; each arrangement
--rounds times, interleaved; the median invoke (XNNPACK on, bench's random input and warm-up) per arrangement,
and each runtime thread's CPU time per invoke (a worker that spins between jobs shows up there).

Runtime threads are told apart by when they appear: ``pool@load`` when the interpreter is made (XNNPACK's
delegate makes its pool then), ``pool@invoke`` at the first invoke (LiteRT's own pool, made by the first kernel
that uses it).

    .venv/bin/python scripts/bench_thread_placement.py MODEL.tflite [--threads 2] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_PINNED = 4  # runtime threads pinned one by one; above it, only the unpinned run
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_s(tid: int) -> float:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


def child(model: Path, threads: int, arrangement: list[int] | None, runs: int) -> dict[str, Any]:
    """One fresh interpreter: its runtime threads, pinned by ``arrangement`` (core per runtime thread, in order of
    appearance; the caller on core 0), and the median invoke ms."""
    from edgekit.bench import WARMUP_S
    from edgekit.benchinputs import random_input
    from edgekit.benchthreads import thread_ids
    from edgekit.tflite.runtime import load_interpreter

    def tids() -> frozenset[int]:
        return thread_ids() or frozenset()

    before = tids()
    interp = load_interpreter(model.read_bytes(), num_threads=threads, use_xnnpack=True)
    at_load = sorted(tids() - before)
    rng = np.random.default_rng(0)  # bench's seed: the same input, the same IF branches
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], random_input(d["shape"], np.dtype(d["dtype"]).name, rng))
    interp.invoke()
    at_invoke = sorted(tids() - before - set(at_load))
    workers = [("pool@load", t) for t in at_load] + [("pool@invoke", t) for t in at_invoke]
    if arrangement is not None:
        if len(arrangement) != len(workers):
            return {"error": f"{len(workers)} runtime threads, arrangement for {len(arrangement)}"}
        os.sched_setaffinity(threading.get_native_id(), {0})
        for (_, tid), cpu in zip(workers, arrangement, strict=True):
            os.sched_setaffinity(tid, {cpu})
    start = time.perf_counter()
    while time.perf_counter() - start < WARMUP_S:
        interp.invoke()
    cpu0 = {tid: _cpu_s(tid) for _, tid in workers}
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        interp.invoke()
        samples.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = {f"{kind} {i}": round(1e3 * (_cpu_s(tid) - cpu0[tid]) / runs, 3)
              for i, (kind, tid) in enumerate(workers)}
    return {"median_ms": statistics.median(samples), "workers": [k for k, _ in workers], "worker_cpu_ms": cpu_ms}


def run_child(model: Path, threads: int, arrangement: list[int] | None, runs: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, str(model), "--threads", str(threads), "--runs", str(runs), "--child",
           ",".join(map(str, arrangement)) if arrangement is not None else "free"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def label(workers: list[str], arrangement: list[int] | None) -> str:
    if arrangement is None:
        return "unpinned"
    parts = [f"{w.split('@')[1]}#{i}->core {c}" for i, (w, c) in enumerate(zip(workers, arrangement, strict=True))]
    return "caller->core 0, " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        arrangement = None if args.child == "free" else [int(c) for c in args.child.split(",")]
        print(json.dumps(child(args.model, args.threads, arrangement, args.runs)))
        return 0
    if not hasattr(os, "sched_setaffinity"):
        raise SystemExit("needs Linux (os.sched_setaffinity)")
    from edgekit.benchthreads import usable_cores

    cores = usable_cores()
    probe = run_child(args.model, args.threads, None, 3)
    workers: list[str] = probe["workers"]
    arrangements: list[list[int] | None] = [None]
    if len(workers) <= MAX_PINNED:
        arrangements += [list(a) for a in itertools.product(range(cores), repeat=len(workers))]
    print(f"{args.model.name}: {args.threads} threads, {len(workers)} runtime threads "
          f"({', '.join(workers)}), {cores} cores, {len(arrangements)} arrangements x {args.rounds} rounds",
          file=sys.stderr)
    timings: dict[int, list[float]] = {i: [] for i in range(len(arrangements))}
    cpu: dict[int, dict[str, float]] = {}
    for r in range(args.rounds):
        for i, arr in enumerate(arrangements):
            res = run_child(args.model, args.threads, arr, args.runs)
            timings[i].append(res["median_ms"])
            cpu[i] = res["worker_cpu_ms"]
        print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr)
    rows: list[dict[str, Any]] = [{"arrangement": label(workers, arr), "median_ms": round(statistics.median(timings[i]), 4),
             "round_medians_ms": [round(t, 4) for t in timings[i]], "worker_cpu_ms_per_invoke": cpu[i]}
            for i, arr in enumerate(arrangements)]
    if args.json:
        print(json.dumps({"model": str(args.model), "threads": args.threads, "cores": cores, "workers": workers,
                          "rows": rows}, indent=1))
        return 0
    for row in rows:
        rounds = " / ".join(f"{t:.3f}" for t in row["round_medians_ms"])
        spin = ", ".join(f"{k} {v:.2f}" for k, v in row["worker_cpu_ms_per_invoke"].items())
        print(f"{row['median_ms']:9.3f} ms  ({rounds})  {row['arrangement']}  [CPU ms/invoke: {spin}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
