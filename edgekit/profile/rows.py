"""Narrow rows: the per-row cost of channel-wise kernels on tensors whose innermost run is short.

XNNPACK's depthwise, pooling, resize, pad and concatenation kernels (and its binary ops when one operand is
broadcast along the outer dimensions, as a squeeze-excite scale or a PReLU slope is) loop over the tensor's
rows: one micro-kernel call per output pixel, or per contiguous copy, each over the innermost run of
elements. When that run fills the kernel's SIMD channel tile the per-element cost (the efficiency figures)
explains the time. When it is short (C = 1 in audio models' ``[1, H, W, 1]`` maps, C = 8 in MediaPipe's
landmark stems) every call does a full tile's work for a few elements, plus its fixed set-up: measured on
this project's AVX-512 host, 524,288 float32 elements in rows of 1 channel ran a 3x3 depthwise in 5.3 ms
and a spatial PAD in 5.0 ms, against 0.21 and 0.06 ms in rows of 128 (a 25x and 80x difference the
element count cannot show).

So for an op whose innermost run is narrower than ``[row_ns] channel_tile``, the estimator adds
``narrow rows x row_ns[dtype][op]`` nanoseconds (divided by the thread speed-up like the rest of its
compute). ``edgekit calibrate`` measures the figures on narrow micro-benchmarks (C = 1 .. 8) of each op, on
top of the efficiencies it fits on wide ones; ``<OP>_BUILTIN`` keys hold LiteRT's builtin kernels'.

Rows, per op (:func:`narrow_rows`):

- DEPTHWISE_CONV_2D, pools, resizes, transposed convolutions: one row per output pixel, ``C`` elements long
  (a transposed convolution's 1-channel mask output: 1.4-1.6 ms for 65,536 pixels, 8-12 ns each on top of its
  GEMM);
- binary elementwise ops (ADD, MUL, PRELU, ...): none when neither operand is broadcast (the kernel sees
  one flat array) or one is a scalar; otherwise one row per run of the trailing dimensions that share one
  broadcast pattern (both operands span them, or one does and the other holds one value along them), e.g.
  ``[1, H, W, C] x [1, 1, 1, C]`` -> ``H * W`` rows of ``C``, ``[1, H, W, 2] x [1, H, W, 1]`` -> ``H * W``
  rows of 2 (52 us for 128 x 128 here, a flat multiply of as many elements 4 us), ``[1, H, W, 2] x [H, 1, 1]``
  -> ``H`` rows of ``2 W`` (none narrow: 10 us for basic-pitch's 106k elements, which the both-span rule
  had counted as 106k rows, 0.28 ms);
- PAD / MIRROR_PAD: one row per output position of the dimensions up to the last padded one, each as long
  as the unpadded trailing dimensions (XNNPACK's pad calls its kernel per such row), or, when the last
  dimension is padded, one per position of the others, as long as the input's last dimension;
- CONCATENATION / PACK: one copy per input per position of the dimensions before the axis, as long as the
  input's slice at and after the axis; SPLIT / SPLIT_V the same per output (they take CONCATENATION's figure).

LiteRT's builtin concatenation and splits copy each such row with its own ``memcpy`` at every width: int8
SPLIT_V of [1, R, 1, 64] into two halves 0.133 us at R = 1, 0.371 at 32, 5.7 at 784 (3.8 ns per row copied),
where the per-element figure had 0.07, 0.11, 1.05. ``calibrate`` fits that row figure with the per-element one
on its narrow and wide builtin concatenations (``CONCATENATION_BUILTIN`` in ``every_width``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgekit.profile.costs import TRANSPOSE_CONV_CUSTOM
from edgekit.profile.delegate import fused_pad
from edgekit.profile.opfigures import POOL_INPUTS_KEY, pool_inputs
from edgekit.profile.schema import RowCost
from edgekit.tflite.model import Operator, Subgraph

# ops whose kernels loop over output pixels with the channels innermost
PIXEL_OPS = frozenset({"DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D", "RESIZE_BILINEAR",
                       "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM})
BINARY_OPS = frozenset({"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "PRELU",
                        "FLOOR_DIV", "POW"})
PAD_OPS = frozenset({"PAD", "PADV2", "MIRROR_PAD"})
SPLIT_OPS = frozenset({"SPLIT", "SPLIT_V"})
COPY_OPS = frozenset({"CONCATENATION", "PACK"}) | SPLIT_OPS
ROW_OPS = PIXEL_OPS | BINARY_OPS | PAD_OPS | COPY_OPS

# a tile no row is as wide as: every row of an op counts
EVERY_ROW = 1 << 30

# where an op has no figure of its own it takes the one of an op its kernel works like
FAMILY: dict[str, str] = {
    **{op: "MUL" for op in BINARY_OPS if op != "MUL"},
    "AVERAGE_POOL_2D": "MAX_POOL_2D", "L2_POOL_2D": "MAX_POOL_2D",
    "RESIZE_NEAREST_NEIGHBOR": "RESIZE_BILINEAR",
    "PADV2": "PAD",
    "PACK": "CONCATENATION", "SPLIT": "CONCATENATION", "SPLIT_V": "CONCATENATION",
    TRANSPOSE_CONV_CUSTOM: "TRANSPOSE_CONV",
}


def _shape(sg: Subgraph, index: int) -> tuple[int, ...]:
    return tuple(max(1, int(d)) for d in sg.tensor(index).shape)


def _binary_rows(sg: Subgraph, op: Operator, tile: int) -> int:
    if len(op.inputs) < 2 or min(op.inputs[:2]) < 0 or not op.outputs:
        return 0
    out = _shape(sg, op.outputs[0])
    a, b = (_shape(sg, i) for i in op.inputs[:2])
    if a == b or math.prod(a) == 1 or math.prod(b) == 1:
        return 0  # one flat array, or a scalar operand
    a = (1,) * (len(out) - len(a)) + a
    b = (1,) * (len(out) - len(b)) + b
    # the innermost run of trailing dimensions that share one broadcast pattern: both operands span it (one
    # kernel call per row over both), or one spans it and the other holds one value along it (XNNPACK's
    # operand-and-constant kernel over the row: basic-pitch's [1, 309, 172, 2] x [309, 1, 1] is 309 rows of 344)
    width, pattern = 1, None
    for i in range(len(out) - 1, -1, -1):
        if out[i] == 1:
            continue
        spans = (a[i] == out[i], b[i] == out[i])
        if pattern is not None and spans != pattern:
            break
        pattern = spans
        width *= out[i]
    return math.prod(out) // width if width < tile else 0


def _pad_rows(sg: Subgraph, op: Operator, tile: int) -> int:
    if len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs:
        return 0
    data = sg.tensor(op.inputs[1]).data()
    if data is None or data.size % 2:
        return 0
    pads = np.asarray(data).reshape(-1, 2)
    out = _shape(sg, op.outputs[0])
    padded = [i for i in range(min(len(out), len(pads))) if pads[i].any()]
    if not padded:
        return 0
    last = padded[-1]
    # the run copied per row: the unpadded trailing dimensions, or the input's last one when that is padded
    width = math.prod(out[last + 1:]) if last + 1 < len(out) else _shape(sg, op.inputs[0])[-1]
    rows = math.prod(out[:last + 1]) if last + 1 < len(out) else math.prod(out[:-1])
    return rows if width < tile else 0


def _split_rows(sg: Subgraph, op: Operator, tile: int) -> int:
    """One copy per output per position of the input's dimensions before the axis (a constant input: SPLIT's
    first, SPLIT_V's third)."""
    data_at, axis_at = (1, 0) if op.name == "SPLIT" else (0, 2)
    if len(op.inputs) <= max(data_at, axis_at) or min(op.inputs[data_at], op.inputs[axis_at]) < 0:
        return 0
    value = sg.tensor(op.inputs[axis_at]).data()
    shape = _shape(sg, op.inputs[data_at])
    if value is None or np.asarray(value).size != 1:
        return 0
    axis = int(np.asarray(value).reshape(-1)[0])
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape):
        return 0
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    return sum(outer for o in op.outputs if o >= 0 and _shape(sg, o)[axis:axis + 1] and
               _shape(sg, o)[axis] * inner < tile)


def _copy_rows(sg: Subgraph, op: Operator, tile: int) -> int:
    if op.name in SPLIT_OPS:
        return _split_rows(sg, op, tile)
    if not op.outputs or op.outputs[0] < 0:
        return 0
    out = _shape(sg, op.outputs[0])
    axis = int(op.options.get("axis", 0) or 0)
    axis = axis + len(out) if axis < 0 else axis
    if not 0 <= axis < len(out):
        return 0
    outer = math.prod(out[:axis])
    inner = math.prod(out[axis + 1:])
    rows = 0
    for i in op.inputs:
        if i < 0:
            continue
        along = 1 if op.name == "PACK" else _shape(sg, i)[axis] if axis < len(_shape(sg, i)) else 1
        if along * inner < tile:
            rows += outer
    return rows


def narrow_rows(sg: Subgraph, op: Operator, tile: int) -> int:
    """Rows of ``op``'s kernel loop whose innermost run is shorter than ``tile`` elements (see the module
    docstring); 0 for ops without such rows."""
    if tile <= 1 or op.name not in ROW_OPS:
        return 0
    if op.name in PIXEL_OPS:
        if not op.outputs or op.outputs[0] < 0:
            return 0
        out = _shape(sg, op.outputs[0])
        return math.prod(out[:-1]) if len(out) == 4 and out[-1] < tile else 0
    if op.name in BINARY_OPS:
        return _binary_rows(sg, op, tile)
    if op.name in PAD_OPS:
        return _pad_rows(sg, op, tile)
    return _copy_rows(sg, op, tile)


def charged_rows(cost: RowCost, sg: Subgraph, op: Operator, delegated: bool) -> int:
    """The rows the estimator charges ``op`` (placed on XNNPACK or not) under ``cost``: every row where the op as
    placed has a figure per row at every width (``every_width``, by the ``[row_ns]`` key of its name or family:
    ``PAD`` on XNNPACK, ``CONCATENATION_BUILTIN`` on LiteRT's kernel), the input pixels of
    LiteRT's builtin float 1x1-window pool where the profile has their figure (:data:`edgekit.profile.opfigures.
    POOL_INPUTS_KEY`), else its narrow rows."""
    every = {row_key(name, delegated) for name in (op.name, FAMILY.get(op.name)) if name is not None}
    if every & set(cost.every_width):
        return narrow_rows(sg, op, EVERY_ROW)
    if not delegated and pool_inputs(sg, op)[0] and cost.table(sg.tensor(op.inputs[0]).dtype).get(POOL_INPUTS_KEY):
        return pool_inputs(sg, op)[0]  # LiteRT's builtin float pool over a 1x1 window: one row per input pixel
    return narrow_rows(sg, op, cost.channel_tile)


def row_key(op: str, delegated: bool) -> str:
    """The ``[row_ns]`` key of an op placed on XNNPACK (its name) or on LiteRT's builtin kernel."""
    return op if delegated else f"{op}_BUILTIN"


def row_ns(table: dict[str, float], op: str, delegated: bool) -> float | None:
    """The figure for ``op`` as placed: its own, else its family's (:data:`FAMILY`), else None."""
    for name in (op, FAMILY.get(op)):
        if name is not None:
            value = table.get(row_key(name, delegated))
            if value is not None:
                return value
    return None


# rows narrower than this count as narrow on any SIMD level (NEON's tile is 8 floats) for the note below
NOTE_TILE = 8
NOTE_MIN_ROWS = 4096


def narrow_note(row_cost: RowCost | None, sg: Subgraph, include: Sequence[bool],
                placement: Sequence[bool]) -> list[str]:
    """Say so when a profile without ``[row_ns]`` figures estimates ops that run over many narrow rows
    (``placement``: which ops XNNPACK runs)."""
    if row_cost is not None:
        return []
    counts = [(op, narrow_rows(sg, op, NOTE_TILE)) for op, inc in zip(sg.operators, include, strict=True) if inc]
    # a PAD XNNPACK folds into its convolution has no rows of its own
    narrow = [(op.name, rows) for op, rows in counts if rows and not fused_pad(sg, op, placement)]
    total = sum(rows for _, rows in narrow)
    if total < NOTE_MIN_ROWS:
        return []
    names = ", ".join(sorted({name for name, _ in narrow}))
    return [f"{len(narrow)} op(s) ({names}) run over {total:,} rows narrower than {NOTE_TILE} elements (e.g. "
            "1-channel maps), which this profile has no per-row figure for: on this project's x86 host such "
            "ops ran up to 25-80x their per-element estimate. `edgekit calibrate` on the device measures them "
            "([row_ns]; docs/BENCHMARKS.md)"]


FEW_TAPS = 49  # measured as estimated from 7x7 (49 taps) up; 16 taps ran 5.7x


def one_channel_conv_note(sg: Subgraph, include: Sequence[bool], placement: Sequence[bool]) -> list[str]:
    """Say so when XNNPACK convolutions (``placement``) map 1 channel to 1 channel with few taps over many output
    pixels (a raw-waveform FIR filter): a 16-tap one over 44,100 samples measured 5.7x its GEMM work, where 2 to 16
    output channels, or 49 and 256 taps, cost what the GEMM and its indirection pointers say
    (:mod:`edgekit.profile.indirection`); no profile has a figure for it."""
    count = pixels = 0
    for op, inc in zip(sg.operators, include, strict=True):
        if not inc or op.name != "CONV_2D" or len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs:
            continue
        w, out = sg.tensor(op.inputs[1]).shape, _shape(sg, op.outputs[0])
        # 1 -> 1 channel with fewer taps than the 7x7 that ran as estimated (the 16-tap one ran 5.7x; 256 taps too
        # ran as estimated, their pointers charged)
        if len(w) != 4 or w[3] != 1 or w[0] != 1 or w[1] * w[2] >= FEW_TAPS or len(out) != 4:
            continue
        if placement[op.index]:
            count += 1
            pixels += math.prod(out[:3])
    if pixels < NOTE_MIN_ROWS:
        return []
    return [f"{count} convolution(s) map 1 channel to 1 channel with under {FEW_TAPS} taps over {pixels:,} output "
            "pixels (a raw-waveform filter): on this project's x86 host XNNPACK ran a 16-tap one 5.7x the time estimated here (a cost per "
            "output pixel no profile has a figure for yet; docs/BENCHMARKS.md); their estimate may be low"]


__all__ = ["EVERY_ROW", "FAMILY", "ROW_OPS", "charged_rows", "narrow_note", "narrow_rows", "one_channel_conv_note", "row_key", "row_ns"]
