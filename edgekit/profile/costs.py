"""Per-operator work from tensor shapes: MACs, bytes moved, op class and compute dtype.

MAC conventions (hand-checkable; tests compute them independently):

- CONV_2D: ``prod(output) * KH * KW * Cin_per_group`` (filter ``[Cout, KH, KW, Cin/groups]``).
- DEPTHWISE_CONV_2D: ``prod(output) * KH * KW`` (filter ``[1, KH, KW, Cout]``).
- TRANSPOSE_CONV: ``prod(input) * KH * KW * Cout`` (every input element scatters a KHxKW window per output channel);
  so does MediaPipe's ``Convolution2DTransposeBias`` custom op (XNNPACK runs both with one kernel).
- CONV_3D: ``prod(output) * KD * KH * KW * Cin``.
- FULLY_CONNECTED: ``prod(output) * K`` (weights ``[units, K]``).
- BATCH_MATMUL: ``prod(output) * K`` (K the contracted axis of the first operand).
- pooling: ``prod(output) * FH * FW`` (comparisons/adds counted as MACs).
- elementwise: ``prod(output) * k`` with k = 1, or 4 for transcendental ops (LOGISTIC, TANH, EXP, ...).
- SOFTMAX / LOG_SOFTMAX: ``5 * prod(output)``. RESIZE_BILINEAR: ``4 * prod(output)``; nearest: ``prod(output)``.
- reductions (MEAN, SUM, REDUCE_*): ``prod(input)``.
- data movement (RESHAPE, CONCATENATION, TRANSPOSE, PAD, SLICE, ...): 0 MACs, bytes only (and their output
  elements as ``moved_elements``, which a calibrated per-op efficiency charges as work); so are the
  resource-variable ops of streaming models (READ_VARIABLE / ASSIGN_VARIABLE copy the variable, VAR_HANDLE
  and CALL_ONCE only dispatch).
- TFLite_Detection_PostProcess (custom): ``N * (C + 16 + log2 N + 6 * max_detections)`` scalar steps
  (class ``reduce``, float32), N anchors, C classes: see :func:`postprocess_macs`.
- anything else: ``8 * (elements in + out)``, class ``other``, flagged ``known = False`` ("estimated roughly").

Bytes = every input tensor (activations and constants) + every output tensor, in their stored dtype.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from edgekit.profile.schema import OpClass
from edgekit.tflite.model import IF_BRANCHES, Operator, Subgraph, Tensor

# op name -> (class, MACs per output element for the simple classes)
_ELEMENTWISE_1 = (
    "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1",
    "LEAKY_RELU", "PRELU", "ABS", "NEG", "FLOOR", "CEIL", "ROUND", "SQUARE", "SQUARED_DIFFERENCE",
    "QUANTIZE", "DEQUANTIZE", "CAST", "HARD_SWISH", "ELU", "FLOOR_DIV", "FLOOR_MOD", "POW", "SELECT",
    "SELECT_V2", "LESS", "GREATER", "EQUAL", "NOT_EQUAL", "LESS_EQUAL", "GREATER_EQUAL", "LOGICAL_AND",
    "LOGICAL_OR", "LOGICAL_NOT", "SIGN", "ADD_N", "ZEROS_LIKE", "ONES_LIKE", "FILL",
)
_ELEMENTWISE_4 = ("LOGISTIC", "TANH", "EXP", "LOG", "SQRT", "RSQRT", "SIN", "COS", "GELU")
_DATA_MOVEMENT = (
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "TRANSPOSE", "PAD", "PADV2", "MIRROR_PAD",
    "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "GATHER", "GATHER_ND", "PACK", "UNPACK", "TILE",
    "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BROADCAST_TO", "SHAPE", "REVERSE_V2", "SPACE_TO_BATCH_ND",
    "BATCH_TO_SPACE_ND",
)
# bookkeeping ops: no arithmetic; the variable ops copy the variable's tensor (their bytes), the rest only
# cost their dispatch (VAR_HANDLE looks a resource up; CALL_ONCE runs its init subgraph on the first invoke)
_STATE = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")
STATE_OPS = frozenset(_STATE)
_REDUCE = ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "ARG_MAX", "ARG_MIN",
           "L2_NORMALIZATION")
_POOL = ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")

# MediaPipe's transposed convolution (input, weights [Cout, KH, KW, Cin], bias): XNNPACK's deconvolution runs it
TRANSPOSE_CONV_CUSTOM = "CUSTOM:Convolution2DTransposeBias"

OP_CLASSES: dict[str, OpClass] = {
    "CONV_2D": OpClass.CONV,
    TRANSPOSE_CONV_CUSTOM: OpClass.TRANSPOSE_CONV,
    "CONV_3D": OpClass.CONV,
    "DEPTHWISE_CONV_2D": OpClass.DEPTHWISE_CONV,
    "TRANSPOSE_CONV": OpClass.TRANSPOSE_CONV,
    "FULLY_CONNECTED": OpClass.FULLY_CONNECTED,
    "BATCH_MATMUL": OpClass.BATCH_MATMUL,
    "SOFTMAX": OpClass.SOFTMAX,
    "LOG_SOFTMAX": OpClass.SOFTMAX,
    "RESIZE_BILINEAR": OpClass.RESIZE,
    "RESIZE_NEAREST_NEIGHBOR": OpClass.RESIZE,
    **{n: OpClass.ELEMENTWISE for n in _ELEMENTWISE_1 + _ELEMENTWISE_4},
    **{n: OpClass.DATA_MOVEMENT for n in _DATA_MOVEMENT + _STATE},
    **{n: OpClass.REDUCE for n in _REDUCE},
    **{n: OpClass.POOL for n in _POOL},
}

# ops whose constant inputs are weights (their bytes count as parameters)
WEIGHT_OPS = frozenset({"CONV_2D", "CONV_3D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED",
                        "BATCH_MATMUL", TRANSPOSE_CONV_CUSTOM})


# weight dtypes of a dynamic-range ("hybrid") op with float activations: uint8 in TF1-era files (facex's model)
HYBRID_WEIGHTS = ("int8", "int4", "uint8")


def hybrid_op(sg: Subgraph, op: Operator) -> bool:
    """A dynamic-range ("hybrid") op: float32 activations, constant integer weights. Its kernels quantize the
    input on every call and run an integer GEMM; measured far from the int8 kernels' rate (on this project's
    AVX-512 host XNNPACK's hybrid 1x1 conv about 2x its int8 one, the builtin hybrid depthwise 4x XNNPACK's int8
    depthwise), so a calibrated profile gives it its own ``[op_efficiency.int8]`` figure (``<OP>_HYBRID``)."""
    if op.name not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    main = _main_input(sg, op)
    weights = sg.tensor(op.inputs[1])
    return main is not None and main.dtype == "float32" and weights.is_constant and weights.dtype in HYBRID_WEIGHTS


def hybrid_elements(sg: Subgraph, op: Operator) -> int:
    """Float elements a dynamic-range op converts on every call: its input (quantized to int8 at run time)
    and its output (the int32 accumulators scaled back to float)."""
    total = 0
    for t in (op.inputs[0] if op.inputs else -1, op.outputs[0] if op.outputs else -1):
        if t >= 0:
            n = 1
            for d in sg.tensor(t).shape:
                n *= max(1, d)
            total += n
    return total


def hybrid_input_elements(sg: Subgraph, op: Operator) -> int:
    """Float elements of a dynamic-range op's input, quantized to int8 on every call."""
    if not op.inputs or op.inputs[0] < 0:
        return 0
    return _prod(sg.tensor(op.inputs[0]).shape)


def hybrid_handover(sg: Subgraph, op: Operator, placement: list[bool]) -> bool:
    """A builtin dynamic-range DEPTHWISE_CONV_2D run right after XNNPACK's 1x1 dynamic-range CONV_2D (the op
    before it in execution order, which writes its input): ``[runtime] hybrid_handover_factor`` applies."""
    if op.name != "DEPTHWISE_CONV_2D" or placement[op.index] or op.index == 0 or not hybrid_op(sg, op):
        return False
    prev = sg.operators[op.index - 1]
    if prev.name != "CONV_2D" or not placement[prev.index] or not hybrid_op(sg, prev) or op.inputs[0] not in prev.outputs:
        return False
    shape = sg.tensor(prev.inputs[1]).shape
    return len(shape) == 4 and shape[1] == 1 and shape[2] == 1


def _prod(shape: tuple[int, ...]) -> int:
    return int(math.prod(max(int(d), 1) for d in shape)) if shape else 1


def tensor_bytes(t: Tensor) -> int:
    """Bytes of a tensor in its dtype (constant data size when known)."""
    if t.is_constant and t.nbytes:
        return int(t.nbytes)
    itemsize = {"float32": 4, "int32": 4, "uint32": 4, "float16": 2, "int16": 2, "uint16": 2, "bfloat16": 2,
                "int64": 8, "uint64": 8, "float64": 8, "complex64": 8, "complex128": 16, "int4": 1}.get(t.dtype, 1)
    return _prod(t.shape) * itemsize


@dataclass(frozen=True)
class OpCost:
    index: int
    op: str
    op_class: OpClass
    dtype: str  # the activation dtype as stored: float32, int8, uint8, int16, float16
    compute_dtype: str  # the efficiency table it uses: float32, int8, int16, float16
    macs: int
    bytes: int  # activations + constants read, outputs written
    weight_bytes: int  # constant bytes this op reads
    known: bool  # False: the cost model does not know this op ("estimated roughly")
    # data movement (PAD, CONCATENATION, ...): the output elements it writes. No MACs, but a calibrated profile's
    # per-op efficiency for the op (``[op_efficiency]``) charges them as work: PAD runs far slower than its bytes
    moved_elements: int = 0


def _main_input(sg: Subgraph, op: Operator) -> Tensor | None:
    for i in op.inputs:
        if i >= 0 and not sg.tensor(i).is_constant:
            return sg.tensor(i)
    for i in op.inputs:
        if i >= 0:
            return sg.tensor(i)
    return None


def _compute_dtype(op: Operator, act: str, weight: str | None) -> str:
    if act in ("int8", "uint8"):
        return "int8"
    if act == "int16":
        return "int16"
    if act == "float32" and weight in HYBRID_WEIGHTS and op.name in WEIGHT_OPS:
        return "int8"  # dynamic-range: activations quantized on the fly, int8 kernels (see hybrid_op)
    if act == "float16":
        return "float16"
    return "float32"


def _tensor(sg: Subgraph, op: Operator, pos: int) -> Tensor | None:
    if pos < len(op.inputs) and op.inputs[pos] >= 0:
        return sg.tensor(op.inputs[pos])
    return None


def op_macs(sg: Subgraph, op: Operator) -> tuple[int, bool]:
    """(MACs, known) for one operator."""
    name = op.name
    out = sg.tensor(op.outputs[0]) if op.outputs and op.outputs[0] >= 0 else None
    out_n = _prod(out.shape) if out is not None else 0
    in_t = _tensor(sg, op, 0)
    if name == "CONV_2D":
        w = _tensor(sg, op, 1)
        if w is not None and len(w.shape) == 4:
            return out_n * w.shape[1] * w.shape[2] * w.shape[3], True
    elif name == "CONV_3D":
        w = _tensor(sg, op, 1)
        if w is not None and len(w.shape) == 5:
            return out_n * w.shape[0] * w.shape[1] * w.shape[2] * w.shape[3], True
    elif name == "DEPTHWISE_CONV_2D":
        w = _tensor(sg, op, 1)
        if w is not None and len(w.shape) == 4:
            return out_n * w.shape[1] * w.shape[2], True
    elif name in ("TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM):
        w, x = _tensor(sg, op, 1), _tensor(sg, op, 2 if name == "TRANSPOSE_CONV" else 0)
        if w is not None and x is not None and len(w.shape) == 4:
            return _prod(x.shape) * w.shape[0] * w.shape[1] * w.shape[2], True
    elif name == "FULLY_CONNECTED":
        w = _tensor(sg, op, 1)
        if w is not None and len(w.shape) == 2:
            return out_n * w.shape[1], True
    elif name == "BATCH_MATMUL":
        a = in_t
        if a is not None and len(a.shape) >= 2:
            k = a.shape[-2] if op.options.get("adj_x") else a.shape[-1]
            return out_n * max(k, 1), True
    elif name in _POOL:
        fw, fh = int(op.options.get("filter_width", 1)), int(op.options.get("filter_height", 1))
        return out_n * max(fw, 1) * max(fh, 1), True
    elif name in _ELEMENTWISE_4:
        return 4 * out_n, True
    elif name in _ELEMENTWISE_1:
        return out_n, True
    elif name in ("SOFTMAX", "LOG_SOFTMAX"):
        return 5 * out_n, True
    elif name == "RESIZE_BILINEAR":
        return 4 * out_n, True
    elif name == "RESIZE_NEAREST_NEIGHBOR":
        return out_n, True
    elif name in _REDUCE:
        return (_prod(in_t.shape) if in_t is not None else out_n), True
    elif name in _DATA_MOVEMENT or name in _STATE:
        return 0, True
    elif name == POSTPROCESS_OP:
        return postprocess_macs(sg, op), True
    elems = sum(_prod(sg.tensor(i).shape) for i in op.inputs if i >= 0) + out_n
    return 8 * elems, False


POSTPROCESS_OP = "CUSTOM:TFLite_Detection_PostProcess"


def postprocess_macs(sg: Subgraph, op: Operator) -> int:
    """LiteRT's detection post-processing (box decoding + fast NMS), in scalar steps: per anchor, decode the box
    (~16) and find its best class (C), then sort the candidates (log2 N) and check each against the kept
    boxes (~max_detections IoUs, ~6 steps each)."""
    boxes = _tensor(sg, op, 0)
    scores = _tensor(sg, op, 1)
    if boxes is None or scores is None or len(scores.shape) < 2:
        return 0
    n = _prod(boxes.shape[:-1])
    classes = max(1, scores.shape[-1])
    max_det = int(op.options.get("max_detections", 10) or 10)
    return int(n * (classes + 16 + math.log2(max(n, 2)) + 6 * max_det))


def op_cost(sg: Subgraph, op: Operator) -> OpCost:
    macs, known = op_macs(sg, op)
    in_bytes = 0
    weight_bytes = 0
    weight_dtype: str | None = None
    for i in op.inputs:
        if i < 0:
            continue
        t = sg.tensor(i)
        b = tensor_bytes(t)
        in_bytes += b
        if t.is_constant:
            weight_bytes += t.nbytes
            if weight_dtype is None and t.dtype not in ("int32", "int64"):
                weight_dtype = t.dtype
    out_bytes = sum(tensor_bytes(sg.tensor(o)) for o in op.outputs if o >= 0)
    main = _main_input(sg, op)
    act = main.dtype if main is not None else "float32"
    if op.name == "QUANTIZE" and op.outputs:
        act = sg.tensor(op.outputs[0]).dtype
    op_class = OP_CLASSES.get(op.name, OpClass.OTHER)
    if op.name == POSTPROCESS_OP:
        op_class, act = OpClass.REDUCE, "float32"
    moved = 0
    if op.name in _DATA_MOVEMENT:
        moved = sum(_prod(sg.tensor(o).shape) for o in op.outputs if o >= 0)
    return OpCost(
        index=op.index,
        op=op.name,
        op_class=op_class,
        dtype=act,
        compute_dtype=_compute_dtype(op, act, weight_dtype),
        macs=int(macs),
        bytes=int(in_bytes + out_bytes),
        weight_bytes=int(weight_bytes),
        known=known and (op.name in OP_CLASSES or op.name == POSTPROCESS_OP),
        moved_elements=int(moved),
    )


CONTROL_FLOW = ("IF", "WHILE")


def _subgraph_sums(sg: Subgraph) -> tuple[int, int, bool]:
    """(MACs, bytes, every op known) of a branch or loop body."""
    costs = [op_cost(sg, o) for o in sg.operators]
    return sum(c.macs for c in costs), sum(c.bytes for c in costs), all(c.known for c in costs)


def if_branch_order(op: Operator, subgraphs: Sequence[Subgraph]) -> tuple[int, int] | None:
    """(cheaper, other) subgraph indices of an IF, by MACs (the then-branch of equals); None when an index is bad.
    The estimate costs the cheaper (:func:`graph_costs`); :mod:`edgekit.profile.branches` says what the other adds."""
    a, b = (op.options.get(key) for key in IF_BRANCHES)
    if not (isinstance(a, int) and isinstance(b, int) and 0 <= a < len(subgraphs) and 0 <= b < len(subgraphs)):
        return None
    return (a, b) if _subgraph_sums(subgraphs[a])[0] <= _subgraph_sums(subgraphs[b])[0] else (b, a)


def _branch_cost(op: Operator, subgraphs: Sequence[Subgraph]) -> tuple[int, int, bool]:
    """(MACs, bytes, known) of an IF: its cheaper branch (which one runs depends on the data; a branch with no
    ops is common: a guard around work that rarely happens); a WHILE: one pass of its body (the trip count is
    data)."""
    if op.name == "IF":
        order = if_branch_order(op, subgraphs)
        return (0, 0, False) if order is None else _subgraph_sums(subgraphs[order[0]])
    idx = op.options.get("body_subgraph_index")
    if not isinstance(idx, int) or not 0 <= idx < len(subgraphs):
        return 0, 0, False
    macs, nbytes, _ = _subgraph_sums(subgraphs[idx])
    return macs, nbytes, False


GEMM_OPS = frozenset({"CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM})


def gemm_shape(sg: Subgraph, op: Operator) -> tuple[int, int, int, int] | None:
    """(M output pixels/rows, N output channels, Cin, kernel taps) of a CONV_2D / FULLY_CONNECTED, else None.
    A transposed convolution: (M input pixels, N output channels, Cin, kernel taps): XNNPACK splits it into
    stride x stride sub-convolutions that together cost a GEMM of the input pixels with every tap (a 3x3
    stride-2 one measured the time of 2.25 taps per output pixel, i.e. 9 per input pixel)."""
    if op.name not in GEMM_OPS or len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs or op.outputs[0] < 0:
        return None
    w = sg.tensor(op.inputs[1]).shape
    out = sg.tensor(op.outputs[0]).shape
    if op.name == "CONV_2D" and len(w) == 4 and len(out) == 4:
        return out[0] * out[1] * out[2], w[0], w[3], w[1] * w[2]
    if op.name in ("TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM) and len(w) == 4:
        pos = 2 if op.name == "TRANSPOSE_CONV" else 0
        x = sg.tensor(op.inputs[pos]).shape if pos < len(op.inputs) and op.inputs[pos] >= 0 else ()
        return (x[0] * x[1] * x[2], w[0], w[3], w[1] * w[2]) if len(x) == 4 else None
    if op.name == "FULLY_CONNECTED" and len(w) == 2 and out:
        rows = 1
        for d in out[:-1]:
            rows *= max(1, d)
        return rows, w[0], w[1], 1
    return None


def graph_costs(sg: Subgraph, subgraphs: Sequence[Subgraph] = ()) -> list[OpCost]:
    """Per-op costs of ``sg``; ``subgraphs`` (the model's) lets IF / WHILE cost their branches."""
    out = [op_cost(sg, op) for op in sg.operators]
    if subgraphs:
        for i, op in enumerate(sg.operators):
            if op.name in CONTROL_FLOW:
                macs, nbytes, known = _branch_cost(op, subgraphs)
                out[i] = dataclasses.replace(out[i], op_class=OpClass.OTHER, macs=macs, bytes=nbytes, known=known)
    return out


__all__ = ["GEMM_OPS", "IF_BRANCHES", "STATE_OPS", "if_branch_order", "gemm_shape", "HYBRID_WEIGHTS", "OP_CLASSES", "TRANSPOSE_CONV_CUSTOM", "WEIGHT_OPS", "hybrid_elements", "hybrid_handover", "hybrid_input_elements", "hybrid_op", "POSTPROCESS_OP", "OpCost", "op_cost", "op_macs", "postprocess_macs",
           "graph_costs", "tensor_bytes"]
