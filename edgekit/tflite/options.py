"""An operator's options as a plain dict, decoded on first use (``Operator.options``).

The options are one of ~150 tables; decoding them takes the runtime's generated schema module
(:mod:`edgekit.tflite._schema`), which only the commands that read options import: `verify` never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from edgekit.tflite.flat import damage_is_format_error

# custom ops whose options (a flexbuffer map of numbers) the cost model reads
FLEXBUFFER_OPTION_OPS = frozenset({"TFLite_Detection_PostProcess"})


@dataclass(frozen=True)
class OptionsSource:
    """Where an operator's options lie in the file's bytes (positions of the flatbuffer tables, 0 = none)."""

    buf: bytes
    builtin_type: int
    builtin_pos: int
    builtin2_type: int
    builtin2_pos: int
    custom: bytes | None  # the custom options blob of an op in FLEXBUFFER_OPTION_OPS
    file_name: str


def decode(source: OptionsSource) -> dict[str, Any]:
    """The options dict: field names in snake_case, enum values by name ({} for an op without options)."""
    if source.custom is not None:
        return _custom_options(source.custom)
    with damage_is_format_error(f"{source.file_name}: corrupt operator options"):
        from flatbuffers.table import Table

        from edgekit.tflite import _schema as S  # noqa: N812

        options: dict[str, Any] = {}
        if source.builtin_pos:
            options = _options_dict(S.BuiltinOptionsCreator(source.builtin_type, Table(source.buf, source.builtin_pos)))
        if not options and source.builtin2_type and source.builtin2_pos:
            options = _options_dict(
                S.BuiltinOptions2Creator(source.builtin2_type, Table(source.buf, source.builtin2_pos))
            )
        return options


@cache
def _option_enums() -> dict[str, dict[int, str]]:
    """Option field (camelCase in the schema) -> the enum whose names we show instead of ints."""
    from edgekit.tflite import _schema as S  # noqa: N812

    def names(cls: type) -> dict[int, str]:
        return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}

    tensor_type = names(S.TensorType)
    return {
        "padding": names(S.Padding),
        "fusedActivationFunction": names(S.ActivationFunctionType),
        "weightsFormat": names(S.FullyConnectedOptionsWeightsFormat),
        "kernelType": names(S.LSTMKernelType),
        "combiner": names(S.CombinerType),
        "mode": names(S.MirrorPadMode),
        "outType": tensor_type,
        "outputType": tensor_type,
        "inDataType": tensor_type,
        "outDataType": tensor_type,
        "idxOutType": tensor_type,
    }


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out).lstrip("_")


def _options_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    enums = _option_enums()
    result: dict[str, Any] = {}
    for key, value in vars(obj).items():
        enum = enums.get(key)
        if enum is not None and isinstance(value, int):
            value = enum.get(value, value)
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif hasattr(value, "__dict__"):
            value = _options_dict(value)
        result[_snake(key)] = value
    return result


def _custom_options(blob: bytes) -> dict[str, Any]:
    """The flexbuffer map of a known custom op's options: numbers and booleans only ({} when unreadable)."""
    if not blob:
        return {}
    try:
        from flatbuffers import flexbuffers

        value = flexbuffers.Loads(blob)
    except Exception:  # noqa: BLE001 - a malformed blob only loses the options, the model stays readable
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, bool | int | float)}
