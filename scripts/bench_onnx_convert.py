#!/usr/bin/env python
"""Time `edgekit convert MODEL.onnx` against calling onnx2tf + TFLiteConverter directly, in one run.

Every variant runs as a fresh process (so each pays its own TensorFlow import)
in its own temporary directory that holds onnx2tf's calibration sample file
(no variant touches the network):

* ``edgekit``: ``edgekit convert MODEL -o OUT --calibration DIR`` (int8, 200
  samples; includes the onnxruntime-vs-float-TFLite check and its float
  conversion);
* ``direct-same-settings``: the same steps written by hand: onnxsim once in
  process, ``onnx2tf.convert(not_use_onnxsim=True, disable_model_save=True)``,
  SavedModel export, ``TFLiteConverter.from_saved_model`` full int8 on the
  same 200 images;
* ``direct-onnx2tf-defaults``: what onnx2tf's README does: ``onnx2tf.convert``
  with its defaults (onnxsim run 3x as a program, SavedModel + float32/float16
  .tflite written), then the same int8 TFLiteConverter step.

Usage: .venv/bin/python scripts/bench_onnx_convert.py [--model sample_models/shapes_classifier.onnx]
       [--calibration sample_models/calibration] [--samples 200]
Prints a table and one JSON line; paste the table into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

DIRECT = r'''
import json, sys, time
from pathlib import Path
import numpy as np
from PIL import Image

model_path, calib_dir, samples, variant = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
import onnx, onnx2tf, tensorflow as tf, tf_keras

m = onnx.load(model_path)
inp = m.graph.input[0]
name = inp.name
c, h, w = [d.dim_value for d in inp.type.tensor_type.shape.dim][1:]
onnx.save(m, "model.onnx")
if variant == "direct-same-settings":
    import onnxsim
    simplified, ok = onnxsim.simplify(m)
    if ok:
        onnx.save(simplified, "model.onnx")
    model = onnx2tf.convert(input_onnx_file_path="model.onnx", output_folder_path="out", not_use_onnxsim=True,
                            disable_model_save=True, non_verbose=True)
    archive = tf_keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=lambda *x: model(list(x)),
                         input_signature=[tf.TensorSpec(t.shape, t.dtype, name) for t in model.inputs])
    archive.write_out("saved_model")
    saved = "saved_model"
else:
    onnx2tf.convert(input_onnx_file_path="model.onnx", output_folder_path="saved_model", non_verbose=True)
    saved = "saved_model"

files = sorted(p for p in calib_dir.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp"))
step = max(1, len(files) // samples)
images = []
for p in files[::step][:samples]:
    img = Image.open(p).convert("RGB").resize((w, h), Image.BILINEAR)
    images.append(np.asarray(img, np.float32)[None] / 255.0)  # NHWC: the layout onnx2tf gives the TF model

def rep():
    for x in images:
        yield [x]

conv = tf.lite.TFLiteConverter.from_saved_model(saved)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = rep
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = tf.int8
conv.inference_output_type = tf.int8
Path("out.tflite").write_bytes(conv.convert())
print(json.dumps({"samples": len(images)}))
'''


def _sample_file(work: Path) -> None:
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy",
            np.zeros((20, 128, 128, 3), np.float32))


def run_variant(variant: str, model: Path, calibration: Path, samples: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"bench-onnx-{variant}-") as tmp:
        work = Path(tmp)
        _sample_file(work)
        out = work / "out.tflite"
        if variant == "edgekit":
            cmd = [str(Path(sys.executable).parent / "edgekit"), "convert", str(model), "-o", str(out),
                   "--calibration", str(calibration), "--calibration-samples", str(samples)]
        else:
            script = work / "direct.py"
            script.write_text(DIRECT)
            cmd = [sys.executable, str(script), str(model), str(calibration), str(samples), variant]
        env_path = str(Path(sys.executable).parent)
        env = dict(os.environ, PATH=env_path + os.pathsep + os.environ.get("PATH", ""), TF_CPP_MIN_LOG_LEVEL="3")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        ok = proc.returncode == 0 and out.is_file()
        if not ok:
            sys.stderr.write(f"{variant} failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}\n")
        return {"variant": variant, "seconds": round(seconds, 1), "cpu_s": round(cpu_s, 1), "ok": ok,
                "size_bytes": out.stat().st_size if out.is_file() else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "sample_models" / "shapes_classifier.onnx")
    parser.add_argument("--calibration", type=Path, default=REPO / "sample_models" / "calibration")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--variants", default="edgekit,direct-same-settings,direct-onnx2tf-defaults")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the machine may be shared)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    runs: dict[str, list[dict[str, object]]] = {v: [] for v in variants}
    for _ in range(args.rounds):  # interleaved, so load changes hit every variant alike
        for v in variants:
            runs[v].append(run_variant(v, args.model.resolve(), args.calibration.resolve(), args.samples))
    print("| variant | median wall s (measured) | min wall s | all runs wall s | median CPU s (user+sys) | ok "
          "| .tflite bytes |")
    print("|---|---:|---:|---|---:|---|---:|")
    rows = []
    for v in variants:
        secs = [float(r["seconds"]) for r in runs[v]]  # type: ignore[arg-type]
        cpu = [float(r["cpu_s"]) for r in runs[v]]  # type: ignore[arg-type]
        row = {"variant": v, "median_s": round(float(np.median(secs)), 1), "min_s": min(secs), "runs_s": secs,
               "median_cpu_s": round(float(np.median(cpu)), 1),
               "ok": all(r["ok"] for r in runs[v]), "size_bytes": runs[v][-1]["size_bytes"]}
        rows.append(row)
        print(f"| {v} | {row['median_s']} | {row['min_s']} | {', '.join(map(str, secs))} | {row['median_cpu_s']} "
              f"| {row['ok']} | "
              f"{row['size_bytes']} |")
    print(json.dumps({"model": str(args.model), "samples": args.samples, "rounds": args.rounds, "results": rows}))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
