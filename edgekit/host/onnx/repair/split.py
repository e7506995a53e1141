"""Turn a ``Split`` with zero-size or uneven parts into ``Slice`` nodes.

A ``Split`` whose sizes contain ``0`` makes empty tensors, and one with
``num_outputs`` that does not divide the axis makes uneven parts (opset 18);
onnx2tf gets both wrong. With static shapes each part is a plain ``Slice``,
and an empty part is an empty constant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    constants,
    opset_version,
    replace_nodes,
    static_shape,
)


def _sizes(node: Any, length: int, values: dict[str, Any], opset: int) -> list[int] | None:
    attrs = {a.name: a for a in node.attribute}
    if len(node.input) > 1 and node.input[1]:
        given = values.get(node.input[1])
        return None if given is None else [int(s) for s in np.asarray(given).reshape(-1)]
    if "split" in attrs and opset < 13:
        return [int(s) for s in attrs["split"].ints]
    parts = int(attrs["num_outputs"].i) if "num_outputs" in attrs else len(node.output)
    if parts <= 0:
        return None
    chunk = -(-length // parts)  # ceil: the last part takes what is left (opset 18)
    sizes = [min(chunk, max(0, length - k * chunk)) for k in range(parts)]
    return sizes


def apply(model: Any, context: RepairContext) -> Repair | None:
    import onnx
    from onnx import numpy_helper

    h = onnx.helper
    graph = model.graph
    values = constants(model)
    opset = opset_version(model)
    new_nodes = []
    changed = 0
    for node in graph.node:
        if node.op_type != "Split" or node.domain not in ("", "ai.onnx"):
            new_nodes.append(node)
            continue
        shape = static_shape(model, node.input[0])
        axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
        if shape is None:
            new_nodes.append(node)
            continue
        axis = axis % len(shape) if shape else 0
        sizes = _sizes(node, shape[axis], values, opset)
        if sizes is None or sum(sizes) != shape[axis] or len(sizes) != len(node.output):
            new_nodes.append(node)
            continue
        uneven = len(set(sizes)) > 1 and not (len(node.input) > 1 and node.input[1])
        if 0 not in sizes and not uneven:
            new_nodes.append(node)
            continue
        dtype = next((v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.input]
                      if v.name == node.input[0]), onnx.TensorProto.FLOAT)
        start = 0
        for k, (out, size) in enumerate(zip(node.output, sizes, strict=True)):
            base = f"{node.name or 'split'}_part{k}"
            if not out:
                start += size
                continue
            if size == 0:
                empty_shape = list(shape)
                empty_shape[axis] = 0
                arr = np.zeros(empty_shape, onnx.helper.tensor_dtype_to_np_dtype(dtype))
                graph.initializer.append(numpy_helper.from_array(arr, f"{base}_empty"))
                new_nodes.append(h.make_node("Identity", [f"{base}_empty"], [out], name=base))
            else:
                for suffix, val in (("starts", start), ("ends", start + size), ("axes", axis)):
                    graph.initializer.append(numpy_helper.from_array(np.array([val], np.int64), f"{base}_{suffix}"))
                new_nodes.append(h.make_node("Slice", [node.input[0], f"{base}_starts", f"{base}_ends", f"{base}_axes"],
                                             [out], name=base))
            start += size
        changed += 1
    if not changed:
        return None
    replace_nodes(graph, new_nodes)
    return Repair("split", f"turned {changed} Split node(s) with zero-size or uneven parts into Slice nodes", changed)
