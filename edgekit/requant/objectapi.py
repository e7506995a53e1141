"""A .tflite in ai_edge_litert's flatbuffer object API (read, written, its op names): what every rewrite in
:mod:`edgekit.requant` edits. Device-safe: ai_edge_litert is the runtime edgekit already needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def read_model(data: bytes) -> Any:
    """The model as mutable objects (``ModelT``)."""
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.read_model_from_bytearray(bytearray(data))


def write_model(model_t: Any) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_t))


def tensor_name(tensor: Any) -> str:
    """A ``TensorT``'s name as text (the object API gives bytes)."""
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


def opcode_names(model_t: Any) -> list[str]:
    """The builtin op name of each operator code (``CUSTOM`` for custom ops)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return [names.get(flatbuffer_utils.get_builtin_code_from_operator_code(c), "CUSTOM") for c in model_t.operatorCodes]


# numpy dtype -> schema TensorType, for the constants the folds write
_TENSOR_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2, np.dtype(np.uint8): 3,
                 np.dtype(np.int8): 9}


def fold_constant_ops(model_t: Any, op_name: str, values_of: Callable[[Any, Any], np.ndarray | None]) -> int:
    """Replace every one-input ``op_name`` op whose input ``values_of(model_t, tensor)`` can compute (None: it
    cannot) by a constant: the op's output tensor takes the values (in the input's buffer) and the dtype they
    have; the input is then read by nothing. In place; returns the count."""
    names = opcode_names(model_t)
    folded = 0
    for sg in model_t.subgraphs:
        keep = []
        for op in sg.operators or []:
            if names[op.opcodeIndex] == op_name and op.inputs is not None and len(op.inputs) == 1:
                src = sg.tensors[op.inputs[0]]
                values = values_of(model_t, src) if src.buffer else None
                if values is not None:
                    out = sg.tensors[op.outputs[0]]
                    model_t.buffers[src.buffer].data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
                    out.buffer, out.type = src.buffer, _TENSOR_TYPES[values.dtype]
                    src.buffer, src.sparsity = 0, None
                    folded += 1
                    continue
            keep.append(op)
        sg.operators = keep
    return folded


def new_tensor(model_t: Any, sg: Any, name: str, shape: list[int], dtype: int, content: bytes | None) -> int:
    """Append a tensor (its own buffer, holding ``content`` when given) to ``sg``; returns its index."""
    from ai_edge_litert import schema_py_generated as schema

    buf = schema.BufferT()
    if content is not None:
        buf.data = np.frombuffer(content, np.uint8)
    model_t.buffers.append(buf)
    tensor = schema.TensorT()
    tensor.name = name
    tensor.shape = list(shape)
    tensor.shapeSignature = list(shape)
    tensor.type = dtype
    tensor.buffer = len(model_t.buffers) - 1
    sg.tensors.append(tensor)
    return len(sg.tensors) - 1


class GraphIndex:
    """Producers and reader counts of one subgraph's tensors (object API)."""

    def __init__(self, sg: Any) -> None:
        ops = list(sg.operators or [])
        self.producer = {int(t): op for op in ops for t in (op.outputs if op.outputs is not None else [])}
        self.readers: dict[int, int] = {}
        for op in ops:
            for t in (op.inputs if op.inputs is not None else []):
                if int(t) >= 0:
                    self.readers[int(t)] = self.readers.get(int(t), 0) + 1
        self.outputs = {int(t) for t in (sg.outputs if sg.outputs is not None else [])}

    def only_reader(self, t: int) -> bool:
        """True when one op reads ``t`` and it is not a graph output."""
        return self.readers.get(t) == 1 and t not in self.outputs
