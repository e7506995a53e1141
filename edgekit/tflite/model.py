"""A TensorFlow-free reader for .tflite files.

Choice: we parse with ``ai_edge_litert.schema_py_generated``, the flatbuffer
schema module that the LiteRT wheel ships. ai-edge-litert is already a base
dependency (it is the runtime on the Pi), so the reader costs no extra package,
and its schema is the one the runtime we run was built from — including the
newest builtin ops (extended builtin codes) and BuiltinOptions2. The ``tflite``
package on PyPI is a separate, older copy of the schema that lags behind.

The Python flatbuffers library does no verification, and a hostile file could
claim a vector of two billion elements. Every vector length read here is checked
against the file size before it is walked, so reading is bounded by the file's
size; anything inconsistent becomes a :class:`ModelFormatError` naming the file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.quant import QuantKind, dequantize, quantize
from edgekit.errors import ModelFormatError
from edgekit.tflite import _schema as S

# TensorType -> numpy dtype name (non-numeric types keep a descriptive name).
_DTYPES: dict[int, str] = {
    S.TensorType.FLOAT32: "float32",
    S.TensorType.FLOAT16: "float16",
    S.TensorType.INT32: "int32",
    S.TensorType.UINT8: "uint8",
    S.TensorType.INT64: "int64",
    S.TensorType.STRING: "string",
    S.TensorType.BOOL: "bool",
    S.TensorType.INT16: "int16",
    S.TensorType.COMPLEX64: "complex64",
    S.TensorType.INT8: "int8",
    S.TensorType.FLOAT64: "float64",
    S.TensorType.COMPLEX128: "complex128",
    S.TensorType.UINT64: "uint64",
    S.TensorType.RESOURCE: "resource",
    S.TensorType.VARIANT: "variant",
    S.TensorType.UINT32: "uint32",
    S.TensorType.UINT16: "uint16",
    S.TensorType.INT4: "int4",
    S.TensorType.BFLOAT16: "bfloat16",
}
_NUMPY_DTYPES = {
    "float32", "float16", "int32", "uint8", "int64", "bool", "int16", "complex64",
    "int8", "float64", "complex128", "uint64", "uint32", "uint16",
}


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


_OP_NAMES = _enum_names(S.BuiltinOperator)
_PADDING = _enum_names(S.Padding)
_ACTIVATION = _enum_names(S.ActivationFunctionType)
_TENSOR_TYPE = _enum_names(S.TensorType)
# option field (camelCase in the schema) -> enum whose names we show instead of ints
_OPTION_ENUMS: dict[str, dict[int, str]] = {
    "padding": _PADDING,
    "fusedActivationFunction": _ACTIVATION,
    "weightsFormat": _enum_names(S.FullyConnectedOptionsWeightsFormat),
    "kernelType": _enum_names(S.LSTMKernelType),
    "combiner": _enum_names(S.CombinerType),
    "mode": _enum_names(S.MirrorPadMode),
    "outType": _TENSOR_TYPE,
    "outputType": _TENSOR_TYPE,
    "inDataType": _TENSOR_TYPE,
    "outDataType": _TENSOR_TYPE,
    "idxOutType": _TENSOR_TYPE,
}

TFLITE_IDENTIFIER = b"TFL3"


@dataclass(frozen=True)
class QuantParams:
    scales: np.ndarray
    zero_points: np.ndarray
    quantized_dimension: int

    @property
    def scale(self) -> float:
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0

    @property
    def per_channel(self) -> bool:
        return int(self.scales.size) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale if not self.per_channel else [float(s) for s in self.scales],
            "zero_point": self.zero_point if not self.per_channel else [int(z) for z in self.zero_points],
            "quantized_dimension": self.quantized_dimension,
        }


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    quant: QuantParams | None
    buffer: int
    is_constant: bool
    nbytes: int
    is_variable: bool
    sparse: bool
    _data: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    @property
    def is_quantized(self) -> bool:
        """An integer tensor with a (first) scale: its values stand for ``scale * (q - zero_point)``."""
        return (self.quant is not None and self.quant.scales.size > 0 and self.quant.scale > 0
                and self.dtype not in ("float32", "float16", "float64", "bfloat16"))

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Float-domain values -> what this tensor holds (with its scale/zero point when it is quantized)."""
        q = self.quant
        if self.is_quantized and q is not None:
            return quantize(values, self.dtype, q.scale, q.zero_point)
        return quantize(values, self.dtype, None)

    def dequantize(self, values: np.ndarray) -> np.ndarray:
        """This tensor's raw values -> float32 (dequantized when it is quantized; other integers unchanged)."""
        q = self.quant
        if self.is_quantized and q is not None:
            return dequantize(values, q.scale, q.zero_point)
        return dequantize(values, None)

    @property
    def num_elements(self) -> int:
        return int(np.prod([max(d, 1) for d in self.shape], dtype=np.int64)) if self.shape else 1

    def data(self) -> np.ndarray | None:
        """The constant data, shaped (None for activations, strings, sparse or odd-typed tensors)."""
        if self._data is None or self.dtype not in _NUMPY_DTYPES or self.sparse:
            return None
        itemsize = np.dtype(self.dtype).itemsize
        if len(self._data) != self.num_elements * itemsize:  # a damaged buffer (found by tests/test_fuzz_inputs.py)
            raise ModelFormatError(
                f"tensor '{self.name}' (#{self.index}) has {len(self._data)} bytes of constant data, but shape "
                f"{list(self.shape)} of {self.dtype} needs {self.num_elements * itemsize}.",
                hint="The file is damaged; convert the model again or copy the file whole.",
            )
        return np.frombuffer(self._data, dtype=np.dtype(self.dtype)).reshape(self.shape)


@dataclass(frozen=True)
class Operator:
    index: int
    name: str
    builtin_code: int
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]

    @property
    def builtin(self) -> bool:
        return self.custom_code is None


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


@dataclass(frozen=True)
class Signature:
    key: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    subgraph_index: int


@dataclass(frozen=True)
class TFLiteModel:
    path: Path | None
    size_bytes: int
    sha256: str
    schema_version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    signatures: tuple[Signature, ...]
    metadata_names: tuple[str, ...]

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def inputs(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.inputs]

    @property
    def outputs(self) -> list[Tensor]:
        return [self.main.tensors[i] for i in self.main.outputs]

    @property
    def display_name(self) -> str:
        return str(self.path) if self.path else "<bytes>"

    @cached_property
    def weight_bytes(self) -> int:
        """Bytes of constant tensor data, each buffer counted once."""
        seen: dict[int, int] = {}
        for sg in self.subgraphs:
            for t in sg.tensors:
                if t.is_constant:
                    seen[t.buffer] = t.nbytes
        return sum(seen.values())

    @property
    def custom_ops(self) -> list[str]:
        return sorted({op.custom_code or "" for sg in self.subgraphs for op in sg.operators if not op.builtin})

    def op_histogram(self) -> dict[str, int]:
        counts = Counter(op.name for op in self.main.operators)
        return dict(counts.most_common())

    @cached_property
    def quant_kind(self) -> QuantKind:
        return detect_quant_kind(self)

    def parameter_count(self) -> int:
        return sum(t.num_elements for sg in self.subgraphs for t in sg.tensors if t.is_constant and t.nbytes)


# ops whose float inputs are just the model's boundary converters
_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}
# custom ops that finish a quantized detector in float on the CPU (box decoding + NMS)
_POSTPROCESS_OPS = {"TFLite_Detection_PostProcess"}
_WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D",
               "BATCH_MATMUL", "EMBEDDING_LOOKUP", "UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM", "SVDF"}
_FLOAT = {"float32", "float16", "float64", "bfloat16"}


def detect_quant_kind(model: TFLiteModel) -> QuantKind:
    """Classify from the main subgraph's activations and weights."""
    sg = model.main
    producers: dict[int, Operator] = {}
    consumers: dict[int, list[Operator]] = {}
    for op in sg.operators:
        for o in op.outputs:
            producers[o] = op
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(i, []).append(op)

    def feeds_postprocess(t: Tensor) -> bool:
        users = consumers.get(t.index, [])
        return bool(users) and all(op.custom_code in _POSTPROCESS_OPS for op in users)

    def is_boundary(t: Tensor) -> bool:
        # a float model input only quantized, or a float output only dequantized; and the float tail of a
        # detector: the detection post-processing op's inputs (dequantized) and outputs, as exporters write it
        if t.index in sg.inputs:
            return all(op.name in _BOUNDARY_OPS for op in consumers.get(t.index, [])) and bool(consumers.get(t.index))
        prod = producers.get(t.index)
        if prod is not None and prod.custom_code in _POSTPROCESS_OPS:
            return True
        if prod is not None and prod.name == "DEQUANTIZE" and feeds_postprocess(t):
            return True
        return t.index in sg.outputs and prod is not None and prod.name in _BOUNDARY_OPS

    float_acts = int8_acts = int16_acts = 0
    for t in sg.tensors:
        if t.is_constant or t.is_variable:
            continue
        if t.index not in producers and t.index not in sg.inputs:
            continue
        if t.dtype in _FLOAT and not is_boundary(t):
            float_acts += 1
        elif t.dtype in ("int8", "uint8") and t.quant is not None:
            int8_acts += 1
        elif t.dtype == "int16" and t.quant is not None:
            int16_acts += 1

    int8_weights = f16_weights = 0
    for op in sg.operators:
        for i in op.inputs[1:2] if op.name in _WEIGHT_OPS else ():
            if i >= 0 and sg.tensors[i].is_constant and sg.tensors[i].dtype in ("int8", "int4"):
                int8_weights += 1
        if op.name == "DEQUANTIZE" and op.inputs and op.inputs[0] >= 0:
            src = sg.tensors[op.inputs[0]]
            if src.is_constant and src.dtype == "float16":
                f16_weights += 1
            elif src.is_constant and src.dtype in ("int8", "int4"):
                int8_weights += 1

    if float_acts == 0 and int16_acts:
        return QuantKind.INT16X8
    if float_acts == 0 and int8_acts:
        return QuantKind.INT8
    if float_acts and (int8_acts or int16_acts):
        return QuantKind.MIXED
    if float_acts and int8_weights:
        return QuantKind.DYNAMIC_RANGE
    if f16_weights:
        return QuantKind.FLOAT16
    return QuantKind.FLOAT32


# ----------------------------------------------------------------------------------------------- parsing


class _Bounds:
    """Rejects vector lengths that cannot fit in the file (a flatbuffer is not verified by the library)."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name

    def check(self, length: int, elem_bytes: int, what: str) -> int:
        if length < 0 or length * elem_bytes > self.size:
            raise ModelFormatError(
                f"{self.name}: corrupt .tflite ({what} claims {length} entries in a {self.size}-byte file).",
                hint="The file is truncated or damaged; convert the model again.",
            )
        return length


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
    result: dict[str, Any] = {}
    for key, value in vars(obj).items():
        enum = _OPTION_ENUMS.get(key)
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


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def _int_vector(table: Any, name: str, bounds: _Bounds) -> tuple[int, ...]:
    if getattr(table, f"{name}IsNone")():
        return ()
    bounds.check(getattr(table, f"{name}Length")(), 4, name)
    return tuple(int(v) for v in getattr(table, f"{name}AsNumpy")())


def _quant(t: Any, bounds: _Bounds) -> QuantParams | None:
    q = t.Quantization()
    if q is None or q.ScaleIsNone() or q.ScaleLength() == 0:
        return None
    bounds.check(q.ScaleLength(), 4, "quantization scales")
    scales = np.asarray(q.ScaleAsNumpy(), dtype=np.float32).copy()
    if q.ZeroPointIsNone():
        zps = np.zeros(scales.shape, dtype=np.int64)
    else:
        bounds.check(q.ZeroPointLength(), 8, "quantization zero points")
        zps = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64).copy()
    return QuantParams(scales=scales, zero_points=zps, quantized_dimension=int(q.QuantizedDimension()))


def _buffer_bytes(model: Any, index: int, data: bytes, bounds: _Bounds) -> bytes | None:
    if index <= 0 or index >= model.BuffersLength():
        return None
    buf = model.Buffers(index)
    if buf is None:
        return None
    offset, size = int(buf.Offset()), int(buf.Size())
    if offset > 1 and size > 0:  # large models keep tensor data after the flatbuffer
        if offset + size > len(data):
            raise ModelFormatError(
                f"{bounds.name}: tensor data at bytes {offset}..{offset + size} lies beyond the end of the "
                f"{len(data)}-byte file.",
                hint="The file is truncated; copy it again.",
            )
        return data[offset : offset + size]
    if buf.DataIsNone() or buf.DataLength() == 0:
        return None
    bounds.check(buf.DataLength(), 1, "buffer data")
    return bytes(buf.DataAsNumpy().tobytes())


# No real tensor has more elements than this (2**40: a terabyte of int8). Larger or negative (< -1)
# dimensions mean a damaged file; found by tests/test_fuzz_inputs.py (int64 overflows downstream).
_MAX_TENSOR_ELEMENTS = 2**40


def _tensor(model: Any, t: Any, index: int, data: bytes, bounds: _Bounds) -> Tensor:
    shape = _int_vector(t, "Shape", bounds)
    signature = _int_vector(t, "ShapeSignature", bounds) or shape
    elements = 1
    for d in shape:
        elements *= max(d, 1)
    if any(d < -1 for d in (*shape, *signature)) or elements > _MAX_TENSOR_ELEMENTS:
        raise ModelFormatError(
            f"{bounds.name}: tensor {index} ('{_text(t.Name())}') has an impossible shape {list(shape)}.",
            hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
        )
    raw = _buffer_bytes(model, int(t.Buffer()), data, bounds)
    dtype = _DTYPES.get(int(t.Type()), f"type{int(t.Type())}")
    if raw is not None and dtype in _NUMPY_DTYPES and t.Sparsity() is None and (
        len(raw) < elements * np.dtype(dtype).itemsize
    ):  # what the runtime refuses too ("required_bytes <= bytes"); found by tests/test_fuzz_inputs.py
        raise ModelFormatError(
            f"{bounds.name}: tensor {index} ('{_text(t.Name())}') has {len(raw)} bytes of data, but shape "
            f"{list(shape)} of {dtype} needs {elements * np.dtype(dtype).itemsize}.",
            hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
        )
    quant = _quant(t, bounds)
    if quant is not None:  # the runtime's own consistency rules (found by tests/test_fuzz_inputs.py)
        n, qdim = len(quant.scales), quant.quantized_dimension
        if len(quant.zero_points) != n or (n > 1 and not (0 <= qdim < len(shape) and shape[qdim] == n)):
            raise ModelFormatError(
                f"{bounds.name}: tensor {index} ('{_text(t.Name())}') has {n} quantization scales and "
                f"{len(quant.zero_points)} zero points for shape {list(shape)} (quantized dimension {qdim}).",
                hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
            )
    return Tensor(
        index=index,
        name=_text(t.Name()),
        shape=shape,
        shape_signature=signature,
        dtype=dtype,
        quant=quant,
        buffer=int(t.Buffer()),
        is_constant=raw is not None,
        nbytes=len(raw) if raw is not None else 0,
        is_variable=bool(t.IsVariable()),
        sparse=t.Sparsity() is not None,
        _data=raw,
    )


def _opcodes(model: Any, bounds: _Bounds) -> list[tuple[str, int, int, str | None]]:
    out: list[tuple[str, int, int, str | None]] = []
    for i in range(bounds.check(model.OperatorCodesLength(), 4, "operator codes")):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == S.BuiltinOperator.CUSTOM:
            custom = _text(oc.CustomCode()) or "?"
            out.append((f"CUSTOM:{custom}", code, int(oc.Version()), custom))
        else:
            out.append((_OP_NAMES.get(code, f"BUILTIN_{code}"), code, int(oc.Version()), None))
    return out


# custom ops whose options (a flexbuffer map of numbers) the cost model reads
_FLEXBUFFER_OPTION_OPS = frozenset({"TFLite_Detection_PostProcess"})


def _custom_options(op: Any, bounds: _Bounds) -> dict[str, Any]:
    """The flexbuffer map of a known custom op's options: numbers and booleans only ({} when unreadable)."""
    n = op.CustomOptionsLength()
    if not n or n * 1 > bounds.size:
        return {}
    try:
        from flatbuffers import flexbuffers

        value = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy().tobytes()))
    except Exception:  # noqa: BLE001 - a malformed blob only loses the options, the model stays readable
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, bool | int | float)}


def _operator(op: Any, index: int, opcodes: list[tuple[str, int, int, str | None]], bounds: _Bounds) -> Operator:
    idx = int(op.OpcodeIndex())
    if idx >= len(opcodes):
        raise ModelFormatError(
            f"{bounds.name}: operator {index} uses opcode {idx} but the model defines {len(opcodes)}.",
            hint="The file is damaged; convert the model again.",
        )
    name, code, version, custom = opcodes[idx]
    options = _options_dict(S.BuiltinOptionsCreator(op.BuiltinOptionsType(), op.BuiltinOptions()))
    if not options and op.BuiltinOptions2Type():
        options = _options_dict(S.BuiltinOptions2Creator(op.BuiltinOptions2Type(), op.BuiltinOptions2()))
    if custom in _FLEXBUFFER_OPTION_OPS:
        options = _custom_options(op, bounds)
    return Operator(
        index=index,
        name=name,
        builtin_code=code,
        version=version,
        custom_code=custom,
        inputs=_int_vector(op, "Inputs", bounds),
        outputs=_int_vector(op, "Outputs", bounds),
        options=options,
    )


def _subgraph(model: Any, sg: Any, index: int, data: bytes, bounds: _Bounds,
              opcodes: list[tuple[str, int, int, str | None]]) -> Subgraph:
    n_tensors = bounds.check(sg.TensorsLength(), 4, "tensors")
    tensors = tuple(_tensor(model, sg.Tensors(i), i, data, bounds) for i in range(n_tensors))
    n_ops = bounds.check(sg.OperatorsLength(), 4, "operators")
    operators = tuple(_operator(sg.Operators(i), i, opcodes, bounds) for i in range(n_ops))
    inputs = _int_vector(sg, "Inputs", bounds)
    outputs = _int_vector(sg, "Outputs", bounds)
    for op in operators:
        for t in (*op.inputs, *op.outputs):
            if t >= n_tensors or t < -1:
                raise ModelFormatError(
                    f"{bounds.name}: operator {op.index} ({op.name}) refers to tensor {t}, but subgraph {index} "
                    f"has {n_tensors} tensors.",
                    hint="The file is damaged; convert the model again.",
                )
    for t in (*inputs, *outputs):
        if not 0 <= t < n_tensors:
            raise ModelFormatError(
                f"{bounds.name}: subgraph {index} input/output tensor {t} does not exist.",
                hint="The file is damaged; convert the model again.",
            )
    return Subgraph(index, _text(sg.Name()), tensors, operators, inputs, outputs)


def _signatures(model: Any, bounds: _Bounds) -> tuple[Signature, ...]:
    sigs = []
    for i in range(bounds.check(model.SignatureDefsLength(), 4, "signatures")):
        sd = model.SignatureDefs(i)
        ins = {_text(sd.Inputs(j).Name()): int(sd.Inputs(j).TensorIndex())
               for j in range(bounds.check(sd.InputsLength(), 4, "signature inputs"))}
        outs = {_text(sd.Outputs(j).Name()): int(sd.Outputs(j).TensorIndex())
                for j in range(bounds.check(sd.OutputsLength(), 4, "signature outputs"))}
        sigs.append(Signature(_text(sd.SignatureKey()), ins, outs, int(sd.SubgraphIndex())))
    return tuple(sigs)


def _sniff_other_format(data: bytes) -> str | None:
    if data[:2] == b"PK":
        return "a zip archive (a Keras .keras file?)"
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file (a Keras .h5 model?)"
    if data[:1] == b"\x08" and b"onnx" in data[:200].lower() or data[:2] == b"\x08\x07" or data[:2] == b"\x08\x08":
        return "an ONNX protobuf (convert it with `edgekit convert`)"
    if data[:1] in (b"{", b"[") or data[:5] == b"<?xml":
        return "a text file"
    return None


def parse_model(data: bytes, name: str = "<bytes>", path: Path | None = None) -> TFLiteModel:
    """Parse .tflite bytes; any inconsistency is a ModelFormatError naming ``name``."""
    if len(data) == 0:
        raise ModelFormatError(f"{name} is empty (0 bytes).", hint="Convert the model again or copy the file whole.")
    if len(data) < 16 or data[4:8] != TFLITE_IDENTIFIER:
        other = _sniff_other_format(data)
        what = f"it looks like {other}" if other else "it lacks the 'TFL3' flatbuffer identifier"
        raise ModelFormatError(
            f"{name} is not a .tflite model: {what}.",
            hint="Pass a .tflite file; `edgekit convert` makes one from .keras, SavedModel or .onnx.",
        )
    bounds = _Bounds(len(data), name)
    try:
        root = int.from_bytes(data[:4], "little")
        if root >= len(data):
            raise ModelFormatError(f"{name}: corrupt .tflite (root offset beyond the file).",
                                   hint="The file is truncated or damaged; convert the model again.")
        model = S.Model.GetRootAs(data, 0)
        opcodes = _opcodes(model, bounds)
        n_sub = bounds.check(model.SubgraphsLength(), 4, "subgraphs")
        if n_sub == 0:
            raise ModelFormatError(f"{name}: the model has no subgraphs.", hint="Convert the model again.")
        bounds.check(model.BuffersLength(), 4, "buffers")
        subgraphs = tuple(_subgraph(model, model.Subgraphs(i), i, data, bounds, opcodes) for i in range(n_sub))
        signatures = _signatures(model, bounds)
        metadata = tuple(
            _text(model.Metadata(i).Name()) for i in range(bounds.check(model.MetadataLength(), 4, "metadata"))
        )
        return TFLiteModel(
            path=path,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            schema_version=int(model.Version()),
            description=_text(model.Description()),
            subgraphs=subgraphs,
            signatures=signatures,
            metadata_names=metadata,
        )
    except ModelFormatError:
        raise
    except Exception as exc:  # the flatbuffers library raises anything on damaged input
        raise ModelFormatError(
            f"{name}: corrupt or truncated .tflite ({type(exc).__name__} while reading the flatbuffer).",
            hint="Convert the model again or copy the file whole.",
        ) from exc


def load_model(path: str | Path) -> TFLiteModel:
    """Read and parse a .tflite file; a clear ModelFormatError/InputError for anything that is not one."""
    p = Path(path)
    from edgekit.errors import InputError

    if not p.exists():
        raise InputError(f"{p} does not exist.", hint="Check the path to the .tflite file.")
    if p.is_dir():
        raise InputError(
            f"{p} is a directory, not a .tflite file.",
            hint="Pass the .tflite file itself (for a bundle folder use `edgekit verify DIR`).",
        )
    try:
        data = p.read_bytes()
    except PermissionError as exc:
        raise InputError(f"{p} is not readable (permission denied).", hint="Check the file's permissions.") from exc
    except OSError as exc:
        raise InputError(f"{p} could not be read: {exc.strerror}.", hint="Check the path.") from exc
    return parse_model(data, name=str(p), path=p)
