"""Lower onnxruntime's contrib op ``com.microsoft.DynamicQuantizeLSTM`` into standard ONNX ops.

``onnxruntime.quantization.quantize_dynamic`` turns every LSTM into this op: int8/uint8 weights stored
transposed (``W`` [num_directions, input_size, 4*hidden], ``R`` [num_directions, hidden, 4*hidden], gates
in ONNX's i, o, f, c order) with a scale and zero point per direction or per gate column. onnxruntime runs
it (contrib_ops/cpu/quantization/dynamic_quantize_lstm.cc, rnn_helpers.cc ``ComputeGemm``) by quantizing
the *activations* on the fly as well, with ``DynamicQuantizeLinear``'s uint8 rule (range widened to hold
0, scale = range/255, zero point rounded half to even): the whole input sequence once, then the hidden
state before every step's recurrent product. A float LSTM on the dequantized weights alone is measurably
off (cosine 0.94 on a 3-layer speaker-embedding model), so this pass emits what onnxruntime computes: the
weights minus their zero point as float integers, every activation quantized to float integers (Reduce,
Round, Min/Max), each product times (activation scale * weight scale) as the kernel's output step does,
``(x W + h R) + bias`` in the kernel's order, and the recurrence unrolled step by step (the input sequence
length must be static, which the ``shapes`` pass before it makes it). Run in onnxruntime, the result is
bit-identical to the op on the zoo's models. Two onnxruntime behaviours are not copied: on x86 without
VNNI its u8 x s8 GEMM adds byte products in int16-saturated pairs (int8 weights; the lowering computes
the exact product, which onnxruntime gives on ARM and VNNI CPUs), and with a batch above 4 (or 2-4 and
hidden <= 256) it quantizes the hidden state per thread's share of the batch (here: per step, whole batch).
A node it cannot lower (peepholes, ``sequence_lens``, non-default activations, ``input_forget``) is left
alone and refused by name after the repairs.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    all_graphs,
    constants,
    drop_initializers,
    opset_version,
    replace_nodes,
    static_shape,
    taken_names,
)

DOMAIN = "com.microsoft"
OP = "DynamicQuantizeLSTM"
MAX_STEPS = 1024  # an unrolled sequence longer than this makes a graph too large to convert in reasonable time


def handles(domain: str, op_type: str) -> bool:
    """Whether this pass lowers nodes of ``domain``/``op_type`` (the early foreign-op refusal skips them)."""
    return domain == DOMAIN and op_type == OP


class _Builder:
    """Appends nodes and initializers with unique, scope-safe names."""

    def __init__(self, model: Any, base: str, taken: set[str]) -> None:
        self.model = model
        self.opset = opset_version(model)
        self.base = re.sub(r"[^A-Za-z0-9_]", "_", base) or "qlstm"
        self.taken = taken
        self.nodes: list[Any] = []
        self.count = 0
        self.consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def name(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"{self.base}_{hint}{self.count}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def const(self, value: Any, hint: str = "c") -> str:
        from onnx import numpy_helper

        arr = np.asarray(value)
        key = (str(arr.dtype), arr.tobytes(), arr.shape)
        if key not in self.consts:
            name = self.name(hint)
            self.model.graph.initializer.append(numpy_helper.from_array(arr, name))
            self.consts[key] = name
        return self.consts[key]

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> list[str]:
        from onnx import helper

        outs = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs

    def one(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.op(op_type, inputs, **attrs)[0]


def _quantize(b: _Builder, x: str) -> tuple[str, str]:
    """``x`` quantized as onnxruntime's quantized GEMM does (GetQuantizationParameter + QuantizeLinear, uint8):
    range [min(x,0), max(x,0)], scale range/255 (1 when the range is 0), zero point round(-min/scale) in
    [0, 255], q = clamp(round(x/scale) + zp, 0, 255). Returns (q - zp as float integers, scale)."""
    f32 = np.float32
    zero = b.const(f32(0.0), "zero")
    top = b.const(f32(255.0), "q255")
    lo = b.one("Min", [b.one("ReduceMin", [x], keepdims=0), zero])
    hi = b.one("Max", [b.one("ReduceMax", [x], keepdims=0), zero])
    span = b.one("Sub", [hi, lo])
    scale = b.one("Where", [b.one("Equal", [span, zero]), b.const(f32(1.0), "one"), b.one("Div", [span, top])])
    zp = b.one("Min", [b.one("Max", [b.one("Round", [b.one("Neg", [b.one("Div", [lo, scale])])]), zero]), top])
    q = b.one("Round", [b.one("Div", [x, scale])])
    return b.one("Min", [b.one("Max", [q, b.one("Neg", [zp])]), b.one("Sub", [top, zp])]), scale


def _gemm(b: _Builder, x: str, weights: str, w_scale: str) -> str:
    """onnxruntime's quantized GEMM: integer product (exact in float below 2**24) times (x scale * w scale)."""
    q, scale = _quantize(b, x)
    return b.one("Mul", [b.one("MatMul", [q, weights]), b.one("Mul", [scale, w_scale])])


def _centred(w: np.ndarray, zp: np.ndarray) -> np.ndarray:
    """[dirs, K, 4H] integer weights minus their zero point (per direction or per column), as float integers."""
    z = zp.astype(np.float32)
    z = z[:, None, None] if z.ndim == 1 else z[:, None, :]
    return (w.astype(np.float32) - z).astype(np.float32)


def _scales(scale: np.ndarray, d: int) -> np.ndarray:
    s = np.asarray(scale, np.float32)
    return s[d] if s.ndim == 1 else s[d].reshape(-1)


def _why_not(node: Any, values: dict[str, Any], shape: tuple[int, ...] | None) -> str | None:
    """Why ``node`` cannot be lowered (None when it can)."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    ins = list(node.input) + [""] * (12 - len(node.input))
    if shape is None or len(shape) != 3:
        return "its input sequence has no static shape"
    if shape[0] > MAX_STEPS:
        return f"its sequence has {shape[0]} steps (more than {MAX_STEPS} to unroll)"
    if any(not ins[k] or ins[k] not in values for k in (1, 2, 8, 9, 10, 11)):
        return "its weights, scales or zero points are not constants"
    if ins[3] and ins[3] not in values:
        return "its bias is not a constant"
    if ins[4] or ins[7]:
        return "it has sequence_lens or peephole weights"
    if int(attrs.get("input_forget", 0)) or attrs.get("activation_alpha") or attrs.get("activation_beta"):
        return "it has input_forget or activation parameters"
    acts = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
    if any(a.lower() != d for a, d in zip(acts, ["sigmoid", "tanh", "tanh"] * 2, strict=False)):
        return f"it has non-default activations {acts}"
    return None


def _lower(b: _Builder, node: Any, values: dict[str, Any], shape: tuple[int, ...]) -> None:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    ins = list(node.input) + [""] * (12 - len(node.input))
    outs = list(node.output) + [""] * (3 - len(node.output))
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    hidden = int(attrs["hidden_size"])
    clip = attrs.get("clip")
    steps, batch, _ = shape
    dirs = 2 if direction == "bidirectional" else 1
    w = _centred(np.asarray(values[ins[1]]), np.asarray(values[ins[9]]))
    r = _centred(np.asarray(values[ins[2]]), np.asarray(values[ins[11]]))
    bias = (np.asarray(values[ins[3]], np.float32) if ins[3] else np.zeros((dirs, 8 * hidden), np.float32))
    bias = bias[:, :4 * hidden] + bias[:, 4 * hidden:]

    xq, x_scale = _quantize(b, ins[0])  # the whole sequence is quantized once (its range is the same reversed)
    row = b.const(np.array([1, 1, batch, hidden], np.int64), "shape")
    ys: list[list[str]] = []
    finals_h: list[str] = []
    finals_c: list[str] = []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        w_scale = b.const(_scales(values[ins[8]], d), "Ws")
        xw = b.one("Mul", [b.one("MatMul", [xq, b.const(w[d], "W")]), b.one("Mul", [x_scale, w_scale])])  # [T, B, 4H]
        state = []
        for k in (5, 6):
            if ins[k]:
                state.append(b.one("Gather", [ins[k], b.const(np.int64(d), "i")], axis=0))
            else:
                state.append(b.const(np.zeros((batch, hidden), np.float32), "zeros"))
        h, c = state
        r_d, r_scale, bias_d = b.const(r[d], "R"), b.const(_scales(values[ins[10]], d), "Rs"), b.const(bias[d], "B")
        per_time: dict[int, str] = {}
        for step in range(steps):
            t = steps - 1 - step if reverse else step
            # the order of onnxruntime's kernel: (x W + h R) + bias
            gates = b.one("Add", [b.one("Add", [b.one("Gather", [xw, b.const(np.int64(t), "i")], axis=0),
                                                _gemm(b, h, r_d, r_scale)]), bias_d])
            if clip is not None:
                gates = b.one("Min", [b.one("Max", [gates, b.const(np.float32(-clip), "clip")]),
                                      b.const(np.float32(clip), "clip")])
            split = {"num_outputs": 4} if b.opset >= 18 else {}
            i, o, f, g = b.op("Split", [gates], outputs=4, axis=1, **split)
            c = b.one("Add", [b.one("Mul", [b.one("Sigmoid", [f]), c]),
                              b.one("Mul", [b.one("Sigmoid", [i]), b.one("Tanh", [g])])])
            h = b.one("Mul", [b.one("Sigmoid", [o]), b.one("Tanh", [c])])
            per_time[t] = h
        ys.append([per_time[t] for t in range(steps)])
        finals_h.append(h)
        finals_c.append(c)
    if outs[0]:
        frames = [b.one("Concat", [b.one("Reshape", [ys[d][t], row]) for d in range(dirs)], axis=1)
                  for t in range(steps)]
        b.nodes.append(helper.make_node("Concat", frames, [outs[0]], name=b.name("Concat"), axis=0))
    last = b.const(np.array([1, batch, hidden], np.int64), "shape")
    for out, finals in ((outs[1], finals_h), (outs[2], finals_c)):
        if out:
            b.nodes.append(helper.make_node("Concat", [b.one("Reshape", [v, last]) for v in finals], [out],
                                            name=b.name("Concat"), axis=0))


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    if not any(handles(n.domain, n.op_type) for n in graph.node):
        return None
    values = constants(model)
    taken = taken_names(graph)
    new_nodes: list[Any] = []
    lowered = steps = 0
    for node in graph.node:
        if not handles(node.domain, node.op_type):
            new_nodes.append(node)
            continue
        shape = static_shape(model, node.input[0])
        why = _why_not(node, values, shape)
        if why is not None or shape is None:
            context.notes.append(f"{OP} node '{node.name}' was not lowered: {why}")
            new_nodes.append(node)
            continue
        builder = _Builder(model, node.name or f"qlstm{lowered}", taken)
        _lower(builder, node, values, shape)
        new_nodes.extend(builder.nodes)
        lowered += 1
        steps += shape[0]
    if not lowered:
        return None
    context.unrolled_steps += steps
    replace_nodes(graph, new_nodes)
    # the integer weights only the lowered nodes read go (the float copies replace them)
    drop_initializers(graph, {i for g in all_graphs(graph) for n in g.node for i in n.input}
                      | {o.name for o in graph.output})
    return Repair("qlstm", f"lowered {lowered} {DOMAIN}.{OP} node(s) to standard ops: integer weights, activations "
                           f"quantized per call and per step as onnxruntime does ({steps} steps unrolled)", lowered)
