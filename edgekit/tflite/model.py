"""A TensorFlow-free reader for .tflite files.

Choice: the ten tables the reader needs (model, subgraphs, tensors, operators, buffers...) are walked by
field slot in :mod:`edgekit.tflite.flat`; an operator's options (one of ~150 tables) are decoded on first
use with ``ai_edge_litert.schema_py_generated``, the flatbuffer schema module the LiteRT wheel ships — the
one the runtime we run was built from, including the newest builtin ops and BuiltinOptions2. Executing
that module costs more CPU than the rest of reading a small model, and `verify` on a board never needs
options (docs/BENCHMARKS.md, "verify start-up"). Op names come from :mod:`edgekit.tflite.names`, made from
the same schema (a code it lacks is looked up in the runtime's schema). tests/test_tflite_flat.py checks
every value read here against the generated module.

A hostile file could claim a vector of two billion elements. Every offset and vector length is checked
against the file size before it is read, so reading is bounded by the file's size; anything inconsistent
becomes a :class:`ModelFormatError` naming the file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.quant import QuantKind, dequantize, quantize
from edgekit.errors import ModelFormatError
from edgekit.tflite import flat, names
from edgekit.tflite.flat import (
    BufferSlot,
    MetadataSlot,
    ModelSlot,
    OperatorCodeSlot,
    OperatorSlot,
    QuantSlot,
    SignatureDefSlot,
    SubGraphSlot,
    TensorMapSlot,
    TensorSlot,
)
from edgekit.tflite.options import FLEXBUFFER_OPTION_OPS, OptionsSource, decode

# TensorType -> numpy dtype name (non-numeric types keep a descriptive name).
_DTYPES: dict[int, str] = {code: name.lower() for code, name in names.TENSOR_TYPE.items()}
_NUMPY_DTYPES = {
    "float32", "float16", "int32", "uint8", "int64", "bool", "int16", "complex64",
    "int8", "float64", "complex128", "uint64", "uint32", "uint16",
}


TFLITE_IDENTIFIER = b"TFL3"


@dataclass(frozen=True)
class QuantParams:
    """A tensor's quantization: one scale/zero point per tensor, or per channel along ``quantized_dimension``."""

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
    """One tensor of a subgraph: shape, dtype, quantization and (for constants) a view of its data."""

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
    _data: memoryview | None = field(default=None, repr=False, compare=False)  # a view of the file's bytes

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


# an IF operator's options naming its then- and else-branch subgraphs
IF_BRANCHES = ("then_subgraph_index", "else_subgraph_index")


@dataclass(frozen=True)
class Operator:
    """One operator of a subgraph: its op (builtin name or ``CUSTOM:code``), tensors and options."""

    index: int
    name: str
    builtin_code: int
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    _options: OptionsSource | None = field(default=None, repr=False, compare=False)

    @cached_property
    def options(self) -> dict[str, Any]:
        """The op's options (padding, strides, activation...): decoded on first use, {} when it has none."""
        return {} if self._options is None else decode(self._options)

    @property
    def builtin(self) -> bool:
        return self.custom_code is None


@dataclass(frozen=True)
class Subgraph:
    """One subgraph: its tensors and operators, and which tensors are its inputs and outputs."""

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
    """A signature: names of the inputs and outputs of one subgraph, by tensor index."""

    key: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    subgraph_index: int


@dataclass(frozen=True)
class TFLiteModel:
    """A parsed .tflite file (main subgraph first), as the reader checked it."""

    path: Path | None
    size_bytes: int
    schema_version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    signatures: tuple[Signature, ...]
    metadata_names: tuple[str, ...]
    _bytes: bytes = field(default=b"", repr=False, compare=False)  # the file (tensors' data are views of it)

    @cached_property
    def sha256(self) -> str:
        """The file's sha256 (hex), computed when first asked for: `verify` checks the bundle's hash itself."""
        import hashlib  # its OpenSSL binding costs milliseconds of every start-up that does not need it

        return hashlib.sha256(self._bytes).hexdigest()

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

    @property
    def computes_shapes(self) -> bool:
        """A SHAPE op, or a RESHAPE whose target is computed, in the main subgraph: the graph works out tensor
        shapes at run time, and the shapes the file stores after them may be placeholders."""
        sg = self.main
        return any(op.name == "SHAPE" or (op.name == "RESHAPE" and len(op.inputs) > 1 and op.inputs[1] >= 0
                                          and not sg.tensor(op.inputs[1]).is_constant) for op in sg.operators)

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
            if i >= 0 and sg.tensors[i].is_constant and sg.tensors[i].dtype in ("int8", "uint8", "int4"):
                int8_weights += 1  # uint8: TF1-era hybrid files (facex's model)
        if op.name == "DEQUANTIZE" and op.inputs and op.inputs[0] >= 0:
            src = sg.tensors[op.inputs[0]]
            if src.is_constant and src.dtype == "float16":
                f16_weights += 1
            elif src.is_constant and src.dtype in ("int8", "uint8", "int4"):
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


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def _quant(t: flat.Table, bounds: _Bounds) -> QuantParams | None:
    q = t.table(TensorSlot.QUANTIZATION)
    if q is None:
        return None
    scale = q.numbers(QuantSlot.SCALE, "float32")
    if scale is None or scale.size == 0:
        return None
    bounds.check(scale.size, 4, "quantization scales")
    scales = scale.astype(np.float32)  # a copy: the view would pin the file's bytes
    zero_point = q.numbers(QuantSlot.ZERO_POINT, "int64")
    zps = np.zeros(scales.shape, dtype=np.int64) if zero_point is None else zero_point.astype(np.int64)
    return QuantParams(scales=scales, zero_points=zps, quantized_dimension=q.i32(QuantSlot.QUANTIZED_DIMENSION))


def _buffer_bytes(buffers: list[flat.Table], index: int, data: memoryview, bounds: _Bounds) -> memoryview | None:
    """A tensor's constant data: a view of the file's bytes (no copy; the model keeps the bytes once)."""
    if index <= 0 or index >= len(buffers):
        return None
    buf = buffers[index]
    offset, size = buf.u64(BufferSlot.OFFSET), buf.u64(BufferSlot.SIZE)
    if offset > 1 and size > 0:  # large models keep tensor data after the flatbuffer
        if offset + size > len(data):
            raise ModelFormatError(
                f"{bounds.name}: tensor data at bytes {offset}..{offset + size} lies beyond the end of the "
                f"{len(data)}-byte file.",
                hint="The file is truncated; copy it again.",
            )
        return data[offset : offset + size]
    start, n = buf.vector(BufferSlot.DATA, 1)
    return data[start : start + n] if n else None


# No real tensor has more elements than this (2**40: a terabyte of int8). Larger or negative (< -1)
# dimensions mean a damaged file; found by tests/test_fuzz_inputs.py (int64 overflows downstream).
_MAX_TENSOR_ELEMENTS = 2**40


def _tensor(buffers: list[flat.Table], t: flat.Table, index: int, data: memoryview, bounds: _Bounds) -> Tensor:
    shape = t.ints(TensorSlot.SHAPE)
    signature = t.ints(TensorSlot.SHAPE_SIGNATURE) or shape
    name = _text(t.string(TensorSlot.NAME))
    elements = 1
    for d in shape:
        elements *= max(d, 1)
    if any(d < -1 for d in (*shape, *signature)) or elements > _MAX_TENSOR_ELEMENTS:
        raise ModelFormatError(
            f"{bounds.name}: tensor {index} ('{name}') has an impossible shape {list(shape)}.",
            hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
        )
    buffer = t.u32(TensorSlot.BUFFER)
    raw = _buffer_bytes(buffers, buffer, data, bounds)
    type_code = t.i8(TensorSlot.TYPE)
    dtype = _DTYPES.get(type_code, f"type{type_code}")
    sparse = t.has(TensorSlot.SPARSITY)
    if raw is not None and dtype in _NUMPY_DTYPES and not sparse and (
        len(raw) < elements * np.dtype(dtype).itemsize
    ):  # what the runtime refuses too ("required_bytes <= bytes"); found by tests/test_fuzz_inputs.py
        raise ModelFormatError(
            f"{bounds.name}: tensor {index} ('{name}') has {len(raw)} bytes of data, but shape "
            f"{list(shape)} of {dtype} needs {elements * np.dtype(dtype).itemsize}.",
            hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
        )
    quant = _quant(t, bounds)
    if quant is not None:  # the runtime's own consistency rules (found by tests/test_fuzz_inputs.py)
        n, qdim = len(quant.scales), quant.quantized_dimension
        if len(quant.zero_points) != n or (n > 1 and not (0 <= qdim < len(shape) and shape[qdim] == n)):
            raise ModelFormatError(
                f"{bounds.name}: tensor {index} ('{name}') has {n} quantization scales and "
                f"{len(quant.zero_points)} zero points for shape {list(shape)} (quantized dimension {qdim}).",
                hint="The file is damaged or was not written by a TFLite converter; convert the model again.",
            )
    return Tensor(
        index=index,
        name=name,
        shape=shape,
        shape_signature=signature,
        dtype=dtype,
        quant=quant,
        buffer=buffer,
        is_constant=raw is not None,
        nbytes=len(raw) if raw is not None else 0,
        is_variable=bool(t.u8(TensorSlot.IS_VARIABLE)),
        sparse=sparse,
        _data=raw,
    )


def _op_name(code: int) -> str:
    known = names.BUILTIN_OPERATOR.get(code)
    if known is not None:
        return known
    # an op newer than edgekit's table: the installed runtime's schema may know it
    from edgekit.tflite import _schema as S  # noqa: N812

    for name, value in vars(S.BuiltinOperator).items():
        if value == code and not name.startswith("_"):
            return str(name)
    return f"BUILTIN_{code}"


_CUSTOM_CODE = 32  # BuiltinOperator.CUSTOM


def _opcodes(model: flat.Table, bounds: _Bounds) -> list[tuple[str, int, int, str | None]]:
    out: list[tuple[str, int, int, str | None]] = []
    for oc in model.tables(ModelSlot.OPERATOR_CODES):
        code = max(oc.i32(OperatorCodeSlot.BUILTIN_CODE), oc.i8(OperatorCodeSlot.DEPRECATED_BUILTIN_CODE))
        version = oc.i32(OperatorCodeSlot.VERSION, 1)
        if code == _CUSTOM_CODE:
            custom = _text(oc.string(OperatorCodeSlot.CUSTOM_CODE)) or "?"
            out.append((f"CUSTOM:{custom}", code, version, custom))
        else:
            out.append((_op_name(code), code, version, None))
    return out


def _operator(op: flat.Table, index: int, opcodes: list[tuple[str, int, int, str | None]], bounds: _Bounds) -> Operator:
    idx = op.u32(OperatorSlot.OPCODE_INDEX)
    if idx >= len(opcodes):
        raise ModelFormatError(
            f"{bounds.name}: operator {index} uses opcode {idx} but the model defines {len(opcodes)}.",
            hint="The file is damaged; convert the model again.",
        )
    name, code, version, custom = opcodes[idx]
    custom_blob = None
    if custom in FLEXBUFFER_OPTION_OPS:
        start, n = op.vector(OperatorSlot.CUSTOM_OPTIONS, 1)
        custom_blob = op.buf[start : start + n]
    builtin_type, builtin2_type = op.u8(OperatorSlot.BUILTIN_OPTIONS_TYPE), op.u8(OperatorSlot.BUILTIN_OPTIONS_2_TYPE)
    options = None
    if builtin_type or builtin2_type or custom_blob:
        options = OptionsSource(
            op.buf, builtin_type, op.table_pos(OperatorSlot.BUILTIN_OPTIONS) if builtin_type else 0,
            builtin2_type, op.table_pos(OperatorSlot.BUILTIN_OPTIONS_2) if builtin2_type else 0,
            custom_blob, bounds.name,
        )
    return Operator(
        index=index,
        name=name,
        builtin_code=code,
        version=version,
        custom_code=custom,
        inputs=op.ints(OperatorSlot.INPUTS),
        outputs=op.ints(OperatorSlot.OUTPUTS),
        _options=options,
    )


def _subgraph(buffers: list[flat.Table], sg: flat.Table, index: int, data: memoryview, bounds: _Bounds,
              opcodes: list[tuple[str, int, int, str | None]]) -> Subgraph:
    tensors = tuple(_tensor(buffers, t, i, data, bounds) for i, t in enumerate(sg.tables(SubGraphSlot.TENSORS)))
    n_tensors = len(tensors)
    operators = tuple(_operator(op, i, opcodes, bounds) for i, op in enumerate(sg.tables(SubGraphSlot.OPERATORS)))
    inputs = sg.ints(SubGraphSlot.INPUTS)
    outputs = sg.ints(SubGraphSlot.OUTPUTS)
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
    return Subgraph(index, _text(sg.string(SubGraphSlot.NAME)), tensors, operators, inputs, outputs)


def _signatures(model: flat.Table) -> tuple[Signature, ...]:
    sigs = []
    for sd in model.tables(ModelSlot.SIGNATURE_DEFS):
        ins = {_text(m.string(TensorMapSlot.NAME)): m.u32(TensorMapSlot.TENSOR_INDEX)
               for m in sd.tables(SignatureDefSlot.INPUTS)}
        outs = {_text(m.string(TensorMapSlot.NAME)): m.u32(TensorMapSlot.TENSOR_INDEX)
                for m in sd.tables(SignatureDefSlot.OUTPUTS)}
        sigs.append(Signature(_text(sd.string(SignatureDefSlot.SIGNATURE_KEY)), ins, outs,
                              sd.u32(SignatureDefSlot.SUBGRAPH_INDEX)))
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
    data = bytes(data) if not isinstance(data, bytes) else data  # the model keeps views of it: never a mutable buffer
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
    with flat.damage_is_format_error(f"{name}: corrupt or truncated .tflite"):
        root = int.from_bytes(data[:4], "little")
        if root >= len(data):
            raise ModelFormatError(f"{name}: corrupt .tflite (root offset beyond the file).",
                                   hint="The file is truncated or damaged; convert the model again.")
        model = flat.root(data)
        opcodes = _opcodes(model, bounds)
        subgraph_tables = model.tables(ModelSlot.SUBGRAPHS)
        if not subgraph_tables:
            raise ModelFormatError(f"{name}: the model has no subgraphs.", hint="Convert the model again.")
        buffers = model.tables(ModelSlot.BUFFERS)
        view = memoryview(data)
        subgraphs = tuple(_subgraph(buffers, sg, i, view, bounds, opcodes) for i, sg in enumerate(subgraph_tables))
        signatures = _signatures(model)
        metadata = tuple(_text(m.string(MetadataSlot.NAME)) for m in model.tables(ModelSlot.METADATA))
        return TFLiteModel(
            path=path,
            size_bytes=len(data),
            schema_version=model.u32(ModelSlot.VERSION),
            description=_text(model.string(ModelSlot.DESCRIPTION)),
            subgraphs=subgraphs,
            signatures=signatures,
            metadata_names=metadata,
            _bytes=data,
        )


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
