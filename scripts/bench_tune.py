#!/usr/bin/env python3
"""Benchmark `edgekit tune` against plain int8 on the sample model and real pretrained networks from the zoo.

For each network: the float32 .tflite, the default `edgekit convert --quantize int8` (TF converter for
Keras/ONNX sources, ai-edge-quantizer for a float .tflite), and `edgekit tune --device rpi4b`; each
model is judged by `edgekit verify` on held-out data (verify's default thresholds) and estimated by the
profile estimator on rpi4b and coral-usb-rpi4. Data comes from scripts/make_tune_data.py (generated
offline, deterministic) and sample_models/. Everything runs through the CLI, as a user would.

    .venv/bin/python scripts/bench_tune.py --work /tmp/bench_tune [--only ppocr-v4-det ...] [--markdown]

Writes WORK/results.json; --markdown prints the table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EDGEKIT = [sys.executable, "-P", "-c", "from edgekit.cli import main; main()"]
DEVICES = ("rpi4b", "coral-usb-rpi4")


@dataclass(frozen=True)
class Case:
    id: str
    model: str  # a zoo id, or a path relative to the repository
    data: str  # a make_tune_data.py set (calib/heldout), or "sample" for sample_models/
    note: str
    shape: tuple[str, ...] = ()  # --input-shape
    pre: tuple[str, ...] = ()  # preprocessing options
    extra: tuple[str, ...] = field(default=())  # more tune/verify options (--map-threshold)
    tune_opts: tuple[str, ...] = ()  # options for tune only
    verify_opts: tuple[str, ...] = ("--samples", "50")  # options for verify only


CASES = (
    Case("sample (shapes CNN)", "sample_models/shapes_classifier.keras", "sample", "Keras, 6 classes"),
    Case("ppocr-v4-det", "ppocr-v4-det", "ocr_docs", "ONNX DBNet text detector, 320x320, map IoU at 0.3",
         ("x=1,3,320,320",), ("--preprocess", "imagenet", "--channel-order", "bgr"), ("--map-threshold", "0.3")),
    Case("ppocr-v4-rec", "ppocr-v4-rec", "ocr_lines", "ONNX SVTR/CTC recognizer, 48x320 -> [1,40,6625]",
         ("x=1,3,48,320",), ("--preprocess", "symmetric", "--channel-order", "bgr")),
    Case("ppocr-mobile-v2-cls", "ppocr-mobile-v2-cls", "ocr_dir", "ONNX text direction classifier 0/180",
         ("x=1,3,48,192",), ("--preprocess", "symmetric", "--channel-order", "bgr")),
    Case("mp-face-detection-short", "mp-face-detection-short", "faces", "MediaPipe BlazeFace, float16 .tflite",
         (), ("--preprocess", "symmetric")),
    Case("basic-pitch-nmp-tflite", "basic-pitch-nmp-tflite", "pitch", "float .tflite, audio -> 3 note maps"),
    Case("oww-embedding-tflite", "oww-embedding-tflite", "kws", "openWakeWord speech embedding, float .tflite"),
    # the real ONNX models of issue 13 (scripts/bench_onnx_matrix.py) that have realistic data here
    Case("doc-orientation", "doc-orientation", "ocr_docs", "ONNX document orientation 0/90/180/270, 224x224",
         ("x=1,3,224,224",), ("--preprocess", "imagenet")),
    Case("ppocr-v6-small-det", "ppocr-v6-small-det", "ocr_docs", "ONNX PP-OCRv6 text detector, 320x320, map IoU at 0.3",
         ("x=1,3,320,320",), ("--preprocess", "imagenet", "--channel-order", "bgr"), ("--map-threshold", "0.3")),
    Case("oww-embedding", "oww-embedding", "kws", "ONNX openWakeWord speech embedding"),
    Case("basic-pitch-nmp", "basic-pitch-nmp", "pitch", "ONNX basic-pitch, audio -> 3 note maps"),
    Case("nudenet-320n", "nudenet-320n", "people", "ONNX YOLOv8n detector, 320x320, [1,22,2100] for NMS",
         ("images=1,3,320,320",), ("--preprocess", "unit", "--resize", "pad"), ("--map-threshold", "0.25")),
    Case("isbnx-yolo26n", "isbnx-yolo26n", "isbn", "ONNX YOLO26n end2end (TopK) ISBN detector, 640x640, read at 0.3",
         ("images=1,3,640,640",), ("--preprocess", "unit"), ("--map-threshold", "0.3"),
         tune_opts=("--data-samples", "20")),
    Case("ddddocr-det", "ddddocr-det", "ocr_docs", "ONNX YOLOX-style character detector, 416x416, raw pixels",
         (), ("--preprocess", "raw", "--resize", "pad")),
    Case("magika-v3.3", "magika-v3.3", "bytes", "ONNX magika file-type classifier, 2048 int32 bytes -> 214 classes",
         ("bytes=1,2048",)),
    Case("layout-cdla", "layout-cdla", "layout", "ONNX PicoDet layout detector, 800x608, 8 score/box heads",
         ("image=1,3,800,608",), ("--preprocess", "imagenet", "--channel-order", "bgr")),
    # streaming: tune judges over the held-out stream (the state fed back), verify runs it with --stateful
    Case("silero-vad-v6", "silero-vad-v6", "vad", "ONNX Silero VAD v6, LSTM state in/out, 576 samples per call",
         ("input=1,576", "state=2,1,128"), tune_opts=("--data-samples", "1000"),
         verify_opts=("--stateful", "--samples", "1000")),
)


def locate(case: Case) -> Path:
    if "/" in case.model:
        return REPO / case.model
    sys.path.insert(0, str(REPO / "scripts"))
    import zoo

    return Path(zoo.locate(case.model))


def data_paths(case: Case, data_dir: Path) -> tuple[Path, Path]:
    if case.data == "sample":
        return REPO / "sample_models" / "calibration", REPO / "sample_models" / "test"
    base = data_dir / case.data
    for suffix in (".npy", ".npz"):
        if (base / f"calib{suffix}").is_file():
            return base / f"calib{suffix}", base / f"heldout{suffix}"
    return base / "calib", base / "heldout"


def run(args: list[str], log: Path) -> tuple[int, dict[str, Any] | None, float]:
    start = time.perf_counter()
    proc = subprocess.run([*EDGEKIT, *args], capture_output=True, text=True, check=False, cwd=REPO)
    seconds = time.perf_counter() - start
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ edgekit {' '.join(args)}\n{proc.stderr}\n(exit {proc.returncode}, {seconds:.1f} s)\n\n")
    try:
        return proc.returncode, json.loads(proc.stdout), seconds
    except ValueError:
        return proc.returncode, None, seconds


def estimate(path: Path) -> dict[str, float | None]:
    from edgekit.profile.estimator import estimate as est
    from edgekit.profile.registry import get_profile
    from edgekit.tflite.model import load_model

    model = load_model(path)
    return {dev: round(est(model, get_profile(dev)).latency_ms, 2) for dev in DEVICES}


def summarize(report: dict[str, Any] | None) -> dict[str, Any]:
    if not report:
        return {"passed": None}
    outs = report["outputs"]
    return {"passed": report["passed"], "decided_by": report.get("decided_by", []),
            "sqnr_db": min(o["sqnr_db"] for o in outs), "cosine": min(o["cosine"] for o in outs),
            "top1": min((o["top1_agreement"] for o in outs if o["top1_agreement"] is not None), default=None),
            "map_iou": min((o["map_iou"] for o in outs if o.get("map_iou") is not None), default=None),
            "kind": report["quantization"]}


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                          cwd=REPO)
    return proc.stdout.strip()


def bench(case: Case, work: Path, data_dir: Path, max_candidates: int, reuse: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    model = locate(case)
    calib, held = data_paths(case, data_dir)
    out = work / case.id.split(" ")[0]
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    log.write_text("", encoding="utf-8")
    shape = [a for s in case.shape for a in ("--input-shape", s)]
    common = [*shape, *case.pre]
    map_opts = list(case.extra)
    row: dict[str, Any] = {"id": case.id, "note": case.note, "model": str(model), "size_bytes": model.stat().st_size}

    f32 = out / "float32.tflite"
    default = out / "default_int8.tflite"
    row["commit"] = _commit()
    if reuse and f32.is_file() and default.is_file() and reuse.get("default_convert_seconds") is not None:
        # --reuse-converted: the float32 and default int8 files of an earlier run (the TF path is unchanged)
        row["default_convert_seconds"] = reuse["default_convert_seconds"]
        row["converted_by"] = reuse.get("converted_by") or reuse.get("commit") or "an earlier run"
    else:
        run(["convert", str(model), "-o", str(f32), "--quantize", "none", "--calibration", str(calib), "--force",
             "--allow-mismatch", "--json", *common], log)
        code, conv, secs = run(["convert", str(model), "-o", str(default), "--calibration", str(calib), "--force",
                                "--allow-mismatch", "--json", *common], log)
        row["default_convert_seconds"] = round(secs, 1)
        row["converted_by"] = row["commit"]
        if conv is None or not default.is_file():
            # plain int8 refused (e.g. ops without an int8 kernel): what tune is for, so tune still runs
            default.unlink(missing_ok=True)
            row["default_error"] = _first_error(log, code)
    tuned = out / "tuned.tflite"
    load_before = _load()
    code, tune, secs = run(["tune", str(model), "--device", "rpi4b", "--calibration", str(calib), "--data", str(held),
                            "-o", str(tuned), "--force", "--json", "--max-candidates", str(max_candidates), *common,
                            *map_opts, *case.tune_opts], log)
    row["tune_seconds"] = round(secs, 1)
    row["tune_exit"] = code
    row["load_during_tune"] = [load_before, _load()]  # 1-minute load average before and after (2 cores)
    if tune is not None:
        row["candidates_tried"] = tune["candidates_tried"]
        row["chosen"] = tune["chosen"]["label"] if tune["chosen"] else None
        row["recipe"] = tune["chosen"]["recipe"] if tune["chosen"] else None
        row["why"] = tune["why"]
    verify_opts = [*common, *map_opts, "--data", str(held), *case.verify_opts, "--json"]
    for name, path in (("float32", f32), ("default_int8", default), ("tuned", tuned)):
        if not path.is_file():
            row[name] = None
            continue
        _, report, _ = run(["verify", str(model), str(path), *verify_opts], log)
        row[name] = {**summarize(report), "size_bytes": path.stat().st_size, "estimated_ms": estimate(path)}
    return row


def _first_error(log: Path, code: int) -> str:
    """The last `Error:` line of the log (the failed command's), with its exit code."""
    errors = [line[len("Error: "):] for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("Error: ")]
    return f"exit {code}: {errors[-1]}" if errors else f"exit {code}"


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| network | float32: est. ms rpi4b / coral-usb-rpi4, size | default int8: verify on held-out | est. ms "
            "rpi4b / coral, size | tuned (rpi4b): verify on held-out | est. ms rpi4b / coral, size | chosen recipe | "
            "candidates | tune wall time (load avg) |")
    lines = [head, "|" + "---|" * 9]

    def verdict(m: dict[str, Any] | None) -> str:
        if not m or m.get("passed") is None:
            return "-"
        parts = [f"SQNR {_fmt(m['sqnr_db'])} dB", f"cos {_fmt(m['cosine'], '.4f')}"]
        if m.get("top1") is not None:
            parts.append(f"top1 {_fmt(100 * m['top1'], '.1f')}%")
        if m.get("map_iou") is not None:
            parts.append(f"IoU {_fmt(m['map_iou'], '.3f')}")
        result = "**PASS**" if m["passed"] else f"FAIL ({', '.join(m.get('decided_by') or [])})"
        return f"{result}: " + ", ".join(parts)

    def est(m: dict[str, Any] | None) -> str:
        if not m:
            return "-"
        e = m["estimated_ms"]
        return f"{_fmt(e['rpi4b'], '.2f')} / {_fmt(e['coral-usb-rpi4'], '.2f')}, {m['size_bytes'] / 1024:.0f} KiB"

    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['id']} | {r['error']} |" + " |" * 7)
            continue
        default = f"refused ({r['default_error']})" if r.get("default_error") else verdict(r.get("default_int8"))
        lines.append(f"| {r['id']} ({r['note']}) | {est(r.get('float32'))} | {default} | "
                     f"{est(r.get('default_int8'))} | {verdict(r.get('tuned'))} | {est(r.get('tuned'))} | "
                     f"{r.get('recipe') or '-'} | {r.get('candidates_tried', '-')} | {_fmt(r.get('tune_seconds'), '.0f')} s "
                     f"({_loads(r)}) |")
    return "\n".join(lines)


def _loads(r: dict[str, Any]) -> str:
    loads = r.get("load_during_tune")
    return "-" if not loads else " to ".join(f"{v:.1f}" for v in loads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_tune"))
    parser.add_argument("--data", type=Path, default=None, help="make_tune_data.py output (default: WORK/data)")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--max-candidates", type=int, default=12)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--reuse-converted", action="store_true",
                        help="keep the float32/default int8 files of an earlier run (tune and verify run again)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data_dir = args.data or args.work / "data"
    if not data_dir.is_dir():
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_tune_data.py"), str(data_dir)], check=True)
    results_path = args.work / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.is_file() else []
    rows = {r["id"]: r for r in previous}
    for case in CASES:
        if args.only and case.id.split(" ")[0] not in args.only and case.id not in args.only:
            continue
        print(f"== {case.id}", file=sys.stderr)
        if case.data != "sample" and not (data_dir / case.data).is_dir():  # a set added after the data was made
            subprocess.run([sys.executable, str(REPO / "scripts" / "make_tune_data.py"), str(data_dir),
                            "--only", case.data], check=True)
        reuse = rows.get(case.id) if args.reuse_converted else None
        rows[case.id] = bench(case, args.work, data_dir, args.max_candidates, reuse)
        results_path.write_text(json.dumps(list(rows.values()), indent=2) + "\n", encoding="utf-8")
    ordered = [rows[c.id] for c in CASES if c.id in rows]
    if args.markdown:
        print(markdown(ordered))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
