"""Narrow-row micro-benchmarks and their fit: ``[row_ns]`` (see :mod:`edgekit.profile.rows`).

The suite's efficiency figures come from tensors 16 to 1024 channels wide. A depthwise, pool, resize, pad,
concatenation or broadcast multiply over rows of 1 to 8 elements runs many times slower per element than
those figures say (one kernel call per row, each padded to the SIMD tile), so ``calibrate`` times each of
them at C = 1 (2 for the multiply: a 1-wide operand is a scalar, which XNNPACK handles as a flat array) and
C = 8, and fits per dtype and op the nanoseconds per row that the efficiency figure leaves unexplained:
the median over the op's narrow benchmarks of ``(measured - predicted without rows) / rows``, at least 0.
These benchmarks take no part in any other figure, but for PAD and the broadcast MUL, whose kernels pay per row at
every width: their narrow and wide benchmarks are split together into a per-row and a per-element figure
(:func:`fit_every_width_rows`), as is LiteRT's builtin float pool over a 1x1 window, per input pixel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from edgekit.calibrate.microbench import MicroOp, MicroSpec
from edgekit.calibrate.runner import MIN_OP_MS, Measurement
from edgekit.profile.opfigures import POOL_INPUTS_KEY
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


# XNNPACK kernels that pay a fixed cost per call (per row) at every row width, not only under the channel tile:
# measured on the x86 host (docs/BENCHMARKS.md, "XNNPACK's kernels beyond their MACs"), PAD 10-15 ns per output row from 8 to 256
# channels (a 64x64x24 -> 28 channel pad: 49 us, 0.43 ns per output element; 16x16x256 -> 260: 0.086) and PRELU /
# broadcast MUL ~2 ns per row on top of ~0.075 ns per element (96x96x16: 0.18 ns per element, 56x56x144: 0.095).
# Their row figure is fitted together with the per-element one on all their widths (:func:`fit_every_width_rows`)
EVERY_WIDTH_OPS = ("MUL", "PAD")
# LiteRT's builtin kernels that copy per row at every width (a memcpy per input or output row: its concatenation,
# and its splits, which take the concatenation's figure; edgekit.profile.rows), fitted the same way on the builtin
# runs of the CONCATENATION micro-benchmarks, narrow and wide
BUILTIN_EVERY_WIDTH_OPS = ("CONCATENATION",)
# the [row_ns] keys those figures go under
EVERY_WIDTH_KEYS = (*EVERY_WIDTH_OPS, *(row_key(op, False) for op in BUILTIN_EVERY_WIDTH_OPS))
# a fit needs this many micro-benchmarks of the op, over at least two row widths; a row term under ROW_NS_MIN ns is
# none (rounding noise of a split with nothing per row)
EVERY_WIDTH_MIN = 3
ROW_NS_MIN = 0.01


def every_key(m: Measurement) -> str | None:
    """The ``[row_ns]`` key whose figure :func:`fit_every_width_rows` fits on ``m`` (None: not such an op): a PAD or
    broadcast MUL XNNPACK ran, a concatenation LiteRT's builtin kernel ran (measured with the delegate off, or
    carried as its ``<OP>_BUILTIN`` key), or LiteRT's builtin float pool over a 1x1 window (its input pixels are its
    rows)."""
    if m.op_key == POOL_INPUTS_KEY:
        return POOL_INPUTS_KEY
    if m.op in BUILTIN_EVERY_WIDTH_OPS and (not m.delegated or m.op_key == row_key(m.op, False)):
        return row_key(m.op, False)
    return m.op if m.op in EVERY_WIDTH_OPS and m.delegated and not m.op_key else None


def fit_every_width_rows(one: Sequence[Measurement], overhead_ms: float) -> dict[str, dict[str, float]]:
    """Per compute dtype and key (:func:`every_key`: the ops of :data:`EVERY_WIDTH_OPS`, the builtin 1x1-window
    pool), ns per row at every width: the least-squares split of its one-thread micro-benchmarks' times (less the
    per-op cost) into work x a + rows x b, in relative terms (each benchmark's error counts by its share of its
    time; a split whose element term comes out negative is refitted on the rows alone). Ops without enough widths,
    or without a positive row term, get none (their narrow rows stay :func:`fit_row_ns`'s)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in one:
        key = every_key(m)
        if key and m.threads == 1 and m.macs > 0:
            groups.setdefault((m.dtype, key), []).append(m)
    out: dict[str, dict[str, float]] = {}
    for (dtype, op), ms in sorted(groups.items()):
        if len(ms) < EVERY_WIDTH_MIN or len({m.row_width for m in ms if m.rows}) < 2:
            continue
        y = np.array([max(m.per_op_ms - overhead_ms, 1e-6) for m in ms])
        a = np.array([[m.macs, m.rows] for m in ms], dtype=float) / y[:, None]
        (per_work, per_row), *_ = np.linalg.lstsq(a, np.ones(len(ms)), rcond=None)
        if per_row > 0 and per_work <= 0:  # the rows explain it all (PAD's elements cost ~0.02-0.03 ns): rows alone
            per_row = float(np.sum(a[:, 1]) / np.sum(a[:, 1] ** 2))
        ns = round(float(per_row) * 1e6, 3)
        if ns > ROW_NS_MIN:
            out.setdefault(dtype, {})[op] = ns
    return out


def strip_rows(one: Sequence[Measurement], figures: dict[str, dict[str, float]]) -> list[Measurement]:
    """``one`` with the time of the rows :func:`fit_every_width_rows` priced taken off the benchmarks of those ops
    (what is left is what their per-element figure is fitted on)."""
    out = []
    for m in one:
        key = every_key(m)
        ns = figures.get(m.dtype, {}).get(key) if key else None
        out.append(dataclasses.replace(m, per_op_ms=max(MIN_OP_MS, m.per_op_ms - ns * m.rows * 1e-6))
                   if ns and m.rows else m)
    return out


__all__ = ["BUILTIN_EVERY_WIDTH_OPS", "EVERY_WIDTH_KEYS", "EVERY_WIDTH_OPS", "NARROW_SPECS", "ROW_TILES", "every_key", "fit_every_width_rows", "fit_row_ns",
           "is_narrow", "narrow_specs", "row_tile", "strip_rows"]
