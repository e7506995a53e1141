"""`edgekit bench MODEL --on ssh://board` against `edgekit bench MODEL` run on the board itself (issue 17).

    .venv/bin/python scripts/bench_remote.py [--model M.tflite ...] [--rounds 7] [--runs 300] [--threads 1] [--json]

The board is a real OpenSSH server on 127.0.0.1 (tests/remote_helpers.py: throw-away host key, an authorized
key made here, root login; needs root and Debian's openssh-server, which scripts/test installs) whose
``edgekit`` is the base-only venv ``.venv-device`` (no TensorFlow), as on a Raspberry Pi. "On the board
directly" is that same edgekit started in the same folder without SSH.

Rounds alternate (direct, --on, direct, --on ...), so a busy moment of a shared machine hits both sides alike.
Each side's figure is bench's own median latency per inference (wall, ms) over ``--runs`` runs; the script
prints, per model, the median over rounds of each side and the median of the per-round ratios --on / direct
(target: within 10%, i.e. 0.90-1.10). Nothing is asserted here: the figures go to docs/BENCHMARKS.md.
Without --model it benches the committed sample model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from remote_helpers import (  # noqa: E402
    DEVICE_VENV,
    make_workstation,
    missing_prerequisite,
    start_board,
)


def _median_ms(doc: dict[str, Any]) -> float:
    return float(doc["results"][0]["latency_ms"]["median"])


def bench_pair(ws: Any, board: Any, model: str, runs: int, threads: int) -> tuple[float, float]:
    """(direct, --on) median latency in ms of one round."""
    args = ["bench", model, "--threads", str(threads), "--runs", str(runs), "--json"]
    env = {k: v for k, v in os.environ.items() if k != "EDGEKIT_PROFILES"}
    direct = subprocess.run([str(DEVICE_VENV / "bin" / "edgekit"), *args], cwd=ws.cwd, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    remote = ws.run([*args, "--on", board.url], timeout=600)
    for name, proc in (("direct", direct), ("--on", remote)):
        if proc.returncode != 0:
            raise SystemExit(f"{name} bench of {model} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return _median_ms(json.loads(direct.stdout)), _median_ms(json.loads(remote.stdout)["targets"][0]["result"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, action="append", default=[])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    why = missing_prerequisite()
    if why:
        raise SystemExit(f"cannot run: {why}")
    models = args.model or [ROOT / "sample_models" / "shapes_classifier_int8.tflite"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-remote-") as tmp:
        ws = make_workstation(Path(tmp) / "station")
        board = start_board(Path(tmp) / "board", [ws.key])
        ws.trust(board)
        try:
            for model in models:
                local = ws.cwd / model.name
                shutil.copy(model, local)
                direct_ms, remote_ms, ratios = [], [], []
                for r in range(args.rounds):
                    d, o = bench_pair(ws, board, local.name, args.runs, args.threads)
                    direct_ms.append(d)
                    remote_ms.append(o)
                    ratios.append(o / d)
                    print(f"{model.name} round {r + 1}/{args.rounds}: direct {d:.3f} ms, --on {o:.3f} ms "
                          f"({o / d:.3f}x)", file=sys.stderr, flush=True)
                rows.append({
                    "model": model.name, "rounds": args.rounds, "runs": args.runs, "threads": args.threads,
                    "direct_median_ms": statistics.median(direct_ms), "on_median_ms": statistics.median(remote_ms),
                    "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                })
        finally:
            board.stop()
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load_average_1min_at_end": load, "rows": rows}, indent=2))
        return 0
    print("| model | threads | runs x rounds | direct median ms | --on median ms | --on / direct (median of rounds) "
          "| range |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['threads']} | {row['runs']} x {row['rounds']} | {row['direct_median_ms']:.3f} "
              f"| {row['on_median_ms']:.3f} | {row['ratio_median']:.3f}x | {row['ratio_min']:.2f}-"
              f"{row['ratio_max']:.2f} |")
    print(f"\nload average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
