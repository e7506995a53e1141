"""Held-out proof for `edgekit calibrate` + `edgekit profile`: predicted vs measured on a CNN zoo.

Phases (all by default):
  build    -- with TensorFlow: build Keras applications (weights=None) and convert each to float32 and
              full-int8 .tflite into --zoo-dir (cached: existing files are reused).
  calibrate -- run `edgekit calibrate` on this machine (unless --profile is given).
  measure  -- for every zoo model (+ sample_models/*.tflite) and thread count: `edgekit bench` (measured)
              and `edgekit profile --device ID` (estimated); print the table and the share within +-10/20%.
              --rounds N (default 3) measures every model N times round-robin and keeps the median per
              row, so that the machine's changing load spreads over all models.

Usage:
  .venv/bin/python scripts/bench_estimator.py --zoo-dir /tmp/edgekit_zoo [--size 224] [--phase build]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ZOO: dict[str, str] = {
    "mobilenet": "MobileNet",
    "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "efficientnet_b0": "EfficientNetB0",
    "resnet50": "ResNet50",
    "densenet121": "DenseNet121",
    "nasnet_mobile": "NASNetMobile",
}


def _build_one(name: str, cls_name: str, size: int, zoo_dir: Path) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    fp32_path = zoo_dir / f"{name}_{size}_float32.tflite"
    int8_path = zoo_dir / f"{name}_{size}_int8.tflite"
    if fp32_path.exists() and int8_path.exists():
        return
    cls = getattr(keras.applications, cls_name)
    kwargs: dict[str, object] = {"weights": None, "input_shape": (size, size, 3)}
    if cls_name.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = False
    model = cls(**kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "sm"
        model.export(str(saved), verbose=False)
        if not fp32_path.exists():
            conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            fp32_path.write_bytes(conv.convert())
        if not int8_path.exists():
            rng = np.random.default_rng(0)

            def rep() -> object:
                for _ in range(4):
                    yield [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)]

            conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = rep
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
            int8_path.write_bytes(conv.convert())


def build(zoo_dir: Path, size: int, names: list[str]) -> None:
    zoo_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.monotonic()
        # one subprocess per model keeps TF's memory from piling up
        here = str(Path(__file__).parent)
        code = (
            f"import sys; sys.path.insert(0, {here!r}); import bench_estimator as b; "
            f"b._build_one({name!r}, {ZOO[name]!r}, {size}, __import__('pathlib').Path({str(zoo_dir)!r}))"
        )
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        status = "ok" if proc.returncode == 0 else "FAILED: " + proc.stderr.strip().splitlines()[-1][:200]
        print(f"build {name}: {status} ({time.monotonic() - t0:.0f}s)", file=sys.stderr, flush=True)


def _edgekit(args: list[str]) -> dict:
    cmd = [str(ROOT / ".venv/bin/edgekit"), *args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if proc.returncode != 0:
        raise RuntimeError(f"edgekit {' '.join(args)} failed: {proc.stderr.strip().splitlines()[-2:]}")
    return json.loads(proc.stdout)


def calibrate(profile_dir: Path, device_id: str, budget_s: float, threads: str) -> Path:
    profile_dir.mkdir(parents=True, exist_ok=True)
    out = profile_dir / f"{device_id}.toml"
    t0 = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv/bin/edgekit"), "calibrate", "-o", str(out), "--id", device_id,
                           "--threads", threads, "--budget-s", str(budget_s), "--force"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"calibrate failed: {proc.stderr[-2000:]}")
    print(proc.stdout, file=sys.stderr)
    print(f"calibrated in {time.monotonic() - t0:.0f}s -> {out}", file=sys.stderr)
    return out


def zoo_models(zoo_dir: Path, size: int, names: list[str]) -> list[Path]:
    out = []
    for name in names:
        for dtype in ("float32", "int8"):
            p = zoo_dir / f"{name}_{size}_{dtype}.tflite"
            if p.exists():
                out.append(p)
    samples = sorted((ROOT / "sample_models").glob("*.tflite"))
    return out + samples


def _bench_row(r: dict, t: int) -> dict:
    cpu = r.get("cpu_ms") or {}
    # the idle-machine latency: process CPU time per inference / threads (other processes' use of
    # the CPU does not count in it; exact at 1 thread, assumes evenly spread work at more)
    return {
        "meas_ms": float(r["latency_ms"]["median"]), "meas_min_ms": float(r["latency_ms"]["min"]),
        "meas_idle_ms": float(cpu["median"]) / t if cpu else float(r["latency_ms"]["min"]),
        "meas_cpu_ms": float(cpu["median"]) if cpu else float("nan"),
        "meas_mem": int(r["model_peak_rss_bytes"]), "meas_parts": r.get("delegate_partitions"),
        "contention": r.get("contention"),
    }


def measure(models: list[Path], profile_dir: Path, device_id: str, threads: list[int],
            target_s: float, rounds: int = 1) -> list[dict]:
    """Predict once, measure ``rounds`` times round-robin over the models (so that the machine's changing
    load spreads over all of them) and keep per model and thread count the median over the rounds."""
    import statistics

    preds: dict[tuple[str, int], dict] = {}
    samples: dict[tuple[str, int], list[dict]] = {}
    for rnd in range(rounds):
        for path in models:
            for t in threads:
                key = (str(path), t)
                if key not in preds:
                    pred = _edgekit(["profile", str(path), "--device", device_id, "--profiles", str(profile_dir),
                                     "--threads", str(t)])
                    preds[key] = pred["devices"][0] if "devices" in pred else pred["results"][0]
                dev = preds[key]
                est_ms = float(dev["latency_ms"])
                runs = int(min(50, max(5, target_s * 1e3 / max(est_ms, 0.05))))
                meas = _edgekit(["bench", str(path), "--threads", str(t), "--runs", str(runs), "--warmup", "3"])
                sample = dict(_bench_row(meas["results"][0], t), runs=runs, load=os.getloadavg()[0])
                samples.setdefault(key, []).append(sample)
                print(f"round {rnd + 1}/{rounds} {path.stem:32s} t={t} pred {est_ms:8.2f} ms, measured idle "
                      f"{sample['meas_idle_ms']:.2f} ms ({est_ms / sample['meas_idle_ms'] - 1:+.0%}), wall median "
                      f"{sample['meas_ms']:.2f} ms, min {sample['meas_min_ms']:.2f} ms, mem pred "
                      f"{int(dev['peak_memory_bytes']) / 2**20:.1f} MiB meas {sample['meas_mem'] / 2**20:.1f} MiB, "
                      f"parts {dev.get('delegate_partitions')}/{sample['meas_parts']}, load {sample['load']:.1f}",
                      file=sys.stderr, flush=True)
    rows = []
    for path in models:
        for t in threads:
            key = (str(path), t)
            dev, got = preds[key], samples[key]
            med = {k: statistics.median(s[k] for s in got)
                   for k in ("meas_ms", "meas_idle_ms", "meas_cpu_ms", "meas_mem", "load")}
            row = {
                "model": path.stem, "path": str(path), "threads": t, "rounds": len(got),
                "pred_ms": float(dev["latency_ms"]), "pred_mem": int(dev["peak_memory_bytes"]),
                "pred_parts": dev.get("delegate_partitions"), "meas_parts": got[-1]["meas_parts"],
                "meas_ms": med["meas_ms"], "meas_idle_ms": med["meas_idle_ms"], "meas_cpu_ms": med["meas_cpu_ms"],
                "meas_min_ms": min(s["meas_min_ms"] for s in got), "meas_mem": int(med["meas_mem"]),
                "meas_idle_rounds_ms": [round(s["meas_idle_ms"], 3) for s in got],
                "runs": sum(s["runs"] for s in got), "load": med["load"],
            }
            row["lat_err"] = row["pred_ms"] / row["meas_ms"] - 1
            row["lat_err_idle"] = row["pred_ms"] / row["meas_idle_ms"] - 1
            row["mem_err"] = row["pred_mem"] / row["meas_mem"] - 1 if row["meas_mem"] > 0 else float("nan")
            rows.append(row)
    return rows


def repredict(rows: list[dict], profile_dir: Path, device_id: str) -> list[dict]:
    """New predictions (current profile and estimator) for measurements taken earlier."""
    out = []
    for row in rows:
        path = Path(row["path"])
        pred = _edgekit(["profile", str(path), "--device", device_id, "--profiles", str(profile_dir),
                         "--threads", str(row["threads"])])
        dev = pred["devices"][0]
        new = dict(row, pred_ms=float(dev["latency_ms"]), pred_mem=int(dev["peak_memory_bytes"]),
                   pred_parts=dev.get("delegate_partitions"))
        new["lat_err"] = new["pred_ms"] / new["meas_ms"] - 1
        new["lat_err_idle"] = new["pred_ms"] / new["meas_idle_ms"] - 1
        new["mem_err"] = new["pred_mem"] / new["meas_mem"] - 1 if new["meas_mem"] > 0 else float("nan")
        out.append(new)
    return out


def table(rows: list[dict]) -> str:
    head = ("| model | threads | predicted ms | measured idle ms | error vs idle | measured wall median ms | "
            "error vs wall median | wall min ms | error vs wall min | predicted MiB | measured MiB | memory error | "
            "partitions pred/meas |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        err_min = r["pred_ms"] / r["meas_min_ms"] - 1
        lines.append(f"| {r['model']} | {r['threads']} | {r['pred_ms']:.2f} | {r['meas_idle_ms']:.2f} | "
                     f"{r['lat_err_idle']:+.0%} | {r['meas_ms']:.2f} | {r['lat_err']:+.0%} | {r['meas_min_ms']:.2f} | "
                     f"{err_min:+.0%} | {r['pred_mem'] / 2**20:.1f} | {r['meas_mem'] / 2**20:.1f} | "
                     f"{r['mem_err']:+.0%} | {r['pred_parts']}/{r['meas_parts']} |")
    n = len(rows) or 1
    lat10 = sum(abs(r["lat_err"]) <= 0.10 for r in rows) / n
    lat20 = sum(abs(r["lat_err"]) <= 0.20 for r in rows) / n
    min10 = sum(abs(r["lat_err_idle"]) <= 0.10 for r in rows) / n
    min20 = sum(abs(r["lat_err_idle"]) <= 0.20 for r in rows) / n
    mem10 = sum(abs(r["mem_err"]) <= 0.10 for r in rows) / n
    mem20 = sum(abs(r["mem_err"]) <= 0.20 for r in rows) / n
    mem25 = sum(abs(r["mem_err"]) <= 0.25 for r in rows) / n
    wmin20 = sum(abs(r["pred_ms"] / r["meas_min_ms"] - 1) <= 0.20 for r in rows) / n
    by_t = {t: [r for r in rows if r["threads"] == t] for t in sorted({r["threads"] for r in rows})}
    lines.append("")
    lines.append(f"{len(rows)} predictions: latency vs measured median within +-10%: {lat10:.0%}, +-20%: {lat20:.0%}; "
                 f"vs measured idle-machine latency within +-10%: {min10:.0%}, +-20%: {min20:.0%}; "
                 f"peak memory within +-10%: {mem10:.0%}, +-20%: {mem20:.0%}, +-25%: {mem25:.0%}; "
                 f"(for reference) vs wall-clock min within +-20%: {wmin20:.0%}.")
    lines.append("By thread count (vs idle-machine latency): " + "; ".join(
        f"{t} thread(s) {sum(abs(r['lat_err_idle']) <= 0.20 for r in rs)}/{len(rs)} within +-20% "
        f"({sum(abs(r['lat_err_idle']) <= 0.10 for r in rs)}/{len(rs)} within +-10%)" for t, rs in by_t.items()) + ".")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo-dir", type=Path, default=Path(tempfile.gettempdir()) / "edgekit_zoo")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--phase", choices=["build", "calibrate", "measure", "predict", "all"], default="all",
                    help="predict: new predictions for the measurements in --json-out (no re-measuring)")
    ap.add_argument("--models", default=",".join(ZOO))
    ap.add_argument("--device-id", default="this-machine")
    ap.add_argument("--profile-dir", type=Path, default=None, help="default: ZOO_DIR/profiles")
    ap.add_argument("--budget-s", type=float, default=120.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--target-s", type=float, default=1.5, help="measured seconds per model and thread count")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure every model this many times, round-robin, and keep the median (default 3)")
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    threads = [int(t) for t in args.threads.split(",")]
    profile_dir = args.profile_dir or args.zoo_dir / "profiles"
    if args.phase in ("build", "all"):
        build(args.zoo_dir, args.size, names)
    if args.phase in ("calibrate", "all"):
        calibrate(profile_dir, args.device_id, args.budget_s, args.threads)
    if args.phase in ("measure", "all"):
        rows = measure(zoo_models(args.zoo_dir, args.size, names), profile_dir, args.device_id, threads, args.target_s,
                       args.rounds)
        if args.json_out:
            args.json_out.write_text(json.dumps(rows, indent=1))
        print(table(rows))
    if args.phase == "predict":
        if args.json_out is None:
            raise SystemExit("--phase predict needs --json-out FILE with earlier measurements")
        rows = repredict(json.loads(args.json_out.read_text()), profile_dir, args.device_id)
        args.json_out.with_suffix(".predicted.json").write_text(json.dumps(rows, indent=1))
        print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
