"""Give a padded ``MaxPool`` its padding as repeated edge values, so no backend pads with -3.4e38.

ONNX pads a max pool with -infinity. Both backends write that as a PAD with the float's lowest value in front
of a VALID pool; in float that is exact, but an int8 quantization gives the padded tensor one range, so the
tensor before it (a conv's ReLU output, shared through the PAD) gets a scale of about 1e36: every value
rounds to zero, and XNNPACK refuses to build its runtime for such a scale ("failed to prepare"), so the
int8 file does not even load. PyTorch's ``MaxPool2d(3, 2, padding=1)`` (every ResNet stem) and any
``ceil_mode`` pool hit it.

With dilation 1 every window that reaches into the padding also holds the edge element next to it, so
repeating the edge value (a ``Slice`` of the first/last row, ``Concat``) gives the same maximum. The pool
then has no padding and ``ceil_mode`` 0 (its extra end window is padded the same way). Dilated pools, whose
windows can step over the edge element, are left as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.poolpads import tf_same, window_pads
from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    opset_version,
    replace_nodes,
    static_shape,
    taken_names,
)
from edgekit.host.onnx.repair.qlstm import _Builder


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def padding(attrs: dict[str, Any], spatial: tuple[int, ...]) -> tuple[list[int], list[int]] | None:
    """Begin/end padding per spatial axis, the ceil_mode extra included; None when dilated."""
    nd = len(spatial)
    if any(int(d) != 1 for d in attrs.get("dilations", [1] * nd)):
        return None
    auto = attrs.get("auto_pad", b"NOTSET")
    begin, end, extra = window_pads(spatial, [int(k) for k in attrs["kernel_shape"]], _strides(attrs, nd), [1] * nd,
                                    auto.decode() if isinstance(auto, bytes) else str(auto), attrs.get("pads"),
                                    bool(int(attrs.get("ceil_mode", 0))))
    return begin, [e + x for e, x in zip(end, extra, strict=True)]


def _strides(attrs: dict[str, Any], nd: int) -> list[int]:
    return [int(s) for s in attrs.get("strides", [1] * nd)]


def _edge_pads(model: Any, node: Any) -> tuple[tuple[int, ...], tuple[list[int], list[int]]] | None:
    """(input shape, begin/end padding) of a MaxPool this pass rewrites; None to leave the node."""
    if node.op_type != "MaxPool" or node.domain not in ("", "ai.onnx") or (len(node.output) > 1 and node.output[1]):
        return None
    shape = static_shape(model, node.input[0])
    attrs = _attrs(node)
    pads = padding(attrs, shape[2:]) if shape is not None and len(shape) >= 3 else None
    if shape is None or pads is None or not any(pads[0] + pads[1]):
        return None
    if not int(attrs.get("ceil_mode", 0)) and tf_same(shape[2:], attrs["kernel_shape"], _strides(attrs, len(shape) - 2),
                                                      *pads):
        return None  # both backends pool these SAME (YOLOv8's SPPF); onnx2tf pads ceil_mode ones with -3.4e38
    return shape, pads


def apply(model: Any, context: RepairContext) -> Repair | None:
    from onnx import helper

    graph = model.graph
    if opset_version(model) < 10 or not any(n.op_type == "MaxPool" for n in graph.node):
        return None  # Slice takes its bounds as inputs from opset 10
    taken = taken_names(graph)
    new_nodes: list[Any] = []
    changed = 0
    for node in graph.node:
        found = _edge_pads(model, node)
        if found is None:
            new_nodes.append(node)
            continue
        shape, pads = found
        b = _Builder(model, node.name or "maxpool", taken)
        x = node.input[0]
        for i, (before, after) in enumerate(zip(*pads, strict=True)):
            if not before and not after:
                continue
            axis, size = i + 2, shape[i + 2]
            axes = b.const(np.array([axis], np.int64), "axes")
            first = b.one("Slice", [x, b.const(np.array([0], np.int64), "zero"), b.const(np.array([1], np.int64), "one"),
                                    axes])
            last = b.one("Slice", [x, b.const(np.array([size - 1], np.int64), "start"),
                                   b.const(np.array([size], np.int64), "stop"), axes])
            x = b.one("Concat", [first] * before + [x] + [last] * after, axis=axis)
            shape = (*shape[:axis], size + before + after, *shape[axis + 1:])
        kept = {k: v for k, v in _attrs(node).items() if k in ("kernel_shape", "strides", "storage_order")}
        b.nodes.append(helper.make_node("MaxPool", [x], list(node.output[:1]), name=b.name("MaxPool"), **kept))
        new_nodes.extend(b.nodes)
        changed += 1
    if not changed:
        return None
    replace_nodes(graph, new_nodes)
    return Repair("maxpool", f"padded {changed} MaxPool node(s) by repeating edge values (exact for a max), not "
                             "with -3.4e38, which ruins an int8 scale", changed)
