"""Per-op sensitivity to quantization, measured: where the quantization noise of a model jumps.

Device-safe. The float model and a quantized model made from it (ai-edge-quantizer keeps the op
output names) run on the same samples with every tensor preserved. For each op output we measure
the noise-to-signal ratio ``NSR = E[(dequantized - float)^2] / E[float^2]`` and subtract the worst
NSR among the op's activation inputs: what the op ADDS (its own rounding, clipping, weight error
and integer kernel), not the noise it inherits. Ops are ranked by that jump; the search keeps the
first few in int16, or in float, and measures whether that is enough (a rank is a guess until the
output metrics say so).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.tflite.model import TFLiteModel, parse_model

_SKIP = {"QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "SLICE",
         "GATHER", "CONCATENATION", "PACK", "UNPACK", "SPLIT", "SPLIT_V", "MAX_POOL_2D", "PAD", "PADV2",
         "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"}  # ops that only move values: they add no noise of their own


@dataclass(frozen=True)
class OpSensitivity:
    name: str  # the op's output tensor name (what a recipe's int16_ops / float_ops hold)
    op: str
    nsr_db: float  # the output's noise relative to its signal, in dB (10 log10 NSR)
    added_db: float  # how much this op raised the NSR over its worst input, in dB (the rank)

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.name, "op": self.op, "nsr_db": round(self.nsr_db, 2), "added_db": round(self.added_db, 2)}


def _run_all(data: bytes, model: TFLiteModel, feeds: Sequence[np.ndarray], count: int
             ) -> list[dict[str, np.ndarray]]:
    from edgekit.tflite.runtime import load_interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = load_interpreter(data, use_xnnpack=False, preserve_all_tensors=True)
    sg = model.main
    wanted = {o: sg.tensor(o) for op in sg.operators for o in op.outputs if o >= 0}
    wanted.update({i: sg.tensor(i) for i in sg.inputs})
    runs = []
    for i in range(count):
        for tensor, arr in zip(model.inputs, feeds, strict=True):
            x = np.asarray(arr[i])
            interp.set_tensor(tensor.index, tensor.quantize(x).reshape(tensor.shape))
        interp.invoke()
        values: dict[str, np.ndarray] = {}
        for index, t in wanted.items():
            try:
                raw = np.array(interp.get_tensor(index))
            except ValueError:
                continue
            values[t.name] = t.dequantize(raw).astype(np.float64)
        runs.append(values)
    return runs


def measure_sensitivity(float_data: bytes, quant_data: bytes, feeds: Sequence[np.ndarray],
                        max_samples: int = 8) -> list[OpSensitivity]:
    """Ops of the quantized model ranked by the noise they add (worst first); see the module docstring.

    ``feeds``: one float (N, *shape) array per model input, in the float model's input order.
    """
    fmodel = parse_model(float_data, "float model")
    qmodel = parse_model(quant_data, "quantized model")
    count = max(1, min(max_samples, int(feeds[0].shape[0])))
    f_runs = _run_all(float_data, fmodel, feeds, count)
    q_runs = _run_all(quant_data, qmodel, feeds, count)
    sg = fmodel.main
    noise: dict[str, float] = {}
    signal: dict[str, float] = {}
    for f_vals, q_vals in zip(f_runs, q_runs, strict=True):
        for name, f in f_vals.items():
            q = q_vals.get(name)
            if q is None or q.shape != f.shape:
                continue
            noise[name] = noise.get(name, 0.0) + float(np.sum((q - f) ** 2))
            signal[name] = signal.get(name, 0.0) + float(np.sum(f ** 2))

    def nsr_db(name: str) -> float | None:
        if name not in noise:
            return None
        s = signal[name]
        n = noise[name]
        if s <= 0:
            return 0.0 if n > 0 else -200.0
        return 10.0 * math.log10(max(n / s, 1e-20))

    ranked: list[OpSensitivity] = []
    for op in sg.operators:
        if op.name in _SKIP or not op.outputs or op.outputs[0] < 0:
            continue
        out = sg.tensor(op.outputs[0]).name
        out_db = nsr_db(out)
        if out_db is None:
            continue
        inputs = [nsr_db(sg.tensor(i).name) for i in op.inputs if i >= 0 and not sg.tensor(i).is_constant]
        known = [v for v in inputs if v is not None]
        base = max(known) if known else -200.0
        ranked.append(OpSensitivity(out, op.name, out_db, out_db - base))
    return sorted(ranked, key=lambda s: (-s.added_db, -s.nsr_db))


def island(float_data: bytes, names: Sequence[str]) -> tuple[str, ...]:
    """The ops to change together so that ``names`` (sensitive ops) actually gain precision: each op, the
    producers of its activation inputs (so it receives the finer values) and the consumers of its output
    (so they do not round it back to int8). Output tensor names, in graph order."""
    model = parse_model(float_data, "float model")
    sg = model.main
    producer = {o: op for op in sg.operators for o in op.outputs if o >= 0}
    consumers: dict[int, list[Any]] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(i, []).append(op)
    by_name = {sg.tensor(op.outputs[0]).name: op for op in sg.operators if op.outputs and op.outputs[0] >= 0}
    chosen: set[int] = set()
    inputs: set[int] = set()
    for name in names:
        found = by_name.get(name)
        if found is None:
            continue
        op = found
        chosen.add(op.index)
        for i in op.inputs:
            if i >= 0 and not sg.tensor(i).is_constant and i in producer:
                chosen.add(producer[i].index)
            elif i in sg.inputs:
                inputs.add(i)  # the graph input itself: it is quantized too
        for c in consumers.get(op.outputs[0], []):
            chosen.add(c.index)
    return tuple([sg.tensor(i).name for i in sg.inputs if i in inputs]
                 + [sg.tensor(op.outputs[0]).name for op in sg.operators if op.index in chosen and op.outputs])


MIXED_RANGE_RATIO = 32.0  # a joined input this much narrower than the widest keeps < 8 of the shared scale's levels
_JOINS = frozenset({"CONCATENATION", "PACK"})


def mixed_range_joins(float_data: bytes, ranges: dict[str, float]) -> tuple[tuple[str, ...], int]:
    """(every op from the first join of very different ranges on, by output tensor name in graph order; how many
    such joins there are). A CONCATENATION or PACK shares one int8 scale among its inputs: a detector head that
    joins 640-pixel box coordinates with 0..1 class scores (YOLOv8..YOLO26, ``[1, 4 + classes, 8400]``) rounds
    every score to 0 in int8, whatever the calibration. ``ranges``: activation tensor name -> largest |value|
    on the calibration data. The join, everything it feeds (the post-processing: slices, TopK, gathers) and
    what computes its inputs after the last MAC op (the box decode, whose pixel coordinates int8 would round to
    steps of range/255, and the scores' sigmoid) stay float; the convolutions stay int8. On isbnx's YOLO26n
    the join alone in float still lost detections (map IoU 0.71 at 0.3); with its decode, 0.96."""
    model = parse_model(float_data, "float model")
    sg = model.main
    consumers: dict[int, list[int]] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(i, []).append(op.index)
    joins = []
    for op in sg.operators:
        if op.name not in _JOINS:
            continue
        widths = [ranges.get(sg.tensor(i).name, 0.0) for i in op.inputs if i >= 0 and not sg.tensor(i).is_constant]
        widths = [w for w in widths if w > 0]
        if len(widths) >= 2 and max(widths) >= MIXED_RANGE_RATIO * min(widths):
            joins.append(op.index)
    producer = {t: op.index for op in sg.operators for t in op.outputs if t >= 0}
    chosen: set[int] = set()
    frontier = list(joins)
    while frontier:  # the joins and everything they feed
        i = frontier.pop()
        if i in chosen:
            continue
        chosen.add(i)
        for t in sg.operators[i].outputs:
            frontier.extend(consumers.get(t, []) if t >= 0 else [])
    upstream = list(joins)
    while upstream:  # and what computes the joined values after the last MAC op (a box decode, a sigmoid)
        for t in sg.operators[upstream.pop()].inputs:
            p = producer.get(t) if t >= 0 and not sg.tensor(t).is_constant else None
            if p is not None and p not in chosen and sg.operators[p].name not in MAC_OPS:
                chosen.add(p)
                upstream.append(p)
    names = tuple(sg.tensor(op.outputs[0]).name for op in sg.operators
                  if op.index in chosen and op.outputs and op.outputs[0] >= 0)
    return names, len(joins)


MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV", "CONV_3D"})


def outside_mac_ops(float_data: bytes) -> tuple[tuple[str, ...], int]:
    """(every op that is not a multiply-accumulate op, by output tensor name in graph order; how many MAC ops
    there are): the float ops of an "int8 for the convolutions and matmuls only" candidate. The MAC ops hold
    nearly all the time and weights; normalizations, activations with wide ranges and element-wise
    arithmetic (where int8 breaks: a LayerNorm's variance, a tanh-GELU's cube) keep float."""
    model = parse_model(float_data, "float model")
    sg = model.main
    named = [op for op in sg.operators if op.outputs and op.outputs[0] >= 0]
    macs = sum(1 for op in named if op.name in MAC_OPS)
    return tuple(sg.tensor(op.outputs[0]).name for op in named if op.name not in MAC_OPS), macs
