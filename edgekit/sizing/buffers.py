"""Where each buffer's bytes live inside a .tflite file, so a copy of the file can be rewritten in place.

The reader (:mod:`edgekit.tflite.model`) gives tensors and their data; it does not say at which byte
offset a buffer's data sits. Pruning only changes values, never sizes, so the what-if sizing and
the pruning of a .tflite rewrite the data bytes in place in a ``bytearray`` copy: nothing else in
the flatbuffer moves. This module walks just enough of the flatbuffer (Model.buffers -> Buffer.data
or Buffer.offset/size) with bounds checks; the file was already validated by the reader.
"""

from __future__ import annotations

import struct

from edgekit.errors import ModelFormatError

# Model table field ids (schema.fbs): version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
_MODEL_BUFFERS = 4
# Buffer table field ids: data 0 ([ubyte]), offset 1 (ulong), size 2 (ulong)
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


def _u32(data: bytes, pos: int) -> int:
    return int(struct.unpack_from("<I", data, pos)[0])


def _field_pos(data: bytes, table: int, field_id: int) -> int | None:
    """Absolute position of a table field's value, or None when the field is absent."""
    vtable = table - int(struct.unpack_from("<i", data, table)[0])
    vt_size = int(struct.unpack_from("<H", data, vtable)[0])
    slot = 4 + 2 * field_id
    if slot + 2 > vt_size:
        return None
    rel = int(struct.unpack_from("<H", data, vtable + slot)[0])
    return table + rel if rel else None


def buffer_ranges(data: bytes, name: str = "<bytes>") -> dict[int, tuple[int, int]]:
    """Buffer index -> (start, length) of its data bytes in ``data``; empty buffers are left out."""
    try:
        root = _u32(data, 0)
        pos = _field_pos(data, root, _MODEL_BUFFERS)
        if pos is None:
            return {}
        vec = pos + _u32(data, pos)
        count = _u32(data, vec)
        if count * 4 > len(data):
            raise ValueError("buffer count beyond file size")
        ranges: dict[int, tuple[int, int]] = {}
        for i in range(count):
            slot = vec + 4 + 4 * i
            table = slot + _u32(data, slot)
            off_pos = _field_pos(data, table, _BUFFER_OFFSET)
            size_pos = _field_pos(data, table, _BUFFER_SIZE)
            offset = int(struct.unpack_from("<Q", data, off_pos)[0]) if off_pos is not None else 0
            size = int(struct.unpack_from("<Q", data, size_pos)[0]) if size_pos is not None else 0
            if offset > 1 and size > 0:
                start, length = offset, size
            else:
                dpos = _field_pos(data, table, _BUFFER_DATA)
                if dpos is None:
                    continue
                dvec = dpos + _u32(data, dpos)
                start, length = dvec + 4, _u32(data, dvec)
            if length == 0:
                continue
            if start + length > len(data):
                raise ValueError(f"buffer {i} beyond file size")
            ranges[i] = (start, length)
        return ranges
    except (struct.error, ValueError) as exc:
        raise ModelFormatError(
            f"{name}: corrupt .tflite while locating weight buffers ({exc}).",
            hint="Convert the model again or copy the file whole.",
        ) from exc
