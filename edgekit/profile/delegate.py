"""Which operators LiteRT's default CPU delegate (XNNPACK) takes, and the partitions that result.

LiteRT hands every node XNNPACK accepts to the delegate; consecutive accepted
nodes (in execution order) form one delegate partition, and each refused node
runs on LiteRT's builtin kernels in between, with a partition boundary (tensor
hand-over, often a layout/quantization copy) on each side. The rules here are
per (op, dtype, options) and were checked against ai-edge-litert 2.3.0's
``Interpreter._get_ops_details()`` on single-op models (see
tests/test_profile_delegate.py) and on the real graphs of the zoo (MediaPipe's sparse float16
detectors: DENSIFY + DEQUANTIZE weights are static; microWakeWord's resource variables; hybrid int8/uint8
weights; EXPAND_DIMS refused); they are a model of that runtime, not a copy of its source, and they decide
placement only — costs live in the estimator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.tflite.model import Operator, Subgraph

# XNNPACK delegate, float32 (and float16 weights dequantized at init): builtin ops accepted.
XNNPACK_FLOAT_OPS = frozenset({
    "ABS", "ADD", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CEIL", "CONCATENATION", "CONV_2D", "COS", "DEPTH_TO_SPACE",
    "LOG", "SIN",
    "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU", "EXP", "FULLY_CONNECTED", "FLOOR", "GELU", "HARD_SWISH",
    "LEAKY_RELU", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MUL", "NEG", "PAD", "PRELU",
    "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "ROUND", "RSQRT", "SLICE", "SOFTMAX",
    "SPACE_TO_DEPTH", "SPLIT", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "SUM",
    "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "REDUCE_MAX", "REDUCE_MIN", "SQUEEZE", "DENSIFY",
})

# XNNPACK delegate, int8/uint8 (QS8/QU8) ops accepted.
XNNPACK_QUANT_OPS = frozenset({
    "ADD", "CONCATENATION", "CONV_2D", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "ELU",
    "FULLY_CONNECTED", "LEAKY_RELU", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD",
    "QUANTIZE", "RESHAPE", "RESIZE_BILINEAR", "SLICE", "SPACE_TO_DEPTH", "SPLIT", "STRIDED_SLICE", "SUB",
    "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "SQUEEZE", "BATCH_MATMUL", "REDUCE_MAX", "SUM",
    "REDUCE_MIN",  # measured, ai-edge-litert 2.3.0 (basic-pitch's int8 file has one)
})

_OK_ACTIVATIONS = {None, "NONE", "RELU", "RELU6", "RELU_N1_TO_1"}


@dataclass(frozen=True)
class Placement:
    index: int
    delegated: bool
    reason: str  # why not delegated ("" when delegated)


def _activation_dtype(sg: Subgraph, op: Operator) -> str:
    for i in op.inputs:
        if i >= 0 and not sg.tensor(i).is_constant:
            return sg.tensor(i).dtype
    return sg.tensor(op.outputs[0]).dtype if op.outputs and op.outputs[0] >= 0 else "float32"


# custom ops XNNPACK runs (MediaPipe's transposed convolution with a bias)
XNNPACK_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias"})
# resource-variable ops: XNNPACK keeps the variables, reads and assigns them (ai-edge-litert 2.3.0: a chain of
# VAR_HANDLE, STRIDED_SLICE, ASSIGN_VARIABLE made one delegate whose walk back from its outputs reaches none of the
# slices, and a 108 KB slice into a variable ran 2.4 us, where the builtin kernel takes 520)
XNNPACK_VARIABLE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})
_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _producer(sg: Subgraph, tensor: int) -> Operator | None:
    return next((o for o in sg.operators if tensor in o.outputs), None)


def _static_weights(sg: Subgraph, tensor: int) -> tuple[bool, str]:
    """(static for XNNPACK, the dtype the weights are stored in): a constant, or a constant brought to float by
    DENSIFY (sparse) and/or DEQUANTIZE of float16; a DEQUANTIZE of int8/uint8 is not."""
    t = sg.tensor(tensor)
    if t.is_constant:
        return True, t.dtype
    producer = _producer(sg, tensor)
    if producer is None or producer.name not in ("DEQUANTIZE", "DENSIFY") or not producer.inputs:
        return False, t.dtype
    src_ok, src_dtype = _static_weights(sg, producer.inputs[0])
    if producer.name == "DEQUANTIZE" and src_dtype not in ("float16", "float32"):
        return False, src_dtype
    return src_ok, src_dtype


UNPACK_OPS = frozenset({"DEQUANTIZE", "DENSIFY"})


def unpacked_at_init(sg: Subgraph, op: Operator) -> bool:
    """True for a DENSIFY or float16 DEQUANTIZE whose input is static weights: the XNNPACK delegate computes
    its output once, when it is prepared, and leaves the node out of the invoke (MediaPipe's sparse float16
    detectors have 38-46 DENSIFY and 144-182 DEQUANTIZE nodes that cost nothing per inference)."""
    return (op.name in UNPACK_OPS and bool(op.outputs) and op.outputs[0] >= 0
            and _static_weights(sg, op.outputs[0])[0])


def fused_pad(sg: Subgraph, op: Operator, placement: Sequence[bool]) -> bool:
    """True for a PAD that XNNPACK folds into the convolution reading it: zero padding of height and width only,
    read by nothing but one delegated CONV_2D / DEPTHWISE_CONV_2D with VALID padding (the explicit padding of
    converted PyTorch models and Keras' ZeroPadding2D). Measured (96x96x8, 1 thread): PAD + 3x3 depthwise
    0.081 ms, the depthwise with SAME padding alone 0.082, the PAD kept because a second op reads it +0.085."""
    if op.name != "PAD" or not placement[op.index] or len(op.inputs) < 2 or not op.outputs:
        return False
    out = op.outputs[0]
    if out < 0 or out in sg.outputs:
        return False
    pads = sg.tensor(op.inputs[1]).data()
    if pads is None or pads.shape != (4, 2) or np.any(pads[[0, 3]] != 0) or np.any(pads < 0):
        return False
    readers = [o for o in sg.operators if out in o.inputs]
    if len(readers) != 1:
        return False
    conv = readers[0]
    return (conv.name in ("CONV_2D", "DEPTHWISE_CONV_2D") and conv.inputs[0] == out and placement[conv.index]
            and str(conv.options.get("padding", "")).upper() == "VALID")


def fused_swish(sg: Subgraph, op: Operator, placement: Sequence[bool]) -> bool:
    """True for a quantized MUL of ``x`` by ``LOGISTIC(x)`` (swish / SiLU, EfficientNet's activation) that XNNPACK
    runs inside the LOGISTIC: both delegated, int8/uint8, the LOGISTIC read by nothing else and not a graph
    output. Measured (ai-edge-litert 2.3.0, 1 thread, int8 56x56x144): LOGISTIC alone 0.046 ms, MUL alone 0.091,
    the pair 0.046 (operands in either order, with a fused RELU too); 0.137 when the LOGISTIC's output is also
    a graph output. float32 pairs are not fused (0.128 against 0.078 + 0.051)."""
    if op.name != "MUL" or not placement[op.index] or len(op.inputs) != 2 or min(op.inputs) < 0:
        return False
    if any(sg.tensor(t).dtype not in ("int8", "uint8") for t in (*op.inputs, *op.outputs)):
        return False
    producers = {o: p for p in sg.operators for o in p.outputs}
    for mine, other in (op.inputs, op.inputs[::-1]):
        sig = producers.get(mine)
        if sig is None or sig.name != "LOGISTIC" or not placement[sig.index] or tuple(sig.inputs[:1]) != (other,):
            continue
        readers = [o for o in sg.operators if mine in o.inputs]
        return len(readers) == 1 and mine not in sg.outputs
    return False


FUSED_PAD_NOTE = "XNNPACK folds this zero padding into the convolution that reads it (no cost of its own)"
FUSED_SWISH_NOTE = "XNNPACK runs this x * sigmoid(x) inside the LOGISTIC (int8 swish: no cost of its own)"
FOLDED_NOTES = (FUSED_PAD_NOTE, FUSED_SWISH_NOTE)


def folded_note(sg: Subgraph, op: Operator, placement: Sequence[bool]) -> str:
    """Why XNNPACK runs this op inside a neighbour at no cost of its own ('' when it does not)."""
    if fused_pad(sg, op, placement):
        return FUSED_PAD_NOTE
    if fused_swish(sg, op, placement):
        return FUSED_SWISH_NOTE
    return ""


# XNNPACK's requantization limits (measured, ai-edge-litert 2.3.0, both sides of each bound): an int8 QUANTIZE
# (requantizing) takes input/output scale ratios in [2^-8, 2^7]; a quantized ADD/SUB each input's in [2^-10, 2^8);
# MUL the product of the input scales over the output's in [2^-16, 2^8). (lowest, highest, highest included.)
# MediaPipe's pose detector in int8 requantizes a concat input by 1/458; magika's layer norm adds an epsilon of
# scale 6e-9 to a 7e-5 tensor: each refused, a partition more.
_REQUANT_RANGES = {"QUANTIZE": (2.0 ** -8, 2.0 ** 7, True), "ADD": (2.0 ** -10, 2.0 ** 8, False),
                   "SUB": (2.0 ** -10, 2.0 ** 8, False), "MUL": (2.0 ** -16, 2.0 ** 8, False)}


def _requant_refusal(sg: Subgraph, op: Operator) -> str:
    """Why XNNPACK refuses this quantized QUANTIZE/ADD/SUB/MUL for its scales ('' when it takes it)."""
    arity = 1 if op.name == "QUANTIZE" else 2
    ins = [q for q in (sg.tensor(i).quant for i in op.inputs[:arity] if i >= 0) if q is not None and not q.per_channel]
    out = sg.tensor(op.outputs[0]).quant
    if len(ins) != arity or out is None or out.per_channel or out.scale <= 0:
        return ""
    lo, hi, hi_included = _REQUANT_RANGES[op.name]
    ratios = [ins[0].scale * ins[1].scale / out.scale] if op.name == "MUL" else [q.scale / out.scale for q in ins]
    bad = [r for r in ratios if not (lo <= r <= hi if hi_included else lo <= r < hi)]
    return f"{op.name} rescaling by {bad[0]:.3g} (XNNPACK: {lo:.3g} to {hi:g})" if bad else ""


def xnnpack_placement(sg: Subgraph, op: Operator) -> Placement:
    """Whether XNNPACK takes this op, and if not, why."""
    if not op.builtin:
        if op.custom_code in XNNPACK_CUSTOM_OPS:
            return Placement(op.index, True, "")
        return Placement(op.index, False, f"custom op {op.custom_code} is not an XNNPACK op")
    if op.name in XNNPACK_VARIABLE_OPS:
        return Placement(op.index, True, "")
    tensors = [sg.tensor(i) for i in (*op.inputs, *op.outputs) if i >= 0]
    dtype = _activation_dtype(sg, op)
    if op.name == "QUANTIZE":
        src, dst = sg.tensor(op.inputs[0]).dtype, sg.tensor(op.outputs[0]).dtype
        if src != "float32" and src != dst:
            return Placement(op.index, False, f"QUANTIZE {src} -> {dst} is not supported by XNNPACK")
        dtype = dst
    if dtype in ("int8", "uint8"):
        if op.name not in XNNPACK_QUANT_OPS:
            return Placement(op.index, False, f"{op.name} is not supported by XNNPACK for {dtype}")
    elif dtype in ("float32", "float16"):
        if op.name not in XNNPACK_FLOAT_OPS:
            return Placement(op.index, False, f"{op.name} is not supported by XNNPACK for {dtype}")
    else:
        return Placement(op.index, False, f"XNNPACK does not run {dtype} activations")
    if dtype in ("int8", "uint8") and op.name in _REQUANT_RANGES:
        reason = _requant_refusal(sg, op)
        if reason:
            return Placement(op.index, False, reason)
    act = op.options.get("fused_activation_function")
    if act not in _OK_ACTIVATIONS:
        return Placement(op.index, False, f"fused activation {act} is not supported by XNNPACK")
    if any(t.dtype in ("int32", "int64") and not t.is_constant for t in tensors) and op.name not in ("RESHAPE",):
        return Placement(op.index, False, "integer (int32/int64) activation tensors")
    if op.name == "RESHAPE" and len(op.inputs) > 1 and op.inputs[1] >= 0 and not sg.tensor(op.inputs[1]).is_constant:
        return Placement(op.index, False, "RESHAPE with a computed (non-constant) shape")
    if op.name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN") and len(op.inputs) > 1 and op.inputs[1] >= 0:
        if not sg.tensor(op.inputs[1]).is_constant:
            return Placement(op.index, False, f"{op.name} with computed axes")
    if op.name == "CONCATENATION" and len([i for i in op.inputs if i >= 0]) > 5:
        return Placement(op.index, False, "CONCATENATION of more than 5 inputs")
    if op.name == "BATCH_MATMUL" and dtype == "int8" and len(op.inputs) > 1 and op.inputs[1] >= 0:
        # measured (ai-edge-litert 2.3.0): XNNPACK takes an int8 BATCH_MATMUL only when its second operand is
        # symmetric (zero point 0), constant or not; the first's and the output's zero points may be anything.
        # A YOLO attention block's int8 file (softmax output, zero point -128, as that operand) has two such.
        quant = sg.tensor(op.inputs[1]).quant
        if quant is not None and quant.zero_points.size and bool((quant.zero_points != 0).any()):
            return Placement(op.index, False, "int8 BATCH_MATMUL whose second operand has a zero point "
                                              f"{int(quant.zero_points.reshape(-1)[0])} (XNNPACK: 0 only)")
    if op.name == "STRIDED_SLICE" and op.options.get("shrink_axis_mask"):
        # measured (ai-edge-litert 2.3.0): refused, float and int8 (silero-vad's int8 has 3); begin/end masks are not
        return Placement(op.index, False, "STRIDED_SLICE with a shrink_axis_mask")
    if op.name == "STRIDED_SLICE" and len(op.inputs) > 3 and op.inputs[3] >= 0:
        strides = sg.tensor(op.inputs[3]).data()
        if strides is None or any(int(s) != 1 for s in strides.reshape(-1)):
            return Placement(op.index, False, "STRIDED_SLICE with strides other than 1")
    if op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D") and op.options.get("filter_width") == 1 \
            and op.options.get("filter_height") == 1 and (op.options.get("stride_w", 1) != 1 or op.options.get("stride_h", 1) != 1):
        # a 1x1 pool is a no-op (XNNPACK maps it to a clamp) only at stride 1; strided ones are refused
        return Placement(op.index, False, f"{op.name} 1x1 with stride > 1")
    if op.name in _WEIGHT_OPS and len(op.inputs) > 1 and op.inputs[1] >= 0:
        static, wdtype = _static_weights(sg, op.inputs[1])
        if not static:
            return Placement(op.index, False, "non-constant weights (or weights dequantized from int8/uint8)")
        if dtype in ("float32", "float16") and wdtype in ("int8", "uint8", "int4"):
            # dynamic-range ("hybrid") ops: XNNPACK runs int8 weights of CONV_2D and FULLY_CONNECTED with
            # dynamically quantized inputs; not uint8 weights, not depthwise or transposed convolutions
            if wdtype == "uint8" or op.name in ("DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
                return Placement(op.index, False, f"{op.name} with float inputs and {wdtype} weights (hybrid)")
    return Placement(op.index, True, "")


def place_xnnpack(sg: Subgraph) -> list[Placement]:
    return [xnnpack_placement(sg, op) for op in sg.operators]


def count_partitions(delegated: list[bool]) -> int:
    """Number of contiguous delegate partitions in execution order."""
    count = 0
    prev = False
    for d in delegated:
        if d and not prev:
            count += 1
        prev = d
    return count


def graph_partitions(sg: Subgraph, delegated: list[bool]) -> list[tuple[bool, list[int]]]:
    """Node subsets the way LiteRT partitions a graph for a delegate (``PartitionGraphIntoIndependentNodeSubsets``).

    Not contiguity in execution order: each subset ("epoch") greedily takes every node whose inputs are
    ready and whose type (delegated or not) matches the first ready node of the epoch, sweeping the graph
    until nothing changes. Parallel branches (NASNet's cells) therefore merge across a refused op in a
    sibling branch. Returns (delegated, op indices) per subset, in execution order.
    """
    ops = sg.operators
    produced = {t for op in ops for t in op.outputs if t >= 0}
    ready: set[int] = set()  # computed tensors assigned to a finished or current subset
    done = [False] * len(ops)
    subsets: list[tuple[bool, list[int]]] = []
    while True:
        kind: bool | None = None
        members: list[int] = []
        changed = True
        while changed:
            changed = False
            for i, op in enumerate(ops):
                if done[i]:
                    continue
                if any(t >= 0 and t in produced and t not in ready for t in op.inputs):
                    continue
                if kind is None:
                    kind = delegated[i]
                if delegated[i] != kind:
                    continue
                done[i] = True
                members.append(i)
                ready.update(t for t in op.outputs if t >= 0)
                changed = True
        if not members or kind is None:
            break
        subsets.append((kind, members))
    return subsets


def count_graph_partitions(sg: Subgraph, delegated: list[bool]) -> int:
    """Number of delegate partitions LiteRT makes for this placement (see :func:`graph_partitions`)."""
    return sum(1 for kind, _ in graph_partitions(sg, delegated) if kind)


def boundary_ops(delegated: list[bool]) -> list[int]:
    """Indices of non-delegated ops that sit next to a delegate partition (each pays a hand-over)."""
    out: list[int] = []
    for i, d in enumerate(delegated):
        if d:
            continue
        left = i > 0 and delegated[i - 1]
        right = i + 1 < len(delegated) and delegated[i + 1]
        if left or right:
            out.append(i)
    return out


def runtime_delegated_ops(interpreter: Any) -> tuple[set[int], int]:
    """(indices of the original ops a live interpreter's delegates took, number of DELEGATE nodes).

    After ``allocate_tensors()``, ``_get_ops_details()`` lists the original nodes and one DELEGATE
    node per partition; a partition's ops are those reached walking back from its outputs to its inputs.
    Takes an interpreter made by :func:`edgekit.tflite.runtime.load_interpreter` (no runtime import here).
    """
    details = interpreter._get_ops_details()
    originals = [d for d in details if str(d.get("op_name")) != "DELEGATE"]
    delegates = [d for d in details if str(d.get("op_name")) == "DELEGATE"]
    producer = {int(t): d for d in originals for t in d["outputs"]}
    taken: set[int] = set()
    for node in delegates:
        stop = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        while stack:
            t = stack.pop()
            if t in stop or t not in producer:
                continue
            d = producer[t]
            if int(d["index"]) in taken:
                continue
            taken.add(int(d["index"]))
            stack.extend(int(x) for x in d["inputs"] if int(x) >= 0)
    return taken, len(delegates)


__all__ = ["runtime_delegated_ops", "XNNPACK_FLOAT_OPS", "XNNPACK_QUANT_OPS", "Placement", "xnnpack_placement", "place_xnnpack",
           "count_partitions", "graph_partitions", "count_graph_partitions", "boundary_ops", "FOLDED_NOTES",
           "FUSED_PAD_NOTE", "FUSED_SWISH_NOTE", "folded_note", "fused_pad", "fused_swish"]
