"""The range a model's last op bounds each output to (a sigmoid's [0, 1]), read from the .tflite (device-safe).

Verify judges float32 conversions by cosine and SQNR, both relative to the output's own values. An output
that the inputs leave with no signal (a text detector's probability map on random noise: every value near
1e-6) then fails on float32 rounding alone: an error of 1.8e-07 gives cosine 0.999. For an output whose
last op bounds its values, the error can instead be read against that range, as the ONNX check's "max abs
error within 1e-4 of the output range" does (:attr:`edgekit.verify.thresholds.Thresholds.max_abs_of_range`).
"""

from __future__ import annotations

from edgekit.tflite.model import Operator, TFLiteModel

# ops whose output is always inside this interval, whatever their input
_BOUNDED: dict[str, tuple[float, float]] = {
    "LOGISTIC": (0.0, 1.0),
    "SOFTMAX": (0.0, 1.0),
    "TANH": (-1.0, 1.0),
    "RELU6": (0.0, 6.0),
    "RELU_N1_TO_1": (-1.0, 1.0),
}
# a fused activation bounds the op that carries it
_FUSED: dict[str, tuple[float, float]] = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
# ops that only move or select values of their first input (the bound carries through)
_MOVES_FIRST = frozenset({"RESHAPE", "TRANSPOSE", "SQUEEZE", "EXPAND_DIMS", "GATHER", "GATHER_ND", "SLICE",
                          "STRIDED_SLICE", "SPLIT_V", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BROADCAST_TO",
                          "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
                          "REDUCE_MAX", "REDUCE_MIN", "MEAN"})
# ops whose output values are among the values of all their inputs
_MOVES_ALL = frozenset({"CONCATENATION", "PACK"})
_SPLIT = frozenset({"SPLIT", "UNPACK"})  # the data is the last (SPLIT) / only (UNPACK) input


def value_ranges(model: TFLiteModel) -> dict[int, tuple[float, float]]:
    """Output tensor index (main subgraph) -> the interval its producing ops bound it to; unbounded outputs
    are left out. Float outputs only: a quantized output's range is its quantization's."""
    graph = model.main
    producer: dict[int, Operator] = {t: op for op in graph.operators for t in op.outputs}
    memo: dict[int, tuple[float, float] | None] = {}

    def bound(index: int, depth: int = 0) -> tuple[float, float] | None:
        if index in memo:
            return memo[index]
        memo[index] = None  # cycles (none in a valid graph) and deep chains end unbounded
        op = producer.get(index)
        result: tuple[float, float] | None = None
        if op is not None and depth < 64:
            fused = op.options.get("fused_activation_function") if op.builtin else None
            if op.name in _BOUNDED:
                result = _BOUNDED[op.name]
            elif isinstance(fused, str) and fused in _FUSED:
                result = _FUSED[fused]
            elif op.name in _MOVES_FIRST and op.inputs and op.inputs[0] >= 0:
                result = bound(op.inputs[0], depth + 1)
            elif op.name in _SPLIT and op.inputs:
                result = bound(op.inputs[-1], depth + 1)
            elif op.name in _MOVES_ALL:
                parts = [bound(i, depth + 1) for i in op.inputs if i >= 0]  # a constant one: unbounded
                if parts and all(p is not None for p in parts):
                    result = (min(p[0] for p in parts if p), max(p[1] for p in parts if p))
        memo[index] = result
        return result

    out: dict[int, tuple[float, float]] = {}
    for t in model.outputs:
        if t.dtype not in ("float32", "float16") or t.is_quantized:
            continue
        b = bound(t.index)
        if b is not None:
            out[t.index] = b
    return out


def range_widths(model: TFLiteModel, tensors: list[int]) -> list[float | None]:
    """For each output tensor index, the width of its bounded range (None: unbounded)."""
    ranges = value_ranges(model)
    return [ranges[i][1] - ranges[i][0] if i in ranges else None for i in tensors]
