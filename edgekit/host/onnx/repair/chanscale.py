"""Fold a per-channel ``Mul`` after ``Conv -> Relu`` (a batch norm after its ReLU) into the conv's weights.

Keras models built as Conv -> ReLU -> BatchNormalization and exported by tf2onnx reach ONNX as
``Conv -> Relu -> Mul(per-channel constant) -> Add(per-channel constant)``; no converter folds the Mul into the
conv through the ReLU, so an int8 model gives the conv's output one scale across channels the Mul then sets
far apart (fastmrz's MRZ U-Net: scales 0.00048 to 31.2, the tensor spanning 0..15000; its int8 output
collapsed to a constant, cosine 0.41). Since ``relu(z) * s == relu(z * s)`` for ``s > 0``, the Mul goes into
the conv's weights and bias per output channel, exactly; the Add stays.

Only where exact: the constant holds one positive value per channel (axis 1) or one value, the conv has a
constant weight (and bias, or none), each of the conv and ReLU outputs is read by the next op alone. The same
fold for a .tflite source is :mod:`edgekit.requant.scalefold`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import Repair, RepairContext, constants, drop_initializers, replace_nodes


def _per_channel(value: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """The constant as one factor per channel (axis 1 of a rank-``rank`` tensor), or None."""
    if value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + tuple(value.shape)
    if any(d != 1 for k, d in enumerate(shape) if k != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float64), (channels,))


def apply(model: Any, context: RepairContext) -> Repair | None:
    from onnx import numpy_helper

    graph = model.graph
    if not any(n.op_type == "Mul" for n in graph.node):
        return None
    values = constants(model)
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    readers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    outputs = {o.name for o in graph.output}
    drop: set[int] = set()
    folded = 0
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2 or mul.domain not in ("", "ai.onnx"):
            continue
        for k in (0, 1):
            relu, const = producer.get(mul.input[k]), mul.input[1 - k]
            conv = producer.get(relu.input[0]) if relu is not None and relu.op_type == "Relu" else None
            if relu is None or conv is None or conv.op_type != "Conv" or const not in values or id(conv) in drop:
                continue
            if any(readers.get(t, 0) != 1 or t in outputs for t in (conv.output[0], relu.output[0])):
                continue
            w_name = conv.input[1]
            b_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else ""
            if w_name not in inits or (b_name and b_name not in inits):
                continue
            weights = numpy_helper.to_array(inits[w_name])
            scale = _per_channel(np.asarray(values[const]), weights.shape[0], weights.ndim)
            if scale is None or weights.dtype != np.float32 or not np.all(scale > 0) or not np.all(np.isfinite(scale)):
                continue
            shape = (-1,) + (1,) * (weights.ndim - 1)
            bias = numpy_helper.to_array(inits[b_name]) if b_name else np.zeros(weights.shape[0], np.float32)
            for name, array in ((f"{w_name}_chanscale{folded}", weights * scale.reshape(shape)),
                                (f"{b_name or w_name}_chanscale_bias{folded}", bias * scale)):
                graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), name))
            del conv.input[1:]
            conv.input.extend([f"{w_name}_chanscale{folded}", f"{b_name or w_name}_chanscale_bias{folded}"])
            relu.output[0] = mul.output[0]  # the ReLU now writes what the Mul wrote
            drop.add(id(mul))
            folded += 1
            break
    if not folded:
        return None
    kept = [n for n in graph.node if id(n) not in drop]
    replace_nodes(graph, kept)
    drop_initializers(graph, {i for n in graph.node for i in n.input} | outputs)
    return Repair("chanscale", f"folded {folded} per-channel Mul(s) after Conv -> Relu (a batch norm after its "
                               "ReLU) into the conv's weights: int8 no longer shares one scale across channels "
                               "the Mul sets far apart", folded)
