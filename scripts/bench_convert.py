#!/usr/bin/env python
"""Time `edgekit convert MODEL.keras` against a plain TFLiteConverter script with the same settings, in one run.

Both variants run as fresh processes (each pays its own TensorFlow import),
alternating, ``--runs`` times each; the table shows the median and min wall
time (measured). Same settings: full-integer int8, TFLITE_BUILTINS_INT8 only,
int8 I/O, calibrated on the same images (``--samples``) preprocessed the same
way (pixels / 255, stretch resize). edgekit also reads the images with its
skipping/EXIF logic, runs the original model on 16 golden samples, checks the
.tflite against them in LiteRT and writes atomically; the plain script does
none of that.

It also measures the "done when" accuracy: top-1 on the sample test set of
the float Keras model vs the int8 .tflite edgekit made (both fed by
edgekit.data's image loading with the same recipe).

Usage: .venv/bin/python scripts/bench_convert.py [--model sample_models/shapes_classifier.keras]
       [--calibration sample_models/calibration] [--test sample_models/test] [--runs 3] [--write]
--write replaces the "## convert" section of docs/BENCHMARKS.md (creating the file if needed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "BENCHMARKS.md"
SECTION = "## convert"

PLAIN = r'''
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path
import numpy as np
from PIL import Image
import tensorflow as tf
import keras

model_path, calib_dir, samples, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
model = keras.models.load_model(model_path, compile=False)
_, h, w, c = model.inputs[0].shape
files = sorted(p for p in calib_dir.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp"))
images = [np.asarray(Image.open(p).convert("RGB").resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0
          for p in files[:samples]]

def representative():
    for x in images:
        yield [x[None]]

converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = representative
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = tf.int8
converter.inference_output_type = tf.int8
Path(out).write_bytes(converter.convert())
'''


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = str(REPO)
    return env


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def time_variants(model: Path, calib: Path, samples: int, runs: int, work: Path) -> dict[str, list[float]]:
    py = sys.executable
    edgekit = [str(Path(py).parent / "edgekit")]
    times: dict[str, list[float]] = {"edgekit convert": [], "plain TFLiteConverter script": [], "import tensorflow": []}
    script = work / "plain.py"
    script.write_text(PLAIN)
    for i in range(runs):
        times["edgekit convert"].append(_time(
            [*edgekit, "convert", str(model), "-o", str(work / f"edgekit_{i}.tflite"), "--calibration", str(calib),
             "--calibration-samples", str(samples), "--force"], work))
        times["plain TFLiteConverter script"].append(_time(
            [py, str(script), str(model), str(calib), str(samples), str(work / f"plain_{i}.tflite")], work))
        times["import tensorflow"].append(_time([py, "-c", "import tensorflow, keras"], work))
    return times


def accuracy(model: Path, tflite: Path, test_dir: Path) -> dict[str, Any]:
    """Top-1 of the float Keras model and of the int8 .tflite on the labelled test set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from edgekit.core.source import TensorSpec
    from edgekit.data import Preprocessing, decode_image, image_geometry
    from edgekit.tflite.runtime import load_interpreter

    labels_csv = test_dir.parent / "test_labels.csv"
    with open(labels_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    keras_model = keras.models.load_model(model, compile=False)
    shape = tuple(int(d) if d else 1 for d in keras_model.inputs[0].shape)
    geo = image_geometry(TensorSpec("input", shape, "float32"))
    assert geo is not None
    recipe = Preprocessing.from_options("unit")
    interp = load_interpreter(tflite)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_scale, in_zp = inp["quantization"]
    float_ok = int8_ok = 0
    for row in rows:
        path = (labels_csv.parent / row["file"]) if (labels_csv.parent / row["file"]).exists() else test_dir / row["file"]
        x = recipe.normalize(decode_image(path, geo, recipe.resize))[None]
        label = int(row["label_index"])
        float_ok += int(np.argmax(keras_model(x, training=False)[0]) == label)
        q = np.clip(np.round(x / in_scale + in_zp), -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        int8_ok += int(np.argmax(interp.get_tensor(out["index"])[0]) == label)
    n = len(rows)
    return {"samples": n, "float_top1": float_ok / n, "int8_top1": int8_ok / n}


def render(times: dict[str, list[float]], acc: dict[str, Any] | None, args: argparse.Namespace) -> str:
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["plain TFLiteConverter script"]
    lines = [
        SECTION,
        "",
        f"`scripts/bench_convert.py` on {platform.machine()} ({os.cpu_count()} cores, shared), "
        f"{time.strftime('%Y-%m-%d')}; model `{args.model.name}`, int8 full integer, "
        f"{args.samples} calibration images from `{args.calibration.name}/`. Each variant is a fresh process "
        f"(TensorFlow import included), run {args.runs} times, alternating. Wall time, **measured**.",
        "",
        "| variant | median s | min s | vs plain script |",
        "|---|---:|---:|---:|",
    ]
    for name, values in times.items():
        ratio = f"{med[name] / base:.2f}x" if name != "import tensorflow" else "-"
        lines.append(f"| {name} | {med[name]:.2f} | {min(values):.2f} | {ratio} |")
    overhead = med["edgekit convert"] - base
    target = 0.10 * base + med["import tensorflow"]
    verdict = "within" if overhead <= target else "OUTSIDE"
    lines += [
        "",
        f"edgekit's extra time: {overhead:+.2f} s over the plain script; the target (10% of the plain script + "
        f"one TensorFlow import = {target:.2f} s) is {verdict} budget. The extra work: reading images with "
        "EXIF/corrupt-file handling, exporting with fixed shapes, running the original model on 16 golden samples "
        "and checking the .tflite against them in LiteRT.",
    ]
    if acc:
        drop = 100 * (acc["float_top1"] - acc["int8_top1"])
        lines += [
            "",
            f"Accuracy on the sample test set ({acc['samples']} images, **measured**): float Keras top-1 "
            f"{100 * acc['float_top1']:.1f}%, edgekit int8 .tflite top-1 {100 * acc['int8_top1']:.1f}% "
            f"(drop {drop:.1f} points; the target is at most 1 point).",
        ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    old = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    start = old.find(SECTION + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[nxt + 1:] if nxt >= 0 else "")
    DOC.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "sample_models" / "shapes_classifier.keras")
    ap.add_argument("--calibration", type=Path, default=REPO / "sample_models" / "calibration")
    ap.add_argument("--test", type=Path, default=REPO / "sample_models" / "test")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="replace the '## convert' section of docs/BENCHMARKS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-convert-") as tmp:
        work = Path(tmp)
        times = time_variants(args.model, args.calibration, args.samples, args.runs, work)
        acc = accuracy(args.model, work / "edgekit_0.tflite", args.test) if args.test.is_dir() else None
    text = render(times, acc, args)
    print(text)
    print(json.dumps({"times_s": times, "accuracy": acc}))
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
