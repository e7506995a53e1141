#!/usr/bin/env python3
"""Pruning benchmark for docs/BENCHMARKS.md: sparsity vs accuracy vs file size vs compressed size vs latency.

For each sparsity (default 0, 0.5, 0.75, 0.9) this converts the sample classifier with the real
`edgekit convert` pipeline (int8, calibrated on sample_models/calibration, `--prune S`), then MEASURES:
  - top-1 accuracy of the .tflite on the labelled test images (sample_models/test_labels.csv),
    with the sample models' "unit" recipe (pixel / 255, RGB, NHWC) - this script's own measurement
    (verify's labelled-folder mode numbers classes by sorted folder name, which is not this model's order);
  - `edgekit verify ORIGINAL CONVERTED --data sample_models/test` (the CLI): top-1 agreement and cosine
    similarity with the float model on the same images;
  - the file size, its deflate-9 size (and zstd -19 if the 'zstandard' package is installed);
  - latency on this machine with edgekit.bench (1 thread, XNNPACK default interpreter, median of N runs,
    in interleaved rounds; each model keeps its best median);
  - what --sparse-encoding auto decided and why.
The float Keras model's own top-1 on the same images is printed as the reference.

    .venv/bin/python scripts/bench_pruning.py                  # markdown table on stdout
    .venv/bin/python scripts/bench_pruning.py --json out.json  # also the raw figures
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load_test_set(labels_csv: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Images listed in the labels CSV (file paths relative to the CSV's folder), unit-scaled."""
    rows = list(csv.DictReader(labels_csv.open()))
    images, labels = [], []
    for row in rows:
        img = Image.open(labels_csv.parent / row["file"]).convert("RGB").resize(size)
        images.append(np.asarray(img, dtype=np.float32) / 255.0)
        labels.append(int(row["label_index"]))
    return np.stack(images), np.asarray(labels)


def tflite_top1(data: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(data, num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zp = inp["quantization"]
    hits = 0
    for x, y in zip(images, labels, strict=True):
        v = x[None]
        if np.dtype(inp["dtype"]).kind in "iu" and scale:
            info = np.iinfo(inp["dtype"])
            v = np.clip(np.round(v / scale) + zp, info.min, info.max)
        interp.set_tensor(inp["index"], v.astype(inp["dtype"]))
        interp.invoke()
        hits += int(np.argmax(interp.get_tensor(out["index"])[0]) == y)
    return hits / len(labels)


def keras_top1(model_path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    import keras

    model = keras.models.load_model(model_path, compile=False)
    pred = np.asarray(model.predict(images, verbose=0))
    return float(np.mean(np.argmax(pred, axis=1) == labels))


def weights_sparsity(data: bytes) -> float:
    from edgekit.sizing.tflite_weights import tensor_sparsity
    from edgekit.tflite.model import parse_model

    rows = [r for r in tensor_sparsity(parse_model(data)) if r.role == "weights"]
    return sum(r.zeros for r in rows) / max(1, sum(r.num_elements for r in rows))


def verify_figures(model: Path, converted: Path, data_dir: Path, samples: int) -> dict[str, Any]:
    """`edgekit verify ORIGINAL CONVERTED --data DIR --json` (the CLI, as a user runs it): agreement with the float model."""
    cmd = [sys.executable, "-c", "from edgekit.cli import main; main()", "verify", str(model), str(converted), "--data", str(data_dir),
           "--samples", str(samples), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if proc.returncode not in (0, 1):
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    out = json.loads(proc.stdout)["outputs"][0]
    return {"top1_agreement": out["top1_agreement"], "cosine": out["cosine"], "sqnr_db": out["sqnr_db"],
            "passed": out["passed"]}


def zstd_len(data: bytes) -> int | None:
    from edgekit.sizing.compress import zstd_size

    return zstd_size(data)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from edgekit.bench import BenchConfig, bench_model
    from edgekit.data import Preprocessing
    from edgekit.host.convert.config import ConvertConfig, PruneConfig
    from edgekit.host.convert.pipeline import run_convert
    from edgekit.tflite.model import parse_model

    work = Path(tempfile.mkdtemp(prefix="edgekit-bench-pruning-"))
    rows: list[dict[str, Any]] = []
    images = labels = None
    for s in args.sparsities:
        out = work / f"pruned_{int(round(100 * s))}.tflite"
        prune = PruneConfig(s, scope=args.scope) if s > 0 else None
        config = ConvertConfig(model=args.model, output=out, calibration=args.calibration, force=True,
                               preprocessing=Preprocessing.from_options(preset="unit"), prune=prune)
        print(f"converting at sparsity {s:.2f} ...", file=sys.stderr)
        result = run_convert(config)
        data = out.read_bytes()
        if images is None:
            shape = parse_model(data).inputs[0].shape
            images, labels = load_test_set(args.labels, (shape[2], shape[1]))
        assert images is not None and labels is not None
        report = result.prune_report.to_dict() if result.prune_report is not None else None
        rows.append({
            "target_sparsity": s,
            "weights_sparsity": weights_sparsity(data),
            "top1": tflite_top1(data, images, labels),
            "file_bytes": len(data),
            "deflate9_bytes": len(zlib.compress(data, 9)),
            "zstd_bytes": zstd_len(data),
            "path": str(out),
            "sparse_encoding": report["sparse_encoding"] if report else None,
            "verify": verify_figures(args.model, out, args.labels.parent / "test", len(labels)),
            "golden_top1_agreement": [g["top1_agreement"] for g in result.to_dict()["golden_check"]["outputs"]],
        })
    assert images is not None and labels is not None
    # Latency: the models are timed in interleaved rounds and each keeps its best (lowest) median, so
    # that load from other processes during one model's turn does not pass for a difference.
    medians: dict[str, list[float]] = {r["path"]: [] for r in rows}
    p90s: dict[str, list[float]] = {r["path"]: [] for r in rows}
    for round_index in range(args.rounds):
        print(f"timing round {round_index + 1}/{args.rounds} ...", file=sys.stderr)
        for r in rows:
            bench = bench_model(Path(r["path"]), BenchConfig(threads=1, runs=args.runs, warmup=20))
            medians[r["path"]].append(bench.latency.median_ms)
            p90s[r["path"]].append(bench.latency.p90_ms)
    for r in rows:
        best = int(np.argmin(medians[r["path"]]))
        r["latency_median_ms"] = medians[r["path"]][best]
        r["latency_p90_ms"] = p90s[r["path"]][best]
        r["latency_medians_all_rounds_ms"] = medians[r["path"]]
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "model": str(args.model),
        "test_images": int(len(labels)),
        "float_top1": keras_top1(args.model, images, labels),
        "scope": args.scope,
        "rounds": args.rounds,
        "runs": args.runs,
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip(),
        "rows": rows,
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Model `{Path(res['model']).name}` converted to int8 with `edgekit convert --prune S` ({res['scope']}, "
        f"one-shot, no fine-tuning); {res['test_images']} test images; float Keras top-1 {100 * res['float_top1']:.1f}% "
        f"(measured). Latency: 1 thread, default interpreter (XNNPACK), best median of {res['rounds']} interleaved "
        f"rounds of {res['runs']} runs on {res['machine']} (shared machine: differences under ~30% are noise).",
        "",
        "| sparsity (target) | weights sparsity in file | top-1 accuracy (own script) | verify: top-1 agreement / "
        "cosine vs float | file bytes | deflate-9 bytes | zstd-19 bytes | median latency ms (p90) | "
        "sparse encoding (auto) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        enc = r["sparse_encoding"]
        if enc is None:
            enc_text = "- (no --prune)"
        elif not enc.get("used") and enc.get("sparse_bytes") and enc.get("runs_in_default_interpreter") is False \
                and enc["sparse_bytes"] < enc["dense_bytes"]:
            enc_text = (f"not used: smaller ({enc['sparse_bytes']:,} B) but fails to prepare under the default "
                        "XNNPACK delegate")
        else:
            enc_text = ("used: " if enc.get("used") else "not used: ") + enc["reason"]
        ws = f"{100 * r['weights_sparsity']:.1f}%"
        z = "not measured" if r["zstd_bytes"] is None else f"{r['zstd_bytes']:,}"
        v = r["verify"]
        vtext = v.get("error") or f"{100 * v['top1_agreement']:.1f}% / {v['cosine']:.3f}" + ("" if v["passed"] else " (FAIL)")
        lines.append(f"| {100 * r['target_sparsity']:.0f}% | {ws} | {100 * r['top1']:.1f}% | {vtext} | {r['file_bytes']:,} | "
                     f"{r['deflate9_bytes']:,} | {z} | {r['latency_median_ms']:.3f} ({r['latency_p90_ms']:.3f}) | "
                     f"{enc_text} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=REPO / "sample_models" / "shapes_classifier.keras")
    p.add_argument("--calibration", type=Path, default=REPO / "sample_models" / "calibration")
    p.add_argument("--labels", type=Path, default=REPO / "sample_models" / "test_labels.csv",
                   help="CSV with file,label_index (files relative to the CSV's folder).")
    p.add_argument("--sparsities", type=lambda t: [float(x) for x in t.split(",")], default=[0.0, 0.5, 0.75, 0.9])
    p.add_argument("--scope", choices=["per-layer", "global"], default="per-layer")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3, help="Interleaved timing rounds (each model keeps its best).")
    p.add_argument("--json", type=Path, default=None, help="Also write the raw figures here.")
    p.add_argument("--keep", action="store_true", help="Keep the converted .tflite files (temp folder).")
    args = p.parse_args()
    res = run(args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
