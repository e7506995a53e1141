"""Measure several .tflite files of one network against the first (e.g. float vs int8 before/after a change).

    .venv/bin/python scripts/bench_files.py BASE.tflite OTHER.tflite [...] [--threads 1] [--runs 300] [--rounds 5]

Each round runs ``edgekit bench FILE --threads T --runs N --json`` once per file, the files in turn, so a busy
moment of a shared machine hits them alike; a file's figure is the median of its rounds' medians, and the
ratio is against the first file measured in the same run. Also printed: the XNNPACK partitions the
runtime reported, and the load average before and after. Every figure is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGEKIT = str(ROOT / ".venv" / "bin" / "edgekit")


def bench_once(model: Path, threads: int, runs: int) -> tuple[float, int]:
    """(median latency ms, XNNPACK partitions) of one ``edgekit bench`` run."""
    proc = subprocess.run([EDGEKIT, "bench", str(model), "--threads", str(threads), "--runs", str(runs), "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"edgekit bench {model} failed: {proc.stderr.strip()[-600:]}")
    result = json.loads(proc.stdout)["results"][0]
    return float(result["latency_ms"]["median"]), int(result.get("delegate_partitions") or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    missing = [str(m) for m in args.models if not m.is_file()]
    if missing:
        print(f"Error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    medians: dict[Path, list[float]] = {m: [] for m in args.models}
    partitions: dict[Path, int] = {}
    for r in range(args.rounds):
        for m in args.models:
            ms, parts = bench_once(m, args.threads, args.runs)
            medians[m].append(ms)
            partitions[m] = parts
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    load_after = os.getloadavg()
    base = statistics.median(medians[args.models[0]])
    rows = [{"model": str(m), "median_ms": statistics.median(v), "rounds_ms": v,
             "ratio_to_first": statistics.median(v) / base, "xnnpack_partitions": partitions[m]}
            for m, v in medians.items()]
    if args.json:
        print(json.dumps({"threads": args.threads, "runs": args.runs, "rounds": args.rounds, "measured": True,
                          "load_average_before": load_before, "load_average_after": load_after, "rows": rows},
                         indent=2))
        return 0
    print(f"measured: edgekit bench, {args.threads} thread(s), {args.runs} runs x {args.rounds} rounds; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'file':60s} {'partitions':>10s} {'median ms':>10s} {'vs first':>9s}")
    for row in rows:
        print(f"{Path(str(row['model'])).name:60s} {row['xnnpack_partitions']:>10d} {row['median_ms']:>10.3f} "
              f"{row['ratio_to_first']:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
