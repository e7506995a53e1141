"""Fold a per-channel scale that follows a convolution into its weights, through a fused ReLU.

Keras models built as Conv -> ReLU -> BatchNormalization (the order many hobby and OCR models use; tf2onnx
keeps it) reach a .tflite as ``CONV_2D(fused RELU) -> MUL(per-channel constant) -> ADD(per-channel constant)``:
the batch norm cannot be folded into the conv by the converters because the ReLU sits between them. In int8
the conv's output is then one tensor whose channels differ by the batch norm's scales (fastmrz's MRZ
segmenter: 0.00048 to 31.2, the tensor spanning 0..15000): one int8 step of 59 erases every channel the
batch norm then multiplies up, and the model's output collapses to a constant (cosine 0.43).

``relu(z) * s == relu(z * s)`` for ``s > 0`` (and ``z * s`` for any ``s`` without an activation), so the MUL is
folded into the conv's weights and bias per output channel: the conv's output then has the MUL's range
(0..11.4 there) and the ADD stays. Only where exact: a constant of one value per output channel (or one
value), all positive under a ReLU, the conv's output read by the MUL alone, the weights and bias constant
float32 (copied when another op shares them), the MUL without an activation of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.requant.objectapi import GraphIndex, new_tensor, opcode_names, tensor_name

_FLOAT32 = 0
_NONE, _RELU = 0, 1  # schema ActivationFunctionType
_CONVS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}  # the weights' output-channel axis


def _constant(model_t: Any, sg: Any, t: int) -> np.ndarray | None:
    tensor = sg.tensors[t]
    data = model_t.buffers[tensor.buffer].data if tensor.buffer else None
    if data is None or tensor.type != _FLOAT32:
        return None
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float32).reshape(list(tensor.shape))


def _readers(sg: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for op in sg.operators or []:
        for t in op.inputs if op.inputs is not None else []:
            counts[int(t)] = counts.get(int(t), 0) + 1
    return counts


def _write_copy(model_t: Any, sg: Any, t: int, values: np.ndarray, readers: dict[int, int]) -> int:
    """``values`` into tensor ``t`` (its own buffer), or into a new tensor when another op reads ``t`` too."""
    tensor = sg.tensors[t]
    content = np.ascontiguousarray(values, np.float32).tobytes()
    users = sum(1 for sub in model_t.subgraphs for x in sub.tensors if x.buffer == tensor.buffer)
    shared = readers.get(t, 0) > 1 or users > 1
    if shared:
        return new_tensor(model_t, sg, tensor_name(tensor) + "_scaled", list(tensor.shape), _FLOAT32, content)
    model_t.buffers[tensor.buffer].data = np.frombuffer(content, np.uint8)
    return t


def fold_channel_scales(model_t: Any) -> int:
    """Fold every foldable ``conv -> MUL(per-channel constant)`` (see the module docstring). In place; the count."""
    names = opcode_names(model_t)
    folded = 0
    for sg in model_t.subgraphs:
        g = GraphIndex(sg)
        readers = _readers(sg)
        drop: set[int] = set()
        for op in sg.operators or []:
            if names[op.opcodeIndex] != "MUL" or op.inputs is None or len(op.inputs) != 2 or len(op.outputs) != 1:
                continue
            if getattr(op.builtinOptions, "fusedActivationFunction", _NONE) != _NONE:
                continue
            for k in (0, 1):
                x, c = int(op.inputs[k]), int(op.inputs[1 - k])
                conv = g.producer.get(x)
                scale = _constant(model_t, sg, c)
                if conv is None or scale is None or not g.only_reader(x) or id(conv) in drop:
                    continue
                if _fold(model_t, sg, conv, names[conv.opcodeIndex], x, int(op.outputs[0]), scale, readers):
                    drop.add(id(op))
                    folded += 1
                    break
        if drop:
            sg.operators = [op for op in sg.operators if id(op) not in drop]
    return folded


def _fold(model_t: Any, sg: Any, conv: Any, kind: str, x: int, y: int, scale: np.ndarray,
          readers: dict[int, int]) -> bool:
    axis = _CONVS.get(kind)
    if axis is None or conv.inputs is None or len(conv.inputs) < 3 or int(conv.inputs[2]) < 0:
        return False
    channels = int(sg.tensors[x].shape[-1])
    if list(sg.tensors[y].shape) != list(sg.tensors[x].shape) or scale.size not in (1, channels):
        return False
    if scale.ndim > 1 and any(d != 1 for d in scale.shape[:-1]):
        return False  # a scale per position, not per channel
    act = getattr(conv.builtinOptions, "fusedActivationFunction", None)
    s = np.broadcast_to(scale.reshape(-1).astype(np.float64), (channels,))
    if act not in (_NONE, _RELU) or (act == _RELU and not np.all(s > 0)) or not np.all(np.isfinite(s)):
        return False
    w_t, b_t = int(conv.inputs[1]), int(conv.inputs[2])
    weights, bias = _constant(model_t, sg, w_t), _constant(model_t, sg, b_t)
    if weights is None or bias is None or weights.shape[axis] != channels or bias.size != channels:
        return False
    shape = [1] * weights.ndim
    shape[axis] = channels
    conv.inputs[1] = _write_copy(model_t, sg, w_t, weights * s.reshape(shape), readers)
    conv.inputs[2] = _write_copy(model_t, sg, b_t, bias.reshape(-1) * s, readers)
    conv.outputs = [y]
    return True
