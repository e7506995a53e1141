"""Coral Edge TPU: which ops map, where the graph first splits and why, cached vs streamed parameters.

Model of the Edge TPU compiler (coral.ai "TensorFlow models on the Edge TPU"):
only full-integer (int8/uint8) ops from its supported list, with static shapes
(a dynamic batch dimension that the runtime fixes to 1 is fine) and tensors whose dimensions before the 3 innermost are all 1, map. The
compiler maps ops in order until the first op it cannot map; that op and
everything after it run on the host CPU (one TPU subgraph). Float model
inputs quantized by a leading QUANTIZE and float outputs produced by a
trailing DEQUANTIZE are converted on the CPU without splitting the graph.
Parameters of mapped ops fill the on-chip cache in op order; what does not
fit is streamed over the host link on every inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgekit.core.quant import QuantKind
from edgekit.tflite.model import Operator, Subgraph, TFLiteModel

EDGETPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "MAXIMUM",
    "MINIMUM", "MAX_POOL_2D", "MEAN", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN",
    "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT",
    "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM",
    "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
})
_OK_ACTIVATIONS = {None, "NONE", "RELU", "RELU6", "RELU_N1_TO_1"}
INTEGER_KINDS = (QuantKind.INT8,)
FIX_FLAGS = "edgekit convert MODEL -o OUT.tflite --quantize int8 --io-type uint8"


@dataclass(frozen=True)
class UnmappedOp:
    index: int
    op: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UnmappedOp:
        return cls(int(d["index"]), str(d["op"]), str(d["reason"]))


@dataclass(frozen=True)
class TPUMapping:
    mapped: tuple[bool, ...]  # per op: runs on the Edge TPU
    io_conversion: tuple[int, ...]  # leading QUANTIZE / trailing DEQUANTIZE run on the CPU without a split
    first_unmapped: UnmappedOp | None
    integer_model: bool
    note: str  # one line for a model the TPU runs none of ("" otherwise)
    cached_parameter_bytes: int
    streamed_parameter_bytes: int

    @property
    def mapped_ops(self) -> int:
        return sum(self.mapped)

    @property
    def cpu_ops(self) -> int:
        return len(self.mapped) - self.mapped_ops


def _io_conversions(sg: Subgraph) -> set[int]:
    out: set[int] = set()
    for op in sg.operators:
        if op.name == "QUANTIZE" and op.inputs and op.inputs[0] in sg.inputs:
            if sg.tensor(op.inputs[0]).dtype == "float32":
                out.add(op.index)
        if op.name == "DEQUANTIZE" and op.outputs and op.outputs[0] in sg.outputs:
            if sg.tensor(op.outputs[0]).dtype == "float32":
                out.add(op.index)
    return out


def op_unmappable_reason(sg: Subgraph, op: Operator) -> str:
    """'' if the op maps to the Edge TPU, else why not."""
    if not op.builtin:
        return f"custom op {op.custom_code} is not an Edge TPU op"
    if op.name not in EDGETPU_OPS:
        return f"{op.name} is not supported by the Edge TPU"
    for i in (*op.inputs, *op.outputs):
        if i < 0:
            continue
        t = sg.tensor(i)
        if any(d < 0 for d in t.shape_signature[1:]) or (t.shape_signature[:1] == (-1,) and t.shape[:1] != (1,)):
            return f"tensor '{t.name}' has a dynamic shape {list(t.shape_signature)}"
        if t.is_constant:
            if t.dtype not in ("int8", "uint8", "int32"):
                return f"constant '{t.name}' is {t.dtype}, not integer"
            continue
        if t.dtype not in ("int8", "uint8"):
            return f"tensor '{t.name}' is {t.dtype}, not int8/uint8"
        if len(t.shape) > 3 and any(d != 1 for d in t.shape[:-3]):
            return f"tensor '{t.name}' shape {list(t.shape)} has more than 3 non-unit innermost dimensions"
    act = op.options.get("fused_activation_function")
    if act not in _OK_ACTIVATIONS:
        return f"fused activation {act} is not supported"
    return ""


def map_edgetpu(model: TFLiteModel, parameter_cache_bytes: int) -> TPUMapping:
    sg = model.main
    n = len(sg.operators)
    kind = model.quant_kind
    if kind not in INTEGER_KINDS:
        note = (f"the Edge TPU runs none of this {kind.value} model (it needs full-integer int8); "
                f"re-convert with `{FIX_FLAGS}` (or --io-type int8)")
        head = UnmappedOp(0, sg.operators[0].name, f"the model is {kind.value}, not full-integer int8") if n else None
        return TPUMapping((False,) * n, (), head, False, note, 0, 0)
    io = _io_conversions(sg)
    mapped = [False] * n
    first: UnmappedOp | None = None
    for op in sg.operators:
        if op.index in io:
            continue
        if first is None:
            reason = op_unmappable_reason(sg, op)
            if reason:
                first = UnmappedOp(op.index, op.name, reason)
                continue
            mapped[op.index] = True
    # parameters of mapped ops, each buffer once, fill the cache in op order
    cached = streamed = 0
    seen: set[int] = set()
    for op in sg.operators:
        if not mapped[op.index]:
            continue
        for i in op.inputs:
            if i < 0:
                continue
            t = sg.tensor(i)
            if not t.is_constant or t.buffer in seen or not t.nbytes:
                continue
            seen.add(t.buffer)
            if cached + t.nbytes <= parameter_cache_bytes:
                cached += t.nbytes
            else:
                streamed += t.nbytes
    return TPUMapping(tuple(mapped), tuple(sorted(io)), first, True, "", cached, streamed)


def segment_io_bytes(sg: Subgraph, mapped: tuple[bool, ...]) -> int:
    """Bytes crossing the host link per inference: tensors entering and leaving the TPU ops."""
    from edgekit.profile.costs import tensor_bytes

    produced_on_tpu: set[int] = set()
    consumed_on_tpu: set[int] = set()
    for op in sg.operators:
        if mapped[op.index]:
            produced_on_tpu.update(o for o in op.outputs if o >= 0)
            consumed_on_tpu.update(i for i in op.inputs if i >= 0 and not sg.tensor(i).is_constant)
    entering = consumed_on_tpu - produced_on_tpu
    leaving: set[int] = set()
    for op in sg.operators:
        if not mapped[op.index]:
            leaving.update(i for i in op.inputs if i in produced_on_tpu)
    leaving.update(o for o in sg.outputs if o in produced_on_tpu)
    return sum(tensor_bytes(sg.tensor(t)) for t in entering | leaving)


__all__ = ["EDGETPU_OPS", "FIX_FLAGS", "UnmappedOp", "TPUMapping", "op_unmappable_reason", "map_edgetpu",
           "segment_io_bytes"]
