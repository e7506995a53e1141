"""Sparse constant tensors (TFLite's sparsity format) made dense, and DENSIFY ops folded away.

MediaPipe ships some float16 models with sparse weights: a constant in TFLite's compressed format
(``SparsityParameters``: a traversal order, an optional block map, and per traversal level either DENSE or
SPARSE_CSR metadata) read by a DENSIFY op, whose output a DEQUANTIZE turns into float32. The quantizer reads
dense constants only, so :func:`fold_densify` writes each DENSIFY's output as a dense constant (the same
values) and removes the op; the float16 folding then sees an ordinary float16 constant. The decoding follows
LiteRT's ``FormatConverter::SparseToDense``, level by level with numpy instead of one element at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.requant.objectapi import fold_constant_ops

_DENSE, _SPARSE_CSR = 0, 1
# schema TensorType -> numpy dtype of the values a sparse tensor stores
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 9: np.int8}


def _vector(union: Any) -> np.ndarray:
    """The values of a SparseIndexVector (Int32Vector, Uint16Vector or Uint8Vector)."""
    values = getattr(union, "values", None)
    return np.zeros(0, np.int64) if values is None else np.asarray(values, np.int64)


def sparse_to_dense(values: np.ndarray, shape: tuple[int, ...], traversal: list[int], block_map: list[int],
                    levels: list[tuple[int, int, np.ndarray, np.ndarray]]) -> np.ndarray:
    """The dense array of ``shape`` that the compressed ``values`` hold. ``levels``, one per traversal
    entry: (format, dense size, array segments, array indices)."""
    rank = len(shape)
    prev = np.zeros(1, np.int64)  # per entry so far: its position, which indexes the next level's segments
    coords: list[np.ndarray] = []
    for fmt, size, segments, indices in levels:
        if fmt == _DENSE:
            nxt = (prev[:, None] * size + np.arange(size)).ravel()
            coords = [np.repeat(c, size) for c in coords] + [np.tile(np.arange(size), prev.size)]
        elif fmt == _SPARSE_CSR:
            starts, ends = segments[prev], segments[prev + 1]
            counts = ends - starts
            nxt = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
            coords = [np.repeat(c, counts) for c in coords] + [indices[nxt]]
        else:
            raise ValueError(f"unknown dimension format {fmt}")
        prev = nxt
    if prev.size != values.size:
        raise ValueError(f"the sparsity metadata addresses {prev.size} values, the buffer holds {values.size}")
    expanded: list[np.ndarray] = [np.zeros(0, np.int64)] * len(traversal)
    for level, dim in enumerate(traversal):
        expanded[dim] = coords[level]
    original = expanded[:rank]
    for j, dim in enumerate(block_map):
        block_size = levels[traversal.index(rank + j)][1]
        original[dim] = original[dim] * block_size + expanded[rank + j]
    dense = np.zeros(shape, values.dtype)
    if values.size:
        dense[tuple(original)] = values
    return dense


def _dense(model_t: Any, tensor: Any) -> np.ndarray | None:
    """The dense values of a sparse constant; None for a tensor that is not one."""
    sp, buf = tensor.sparsity, model_t.buffers[tensor.buffer]
    if sp is None or buf.data is None or tensor.type not in _DTYPES:
        return None
    values = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), _DTYPES[tensor.type])
    levels = [(int(d.format), int(d.denseSize), _vector(d.arraySegments), _vector(d.arrayIndices))
              for d in sp.dimMetadata]
    return sparse_to_dense(values, tuple(int(v) for v in tensor.shape), list(sp.traversalOrder),
                           list(sp.blockMap) if sp.blockMap is not None else [], levels)


def fold_densify(model_t: Any) -> int:
    """Replace every DENSIFY of a sparse constant by a dense constant, in place; returns the count."""
    return fold_constant_ops(model_t, "DENSIFY", _dense)
