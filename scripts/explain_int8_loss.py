#!/usr/bin/env python3
"""Where does a float .tflite lose in int8? The measurements behind docs/QUANTIZATION.md.

    .venv/bin/python scripts/explain_int8_loss.py FLOAT.tflite --calibration DIR|NPY --data DIR|NPY
        [--preprocess imagenet --channel-order bgr] [--top 15]

For the float model (make one with `edgekit convert MODEL --quantize none`), quantized by
ai-edge-quantizer int8 min-max on the calibration data, measured on the held-out data:
  1. per-op noise jumps (edgekit.requant.sensitivity): the ops that ADD the most quantization noise;
  2. outlier-dominated ranges: tensors whose min-max range is far wider than the range holding
     99.99% of their values (what a percentile clip changes);
  3. the noise added per op type, summed: which kind of op is to blame;
  4. the output SQNR of min-max, percentile and MSE calibration, and of int16 for the worst op types.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgekit.core.quant import CalibrationMethod
from edgekit.core.recipe import QuantRecipe
from edgekit.core.source import TensorSpec
from edgekit.data import Preprocessing, load_samples
from edgekit.requant.check import judge, run_model
from edgekit.requant.floatmodel import prepare_float
from edgekit.requant.pipeline import apply_recipe
from edgekit.requant.sensitivity import measure_sensitivity
from edgekit.requant.stats import HIST_BINS, collect_stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--preprocess", default="unit")
    parser.add_argument("--channel-order", default="rgb")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)

    fm = prepare_float(args.model.read_bytes(), str(args.model))
    model = fm.model
    specs = [TensorSpec(t.name, tuple(t.shape), t.dtype) for t in model.inputs]
    pre = Preprocessing.from_options(args.preprocess, channel_order=args.channel_order)
    calib, _ = load_samples(args.calibration, specs, pre, args.samples, progress_label=None)
    held, _ = load_samples(args.data, specs, pre, args.samples, progress_label=None)
    cfeeds = [calib[s.name] for s in specs]
    hfeeds = [held[s.name] for s in specs]
    names = [s.name for s in specs]
    outs = [t.name for t in model.outputs]
    _, ref = run_model(fm.data, names, hfeeds, outs, [tuple(t.shape) for t in model.outputs])
    reference = dict(zip(outs, ref, strict=True))
    print(f"{args.model.name}: {sum(model.op_histogram().values())} ops: "
          + ", ".join(f"{k} x{v}" for k, v in sorted(model.op_histogram().items(), key=lambda kv: -kv[1])))

    cache: dict = {}
    results = {}
    for label, recipe in (("int8 min-max", QuantRecipe()),
                          ("int8 percentile 99.99", QuantRecipe(calibration_method=CalibrationMethod.PERCENTILE)),
                          ("int8 MSE", QuantRecipe(calibration_method=CalibrationMethod.MSE))):
        data = apply_recipe(fm.data, recipe, cfeeds, cache)
        check = judge(data, names, hfeeds, reference)
        results[label] = data
        print(f"  {label:24s} output SQNR {check.mean_sqnr_db:6.1f} dB, cosine {check.min_cosine:.4f}"
              f"{'' if check.passed else '  FAIL ' + ','.join(check.decided_by)}")

    sens = measure_sensitivity(fm.data, results["int8 min-max"], hfeeds)
    print("\nOps that ADD the most noise in int8 min-max (NSR jump over their worst input, held-out data):")
    op_of = {model.main.tensor(op.outputs[0]).name: op.name for op in model.main.operators if op.outputs}
    for s in sens[: args.top]:
        print(f"  {s.added_db:+7.1f} dB  (output NSR {s.nsr_db:6.1f} dB)  {s.op:20s} {s.name[:90]}")
    by_type: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for s in sens:
        if s.added_db > 0:
            by_type[s.op] += s.added_db
            count[s.op] += 1
    print("\nNoise added per op type (sum of positive jumps, dB):")
    for op, total in sorted(by_type.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {op:22s} {total:8.1f} dB over {count[op]} ops")

    stats = collect_stats(fm.data, cfeeds, histograms=True, label=None)
    rows = []
    for name, t in stats.tensors.items():
        if t.hist is None or t.hist.sum() == 0 or t.max <= t.min:
            continue
        edges = np.linspace(t.min, t.max, HIST_BINS + 1)
        cdf = np.cumsum(t.hist) / t.hist.sum()
        lo = edges[int(np.searchsorted(cdf, 0.00005))]
        hi = edges[min(HIST_BINS, int(np.searchsorted(cdf, 0.99995)) + 1)]
        ratio = (t.max - t.min) / max(hi - lo, 1e-12)
        rows.append((ratio, name, t.min, t.max, lo, hi))
    rows.sort(reverse=True)
    print("\nOutlier-dominated ranges (calibration): min-max span / span holding 99.99% of the values:")
    for ratio, name, mn, mx, lo, hi in rows[: args.top]:
        print(f"  x{ratio:6.1f}  [{mn:9.3g}, {mx:9.3g}] vs [{lo:9.3g}, {hi:9.3g}]  {op_of.get(name, 'input'):18s} "
              f"{name[:80]}")

    worst_types = [op for op, _ in sorted(by_type.items(), key=lambda kv: -kv[1])[:3]]
    for op_type in worst_types:
        ops = tuple(s.name for s in sens if s.op == op_type)
        data = apply_recipe(fm.data, QuantRecipe(int16_ops=ops), cfeeds, cache)
        check = judge(data, names, hfeeds, reference)
        print(f"\nint8 + int16 for every {op_type} ({len(ops)} ops): output SQNR {check.mean_sqnr_db:.1f} dB, "
              f"cosine {check.min_cosine:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
