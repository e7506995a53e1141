"""Build ``.tflite`` files in memory, without TensorFlow: the one builder of edgekit and its tests.

Device-safe: numpy and the TFLite flatbuffer schema that the ai-edge-litert wheel ships (the schema
module :mod:`edgekit.tflite._schema` re-exports, and the ``flatbuffers`` package it depends on).
``edgekit calibrate`` builds its micro-benchmark models with it on the device; the tests build their
small models with it.

A model has one subgraph ("main"). Tensors are added one by one and named by the index they get::

    b = TFLiteBuilder("a tiny FC model")
    x = b.tensor("input", (1, 4))
    w = b.constant("weights", np.ones((3, 4), np.float32))
    y = b.tensor("output", (1, 3))
    b.operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})
    data = b.build(inputs=[x], outputs=[y])

- dtypes are numpy names (``"float32"``, ``"int8"``, ``"int32"`` ...), as edgekit's reader reports them;
- quantization is a :class:`Quant`, per tensor or per channel along an axis;
- constants get their own buffer (buffer 0 stays the schema's empty sentinel, activations use it);
- builtin options are a mapping of field names in snake_case (``stride_w``, ``fused_activation_function``),
  enum fields by member name (``"SAME"``, ``"RELU6"``): the spelling :func:`edgekit.tflite.model.parse_model`
  reports them in, so an operator read from a model can be written again. Ops with an options table in
  :data:`OPTIONS_TYPES` always carry one (the schema's defaults for fields not given), as the converter
  writes them; other ops carry none unless ``options_type`` names one;
- operator codes are shared per (op, version).

:func:`unpack` and :func:`pack` turn bytes into the schema's object tree and back, for tests that edit
a model field by field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgekit.errors import MissingDependency
from edgekit.tflite import _schema as S

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# builtin op -> the BuiltinOptions table it carries (the ops edgekit builds; add a row for another op,
# or pass options_type=)
OPTIONS_TYPES: dict[str, str] = {
    "ADD": "AddOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "CONCATENATION": "ConcatenationOptions",
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "DIV": "DivOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions",
    "MIRROR_PAD": "MirrorPadOptions",
    "MUL": "MulOptions",
    "PAD": "PadOptions",
    "RESHAPE": "ReshapeOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "SOFTMAX": "SoftmaxOptions",
    "SUB": "SubOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions",
}

# option fields whose value may be given as an enum member's name (the names edgekit's reader reports)
_OPTION_ENUMS: dict[str, type] = {
    "padding": S.Padding,
    "fusedActivationFunction": S.ActivationFunctionType,
    "weightsFormat": S.FullyConnectedOptionsWeightsFormat,
    "kernelType": S.LSTMKernelType,
    "combiner": S.CombinerType,
    "mode": S.MirrorPadMode,
    **{f: S.TensorType for f in ("outType", "outputType", "inDataType", "outDataType", "idxOutType")},
}


def tensor_type(dtype: str) -> int:
    """The schema's TensorType code of a numpy dtype name (``"int8"`` -> ``TensorType.INT8``)."""
    code = getattr(S.TensorType, str(dtype).upper(), None)
    if not isinstance(code, int):
        raise ValueError(f"no TFLite tensor type for dtype {dtype!r}")
    return code


def builtin_code(op: str) -> int:
    """The schema's BuiltinOperator code of an op name (``"CONV_2D"``)."""
    code = getattr(S.BuiltinOperator, op, None)
    if not isinstance(code, int):
        raise ValueError(f"{op!r} is not a TFLite builtin operator")
    return code


@dataclass(frozen=True)
class Quant:
    """Affine quantization, ``real = scale * (q - zero_point)``: one scale per tensor, or one per channel.

    ``axis`` is the tensor dimension the channels run along (the schema's ``quantized_dimension``):
    0 for CONV_2D / FULLY_CONNECTED weights (and biases), 3 for DEPTHWISE_CONV_2D weights.
    """

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int = 0

    def __post_init__(self) -> None:
        if not self.scales:
            raise ValueError("Quant needs at least one scale")
        if len(self.zero_points) != len(self.scales):
            raise ValueError(f"Quant has {len(self.scales)} scales but {len(self.zero_points)} zero points")
        if not all(math.isfinite(s) and s > 0 for s in self.scales):
            raise ValueError(f"Quant scales must be finite and positive: {self.scales}")
        if self.axis < 0:
            raise ValueError(f"Quant axis must be >= 0, got {self.axis}")

    @classmethod
    def per_tensor(cls, scale: float, zero_point: int = 0) -> Quant:
        return cls((float(scale),), (int(zero_point),))

    @classmethod
    def per_channel(cls, scales: npt.ArrayLike, axis: int = 0, zero_points: npt.ArrayLike | None = None) -> Quant:
        """Per-channel scales along ``axis``; zero points all 0 unless given (symmetric, as weights are)."""
        s = tuple(float(v) for v in np.asarray(scales).reshape(-1))
        if zero_points is None:
            return cls(s, (0,) * len(s), axis)
        return cls(s, tuple(int(v) for v in np.asarray(zero_points).reshape(-1)), axis)


class TFLiteBuilder:
    """Accumulates tensors, constant buffers and operators of one subgraph; :meth:`build` gives the bytes.

    ``default_quant`` is given to integer tensors (int8, uint8, int16) created without a quantization:
    a convenience for tests whose models only need to parse, never a substitute for real parameters.
    """

    def __init__(self, description: str = "", *, default_quant: Quant | None = None) -> None:
        self.description = description
        self.default_quant = default_quant
        self._tensors: list[Any] = []
        self._shapes: list[tuple[int, ...]] = []
        self._dtypes: list[str] = []
        self._buffers: list[Any] = [S.BufferT()]  # buffer 0: the empty sentinel of the schema
        self._codes: list[Any] = []
        self._code_index: dict[tuple[str, int], int] = {}
        self._operators: list[Any] = []

    # ------------------------------------------------------------------ tensors

    def tensor(self, name: str, shape: Sequence[int], dtype: str = "float32", *, quant: Quant | None = None,
               shape_signature: Sequence[int] | None = None) -> int:
        """An activation tensor (no data); returns its index. ``shape_signature`` marks dynamic dims (-1)."""
        return self._add(name, tuple(int(d) for d in shape), dtype, quant, shape_signature, None)

    def constant(self, name: str, data: npt.ArrayLike, dtype: str | None = None, *,
                 quant: Quant | None = None) -> int:
        """A constant tensor holding ``data`` (cast to ``dtype`` when given), with its own buffer."""
        arr = np.ascontiguousarray(np.asarray(data, dtype=np.dtype(dtype) if dtype is not None else None))
        return self._add(name, tuple(int(d) for d in arr.shape), str(arr.dtype), quant, None, arr)

    def _add(self, name: str, shape: tuple[int, ...], dtype: str, quant: Quant | None,
             shape_signature: Sequence[int] | None, data: np.ndarray | None) -> int:
        t = S.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = tensor_type(dtype)
        if shape_signature is not None:
            if len(shape_signature) != len(shape):
                raise ValueError(f"tensor {name!r}: shape signature {list(shape_signature)} does not match "
                                 f"shape {list(shape)}")
            t.shapeSignature = [int(d) for d in shape_signature]
        if data is not None:
            buf = S.BufferT()
            buf.data = np.frombuffer(data.tobytes(), dtype=np.uint8)
            self._buffers.append(buf)
            t.buffer = len(self._buffers) - 1
        else:
            t.buffer = 0
        if quant is None and dtype in ("int8", "uint8", "int16"):
            quant = self.default_quant
        if quant is not None:
            if len(quant.scales) > 1 and not (quant.axis < len(shape) and shape[quant.axis] == len(quant.scales)):
                raise ValueError(f"tensor {name!r}: {len(quant.scales)} scales do not match dimension {quant.axis} "
                                 f"of shape {list(shape)}")
            q = S.QuantizationParametersT()
            q.scale = list(quant.scales)
            q.zeroPoint = list(quant.zero_points)
            q.quantizedDimension = quant.axis
            t.quantization = q
        self._tensors.append(t)
        self._shapes.append(shape)
        self._dtypes.append(dtype)
        return len(self._tensors) - 1

    def shape(self, index: int) -> tuple[int, ...]:
        """The shape tensor ``index`` was given."""
        return self._shapes[index]

    def dtype(self, index: int) -> str:
        """The dtype name tensor ``index`` was given."""
        return self._dtypes[index]

    @property
    def tensor_count(self) -> int:
        return len(self._tensors)

    # ------------------------------------------------------------------ operators

    def operator(self, op: str, inputs: Sequence[int], outputs: Sequence[int],
                 options: Mapping[str, Any] | None = None, *, version: int = 1,
                 options_type: str | None = None) -> int:
        """Append builtin ``op`` (e.g. ``"CONV_2D"``) reading ``inputs`` and writing ``outputs``; returns its index.

        ``inputs`` may hold -1 for an omitted optional input (a FULLY_CONNECTED without bias).
        ``options`` set fields of the op's options table (``OPTIONS_TYPES[op]`` or ``options_type``), by
        snake_case name.
        """
        for i in (*inputs, *outputs):
            if not (i == -1 or 0 <= i < len(self._tensors)):
                raise ValueError(f"{op}: tensor index {i} does not exist (the model has {len(self._tensors)})")
        key = (op, int(version))
        if key not in self._code_index:
            code = S.OperatorCodeT()
            value = builtin_code(op)
            code.builtinCode = value
            code.deprecatedBuiltinCode = min(value, 127)  # codes above 127 live in builtinCode only
            code.version = int(version)
            self._codes.append(code)
            self._code_index[key] = len(self._codes) - 1
        o = S.OperatorT()
        o.opcodeIndex = self._code_index[key]
        o.inputs = [int(i) for i in inputs]
        o.outputs = [int(i) for i in outputs]
        table = options_type or OPTIONS_TYPES.get(op)
        if table is None and options:
            raise ValueError(f"{op}: no options table known; pass options_type= to set {sorted(options)}")
        if table is not None:
            o.builtinOptionsType = getattr(S.BuiltinOptions, table)
            o.builtinOptions = _options(table, options or {})
        self._operators.append(o)
        return len(self._operators) - 1

    # ------------------------------------------------------------------ output

    def model(self, inputs: Sequence[int], outputs: Sequence[int]) -> Any:
        """The schema's object tree (``ModelT``) of the model built so far."""
        for i in (*inputs, *outputs):
            if not 0 <= i < len(self._tensors):
                raise ValueError(f"subgraph input/output {i} is not a tensor (the model has {len(self._tensors)})")
        sub = S.SubGraphT()
        sub.tensors = list(self._tensors)
        sub.inputs = [int(i) for i in inputs]
        sub.outputs = [int(i) for i in outputs]
        sub.operators = list(self._operators)
        sub.name = "main"
        model = S.ModelT()
        model.version = SCHEMA_VERSION
        model.operatorCodes = list(self._codes)
        model.subgraphs = [sub]
        model.description = self.description
        model.buffers = list(self._buffers)
        return model

    def build(self, inputs: Sequence[int], outputs: Sequence[int]) -> bytes:
        """The ``.tflite`` bytes, with ``inputs``/``outputs`` (tensor indices) as the subgraph's I/O."""
        return pack(self.model(inputs, outputs))


def _options(table: str, values: Mapping[str, Any]) -> Any:
    cls = getattr(S, table + "T", None)
    if cls is None:
        raise ValueError(f"{table!r} is not a BuiltinOptions table of the schema")
    opts = cls()
    for name, value in values.items():
        field = _camel(name)
        if not hasattr(opts, field):
            known = sorted(_snake(k) for k in vars(opts))
            raise ValueError(f"{table} has no field {name!r} (it has {known})")
        if isinstance(value, str) and field in _OPTION_ENUMS:
            member = getattr(_OPTION_ENUMS[field], value, None)
            if not isinstance(member, int):
                raise ValueError(f"{table}.{name}: {value!r} is not a member of {_OPTION_ENUMS[field].__name__}")
            value = member
        setattr(opts, field, value)
    return opts


def _camel(name: str) -> str:
    """``stride_w`` -> ``strideW`` (the object API's attribute names)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name).lstrip("_")


def pack(model: Any) -> bytes:
    """Serialize a schema object tree (``ModelT``) to ``.tflite`` bytes (``TFL3`` file identifier)."""
    try:
        import flatbuffers
    except ImportError as exc:  # pragma: no cover - ai-edge-litert depends on flatbuffers
        raise MissingDependency(f"Building .tflite files needs the 'flatbuffers' package ({exc}).",
                                hint="pip install flatbuffers") from exc
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def unpack(data: bytes) -> Any:
    """The schema's object tree (``ModelT``) of ``.tflite`` bytes, to edit and :func:`pack` again.

    No bounds checks: for models built here, never for a user's file (read those with
    :func:`edgekit.tflite.model.parse_model`).
    """
    return S.ModelT.InitFromPackedBuf(data, 0)


__all__ = ["FILE_IDENTIFIER", "OPTIONS_TYPES", "Quant", "TFLiteBuilder", "builtin_code", "pack", "tensor_type",
           "unpack"]
