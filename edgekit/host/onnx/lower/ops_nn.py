"""Convolutions, pooling, normalisations, matrix products, resize and (de)quantization, in the ONNX layout.

TensorFlow's convolutions and pools want channels last: each such op moves
the channel axis last, runs the TF op with explicit (``VALID``) padding, and
moves it back. Padding is always explicit, so every ONNX pad combination
(asymmetric, ``SAME_LOWER``, ``ceil_mode``) is exactly the standard's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Node, Value, op, shape_of
from edgekit.host.onnx.poolpads import tf_same, window_pads


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _to_last(rank: int) -> list[int]:
    return [0, *range(2, rank), 1]


def _to_first(rank: int) -> list[int]:
    return [0, rank - 1, *range(1, rank - 1)]


def _pads(node: Node, spatial: tuple[int, ...], kernel: list[int], strides: list[int],
          dilations: list[int]) -> tuple[list[int], list[int]]:
    begin, end, _ = window_pads(spatial, kernel, strides, dilations, node.attr("auto_pad", "NOTSET"),
                                node.attr("pads", None))
    return begin, end


def _spatial_attrs(node: Node, nd: int, kernel: list[int]) -> tuple[list[int], list[int]]:
    strides = [int(s) for s in node.attr("strides", [1] * nd)]
    dilations = [int(d) for d in node.attr("dilations", [1] * nd)]
    del kernel
    return strides, dilations


def _group_conv(x: Any, kernel: Any, strides: list[int], dilations: list[int], group: int) -> Any:
    """Channels-last convolution with VALID padding; kernel [*k, C/group, M]."""
    tf = _tf()
    nd = len(x.shape) - 2
    channels = int(x.shape[-1])
    out_channels = int(kernel.shape[-1])
    if group == 1:
        return tf.nn.convolution(x, kernel, strides=strides, padding="VALID", dilations=dilations)
    if nd == 2 and group == channels and int(kernel.shape[-2]) == 1:
        mult = out_channels // channels
        # kernel[..., 0, c*mult + j] -> depthwise [..., c, j]
        dw = tf.reshape(kernel, [*kernel.shape[:2], channels, mult])
        return tf.nn.depthwise_conv2d(x, dw, strides=[1, *strides, 1], padding="VALID", dilations=dilations)
    xs = tf.split(x, group, axis=-1)
    ks = tf.split(kernel, group, axis=-1)
    return tf.concat([tf.nn.convolution(a, b, strides=strides, padding="VALID", dilations=dilations)
                      for a, b in zip(xs, ks, strict=True)], axis=-1)


@op("Conv")
def _conv(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    w_shape = shape_of(node.inputs[1])
    rank = len(shape)
    nd = rank - 2
    if nd not in (1, 2, 3):
        raise node.fail(f"{nd}-D convolution")
    kernel_size = [int(k) for k in node.attr("kernel_shape", w_shape[2:])]
    strides, dilations = _spatial_attrs(node, nd, kernel_size)
    begin, end = _pads(node, shape[2:], kernel_size, strides, dilations)
    group = int(node.attr("group", 1))
    x = tf.transpose(node.t(0), _to_last(rank))
    w = node.t(1)
    kernel = tf.transpose(w, [*range(2, rank), 1, 0])  # [*k, C/group, M]
    if any(begin) or any(end):
        x = tf.pad(x, [[0, 0], *[[b, e] for b, e in zip(begin, end, strict=True)], [0, 0]])
    if any(st > 1 for st in strides) and any(d > 1 for d in dilations):  # TF has no strided dilated conv
        kernel = _dilate(kernel, dilations)
        dilations = [1] * nd
    if nd == 1:  # as 2-D with height 1
        x = tf.expand_dims(x, 1)
        kernel = tf.expand_dims(kernel, 0)
        strides, dilations = [1, strides[0]], [1, dilations[0]]
    y = _group_conv(x, kernel, strides, dilations, group)
    if nd == 1:
        y = tf.squeeze(y, 1)
    if node.has(2):
        y = y + node.t(2)
    return [tf.transpose(y, _to_first(rank))]


def _dilate(kernel: Any, dilations: list[int]) -> Any:
    """Insert zeros between kernel taps (axes 0..nd-1 of a channels-last kernel)."""
    tf = _tf()
    for axis, d in enumerate(dilations):
        if d == 1:
            continue
        size = int(kernel.shape[axis])
        parts = []
        for i in range(size):
            parts.append(tf.gather(kernel, [i], axis=axis))
            if i < size - 1:
                zshape = kernel.shape.as_list()
                zshape[axis] = d - 1
                parts.append(tf.zeros(zshape, kernel.dtype))
        kernel = tf.concat(parts, axis=axis)
    return kernel


@op("ConvTranspose")
def _conv_transpose(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    w_shape = shape_of(node.inputs[1])  # [C, M/group, *k]
    rank = len(shape)
    nd = rank - 2
    if nd not in (1, 2, 3):
        raise node.fail(f"{nd}-D transposed convolution")
    group = int(node.attr("group", 1))
    ksize = [int(k) for k in node.attr("kernel_shape", w_shape[2:])]
    strides = [int(s) for s in node.attr("strides", [1] * nd)]
    dilations = [int(d) for d in node.attr("dilations", [1] * nd)]
    out_pad = [int(p) for p in node.attr("output_padding", [0] * nd)]
    eff = [(k - 1) * d + 1 for k, d in zip(ksize, dilations, strict=True)]
    full = [s * (i - 1) + e for s, i, e in zip(strides, shape[2:], eff, strict=True)]
    if node.attr("output_shape") is not None:
        target = [int(v) for v in node.attr("output_shape")][-nd:]
        total = [f + p - t for f, p, t in zip(full, out_pad, target, strict=True)]
        auto = node.attr("auto_pad", "NOTSET")
        if auto == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin, strict=True)]
    elif node.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        target = [i * s for i, s in zip(shape[2:], strides, strict=True)]
        total = [f + p - t for f, p, t in zip(full, out_pad, target, strict=True)]
        if node.attr("auto_pad") == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin, strict=True)]
    else:
        pads = [int(p) for p in node.attr("pads", [0] * (2 * nd))]
        begin, end = pads[:nd], pads[nd:]
    x = tf.transpose(node.t(0), _to_last(rank))
    w = node.t(1)
    kernel = tf.transpose(w, [*range(2, rank), 1, 0])  # [*k, M/group, C]
    kernel = _dilate(kernel, dilations)
    if nd == 1:
        x = tf.expand_dims(x, 1)
        kernel = tf.expand_dims(kernel, 0)
    n = shape[0]
    sp_strides = [1, strides[0]] if nd == 1 else strides
    sp_full = [1, full[0]] if nd == 1 else full
    fn = tf.nn.conv3d_transpose if nd == 3 else tf.nn.conv2d_transpose
    xs = tf.split(x, group, axis=-1) if group > 1 else [x]
    ks = tf.split(kernel, group, axis=-1) if group > 1 else [kernel]
    outs = []
    for a, b in zip(xs, ks, strict=True):
        m = int(b.shape[-2])
        outs.append(fn(a, b, [n, *sp_full, m], strides=[1, *sp_strides, 1], padding="VALID"))
    y = tf.concat(outs, axis=-1) if len(outs) > 1 else outs[0]
    if nd == 1:
        y = tf.squeeze(y, 1)
    if any(out_pad):
        y = tf.pad(y, [[0, 0], *[[0, p] for p in out_pad], [0, 0]])
    sizes = [f + p - b - e for f, p, b, e in zip(full, out_pad, begin, end, strict=True)]
    if any(b < 0 for b in begin) or any(s <= 0 for s in sizes):
        raise node.fail("negative padding")
    y = tf.slice(y, [0, *begin, 0], [-1, *sizes, -1])
    if node.has(2):
        y = y + node.t(2)
    return [tf.transpose(y, _to_first(rank))]


def _pool_geometry(node: Node, spatial: tuple[int, ...], kernel: list[int]) -> tuple[list[int], list[int], list[int],
                                                                                     list[int], list[int]]:
    nd = len(spatial)
    strides = [int(s) for s in node.attr("strides", [1] * nd)]
    dilations = [int(d) for d in node.attr("dilations", [1] * nd)]
    begin, end, extra = window_pads(spatial, kernel, strides, dilations, node.attr("auto_pad", "NOTSET"),
                                    node.attr("pads", None), bool(int(node.attr("ceil_mode", 0))))
    return strides, dilations, begin, end, extra


def _window_reduce(x: Any, kernel: list[int], strides: list[int], dilations: list[int], kind: str) -> Any:
    """Pool a channels-last, already padded tensor (any dilation) by strided slices: max or sum."""
    tf = _tf()
    nd = len(kernel)
    spatial = x.shape.as_list()[1:-1]
    outs = [(s - ((k - 1) * d + 1)) // st + 1 for s, k, d, st in zip(spatial, kernel, dilations, strides, strict=True)]
    result = None
    for offset in np.ndindex(*kernel):
        begin = [0, *[o * d for o, d in zip(offset, dilations, strict=True)], 0]
        stop = [int(x.shape[0]), *[b + (n - 1) * st + 1 for b, n, st in zip(begin[1:-1], outs, strides, strict=True)],
                int(x.shape[-1])]
        part = tf.strided_slice(x, begin, stop, [1, *strides, 1])
        if result is None:
            result = part
        else:
            result = tf.maximum(result, part) if kind == "max" else result + part
    del nd
    return result


@op("MaxPool", "AveragePool", "LpPool")
def _pool(node: Node) -> list[Value]:
    tf = _tf()
    if node.n_outputs > 1 and node.proto is not None and len(node.proto.output) > 1 and node.proto.output[1]:
        raise node.fail("the Indices output of MaxPool")
    shape = shape_of(node.inputs[0])
    rank = len(shape)
    nd = rank - 2
    kernel = [int(k) for k in node.attr("kernel_shape")]
    strides, dilations, begin, end, extra = _pool_geometry(node, shape[2:], kernel)
    x = tf.transpose(node.t(0), _to_last(rank))
    kind = {"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp"}[node.op]
    paddings = [[0, 0], *[[b, e + x_] for b, e, x_ in zip(begin, end, extra, strict=True)], [0, 0]]
    if kind == "max":
        same = all(d == 1 for d in dilations) and tf_same(shape[2:], kernel, strides, begin,
                                                           [e + x_ for e, x_ in zip(end, extra, strict=True)])
        if same and nd in (1, 2) and x.dtype.is_floating:
            # TFLite's SAME pooling never takes a padded value: no PAD with the dtype's lowest value, whose range
            # (-3.4e38) an int8 quantization would share with the tensor before it. Other padded max pools get
            # edge padding from the `maxpool` repair before any backend.
            return [tf.transpose(tf.nn.pool(x, kernel, "MAX", strides=strides, padding="SAME"), _to_first(rank))]
        xp = tf.pad(x, paddings, constant_values=tf.cast(x.dtype.min, x.dtype)) if any(map(any, paddings)) else x
        if all(d == 1 for d in dilations) and nd in (1, 2) and x.dtype.is_floating:  # TFLite has no 3-D pools
            y = tf.nn.pool(xp, kernel, "MAX", strides=strides, padding="VALID")
        else:
            y = _window_reduce(xp, kernel, strides, dilations, "max")
        return [tf.transpose(y, _to_first(rank))]
    p = int(node.attr("p", 2))
    src = tf.pow(tf.abs(x), float(p)) if kind == "lp" else x
    xp = tf.pad(src, paddings) if any(map(any, paddings)) else src
    if all(d == 1 for d in dilations) and nd in (1, 2):
        total = tf.nn.pool(xp, kernel, "AVG", strides=strides, padding="VALID") * float(np.prod(kernel))
    else:
        total = _window_reduce(xp, kernel, strides, dilations, "sum")
    if kind == "lp":
        y = tf.pow(total, 1.0 / p)
    else:
        include = int(node.attr("count_include_pad", 0))
        mask = np.ones((1, *shape[2:], 1), np.float32)
        mask = np.pad(mask, [[0, 0], *[[b, e] for b, e in zip(begin, end, strict=True)], [0, 0]],
                      constant_values=1.0 if include else 0.0)
        mask = np.pad(mask, [[0, 0], *[[0, x_] for x_ in extra], [0, 0]])
        counts = _numpy_window_sum(mask, kernel, strides, dilations)
        y = total / tf.constant(np.maximum(counts, 1.0).astype(np.float32), dtype=total.dtype)
    return [tf.transpose(y, _to_first(rank))]


def _numpy_window_sum(x: np.ndarray, kernel: list[int], strides: list[int], dilations: list[int]) -> np.ndarray:
    spatial = x.shape[1:-1]
    outs = [(s - ((k - 1) * d + 1)) // st + 1 for s, k, d, st in zip(spatial, kernel, dilations, strides, strict=True)]
    total = np.zeros((x.shape[0], *outs, x.shape[-1]), np.float64)
    for offset in np.ndindex(*kernel):
        index = [slice(None)]
        for o, d, n, st in zip(offset, dilations, outs, strides, strict=True):
            index.append(slice(o * d, o * d + (n - 1) * st + 1, st))
        index.append(slice(None))
        total += x[tuple(index)]
    return total


@op("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    axes = list(range(2, len(x.shape)))
    if node.op == "GlobalAveragePool":
        return [tf.reduce_mean(x, axis=axes, keepdims=True)]
    if node.op == "GlobalMaxPool":
        return [tf.reduce_max(x, axis=axes, keepdims=True)]
    p = float(node.attr("p", 2))
    return [tf.pow(tf.reduce_sum(tf.pow(tf.abs(x), p), axis=axes, keepdims=True), 1.0 / p)]


def _channel(value: Any, rank: int) -> Any:
    tf = _tf()
    return tf.reshape(value, [-1, *([1] * (rank - 2))])


@op("BatchNormalization")
def _batch_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    if int(node.attr("training_mode", 0)):
        raise node.fail("training_mode=1")
    eps = float(node.attr("epsilon", 1e-5))
    scale, bias, mean, var = (_channel(node.t(i), rank) if rank > 1 else node.t(i) for i in range(1, 5))
    return [(x - mean) * (scale / tf.sqrt(var + eps)) + bias]


@op("InstanceNormalization")
def _instance_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    eps = float(node.attr("epsilon", 1e-5))
    axes = list(range(2, rank))
    mean = tf.reduce_mean(x, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=axes, keepdims=True)
    return [(x - mean) / tf.sqrt(var + eps) * _channel(node.t(1), rank) + _channel(node.t(2), rank)]


@op("LayerNormalization")
def _layer_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    axis = int(node.attr("axis", -1)) % rank
    eps = float(node.attr("epsilon", 1e-5))
    axes = list(range(axis, rank))
    mean = tf.reduce_mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = tf.reduce_mean(centered * centered, axis=axes, keepdims=True)
    inv = 1.0 / tf.sqrt(var + eps)
    y = centered * inv * node.t(1)
    if node.has(2):
        y = y + node.t(2)
    return [y, mean, inv][: max(1, node.n_outputs)]


@op("RMSNormalization")
def _rms_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    axis = int(node.attr("axis", -1)) % rank
    eps = float(node.attr("epsilon", 1e-5))
    ms = tf.reduce_mean(x * x, axis=list(range(axis, rank)), keepdims=True)
    return [x / tf.sqrt(ms + eps) * node.t(1)]


@op("GroupNormalization")
def _group_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    shape = shape_of(node.inputs[0])
    groups = int(node.attr("num_groups"))
    eps = float(node.attr("epsilon", 1e-5))
    n, c = shape[0], shape[1]
    g = tf.reshape(x, [n, groups, -1])
    mean = tf.reduce_mean(g, axis=2, keepdims=True)
    var = tf.reduce_mean(tf.square(g - mean), axis=2, keepdims=True)
    normed = tf.reshape((g - mean) / tf.sqrt(var + eps), shape)
    scale, bias = node.t(1), node.t(2)
    if int(scale.shape[0]) == groups and groups != c:  # opset 18: one scale per group
        scale = tf.repeat(scale, c // groups)
        bias = tf.repeat(bias, c // groups)
    rank = len(shape)
    return [normed * _channel(scale, rank) + _channel(bias, rank)]


@op("MeanVarianceNormalization")
def _mvn(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    axes = [int(a) for a in node.attr("axes", [0, 2, 3])]
    mean = tf.reduce_mean(x, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=axes, keepdims=True)
    return [(x - mean) / (tf.sqrt(var) + 1e-9)]


@op("LRN")
def _lrn(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    size = int(node.attr("size"))
    alpha, beta, bias = float(node.attr("alpha", 1e-4)), float(node.attr("beta", 0.75)), float(node.attr("bias", 1.0))
    sq = tf.square(x)
    c = int(x.shape[1])
    before, after = (size - 1) // 2, math.ceil((size - 1) / 2)
    padded = tf.pad(sq, [[0, 0], [before, after], *[[0, 0]] * (len(x.shape) - 2)])
    total = tf.add_n([tf.slice(padded, [0, k, *[0] * (len(x.shape) - 2)], [-1, c, *[-1] * (len(x.shape) - 2)])
                      for k in range(size)])
    return [x / tf.pow(bias + alpha / size * total, beta)]


@op("LpNormalization")
def _lp_norm(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    axis = int(node.attr("axis", -1))
    p = int(node.attr("p", 2))
    norm = tf.reduce_sum(tf.abs(x), axis=axis, keepdims=True) if p == 1 else \
        tf.sqrt(tf.reduce_sum(x * x, axis=axis, keepdims=True))
    return [x / norm]


@op("MatMul")
def _matmul(node: Node) -> list[Value]:
    tf = _tf()
    a, b = node.t(0), node.t(1)
    squeeze_a = len(a.shape) == 1
    squeeze_b = len(b.shape) == 1
    if squeeze_a:
        a = tf.expand_dims(a, 0)
    if squeeze_b:
        b = tf.expand_dims(b, -1)
    y = tf.linalg.matmul(a, b)
    if squeeze_a:
        y = tf.squeeze(y, -2)
    if squeeze_b:
        y = tf.squeeze(y, -1)
    return [y]


@op("Gemm")
def _gemm(node: Node) -> list[Value]:
    tf = _tf()
    a, b = node.t(0), node.t(1)
    if int(node.attr("transA", 0)):
        a = tf.transpose(a)
    if int(node.attr("transB", 0)):
        b = tf.transpose(b)
    y = tf.linalg.matmul(a, b)
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    if alpha != 1.0:
        y = y * alpha
    if node.has(2):
        c = node.t(2)
        y = y + (c * beta if beta != 1.0 else c)
    return [y]


def _resize_axes(node: Node, attrs: dict[str, Any], in_shape: tuple[int, ...]) -> list[tuple[int, int, float | None]]:
    rank = len(in_shape)
    axes = [int(a) % rank for a in node.attrs.get("axes", range(rank))]
    scales = node.maybe_const(2) if node.has(2) else None
    sizes = node.maybe_const(3) if node.has(3) else None
    if node.has(2) and scales is None or node.has(3) and sizes is None:
        raise node.fail("scales/sizes must be constants")
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    out: list[tuple[int, int, float | None]] = []
    if policy != "stretch" and sizes is not None and sizes.size:
        # one scale for every resized axis (the smallest or the largest of sizes/input), sizes rounded half up
        ratios = [float(s) / in_shape[a] for a, s in zip(axes, sizes.reshape(-1), strict=True)]
        if policy not in ("not_larger", "not_smaller"):
            raise node.fail(f"keep_aspect_ratio_policy {policy}")
        scale = min(ratios) if policy == "not_larger" else max(ratios)
        return [(a, int(scale * in_shape[a] + 0.5), scale) for a in axes]
    if scales is not None and scales.size:
        for a, s in zip(axes, scales.astype(np.float64).reshape(-1), strict=True):
            out.append((a, int(math.floor(in_shape[a] * float(s))), float(s)))
    elif sizes is not None and sizes.size:
        for a, s in zip(axes, sizes.reshape(-1), strict=True):
            out.append((a, int(s), None))
    else:
        raise node.fail("neither scales nor sizes given")
    return out


def _apply_axis_resizes(node: Node, x: Any, plan: list[tuple[int, np.ndarray]], nearest: bool) -> Any:
    tf = _tf()
    rank = len(x.shape)
    for axis, matrix in plan:
        if nearest and np.all((matrix == 0) | (matrix == 1)) and np.all(matrix.sum(axis=0) == 1):
            x = tf.gather(x, np.argmax(matrix, axis=0).astype(np.int32), axis=axis)
            continue
        m = tf.constant(matrix.astype(np.float32))
        if x.dtype != tf.float32:
            raise node.fail(f"linear/cubic resize of a {x.dtype.name} tensor")
        perm = [*range(axis), *range(axis + 1, rank), axis]
        inverse = [int(i) for i in np.argsort(perm)]
        moved = tf.transpose(x, perm) if axis != rank - 1 else x
        y = tf.linalg.matmul(moved, m)
        x = tf.transpose(y, inverse) if axis != rank - 1 else y
    return x


@op("Resize", "Upsample")
def _resize(node: Node) -> list[Value]:
    from edgekit.host.onnx.repair.resize import axis_matrix

    in_shape = shape_of(node.inputs[0])
    attrs = dict(node.attrs)
    if node.op == "Upsample":
        scales = node.const(1, "scales") if node.has(1) else np.array(node.attr("scales"), np.float32)
        mode = node.attr("mode", "nearest")
        attrs = {"mode": "linear" if mode in ("linear", "bilinear") else "nearest",
                 "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        wanted: list[tuple[int, int, float | None]] = [
            (a, int(math.floor(in_shape[a] * float(s))), float(s)) for a, s in enumerate(scales.astype(np.float64).reshape(-1))]
    else:
        if node.opset < 11:
            scales = node.const(1, "scales")
            attrs = {"mode": node.attr("mode", "nearest"), "coordinate_transformation_mode": "asymmetric",
                     "nearest_mode": "floor"}
            wanted = [(a, int(math.floor(in_shape[a] * float(s))), float(s))
                      for a, s in enumerate(scales.astype(np.float64).reshape(-1))]
        else:
            if node.attr("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize":
                raise node.fail("coordinate_transformation_mode tf_crop_and_resize")
            wanted = _resize_axes(node, attrs, in_shape)
    plan = []
    for axis, n_out, scale in wanted:
        n_in = in_shape[axis]
        if n_in == n_out and (scale is None or scale == 1.0):
            continue
        matrix = axis_matrix(attrs, n_in, n_out, scale, max(node.opset, 11))
        if matrix is None:
            raise node.fail("the ONNX reference could not compute this resize")
        plan.append((axis, matrix))
    mode = attrs.get("mode", "nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    return [_apply_axis_resizes(node, node.t(0), plan, mode == "nearest")]


@op("DequantizeLinear")
def _dequantize(node: Node) -> list[Value]:
    tf = _tf()
    x = tf.cast(node.t(0), tf.float32)
    rank = len(x.shape)
    scale = node.t(1)
    zero = tf.cast(node.t(2), tf.float32) if node.has(2) else None
    if int(node.attr("block_size", 0)):
        raise node.fail("blocked quantization (block_size)")
    if len(scale.shape) == 1 and rank > 1 and int(scale.shape[0]) > 1:
        axis = int(node.attr("axis", 1)) % rank
        shape = [1] * rank
        shape[axis] = -1
        scale = tf.reshape(scale, shape)
        zero = tf.reshape(zero, shape) if zero is not None else None
    y = (x - zero) * tf.cast(scale, tf.float32) if zero is not None else x * tf.cast(scale, tf.float32)
    return [y]


@op("QuantizeLinear")
def _quantize(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    scale = tf.cast(node.t(1), x.dtype)
    zero = node.t(2) if node.has(2) else tf.constant(0, tf.uint8)
    out_dtype = zero.dtype
    zf = tf.cast(zero, x.dtype)
    if len(scale.shape) == 1 and rank > 1 and int(scale.shape[0]) > 1:
        axis = int(node.attr("axis", 1)) % rank
        shape = [1] * rank
        shape[axis] = -1
        scale, zf = tf.reshape(scale, shape), tf.reshape(zf, shape)
    info = np.iinfo(out_dtype.as_numpy_dtype)
    y = tf.clip_by_value(tf.round(x / scale) + zf, float(info.min), float(info.max))
    return [tf.cast(y, out_dtype)]
