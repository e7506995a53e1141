"""Does onnxruntime agree with itself on another CPU? (issue 13: the reference a float conversion is held to)

edgekit's float conversions are checked against onnxruntime on this machine. For a model whose result hangs
on the last bit of its float arithmetic (``quantize_dynamic`` LSTMs re-quantize their state at every step), the
question is whether onnxruntime's own result is reproducible: this script runs one model on seeded inputs in
whatever runtime the interpreter has, so the same command can run here and on an arm64 board (or in
``../shared/piemu``), and then compares the saved outputs.

    # here, and in the emulated Pi (a venv with onnxruntime and numpy only: this file imports nothing else)
    python scripts/ort_across_cpus.py run MODEL.onnx --out x86.npz [--inputs data.npz] [--samples 8]
    python scripts/ort_across_cpus.py run MODEL.onnx --out arm.npz --same-inputs-as x86.npz
    # the converted file on the same inputs (ai-edge-litert or tflite-runtime)
    python scripts/ort_across_cpus.py run MODEL.tflite --out tfl.npz --same-inputs-as x86.npz
    python scripts/ort_across_cpus.py compare x86.npz arm.npz [tfl.npz ...]

``--inputs`` takes an ``.npz`` of named inputs (the ONNX matrix's ``data.npz`` with ``in:NAME`` keys works as
is); otherwise inputs are seeded normal values (mean/std per input with ``--normal NAME=MEAN,STD``). The
``.tflite`` run matches inputs by name, else by position, and outputs by position (as the ONNX model lists
them), so use it on files whose inputs and outputs keep the ONNX layout.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _seeded_inputs(specs: list[tuple[str, list[int]]], samples: int, normal: dict[str, tuple[float, float]],
                   seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        feeds = {}
        for name, shape in specs:
            mean, std = normal.get(name, (0.0, 1.0))
            feeds[name] = rng.normal(mean, std, size=shape).astype(np.float32)
        out.append(feeds)
    return out


def _load_inputs(path: Path) -> list[dict[str, np.ndarray]]:
    data = np.load(path)
    samples: dict[str, dict[str, np.ndarray]] = {}
    for key in data.files:
        if ":" not in key or not key.split(":", 1)[0].startswith("in"):
            continue
        tag, name = key.split(":", 1)
        samples.setdefault(tag, {})[name] = data[key]
    return [samples[t] for t in sorted(samples)]


class _Onnx:
    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.runtime = f"onnxruntime {ort.__version__}"
        self.inputs = [(i.name, [d if isinstance(d, int) else 1 for d in i.shape]) for i in self.session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o) for o in self.session.run(None, feeds)]


class _Tflite:
    def __init__(self, path: Path) -> None:
        try:
            import ai_edge_litert as rt_mod
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import tflite_runtime as rt_mod  # type: ignore[no-redef]
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        self.interp = Interpreter(model_path=str(path), num_threads=1)
        self.interp.allocate_tensors()
        self.runtime = f"{rt_mod.__name__} {getattr(rt_mod, '__version__', '?')}"
        self.details = self.interp.get_input_details()
        self.inputs = [(d["name"], list(d["shape"])) for d in self.details]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        values = list(feeds.values())
        for pos, d in enumerate(self.details):
            value = feeds.get(d["name"], values[pos])
            self.interp.set_tensor(d["index"], value.reshape(d["shape"]).astype(d["dtype"]))
        self.interp.invoke()
        return [np.array(self.interp.get_tensor(d["index"])) for d in self.interp.get_output_details()]


def cmd_run(args: argparse.Namespace) -> int:
    path = Path(args.model)
    engine: Any = _Tflite(path) if path.suffix == ".tflite" else _Onnx(path)
    if args.same_inputs_as:
        samples = _load_inputs(Path(args.same_inputs_as))
    elif args.inputs:
        samples = _load_inputs(Path(args.inputs))
    else:
        normal = {}
        for spec in args.normal:
            name, _, rest = spec.partition("=")
            mean, std = (float(v) for v in rest.split(","))
            normal[name] = (mean, std)
        samples = _seeded_inputs(engine.inputs, args.samples, normal, args.seed)
    saved: dict[str, np.ndarray] = {}
    for k, feeds in enumerate(samples):
        for name, value in feeds.items():
            saved[f"in{k:03d}:{name}"] = value
        for j, value in enumerate(engine.run(feeds)):
            saved[f"out{k:03d}:{j}"] = value
    np.savez(args.out, **saved)  # type: ignore[arg-type]
    print(f"{platform.machine()} {engine.runtime}: {len(samples)} sample(s) -> {args.out}", file=sys.stderr)
    return 0


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    x = a.ravel().astype(np.float64)
    y = b.ravel().astype(np.float64)
    den = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / den) if den else float(np.array_equal(x, y))


def cmd_compare(args: argparse.Namespace) -> int:
    base = np.load(args.reference)
    keys = sorted(k for k in base.files if k.startswith("out"))
    print(f"against {args.reference}: per output, worst and median cosine over the samples, worst max abs error "
          f"as a share of the reference's range")
    for other in args.others:
        data = np.load(other)
        cos: dict[str, list[float]] = {}
        err: dict[str, list[float]] = {}
        for key in keys:
            if key not in data.files:
                raise SystemExit(f"{other} has no {key}: run it with --same-inputs-as {args.reference}")
            a, b = base[key], data[key]
            out = key.split(":", 1)[1]
            cos.setdefault(out, []).append(_cosine(a, b))
            rng = float(a.max() - a.min()) or 1.0
            err.setdefault(out, []).append(float(np.abs(a.astype(np.float64) - b).max()) / rng)
        for out in cos:
            print(f"  {other} output {out}: cosine worst {min(cos[out]):.7f}, median {float(np.median(cos[out])):.7f}; "
                  f"max error {max(err[out]):.3g} of the range ({len(cos[out])} samples)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a .onnx (onnxruntime) or .tflite (LiteRT) on seeded or given inputs")
    run.add_argument("model")
    run.add_argument("--out", required=True)
    run.add_argument("--inputs", help=".npz of inputs (in:NAME or inNNN:NAME keys)")
    run.add_argument("--same-inputs-as", help="an .npz this script wrote: its inputs")
    run.add_argument("--samples", type=int, default=8)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--normal", action="append", default=[], metavar="NAME=MEAN,STD")
    run.set_defaults(func=cmd_run)
    cmp = sub.add_parser("compare", help="compare saved outputs with the first file's")
    cmp.add_argument("reference")
    cmp.add_argument("others", nargs="+")
    cmp.set_defaults(func=cmd_compare)
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
