"""Rewrite a ``Resize`` (linear, cubic, or nearest with an unusual rounding) as one ``MatMul`` per resized axis.

onnx2tf maps ``Resize`` onto TensorFlow's image resize, which has fewer
coordinate modes than ONNX (``half_pixel`` vs ``pytorch_half_pixel`` vs
``align_corners`` vs ``asymmetric``, cubic's ``cubic_coeff_a`` and
``exclude_outside``, ``antialias``, the nearest rounding modes) and gets many
combinations wrong. With static shapes every such resize is linear in its
input and separable by axis: the output along axis ``k`` is ``x @ M_k`` for an
``[in_k, out_k]`` matrix. This pass computes each ``M_k`` with the ONNX
reference implementation of the node itself (so every mode is exactly the
standard's) and replaces the node by ``Transpose -> MatMul -> Transpose`` per
resized axis. ``tf_crop_and_resize`` (an ``roi``) and ``keep_aspect_ratio_policy``
are left alone.
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

PLAIN_NEAREST = {("asymmetric", "floor"), ("half_pixel", "round_prefer_ceil")}  # what onnx2tf maps correctly
MAX_AXIS = 4096


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def wants_rewrite(attrs: dict[str, Any]) -> bool:
    mode = _text(attrs.get("mode"), "nearest")
    coord = _text(attrs.get("coordinate_transformation_mode"), "half_pixel")
    if coord == "tf_crop_and_resize" or _text(attrs.get("keep_aspect_ratio_policy"), "stretch") != "stretch":
        return False
    if mode in ("linear", "cubic"):
        return True
    return (coord, _text(attrs.get("nearest_mode"), "round_prefer_floor")) not in PLAIN_NEAREST


def axis_matrix(attrs: dict[str, Any], n_in: int, n_out: int, scale: float | None, opset: int) -> np.ndarray | None:
    """The [n_in, n_out] matrix M with resize(x) = x @ M along one axis, from the ONNX reference Resize."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    h = onnx.helper
    keep = {k: v for k, v in attrs.items() if k not in ("axes", "keep_aspect_ratio_policy")}
    basis = np.eye(n_in, dtype=np.float32)
    if scale is not None:
        extra = [h.make_tensor("roi", onnx.TensorProto.FLOAT, [0], []),
                 h.make_tensor("scales", onnx.TensorProto.FLOAT, [2], [1.0, float(scale)])]
        inputs = ["x", "roi", "scales"]
    else:
        extra = [h.make_tensor("roi", onnx.TensorProto.FLOAT, [0], []),
                 h.make_tensor("sizes", onnx.TensorProto.INT64, [2], [n_in, n_out])]
        inputs = ["x", "roi", "", "sizes"]
    node = h.make_node("Resize", inputs, ["y"], **keep)
    graph = h.make_graph([node], "axis", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [n_in, n_in])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], extra)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", max(opset, 11))])
    try:
        (out,) = ReferenceEvaluator(model).run(None, {"x": basis})
    except Exception:
        return None
    out = np.asarray(out, dtype=np.float32)
    return out if out.shape == (n_in, n_out) else None


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
        attrs = _attrs(node)
        in_shape = static_shape(model, node.input[0]) if node.op_type == "Resize" else None
        out_shape = static_shape(model, node.output[0]) if in_shape is not None else None
        if node.domain not in ("", "ai.onnx") or in_shape is None or out_shape is None \
                or len(in_shape) != len(out_shape) or not wants_rewrite(attrs) or opset < 11:
            new_nodes.append(node)
            continue
        scales = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        rank = len(in_shape)
        axes = [int(a) % rank for a in attrs.get("axes", range(rank))]
        per_axis: dict[int, float | None] = {}
        if scales is not None and np.asarray(scales).size:
            for axis, s in zip(axes, np.asarray(scales, dtype=np.float64).reshape(-1), strict=False):
                per_axis[axis] = float(s)
        matrices: list[tuple[int, np.ndarray]] = []
        ok = True
        for axis in range(rank):
            n_in, n_out = in_shape[axis], out_shape[axis]
            scale = per_axis.get(axis)
            if n_in == n_out and (scale is None or scale == 1.0):
                continue
            if n_in > MAX_AXIS or n_out > MAX_AXIS or n_in == 0:
                ok = False
                break
            matrix = axis_matrix(attrs, n_in, n_out, scale, opset)
            if matrix is None:
                ok = False
                break
            matrices.append((axis, matrix))
        float_input = next((v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
                            for v in [*graph.value_info, *graph.input] if v.name == node.input[0]), False)
        if not ok or not matrices or not float_input:
            new_nodes.append(node)
            continue
        current = node.input[0]
        base = node.name or "resize"
        for step, (axis, matrix) in enumerate(matrices):
            last = step == len(matrices) - 1
            out = node.output[0] if last else f"{base}_axis{axis}"
            weight = f"{base}_matrix{axis}"
            graph.initializer.append(numpy_helper.from_array(matrix, weight))
            if axis == rank - 1:
                new_nodes.append(h.make_node("MatMul", [current, weight], [out], name=f"{base}_matmul{axis}"))
            else:
                perm = [*range(axis), *range(axis + 1, rank), axis]
                inverse = [int(i) for i in np.argsort(perm)]
                new_nodes.append(h.make_node("Transpose", [current], [f"{out}_t"], perm=perm, name=f"{base}_t{axis}"))
                new_nodes.append(h.make_node("MatMul", [f"{out}_t", weight], [f"{out}_mm"], name=f"{base}_matmul{axis}"))
                new_nodes.append(h.make_node("Transpose", [f"{out}_mm"], [out], perm=inverse, name=f"{base}_tb{axis}"))
            current = out
        changed += 1
    if not changed:
        return None
    replace_nodes(graph, new_nodes)
    return Repair("resize", f"rewrote {changed} Resize node(s) (linear/cubic or unusual nearest rounding) as exact "
                  "per-axis MatMuls computed from the ONNX reference", changed)
