"""Compute a graph's float64 tensors in float32: TFLite has no float64 kernels.

Some exporters finish a model in double precision (swift-f0 0.3.0's pitch head casts its logits to float64,
takes a softmax over them and a weighted sum of a float64 table of bin frequencies, and returns the pitch as
float64). Neither backend converts that (onnx2tf crashes, the lowering's GATHER has no float64 kernel). This
pass makes every float64 in the graph float32: ``Cast(to=DOUBLE)``, float64 initializers and constants,
``ConstantOfShape`` values, the ``dtype`` of ops that make tensors, value_info and float64 graph outputs
(the ``.tflite`` then returns float32, which the conversion check compares with onnxruntime's float64 result,
as it compares every output: as float values). Graph inputs keep their type: a float64 input is left alone
(the backends then refuse it, naming it).
"""

from __future__ import annotations

from typing import Any

from edgekit.host.onnx.repair.base import Repair, RepairContext, all_graphs

_DOUBLE = 11
_FLOAT = 1
_DTYPE_ATTRS = {"Cast": "to", "EyeLike": "dtype", "RandomNormal": "dtype", "RandomUniform": "dtype",
                "RandomNormalLike": "dtype", "RandomUniformLike": "dtype", "Bernoulli": "dtype"}


def _to_float(tensor: Any) -> bool:
    """A float64 TensorProto rewritten as float32 in place; False when it was not float64."""
    from onnx import numpy_helper

    if tensor.data_type != _DOUBLE:
        return False
    arr = numpy_helper.to_array(tensor).astype("float32")
    tensor.CopyFrom(numpy_helper.from_array(arr, tensor.name))
    return True


def _value_infos(graph: Any) -> list[Any]:
    return [*graph.value_info, *graph.output]


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    if any(v.type.tensor_type.elem_type == _DOUBLE for v in graph.input):
        return None  # the user feeds float64: not this pass's to change
    doubled = [o.name for o in graph.output if o.type.tensor_type.elem_type == _DOUBLE]
    changed = 0
    for g in all_graphs(graph):
        for init in g.initializer:
            changed += _to_float(init)
        for node in g.node:
            attr_name = _DTYPE_ATTRS.get(node.op_type)
            for attr in node.attribute:
                if attr.name == attr_name and attr.i == _DOUBLE:
                    attr.i = _FLOAT
                    changed += 1
                elif attr.name in ("value", "value_float") and attr.HasField("t"):
                    changed += _to_float(attr.t)
        for info in _value_infos(g):
            if info.type.tensor_type.elem_type == _DOUBLE:
                info.type.tensor_type.elem_type = _FLOAT
                changed += 1
    if not changed:
        return None
    outputs = f"; output(s) {', '.join(doubled)} now float32" if doubled else ""
    return Repair("double", f"computed the graph's float64 tensors in float32 ({changed} casts, constants and "
                            f"value types; TFLite has no float64 kernels){outputs}", changed)
