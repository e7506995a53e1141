"""Coral Edge TPU: which ops map, where the graph first splits and why, cached vs streamed parameters,
and how long the chip takes (:func:`tpu_op_times`).

Model of the Edge TPU compiler (coral.ai "TensorFlow models on the Edge TPU"):
only full-integer (int8/uint8) ops from its supported list, with static shapes
(a dynamic batch dimension that the runtime fixes to 1 is fine) and tensors whose dimensions before the 3 innermost are all 1, map. The
compiler maps ops in order until the first op it cannot map; that op and
everything after it run on the host CPU (one TPU subgraph). Float model
inputs quantized by a leading QUANTIZE and float outputs produced by a
trailing DEQUANTIZE are converted on the CPU without splitting the graph.
Parameters of mapped ops fill the on-chip cache in op order; what does not
fit is streamed over the host link on every inference. A resize or LOGISTIC with
a large output is left to the CPU ("might not be mapped ... to avoid loss in
precision", the compiler's op table; "not mapped due to some unspecified
limitation" in its logs): modelled as an output of more than
``RESIZE_MAX_ELEMENTS`` elements.

Time on the chip, per mapped op (every figure from the profile's ``[edgetpu]``)::

    tiles    = ceil(K / lanes) * ceil(N / lanes)      K = kh*kw*Cin (the reduction), N = Cout
               fully connected: K = inputs, N = units; depthwise: K = kh*kw, N = channels
    work     = tiles * lanes^2 * (M + tile_fill)      M = output pixels (rows through the array)
    compute  = work / (peak * efficiency_of_kind)     fully connected: its own efficiency
    data     = activation bytes in + out / data_gb_per_s   (ops without MACs: / move_gb_per_s)
    stream   = this op's uncached parameter bytes / link bandwidth
    op_ms    = max(compute, data) + stream - overlap * min(max(compute, data), stream) + per_op_overhead

    tpu_ms   = sum(op_ms) + invoke_overhead
    link_ms  = bytes into the TPU part / link bandwidth + bytes out of it / readback bandwidth
               + transfers * transfer_overhead

The array is weight-stationary: every lanes x lanes tile of weights is loaded (``tile_fill`` cycles) and
then the M output pixels stream through it. So a narrow conv (DenseNet's 32-channel 3x3 layers at 64 lanes)
uses half the array, a layer with few pixels (7x7 at the end of a classifier, a batch-1 fully connected
layer) is dominated by loading its weights, and a depthwise conv, whose channels do not share inputs, keeps
one lane of each tile column busy (the compiler runs it on the array like a dense conv of its taps x
channels). A model whose parameters stream (VGG, Inception-ResNet) is bound by the link unless its compute
hides it. Outputs are read back by the host (``readback_gb_per_s``: bytes leaving the TPU part, e.g. a
detector's score tensors, cost the host more than inputs). The CPU part (ops after the first unmapped op)
is estimated on the host CPU by the CPU model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgekit.core.quant import QuantKind
from edgekit.profile.schema import EdgeTPU
from edgekit.tflite.model import Operator, Subgraph, TFLiteModel

RESIZE_MAX_ELEMENTS = 1 << 20
# ops the compiler leaves to the CPU when their output is large (google-coral/edgetpu issues #31: a bilinear
# resize maps at 128x128 but not at 512x512; #490: the LOGISTIC over EfficientDet-Lite's 19,206 x 90 scores)
LARGE_OUTPUT_LIMITED = frozenset({"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "LOGISTIC"})

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
    streamed_by_op: tuple[int, ...] = ()  # per op: its parameter bytes streamed each inference

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
    if op.name in LARGE_OUTPUT_LIMITED and op.outputs and op.outputs[0] >= 0:
        out = sg.tensor(op.outputs[0])
        if math.prod(max(1, d) for d in out.shape) > RESIZE_MAX_ELEMENTS:
            return (f"{op.name} with a {list(out.shape)} output is left to the CPU (the compiler's \"not mapped "
                    f"due to some unspecified limitation\" on large tensors)")
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
    by_op = [0] * n
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
                by_op[op.index] += t.nbytes
    return TPUMapping(tuple(mapped), tuple(sorted(io)), first, True, "", cached, streamed, tuple(by_op))


@dataclass(frozen=True)
class TPUWork:
    """What one mapped op asks of the chip (see the module docstring)."""

    index: int
    kind: str  # conv | depthwise | fully_connected | data
    macs: int
    k: int  # reduction length (kh*kw*Cin, or the FC inputs)
    n: int  # output channels / units
    data_bytes: int  # activation bytes in + out
    streamed_bytes: int  # its parameter bytes streamed over the link each inference


def tpu_work(sg: Subgraph, mapping: TPUMapping, macs: list[int]) -> list[TPUWork]:
    """The work of every mapped op (``macs``: per op, from the cost model)."""
    from edgekit.profile.costs import tensor_bytes

    out: list[TPUWork] = []
    streamed = mapping.streamed_by_op or (0,) * len(sg.operators)
    for op in sg.operators:
        if not mapping.mapped[op.index]:
            continue
        data = sum(tensor_bytes(sg.tensor(i)) for i in (*op.inputs, *op.outputs)
                   if i >= 0 and not sg.tensor(i).is_constant)
        w = sg.tensor(op.inputs[1]).shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
        kind, k, n = "data", 1, 1
        if op.name in ("CONV_2D", "TRANSPOSE_CONV") and len(w) == 4:
            kind, k, n = "conv", w[1] * w[2] * w[3], w[0]
        elif op.name == "DEPTHWISE_CONV_2D" and len(w) == 4:
            kind, k, n = "depthwise", w[1] * w[2], w[3]
        elif op.name == "FULLY_CONNECTED" and len(w) == 2:
            kind, k, n = "fully_connected", w[1], w[0]
        out.append(TPUWork(op.index, kind, macs[op.index], max(1, k), max(1, n), data, streamed[op.index]))
    return out


def lane_utilization(k: int, n: int, lanes: int) -> float:
    """Share of a lanes x lanes MAC array a (K, N) GEMM keeps busy when both are padded to the lanes."""
    if lanes <= 1:
        return 1.0
    return (k / (math.ceil(k / lanes) * lanes)) * (n / (math.ceil(n / lanes) * lanes))


def array_work(w: TPUWork, lanes: int, tile_fill: float) -> tuple[float, float]:
    """(MAC-slots of the streamed rows, MAC-slots per fill cycle) of a MAC op on a weight-stationary
    ``lanes`` x ``lanes`` array: ``tiles * lanes^2 * M`` and ``tiles * lanes^2`` (the module docstring);
    its time is ``(rows + fill_slots * tile_fill) / (peak * efficiency)``."""
    lanes = max(1, lanes)
    tiles = math.ceil(w.k / lanes) * math.ceil(w.n / lanes) * lanes * lanes
    rows = w.macs / max(1, w.k * w.n)  # output pixels (1 for a batch-1 fully connected layer; depthwise: M*K*N too)
    return float(tiles * rows), float(tiles)


def tpu_op_ms(tpu: EdgeTPU, w: TPUWork) -> float:
    """Milliseconds of one mapped op on the chip, its parameter streaming included (module docstring)."""
    if w.macs > 0 and w.kind != "data":
        eff = tpu.fully_connected_efficiency if w.kind == "fully_connected" else None
        eff = eff if eff is not None else tpu.efficiency
        rows, fill = array_work(w, tpu.array_lanes, tpu.tile_fill_cycles)
        compute = (rows + fill * tpu.tile_fill_cycles) / (tpu.peak_int8_gmacs * 1e6 * eff)
        data = w.data_bytes / (tpu.data_gb_per_s * 1e6) if tpu.data_gb_per_s else 0.0
        busy = max(compute, data)
    else:
        bw = tpu.move_gb_per_s or tpu.data_gb_per_s
        busy = w.data_bytes / (bw * 1e6) if bw else 0.0
    stream = w.streamed_bytes / (tpu.link_bandwidth_gb_per_s * 1e6)
    return busy + stream - tpu.stream_overlap * min(busy, stream) + tpu.per_op_overhead_us / 1000.0


def link_io(sg: Subgraph, mapped: tuple[bool, ...]) -> tuple[int, int, int]:
    """(bytes into, bytes out of, tensors crossing) the host link per inference: the TPU part's inputs and the
    outputs the host reads back."""
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
    return (sum(tensor_bytes(sg.tensor(t)) for t in entering), sum(tensor_bytes(sg.tensor(t)) for t in leaving),
            len(entering | leaving))


def link_transfers(sg: Subgraph, mapped: tuple[bool, ...]) -> tuple[int, int]:
    """(bytes, tensors) crossing the host link per inference: the TPU part's inputs and outputs."""
    into, out, tensors = link_io(sg, mapped)
    return into + out, tensors


def link_ms(tpu: EdgeTPU, sg: Subgraph, mapped: tuple[bool, ...]) -> float:
    """Milliseconds of the host link per inference: inputs in, outputs read back, a cost per tensor."""
    into, out, tensors = link_io(sg, mapped)
    readback = tpu.readback_gb_per_s or tpu.link_bandwidth_gb_per_s
    return (into / (tpu.link_bandwidth_gb_per_s * 1e6) + out / (readback * 1e6)
            + tensors * tpu.transfer_overhead_us / 1000.0)


def segment_io_bytes(sg: Subgraph, mapped: tuple[bool, ...]) -> int:
    """Bytes crossing the host link per inference: tensors entering and leaving the TPU ops."""
    return link_transfers(sg, mapped)[0]


@dataclass(frozen=True)
class EdgeTPUSplit:
    """How the graph splits between the Edge TPU and the host CPU (times in ms, rounded to the microsecond)."""

    mapped_ops: int
    cpu_ops: int
    first_unmapped_op: UnmappedOp | None  # it and every later op run on the CPU
    cached_parameter_bytes: int
    streamed_parameter_bytes: int  # per inference, over the link
    tpu_ms: float
    link_ms: float
    cpu_ms: float
    integer_model: bool
    note: str  # one line when the TPU runs none of the model ("" otherwise)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mapped_ops": self.mapped_ops, "cpu_ops": self.cpu_ops,
            "first_unmapped_op": self.first_unmapped_op.to_dict() if self.first_unmapped_op else None,
            "cached_parameter_bytes": self.cached_parameter_bytes,
            "streamed_parameter_bytes": self.streamed_parameter_bytes,
            "tpu_ms": self.tpu_ms, "link_ms": self.link_ms, "cpu_ms": self.cpu_ms,
            "integer_model": self.integer_model, "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EdgeTPUSplit:
        first = d.get("first_unmapped_op")
        return cls(
            mapped_ops=int(d["mapped_ops"]), cpu_ops=int(d["cpu_ops"]),
            first_unmapped_op=UnmappedOp.from_dict(first) if first is not None else None,
            cached_parameter_bytes=int(d["cached_parameter_bytes"]),
            streamed_parameter_bytes=int(d["streamed_parameter_bytes"]), tpu_ms=float(d["tpu_ms"]),
            link_ms=float(d["link_ms"]), cpu_ms=float(d["cpu_ms"]), integer_model=bool(d["integer_model"]),
            note=str(d["note"]),
        )


__all__ = ["EDGETPU_OPS", "FIX_FLAGS", "RESIZE_MAX_ELEMENTS", "EdgeTPUSplit", "UnmappedOp", "TPUMapping", "TPUWork", "op_unmappable_reason",
           "map_edgetpu", "tpu_work", "lane_utilization", "array_work", "tpu_op_ms", "link_io", "link_transfers", "link_ms",
           "segment_io_bytes"]
