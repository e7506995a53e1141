"""`edgekit bench` median vs LiteRT's own benchmark tool on the same model and thread count.

    .venv/bin/python scripts/bench_vs_litert.py MODEL.tflite [MODEL ...] [--threads 1,2] [--runs 30] [--rounds 40]

For each model and thread count it runs, alternately, ``edgekit bench M --threads T --runs N --json`` and
``python -m ai_edge_litert.tools.benchmark_litert_model --model M --num_runs N --num_threads T
--result_json OUT`` (the tool's real flags: see its --help), ``--rounds`` times each, and compares the
median of the per-round medians. Alternating rounds keeps a busy machine from favouring one tool.
Agreement target: within 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGEKIT = str(ROOT / ".venv" / "bin" / "edgekit")


def edgekit_median(model: Path, threads: int, runs: int, warmup: int) -> float:
    proc = subprocess.run([EDGEKIT, "bench", str(model), "--threads", str(threads), "--runs", str(runs),
                           "--warmup", str(warmup), "--json"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"edgekit bench failed: {proc.stderr.strip()}")
    return float(json.loads(proc.stdout)["results"][0]["latency_ms"]["median"])


def litert_median(model: Path, threads: int, runs: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", "--model", str(model),
               "--num_runs", str(runs), "--warmup_runs", str(warmup), "--num_threads", str(threads),
               "--result_json", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"benchmark_litert_model failed: {proc.stderr.strip()[-800:]}")
        return float(json.loads(out.read_text())["latency"]["median_ms"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    rows = []
    for model in args.models:
        for t in (int(x) for x in args.threads.split(",")):
            ek, lr = [], []
            for _ in range(args.rounds):
                ek.append(edgekit_median(model, t, args.runs, args.warmup))
                lr.append(litert_median(model, t, args.runs, args.warmup))
            e, r = statistics.median(ek), statistics.median(lr)
            diff = e / r - 1
            # on a busy machine the least-disturbed round of each tool is the fairer pair
            best = min(ek) / min(lr) - 1
            rows.append((model.name, t, e, r, diff, min(ek), min(lr), best))
            print(f"{model.name} t={t}: edgekit {e:.3f} ms  litert {r:.3f} ms  ({diff:+.1%})  rounds edgekit "
                  f"{[round(v, 2) for v in ek]} litert {[round(v, 2) for v in lr]}  load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr, flush=True)
    print("| model | threads | edgekit median of round medians ms | LiteRT tool, same | difference | "
          "edgekit best round ms | LiteRT best round ms | difference |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t, e, r, diff, be, br, bd in rows:
        print(f"| {name} | {t} | {e:.3f} | {r:.3f} | {diff:+.1%} | {be:.3f} | {br:.3f} | {bd:+.1%} |")
    within = sum(abs(row[4]) <= 0.10 for row in rows)
    within_best = sum(abs(row[7]) <= 0.10 for row in rows)
    print(f"\n{within}/{len(rows)} within 10% on the median of rounds, {within_best}/{len(rows)} on the best round "
          f"(runs={args.runs}, warm-up={args.warmup}, rounds={args.rounds}, "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).")
    return 0 if within == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
