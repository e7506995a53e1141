"""Make every ``Reshape`` target explicit: no ``0`` (copy a dim / a real zero with ``allowzero``), no ``-1``.

``Reshape``'s shape may say ``0`` ("keep this input dim", or with
``allowzero=1`` a real zero-size dim) and ``-1`` ("whatever is left").
onnx2tf mishandles ``allowzero`` and sometimes the copied dims after it has
moved channels last. With static input shapes the target is known exactly, so
this pass writes it out in full and drops ``allowzero``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import Repair, RepairContext, constants, static_shape


def explicit_shape(data_shape: tuple[int, ...], target: np.ndarray, allowzero: bool) -> tuple[int, ...] | None:
    """Reshape's output shape, as the ONNX spec computes it (None if the target is inconsistent)."""
    dims = [int(d) for d in np.asarray(target).reshape(-1)]
    out: list[int] = []
    for i, d in enumerate(dims):
        if d == 0 and not allowzero:
            if i >= len(data_shape):
                return None
            out.append(data_shape[i])
        else:
            out.append(d)
    total = int(np.prod(data_shape)) if data_shape else 1
    if out.count(-1) == 1:
        rest = int(np.prod([d for d in out if d != -1])) if len(out) > 1 else 1
        if rest == 0:
            return None
        out[out.index(-1)] = total // rest
    if -1 in out or int(np.prod(out) if out else 1) != total:
        return None
    return tuple(out)


def apply(model: Any, context: RepairContext) -> Repair | None:
    from onnx import numpy_helper

    graph = model.graph
    values = constants(model)
    changed = 0
    serial = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        target = values.get(node.input[1])
        data_shape = static_shape(model, node.input[0])
        if target is None or data_shape is None:
            continue
        allowzero = any(a.name == "allowzero" and a.i for a in node.attribute)
        flat = np.asarray(target).reshape(-1)
        if not allowzero and not (flat <= 0).any():
            continue
        shape = explicit_shape(data_shape, flat, allowzero)
        if shape is None:
            continue
        serial += 1
        name = f"{node.name or 'reshape'}_explicit_shape_{serial}"
        graph.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), name))
        node.input[1] = name
        kept = [a for a in node.attribute if a.name != "allowzero"]
        del node.attribute[:]
        node.attribute.extend(kept)
        changed += 1
    if not changed:
        return None
    return Repair("allowzero", f"wrote out the full target shape of {changed} Reshape node(s) (0 = copy a dim, -1, "
                  "allowzero)", changed)
