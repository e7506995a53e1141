"""Bounded reads of the TFLite flatbuffer tables the reader needs, without the generated schema module.

``ai_edge_litert.schema_py_generated`` defines ~480 classes; executing it costs more CPU than the rest of
reading a small model (docs/BENCHMARKS.md, "verify start-up"), and on a small board every start pays it. The
reader needs ten tables (Model, OperatorCode, SubGraph, Tensor, QuantizationParameters, Operator, Buffer,
Metadata, SignatureDef, TensorMap). Their field slots below are the schema's (schema.fbs); the schema only ever
appends fields, so a slot never changes meaning. tests/test_tflite_flat.py checks every slot and every value
read here against the generated module of the installed runtime, on real models.

Operator options (one of ~150 option tables) are decoded with the generated module, and only when asked for
(:attr:`edgekit.tflite.model.Operator.options`).

Every offset is checked against the buffer before it is read: a damaged file raises :class:`FlatError`
(the reader turns it into a ModelFormatError naming the file), never reads outside the buffer, and a vector
is never walked past what the file could hold.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import numpy as np

from edgekit.errors import ModelFormatError

_U8 = struct.Struct("<B")
_I8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class FlatError(ValueError):
    """An offset or length that points outside the buffer."""


@contextmanager
def damage_is_format_error(what: str) -> Iterator[None]:
    """Turn anything a damaged flatbuffer raises (this module's FlatError, the flatbuffers library's
    anything) into a ModelFormatError that says ``what`` was being read; a ModelFormatError passes as is."""
    try:
        yield
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(f"{what} ({type(exc).__name__} while reading the flatbuffer).",
                               hint="Convert the model again or copy the file whole.") from exc


# field slots (schema.fbs order) of the tables the reader walks
class ModelSlot:
    VERSION: Final = 0
    OPERATOR_CODES: Final = 1
    SUBGRAPHS: Final = 2
    DESCRIPTION: Final = 3
    BUFFERS: Final = 4
    METADATA: Final = 6
    SIGNATURE_DEFS: Final = 7


class OperatorCodeSlot:
    DEPRECATED_BUILTIN_CODE: Final = 0
    CUSTOM_CODE: Final = 1
    VERSION: Final = 2
    BUILTIN_CODE: Final = 3


class SubGraphSlot:
    TENSORS: Final = 0
    INPUTS: Final = 1
    OUTPUTS: Final = 2
    OPERATORS: Final = 3
    NAME: Final = 4


class TensorSlot:
    SHAPE: Final = 0
    TYPE: Final = 1
    BUFFER: Final = 2
    NAME: Final = 3
    QUANTIZATION: Final = 4
    IS_VARIABLE: Final = 5
    SPARSITY: Final = 6
    SHAPE_SIGNATURE: Final = 7


class QuantSlot:
    SCALE: Final = 2
    ZERO_POINT: Final = 3
    QUANTIZED_DIMENSION: Final = 6


class OperatorSlot:
    OPCODE_INDEX: Final = 0
    INPUTS: Final = 1
    OUTPUTS: Final = 2
    BUILTIN_OPTIONS_TYPE: Final = 3
    BUILTIN_OPTIONS: Final = 4
    CUSTOM_OPTIONS: Final = 5
    BUILTIN_OPTIONS_2_TYPE: Final = 11
    BUILTIN_OPTIONS_2: Final = 12


class BufferSlot:
    DATA: Final = 0
    OFFSET: Final = 1
    SIZE: Final = 2


class MetadataSlot:
    NAME: Final = 0


class SignatureDefSlot:
    INPUTS: Final = 0
    OUTPUTS: Final = 1
    SIGNATURE_KEY: Final = 2
    SUBGRAPH_INDEX: Final = 4


class TensorMapSlot:
    NAME: Final = 0
    TENSOR_INDEX: Final = 1


class Table:
    """One flatbuffer table: ``pos`` is where it starts in ``buf``."""

    __slots__ = ("buf", "pos", "_vtable", "_vtable_len")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        vtable = pos - _read(_I32, buf, pos)
        self._vtable = vtable
        self._vtable_len = _read(_U16, buf, vtable)

    def _field(self, slot: int) -> int:
        """The field's absolute position, 0 when the table does not have it."""
        entry = 4 + 2 * slot
        if entry + 2 > self._vtable_len:
            return 0
        rel = _read(_U16, self.buf, self._vtable + entry)
        return self.pos + rel if rel else 0

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def u8(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        return _read(_U8, self.buf, at) if at else default

    def i8(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        return _read(_I8, self.buf, at) if at else default

    def i32(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        return _read(_I32, self.buf, at) if at else default

    def u32(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        return _read(_U32, self.buf, at) if at else default

    def u64(self, slot: int, default: int = 0) -> int:
        at = self._field(slot)
        return _read(_U64, self.buf, at) if at else default

    def _indirect(self, slot: int) -> int:
        at = self._field(slot)
        return at + _read(_U32, self.buf, at) if at else 0

    def table(self, slot: int) -> Table | None:
        at = self._indirect(slot)
        return Table(self.buf, at) if at else None

    def table_pos(self, slot: int) -> int:
        """Where a sub-table starts (0 when absent), for the generated module to decode."""
        return self._indirect(slot)

    def string(self, slot: int) -> bytes | None:
        at = self._indirect(slot)
        if not at:
            return None
        n = _read(_U32, self.buf, at)
        _span(self.buf, at + 4, n)
        return self.buf[at + 4 : at + 4 + n]

    def vector(self, slot: int, elem_bytes: int) -> tuple[int, int]:
        """(start, length) of a vector field; (0, 0) when absent. The whole vector lies inside the buffer."""
        at = self._indirect(slot)
        if not at:
            return 0, 0
        n = _read(_U32, self.buf, at)
        _span(self.buf, at + 4, n * elem_bytes)
        return at + 4, n

    def numbers(self, slot: int, dtype: str) -> np.ndarray | None:
        """A vector of numbers as a read-only numpy view (None when absent)."""
        kind = np.dtype(dtype).newbyteorder("<")
        start, n = self.vector(slot, kind.itemsize)
        if not start:
            return None
        return np.frombuffer(self.buf, dtype=kind, count=n, offset=start)

    def ints(self, slot: int) -> tuple[int, ...]:
        """An int32 vector as a tuple (() when absent)."""
        start, n = self.vector(slot, 4)
        return struct.unpack_from(f"<{n}i", self.buf, start) if n else ()

    def tables(self, slot: int) -> list[Table]:
        """A vector of tables."""
        start, n = self.vector(slot, 4)
        buf = self.buf
        return [Table(buf, start + 4 * i + _read(_U32, buf, start + 4 * i)) for i in range(n)]


def root(buf: bytes) -> Table:
    """The root table of a flatbuffer (the Model of a .tflite)."""
    return Table(buf, _read(_U32, buf, 0))


def _read(fmt: struct.Struct, buf: bytes, at: int) -> int:
    if at < 0 or at + fmt.size > len(buf):
        raise FlatError(f"offset {at} is outside the {len(buf)}-byte buffer")
    value: int = fmt.unpack_from(buf, at)[0]
    return value


def _span(buf: bytes, start: int, length: int) -> None:
    if start < 0 or length < 0 or start + length > len(buf):
        raise FlatError(f"{length} bytes at {start} run past the end of the {len(buf)}-byte buffer")


__all__ = ["FlatError", "Table", "root"]
