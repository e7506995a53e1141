"""A .tflite in ai_edge_litert's flatbuffer object API (read, written, its op names): what every rewrite in
:mod:`edgekit.requant` edits. Device-safe: ai_edge_litert is the runtime edgekit already needs."""

from __future__ import annotations

from typing import Any


def read_model(data: bytes) -> Any:
    """The model as mutable objects (``ModelT``)."""
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.read_model_from_bytearray(bytearray(data))


def write_model(model_t: Any) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_t))


def opcode_names(model_t: Any) -> list[str]:
    """The builtin op name of each operator code (``CUSTOM`` for custom ops)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return [names.get(flatbuffer_utils.get_builtin_code_from_operator_code(c), "CUSTOM") for c in model_t.operatorCodes]
