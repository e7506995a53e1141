"""Compute a graph's float64 (pass ``double``) and float16 (pass ``half``) tensors in float32.

TFLite has no float64 kernels, and runs float16 only as weights it widens (or inside a delegate's fp16 mode).

Some exporters finish a model in double precision (swift-f0 0.3.0's pitch head casts its logits to float64,
takes a softmax over them and a weighted sum of a float64 table of bin frequencies, and returns the pitch as
float64). Neither backend converts that (onnx2tf crashes, the lowering's GATHER has no float64 kernel). This
pass makes every float64 in the graph float32: ``Cast(to=DOUBLE)``, float64 initializers and constants,
``ConstantOfShape`` values, the ``dtype`` of ops that make tensors, value_info and float64 graph outputs
(the ``.tflite`` then returns float32, which the conversion check compares with onnxruntime's float64 result,
as it compares every output: as float values). Graph inputs keep their type: a float64 input is left alone
(the backends then refuse it, naming it).

Keras' ``mixed_float16`` policy, exported by tf2onnx, casts an embedding's output to float16 and runs every
conv after it in float16 (slovorez 0.2's morpheme segmenter: float16 Conv/Add/Relu/Softmax, a float16 output);
onnx2tf crashes on it and the lowering's Pad has no float16 kernel. ``half`` makes those tensors float32 the
same way; the result is then more precise than onnxruntime's float16, which the conversion check measures.
"""

from __future__ import annotations

from typing import Any

from edgekit.host.onnx.repair.base import Repair, RepairContext, all_graphs

_DOUBLE = 11
_HALF = 10
_FLOAT = 1
_TYPE_NAMES = {_DOUBLE: "float64", _HALF: "float16"}
_DTYPE_ATTRS = {"Cast": "to", "EyeLike": "dtype", "RandomNormal": "dtype", "RandomUniform": "dtype",
                "RandomNormalLike": "dtype", "RandomUniformLike": "dtype", "Bernoulli": "dtype"}


def _to_float(tensor: Any, narrow: int) -> bool:
    """A ``narrow`` (float64/float16) TensorProto rewritten as float32 in place; False when it was not one."""
    from onnx import numpy_helper

    if tensor.data_type != narrow:
        return False
    arr = numpy_helper.to_array(tensor).astype("float32")
    tensor.CopyFrom(numpy_helper.from_array(arr, tensor.name))
    return True


def _value_infos(graph: Any) -> list[Any]:
    return [*graph.value_info, *graph.output]


def _widen(model: Any, narrow: int, name: str, why: str) -> Repair | None:
    graph = model.graph
    if any(v.type.tensor_type.elem_type == narrow for v in graph.input):
        return None  # the user feeds this type: not this pass's to change
    narrowed = [o.name for o in graph.output if o.type.tensor_type.elem_type == narrow]
    changed = 0
    for g in all_graphs(graph):
        for init in g.initializer:
            changed += _to_float(init, narrow)
        for node in g.node:
            attr_name = _DTYPE_ATTRS.get(node.op_type)
            for attr in node.attribute:
                if attr.name == attr_name and attr.i == narrow:
                    attr.i = _FLOAT
                    changed += 1
                elif attr.name in ("value", "value_float") and attr.HasField("t"):
                    changed += _to_float(attr.t, narrow)
        for info in _value_infos(g):
            if info.type.tensor_type.elem_type == narrow:
                info.type.tensor_type.elem_type = _FLOAT
                changed += 1
    if not changed:
        return None
    kind = _TYPE_NAMES[narrow]
    outputs = f"; output(s) {', '.join(narrowed)} now float32" if narrowed else ""
    return Repair(name, f"computed the graph's {kind} tensors in float32 ({changed} casts, constants and "
                        f"value types; {why}){outputs}", changed)


def apply(model: Any, context: RepairContext) -> Repair | None:
    return _widen(model, _DOUBLE, "double", "TFLite has no float64 kernels")


def apply_half(model: Any, context: RepairContext) -> Repair | None:
    return _widen(model, _HALF, "half", "float16 compute: TFLite runs float16 only as weights")
