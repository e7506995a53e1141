"""Start-up cost of `edgekit verify BUNDLE`, whole process, against a bare LiteRT loop over the same inputs.

    .venv/bin/python scripts/bench_verify_start.py [--bundle DIR] [--rounds 15]

Three commands, alternated round by round so a busy moment of a shared machine hits them alike, each a
fresh process timed from start to exit (wall clock):

* **bare**: ``python -c`` that imports numpy and ai_edge_litert, loads golden.npz, builds the Interpreter
  from model.tflite and runs every golden input through it (quantize, set_tensor, invoke, get_tensor,
  dequantize) -- the least any tool must do;
* **edgekit**: ``edgekit verify BUNDLE`` as a user runs it (the console script next to this Python);
* **edgekit spawn**: the same with ``EDGEKIT_SANDBOX=spawn`` (the runtime work in a fresh interpreter
  instead of a forked child: what isolation cost before it forked).

Prints the median of each and the ratio to the bare loop measured in the same run (target: edgekit <= 1.3x).
Bytecode caches are allowed (PYTHONDONTWRITEBYTECODE is dropped), as a pip-installed edgekit has them.
Without --bundle it makes the sample bundle: the committed int8 sample model with 16 golden inputs from the
committed sample images (like `edgekit convert --bundle`) and its own outputs as the golden outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BARE = r"""
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
bundle = sys.argv[1]
with np.load(bundle + "/golden.npz") as z:
    xs = [z[k] for k in z.files if k.startswith("input:")][0]
it = Interpreter(model_path=bundle + "/model.tflite")
it.allocate_tensors()
i, o = it.get_input_details()[0], it.get_output_details()[0]
s, zp = i["quantization"]
os_, ozp = o["quantization"]
out = []
for x in xs:
    q = np.clip(np.round(x / s) + zp, -128, 127).astype(i["dtype"]) if s else x.astype(i["dtype"])
    it.set_tensor(i["index"], q.reshape(i["shape"]))
    it.invoke()
    y = it.get_tensor(o["index"]).astype(np.float32)
    out.append((y - ozp) * os_ if os_ else y)
print(len(out))
"""


def make_sample_bundle(out: Path) -> Path:
    import numpy as np
    from PIL import Image

    from edgekit.bundle import write_bundle
    from edgekit.tflite.model import load_model
    from edgekit.verify.tflite_runner import TFLiteRunner

    tflite = ROOT / "sample_models" / "shapes_classifier_int8.tflite"
    model = load_model(tflite)
    t = model.inputs[0]
    files = sorted((ROOT / "sample_models" / "test").rglob("*.png"))
    files += sorted((ROOT / "sample_models" / "calibration").glob("*.png"))[: 16 - len(files)]
    h, w = int(t.shape[1]), int(t.shape[2])
    x = np.stack([np.asarray(Image.open(f).convert("RGB").resize((w, h)), dtype=np.float32) / 255.0 for f in files])
    x = x.reshape((len(files), *t.shape))
    outs = TFLiteRunner(tflite).run(model.inputs, [x], model.outputs)

    def io(tensor: object) -> dict:
        q = tensor.quant  # type: ignore[attr-defined]
        return {"name": tensor.name, "source_name": None, "shape": list(tensor.shape),  # type: ignore[attr-defined]
                "dtype": tensor.dtype, "scale": q.scale if q else None,  # type: ignore[attr-defined]
                "zero_point": q.zero_point if q else None, "to_tflite_perm": None}

    manifest = {"quantization": "int8", "io_type": t.dtype, "inputs": [io(t)], "outputs": [io(o) for o in model.outputs],
                "preprocessing": None, "tools": {}, "calibration": {"source": "synthetic", "count": 0, "skipped": 0,
                                                                    "per_input": {}},
                "source": {"file": tflite.name, "sha256": "0" * 64, "format": "tflite", "size_bytes": 0}}
    golden = {o.name: r for o, r in zip(model.outputs, outs, strict=True)}
    return write_bundle(out, tflite.read_bytes(), manifest, {t.name: x}, golden, force=True)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    edgekit = str(Path(sys.executable).with_name("edgekit"))
    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle or make_sample_bundle(Path(tmp) / "bundle")
        # bytecode caches as a pip-installed edgekit has them (pip compiles at install): a work tree run with
        # PYTHONDONTWRITEBYTECODE=1 would compile every edgekit module from source at each start
        env = {k: v for k, v in os.environ.items() if k not in ("EDGEKIT_SANDBOX", "PYTHONDONTWRITEBYTECODE")}
        spawn_env = {**env, "EDGEKIT_SANDBOX": "spawn"}
        commands = {
            "bare LiteRT loop": ([sys.executable, "-c", BARE, str(bundle)], env),
            "edgekit verify BUNDLE": ([edgekit, "verify", str(bundle)], env),
            "edgekit verify BUNDLE, EDGEKIT_SANDBOX=spawn": ([edgekit, "verify", str(bundle)], spawn_env),
        }
        for cmd, cmd_env in commands.values():  # warm the page cache and .pyc files once
            timed(cmd, cmd_env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        load0 = os.getloadavg()[0]
        for _ in range(args.rounds):
            for name, (cmd, cmd_env) in commands.items():
                wall, used = timed(cmd, cmd_env)
                times[name].append(wall)
                cpu[name].append(used)
    base = statistics.median(times["bare LiteRT loop"])
    base_cpu = statistics.median(cpu["bare LiteRT loop"])
    rows: dict[str, dict[str, Any]] = {name: {"median_s": statistics.median(v), "min_s": min(v), "ratio": statistics.median(v) / base,
                   "cpu_median_s": statistics.median(cpu[name]), "cpu_ratio": statistics.median(cpu[name]) / base_cpu,
                   "runs_s": [round(x, 4) for x in v]} for name, v in times.items()}
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"rounds": args.rounds, "load_average": [load0, load], "results": rows}, indent=2))
    else:
        print("| command (whole process) | wall median s | wall min s | wall vs bare | CPU median s | CPU vs bare |")
        print("|---|---|---|---|---|---|")
        for name, r in rows.items():
            print(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['ratio']:.2f}x | {r['cpu_median_s']:.3f} "
                  f"| {r['cpu_ratio']:.2f}x |")
        print(f"\n{args.rounds} alternating rounds, load average {load0:.1f} -> {load:.1f} on {os.cpu_count()} CPUs.")
    return 0 if float(rows["edgekit verify BUNDLE"]["ratio"]) <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
