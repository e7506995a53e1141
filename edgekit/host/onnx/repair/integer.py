"""Turn ONNX's integer ops (``DynamicQuantizeLinear``, ``MatMulInteger``, ``ConvInteger``) into float ops.

``onnxruntime.quantization.quantize_dynamic`` writes every MatMul and Conv as
``DynamicQuantizeLinear`` (the activation to uint8 with a scale and zero point computed per call) feeding
``MatMulInteger``/``ConvInteger`` (int32 result) then ``Cast`` to float and a ``Mul`` by the two scales.
Neither backend converts the integer ops, and a float ``.tflite`` needs none: the same values are computed
in float. The quantized activation is rounded exactly as onnxruntime does (range widened to hold 0, scale
range/255, zero point and values rounded half to even, clamped to [0, 255]) and kept as float integers;
the integer product is a float ``MatMul``/``Conv`` of (value - zero point) operands, which is exact while
the sums stay below 2**24. ``ConvInteger`` pads with the input's zero point, i.e. with 0 once it is
subtracted, so the float ``Conv`` keeps the same attributes. The pass only runs when every consumer of an
integer result is another of these ops or a ``Cast`` to float (what quantize_dynamic writes); anything else
leaves the graph as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    constants,
    drop_initializers,
    replace_nodes,
    taken_names,
)
from edgekit.host.onnx.repair.qlstm import _Builder

OPS = ("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger")
_FLOAT = 1


def _is_int_op(node: Any) -> bool:
    return node.domain in ("", "ai.onnx") and node.op_type in OPS


def _cluster(graph: Any, targets: list[Any], values: dict[str, Any]) -> set[str] | None:
    """The names of the ``Add``/``Sub``/``Mul`` nodes that combine the integer ops' results with other integers
    (a quantized bias: ``ConvInteger -> Add``), or None when another op than those and a Cast to float, or a
    graph output, reads one of those results."""
    made = {o for n in targets for k, o in enumerate(n.output) if o and not (n.op_type == OPS[0] and k == 1)}
    arith: set[str] = set()
    grew = True
    while grew:
        grew = False
        for node in graph.node:
            if _is_int_op(node) or node.name in arith or not any(i in made for i in node.input):
                continue
            to = next((a.i for a in node.attribute if a.name == "to"), None)
            if node.op_type == "Cast" and to == _FLOAT:
                continue
            if node.op_type in ("Add", "Sub", "Mul") and node.name:  # its other input has the same integer type
                arith.add(node.name)
                made.update(node.output)
                grew = True
                continue
            return None
    if made & {o.name for o in graph.output}:
        return None
    return arith


def _quantize_linear(b: _Builder, x: str, outs: list[str]) -> None:
    """DynamicQuantizeLinear in float: y (float integers 0..255), y_scale, y_zero_point (a float integer)."""
    from onnx import helper

    f32 = np.float32
    zero, top = b.const(f32(0.0), "zero"), b.const(f32(255.0), "q255")
    lo = b.one("Min", [b.one("ReduceMin", [x], keepdims=0), zero])
    hi = b.one("Max", [b.one("ReduceMax", [x], keepdims=0), zero])
    span = b.one("Sub", [hi, lo])
    scale = b.one("Where", [b.one("Equal", [span, zero]), b.const(f32(1.0), "one"), b.one("Div", [span, top])])
    zp = b.one("Min", [b.one("Max", [b.one("Round", [b.one("Neg", [b.one("Div", [lo, scale])])]), zero]), top])
    y = b.one("Min", [b.one("Max", [b.one("Add", [b.one("Round", [b.one("Div", [x, scale])]), zp]), zero]), top])
    for out, value in zip(outs, (y, scale, zp), strict=True):
        if out:
            b.nodes.append(helper.make_node("Identity", [value], [out], name=b.name("Identity")))


def _operand(b: _Builder, name: str, zp_name: str, values: dict[str, Any], floats: set[str],
             zp_shape: tuple[int, ...] = (-1,)) -> str:
    """``name - zero point`` as a float tensor (folded when both are constants)."""
    if name in values and (not zp_name or zp_name in values):
        arr = np.asarray(values[name]).astype(np.float32)
        if zp_name:
            arr = arr - np.asarray(values[zp_name]).astype(np.float32).reshape(
                zp_shape if np.asarray(values[zp_name]).size > 1 else ())
        return b.const(arr.astype(np.float32), "q")
    x = name if name in floats else b.one("Cast", [name], to=_FLOAT)
    if not zp_name:
        return x
    if zp_name in values:
        zp = np.asarray(values[zp_name]).astype(np.float32)
        return b.one("Sub", [x, b.const(zp.reshape(zp_shape) if zp.size > 1 else zp, "zp")])
    return b.one("Sub", [x, zp_name if zp_name in floats else b.one("Cast", [zp_name], to=_FLOAT)])


def apply(model: Any, context: RepairContext) -> Repair | None:
    from onnx import helper

    graph = model.graph
    targets = [n for n in graph.node if _is_int_op(n)]
    if not targets:
        return None
    values = constants(model)
    arith = _cluster(graph, targets, values)
    if arith is None:
        context.notes.append("integer ops (DynamicQuantizeLinear/MatMulInteger/ConvInteger) kept: a result of "
                             "theirs is read by another op than a Cast to float")
        return None
    taken = taken_names(graph)
    floats: set[str] = set()  # integer tensors this pass now makes in float
    new_nodes: list[Any] = []
    counts = dict.fromkeys(OPS, 0)
    for node in graph.node:
        if node.name in arith:  # other integers combined with an integer result: made float too (exactly)
            b = _Builder(model, node.name, taken)
            for k, name in enumerate(node.input):
                if name in floats:
                    continue
                node.input[k] = b.const(np.asarray(values[name]).astype(np.float32), "q") if name in values \
                    else b.one("Cast", [name], to=_FLOAT)
            floats.update(node.output)
            new_nodes.extend(b.nodes)
            new_nodes.append(node)
            continue
        if not _is_int_op(node):
            new_nodes.append(node)
            continue
        b = _Builder(model, node.name or node.op_type, taken)
        ins = list(node.input) + [""] * (4 - len(node.input))
        if node.op_type == "DynamicQuantizeLinear":
            _quantize_linear(b, ins[0], list(node.output))
            floats.update(o for k, o in enumerate(node.output) if o and k != 1)
        elif node.op_type == "MatMulInteger":
            a = _operand(b, ins[0], ins[2], values, floats, (-1, 1))  # a per-row zero point is [M]
            w = _operand(b, ins[1], ins[3], values, floats)  # a per-column one is [N]
            b.nodes.append(helper.make_node("MatMul", [a, w], [node.output[0]], name=b.name("MatMul")))
            floats.add(node.output[0])
        else:
            x = _operand(b, ins[0], ins[2], values, floats)
            w = _operand(b, ins[1], ins[3], values, floats, (-1, 1, 1, 1))  # per output channel
            conv = helper.make_node("Conv", [x, w], [node.output[0]], name=b.name("Conv"))
            conv.attribute.extend(node.attribute)
            b.nodes.append(conv)
            floats.add(node.output[0])
        new_nodes.extend(b.nodes)
        counts[node.op_type] += 1
    replace_nodes(graph, new_nodes)
    drop_initializers(graph, {i for n in graph.node for i in n.input})
    # the tensors that changed type: drop their recorded (integer) types so inference records float ones
    infos = [v for v in graph.value_info if v.name not in floats]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    done = ", ".join(f"{n} {op}" for op, n in counts.items() if n)
    return Repair("integer", f"computed {done} in float ops (exactly: activations rounded as onnxruntime does, "
                             "integer products of float integers)", sum(counts.values()))
