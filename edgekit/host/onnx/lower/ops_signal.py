"""Ops that are a fixed linear map of their data input (DFT, STFT, Col2Im): one matrix product each.

With static shapes, such an op's output is ``x @ M`` along the axes it works on, for a matrix ``M``
that depends only on the shapes and the constant inputs/attributes. ``M`` is computed once at
conversion time by running the ONNX reference implementation on the identity basis (so the standard's
own semantics, ``onesided``, ``inverse``, ``dft_length``, padding, strides and all, are exactly what
the matrix does), and the TensorFlow graph is a transpose, a ``MatMul`` and a reshape, which TFLite
runs as builtins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Node, Value, op, shape_of

MAX_MATRIX_ELEMENTS = 1 << 24  # 64 MiB of float32: bigger maps are refused (a real FFT would be needed)


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _reference(node: Node, op_type: str, values: list[np.ndarray | None], attrs: dict[str, Any]) -> np.ndarray:
    """One output of ``op_type`` on constant ``values`` with the ONNX reference (refused when it cannot run)."""
    import onnx

    from edgekit.host.onnx.repair.fold import evaluate_node

    names = [f"v{i}" if v is not None else "" for i, v in enumerate(values)]
    proto = onnx.helper.make_node(op_type, names, ["y"], **attrs)
    out = evaluate_node(proto, values, node.opset)
    if out is None:
        raise node.fail("the ONNX reference could not compute the op's matrix")
    return out[0]


def _check_size(node: Node, rows: int, cols: int) -> None:
    if rows * cols > MAX_MATRIX_ELEMENTS:
        raise node.fail(f"its matrix would have {rows}x{cols} elements (over {MAX_MATRIX_ELEMENTS}); "
                        "a signal this long needs an FFT, which the lowering does not have")


def _basis(k: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.eye(k, dtype=dtype).reshape((k, *shape))


def _matmul_last(x: Any, matrix: np.ndarray, lead: list[int], tail_in: int, tail_out: list[int]) -> Any:
    """``x`` of shape lead + (tail_in...) -> lead + tail_out via one MatMul with ``matrix`` [tail_in, prod(out)]."""
    tf = _tf()
    rows = int(np.prod(lead)) if lead else 1
    flat = tf.reshape(x, [rows, tail_in])
    y = tf.linalg.matmul(flat, tf.constant(matrix.astype(np.float32)))
    return tf.reshape(y, [*lead, *tail_out])


def _real_float(node: Node, x: Any) -> Any:
    tf = _tf()
    if x.dtype != tf.float32:
        raise node.fail(f"a {x.dtype.name} input (the lowering computes in float32)")
    return x


@op("DFT")
def _dft(node: Node) -> list[Value]:
    x = _real_float(node, node.t(0))
    shape = shape_of(x)
    rank = len(shape)
    if node.opset >= 20:
        axis = int(node.const(2, "axis").reshape(-1)[0]) if node.has(2) else -2
    else:
        axis = int(node.attr("axis", 1))
    axis %= rank
    if axis == rank - 1:
        raise node.fail("axis is the real/imaginary axis")
    length = node.const(1, "dft_length") if node.has(1) else None
    n, c = shape[axis], shape[-1]
    _check_size(node, n * c, n * c)  # the identity basis the reference runs on
    attrs = {"inverse": int(node.attr("inverse", 0)), "onesided": int(node.attr("onesided", 0))}
    values: list[np.ndarray | None] = [_basis(n * c, (n, c), np.float32), length]
    if node.opset >= 20:
        values.append(np.array(1, np.int64))
    else:
        attrs["axis"] = 1
    response = _reference(node, "DFT", values, attrs)  # [n*c, n_out, c_out]
    n_out, c_out = int(response.shape[1]), int(response.shape[2])
    _check_size(node, n * c, n_out * c_out)
    tf = _tf()
    perm = [d for d in range(rank) if d not in (axis, rank - 1)] + [axis, rank - 1]
    lead = [shape[d] for d in perm[:-2]]
    moved = tf.transpose(x, perm)
    y = _matmul_last(moved, response.reshape(n * c, n_out * c_out), lead, n * c, [n_out, c_out])
    back = [int(i) for i in np.argsort(perm)]
    return [tf.transpose(y, back)]


@op("STFT")
def _stft(node: Node) -> list[Value]:
    x = _real_float(node, node.t(0))
    batch, length, c = shape_of(x)
    step = node.const(1, "frame_step")
    window = node.maybe_const(2) if node.has(2) else None
    if node.has(2) and window is None:
        raise node.fail("input 2 (window) must be a constant, and it is computed from the model's inputs")
    frame_length = node.const(3, "frame_length") if node.has(3) else None
    k = length * c
    _check_size(node, k, k)
    response = _reference(node, "STFT", [_basis(k, (length, c), np.float32), step, window, frame_length],
                          {"onesided": int(node.attr("onesided", 1))})  # [k, frames, bins, 2]
    out = [int(d) for d in response.shape[1:]]
    _check_size(node, k, int(np.prod(out)))
    return [_matmul_last(x, response.reshape(k, -1), [batch], k, out)]


@op("Col2Im")
def _col2im(node: Node) -> list[Value]:
    x = _real_float(node, node.t(0))
    n, cb, cols = shape_of(x)
    image = node.const(1, "image_shape")
    block = node.const(2, "block_shape")
    per_block = int(np.prod(block))
    if cb % per_block:
        raise node.fail(f"input channels {cb} are not a multiple of the block size {per_block}")
    channels = cb // per_block
    k = per_block * cols
    _check_size(node, k, int(np.prod(image)))
    attrs = {a: [int(v) for v in node.attr(a)] for a in ("dilations", "pads", "strides") if node.attr(a) is not None}
    response = _reference(node, "Col2Im", [_basis(k, (per_block, cols), np.float32), image, block], attrs)
    out = [int(d) for d in response.shape[2:]]  # [k, 1, *image]
    tf = _tf()
    grouped = tf.reshape(x, [n, channels, k])
    return [_matmul_last(grouped, response.reshape(k, -1), [n, channels], k, out)]


def _reflect(tf: Any, x: Any, low: float, high: float) -> Any:
    """The ONNX reference's reflection of ``x`` by the near border until it is within [low, high]."""
    span = high - low
    below, above = low - x, x - high
    dx = tf.maximum(below, above)
    n = tf.floor(dx / span)
    r = dx - n * span
    even = tf.equal(tf.math.floormod(n, 2.0), 0.0)
    from_below = tf.where(even, low + r, high - r)
    from_above = tf.where(even, high - r, low + r)
    return tf.where(below > 0, from_below, tf.where(above > 0, from_above, x))


def _cubic_weights(tf: Any, t: Any) -> list[Any]:
    a = -0.75  # the ONNX reference's (and PyTorch's) cubic convolution coefficient

    def near(s: Any) -> Any:  # |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s: Any) -> Any:  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


@op("GridSample")
def _grid_sample(node: Node) -> list[Value]:
    """Sample X at the grid's normalized coordinates: one Gather per interpolation tap, in the standard's rules
    (denormalization, rounding half to even, border/reflection of the coordinate, then of each tap)."""
    tf = _tf()
    x = _real_float(node, node.t(0))
    grid = _real_float(node, node.t(1))
    shape = shape_of(x)
    n, c, spatial = shape[0], shape[1], shape[2:]
    out = shape_of(grid)[1:-1]
    d = len(spatial)
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(node.attr("mode", "bilinear"), node.attr("mode", "bilinear"))
    padding = node.attr("padding_mode", "zeros")
    aligned = bool(int(node.attr("align_corners", 0)))
    if mode not in ("linear", "nearest", "cubic") or padding not in ("zeros", "border", "reflection"):
        raise node.fail(f"mode {mode} with padding_mode {padding}")
    q = int(np.prod(out))
    taps_per_dim: list[list[tuple[Any, Any]]] = []  # per spatial dim: (index tensor, weight tensor or None)
    valid_per_dim: list[list[Any]] = []
    for i, size in enumerate(spatial):
        g = tf.reshape(grid[..., d - 1 - i], [n, q])  # the grid's last axis lists x (the last dim) first
        pos = (g + 1) / 2 * (size - 1) if aligned else ((g + 1) * size - 1) / 2
        low, high = (0.0, size - 1.0) if aligned else (-0.5, size - 0.5)
        if mode == "nearest":
            pos = tf.round(pos)  # half to even, like the reference's np.rint
        outside = tf.logical_or(pos < low, pos > high)
        if padding == "border":
            pos = tf.where(outside, tf.clip_by_value(pos, 0.0, size - 1.0), pos)
        elif padding == "reflection":
            pos = _reflect(tf, pos, low, high)
        if mode == "nearest":
            offsets, base, weights = [0.0], tf.where(pos < 0, tf.math.ceil(pos), tf.floor(pos)), [None]
        else:
            base = tf.floor(pos)
            frac = pos - base
            offsets = [0.0, 1.0] if mode == "linear" else [-1.0, 0.0, 1.0, 2.0]
            weights = [1 - frac, frac] if mode == "linear" else _cubic_weights(tf, frac)
        taps, valids = [], []
        for off, w in zip(offsets, weights, strict=True):
            t = base + off
            valids.append(tf.logical_and(t >= 0, t <= size - 1) if padding == "zeros" else None)
            if padding == "reflection":
                t = _reflect(tf, t, low, high)
                t = tf.where(t < 0, tf.math.ceil(t), tf.floor(t))  # int(): toward zero
            taps.append((tf.cast(tf.clip_by_value(t, 0.0, size - 1.0), tf.int32), w))
        taps_per_dim.append(taps)
        valid_per_dim.append(valids)
    strides = [int(np.prod(spatial[i + 1:])) for i in range(d)]
    total = int(np.prod(spatial))
    table = tf.reshape(tf.transpose(x, [0, *range(2, 2 + d), 1]), [n * total, c])  # rows: (n, spatial position)
    offset = tf.reshape(tf.range(n, dtype=tf.int32) * total, [n, 1])
    from itertools import product

    result = None
    for combo in product(*[range(len(t)) for t in taps_per_dim]):
        index = offset
        weight = None
        valid = None
        for i, k in enumerate(combo):
            tap, w = taps_per_dim[i][k]
            index = index + tap * strides[i]
            if w is not None:
                weight = w if weight is None else weight * w
            v = valid_per_dim[i][k]
            if v is not None:
                valid = v if valid is None else tf.logical_and(valid, v)
        values = tf.reshape(tf.gather(table, tf.reshape(index, [-1])), [n, q, c])
        if valid is not None:
            weight = tf.cast(valid, tf.float32) if weight is None else weight * tf.cast(valid, tf.float32)
        term = values if weight is None else values * tf.expand_dims(weight, -1)
        result = term if result is None else result + term
    y = tf.reshape(result, [n, *out, c])
    return [tf.transpose(y, [0, d + 1, *range(1, d + 1)])]
