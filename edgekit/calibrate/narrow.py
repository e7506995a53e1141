"""Narrow-row micro-benchmarks and their fit: ``[row_ns]`` (see :mod:`edgekit.profile.rows`).

The suite's efficiency figures come from tensors 16 to 1024 channels wide. A depthwise, pool, resize, pad,
concatenation or broadcast multiply over rows of 1 to 8 elements runs many times slower per element than
those figures say (one kernel call per row, each padded to the SIMD tile), so ``calibrate`` times each of
them at C = 1 (2 for the multiply: a 1-wide operand is a scalar, which XNNPACK handles as a flat array) and
C = 8, and fits per dtype and op the nanoseconds per row that the efficiency figure leaves unexplained:
the median over the op's narrow benchmarks of ``(measured - predicted without rows) / rows``, at least 0.
These benchmarks take no part in any other figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from edgekit.calibrate.microbench import MicroOp, MicroSpec
from edgekit.calibrate.runner import Measurement
from edgekit.profile.rows import row_key

# the SIMD channel tile of XNNPACK's depthwise / pooling kernels per SIMD level (measured on an AVX-512 EPYC:
# float32 3x3 depthwise time per element flat from 16 channels up, 2.4x at 8); NEON kernels are 8 floats wide
ROW_TILES: dict[str, int] = {"avx512": 16, "avx2": 16, "neon": 8}
DEFAULT_ROW_TILE = 8

# (op, its options, (C, H = W) at the narrow widths: 1 (2 for the multiply: a 1-wide operand is a scalar) and 8),
# sized to ~0.1-1 ms at one thread
_WIDTHS: list[tuple[MicroOp, dict[str, int], tuple[tuple[int, int], ...]]] = [
    (MicroOp.DEPTHWISE_CONV_2D, dict(kernel=3), ((1, 160), (8, 96))),
    (MicroOp.MUL_BROADCAST, {}, ((2, 160), (8, 96))),
    (MicroOp.MAX_POOL_2D, dict(kernel=3, stride=2), ((1, 256), (8, 128))),
    (MicroOp.AVERAGE_POOL_2D, dict(kernel=3, stride=1), ((1, 128), (8, 64))),
    (MicroOp.PAD, {}, ((1, 160), (8, 96))),
    (MicroOp.CONCATENATION, {}, ((1, 160), (8, 96))),
    (MicroOp.RESIZE_BILINEAR, {}, ((1, 96), (8, 48))),
]
NARROW_SPECS: list[tuple[MicroOp, dict[str, int]]] = [
    *((op, dict(h=hw, w=hw, c=c, **kw)) for op, kw, widths in _WIDTHS for c, hw in widths),
    # a segmenter's last layer, a 1-channel mask at twice the resolution (MediaPipe's selfie segmenter), and 8
    *((MicroOp.TRANSPOSE_CONV, dict(h=hw, w=hw, c=c, cout=cout, kernel=2, stride=2))
      for hw, c, cout in ((128, 16, 1), (64, 32, 8))),
]


def narrow_specs() -> list[MicroSpec]:
    return [MicroSpec(op, dtype, **kw) for op, kw in NARROW_SPECS for dtype in ("float32", "int8")]


def row_tile(simd: str) -> int:
    """The channel tile below which rows count as narrow on a SIMD level."""
    return ROW_TILES.get(simd, DEFAULT_ROW_TILE)


def is_narrow(m: Measurement, tile: int) -> bool:
    """A measurement whose op runs over rows narrower than ``tile`` (it measures a row figure, nothing else)."""
    return m.rows > 0 and m.row_width < tile


def fit_row_ns(ms: Sequence[Measurement], tile: int,
               predict_ms: Callable[[Measurement], float]) -> dict[str, dict[str, float]]:
    """Per compute dtype and ``[row_ns]`` key (``OP`` where XNNPACK ran it, ``OP_BUILTIN`` on the builtin kernel):
    ns per narrow row, from the one-thread narrow measurements. ``predict_ms``: the op's time under the fitted
    figures without rows (placed as it ran)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for m in ms:
        if m.threads != 1 or not is_narrow(m, tile):
            continue
        key = row_key(m.op, m.xnnpack and m.delegated)
        groups.setdefault((m.dtype, key), []).append((m.per_op_ms - predict_ms(m)) / m.rows * 1e6)
    out: dict[str, dict[str, float]] = {}
    for (dtype, key), values in sorted(groups.items()):
        out.setdefault(dtype, {})[key] = round(max(0.0, float(np.median(values))), 3)
    return out


__all__ = ["NARROW_SPECS", "ROW_TILES", "fit_row_ns", "is_narrow", "narrow_specs", "row_tile"]
