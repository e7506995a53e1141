"""Every real .tflite (or .onnx) of the zoo through `edgekit convert --quantize int8`, as a user would run it.

    .venv/bin/python scripts/bench_zoo_int8.py [--format tflite|onnx] [--out DIR] [--device rpi4b] [--json]
        [--only ID,ID] [--matrix-shapes]

For each installed ``.tflite`` (``--format onnx``: ``.onnx``) of ``scripts/zoo.py`` (``./scripts/install-zoo`` installs the wheels):
``edgekit convert FILE --quantize int8 -o DIR/ID.int8.tflite --force --json`` (no ``--calibration``: synthetic
inputs, so exit 1 is convert's check failing on random data, the file still written), then for every written
file ``edgekit bench OUT --threads 1 --runs 20 --json`` (the XNNPACK partitions the runtime reports: measured)
and ``edgekit profile OUT -d DEVICE -t 1 --json`` (the partitions the estimator predicts). A refusal is listed
with its ``Error:`` line. The table in docs/BENCHMARKS.md ("Every real .tflite of the zoo") comes from this.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zoo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EDGEKIT = str(ROOT / ".venv" / "bin" / "edgekit")


def _json(argv: list[str]) -> dict[str, Any] | None:
    proc = subprocess.run([EDGEKIT, *argv], capture_output=True, text=True, check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def one(model_id: str, path: Path, out_dir: Path, device: str, shapes: dict[str, str]) -> dict[str, Any]:
    out = out_dir / f"{model_id}.int8.tflite"
    start = time.perf_counter()
    fixed = [a for name, dims in shapes.items() for a in ("--input-shape", f"{name}={dims}")]
    proc = subprocess.run([EDGEKIT, "convert", str(path), "--quantize", "int8", "-o", str(out), "--force", "--json",
                           *fixed], capture_output=True, text=True, check=False)
    row: dict[str, Any] = {"model": model_id, "exit_code": proc.returncode,
                           "convert_seconds": round(time.perf_counter() - start, 1)}
    if proc.returncode not in (0, 1) or not out.exists():
        row["error"] = next((ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")), proc.stderr[-300:])
        return row
    bench = _json(["bench", str(out), "--threads", "1", "--runs", "20", "--json"])
    profile = _json(["profile", str(out), "-d", device, "-t", "1", "--json"])
    row["partitions_measured"] = bench["results"][0].get("delegate_partitions") if bench else None
    row["partitions_estimated"] = profile["devices"][0].get("delegate_partitions") if profile else None
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="folder for the int8 files (default: a temporary one)")
    ap.add_argument("--device", default="rpi4b", help="profile whose partition estimate is compared")
    ap.add_argument("--format", choices=("tflite", "onnx"), default="tflite")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--only", default="", help="these model ids only (comma-separated)")
    ap.add_argument("--matrix-shapes", action="store_true",
                    help="pass the ONNX matrix's --input-shape per model (scripts/onnx_matrix/cases.py ZOO_SHAPES)")
    args = ap.parse_args()
    only = {m for m in args.only.split(",") if m}
    ids = [m for m in zoo.available() if zoo.spec(m).format == args.format and (not only or m in only)]
    shapes: dict[str, dict[str, str]] = {}
    if args.matrix_shapes:
        from onnx_matrix.cases import ZOO_SHAPES

        shapes = ZOO_SHAPES
    if not ids:
        print(f"Error: no .{args.format} of the zoo is installed.", file=sys.stderr)
        print("Hint: run ./scripts/install-zoo first.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for k, model_id in enumerate(ids, 1):
            print(f"[{k}/{len(ids)}] {model_id}", file=sys.stderr, flush=True)
            rows.append(one(model_id, zoo.locate(model_id), out_dir, args.device, shapes.get(model_id, {})))
    converted = [r for r in rows if "partitions_measured" in r]
    agree = sum(r["partitions_measured"] == r["partitions_estimated"] for r in converted)
    if args.json:
        print(json.dumps({"measured_and_estimated": True, "device": args.device, "rows": rows,
                          "converted": len(converted), "partitions_agree": agree}, indent=2))
        return 0
    print(f"{'model':36s} {'exit':>4s} {'partitions measured / estimated':>32s}")
    for r in rows:
        detail = (f"{r['partitions_measured']} / {r['partitions_estimated']}" if "partitions_measured" in r
                  else r.get("error", "")[:80])
        print(f"{r['model']:36s} {r['exit_code']:>4d} {detail:>32s}")
    print(f"{len(converted)} of {len(rows)} written; estimated partitions = measured on {agree} of {len(converted)} "
          f"(partitions measured by the runtime, estimated by `profile -d {args.device}`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
