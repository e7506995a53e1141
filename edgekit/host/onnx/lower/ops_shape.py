"""Shape, indexing, reduction and tensor-manipulation ops (static shapes: attributes and shape inputs are constants)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Node, Value, np_dtype, op, shape_of


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _axes(node: Node, rank: int, input_index: int = 1, attr: str = "axes") -> list[int] | None:
    """Axes from the attribute (old opsets) or the input (new opsets), normalised; None when not given."""
    if node.has(input_index):
        return [a % max(rank, 1) for a in _ints(node.const(input_index, "axes"))]
    value = node.attr(attr)
    if value is None:
        return None
    return [int(a) % max(rank, 1) for a in value]


@op("Reshape")
def _reshape(node: Node) -> list[Value]:
    from edgekit.host.onnx.repair.allowzero import explicit_shape

    tf = _tf()
    x = node.t(0)
    target = explicit_shape(shape_of(node.inputs[0]), node.const(1, "shape"), bool(node.attr("allowzero", 0)))
    if target is None:
        raise node.fail("the target shape does not fit the input")
    return [tf.reshape(x, target)]


@op("Flatten")
def _flatten(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    axis = int(node.attr("axis", 1))
    axis = axis + len(shape) if axis < 0 else axis  # -rank is 0: (1, everything)
    return [tf.reshape(node.t(0), [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))])]


@op("Squeeze")
def _squeeze(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    axes = _axes(node, len(shape))
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    return [tf.reshape(node.t(0), [d for i, d in enumerate(shape) if i not in axes])]


@op("Unsqueeze")
def _unsqueeze(node: Node) -> list[Value]:
    tf = _tf()
    shape = list(shape_of(node.inputs[0]))
    raw = _ints(node.const(1)) if node.has(1) else [int(a) for a in node.attr("axes", [])]
    rank = len(shape) + len(raw)
    axes = sorted(a % rank for a in raw)
    for a in axes:
        shape.insert(a, 1)
    return [tf.reshape(node.t(0), shape)]


@op("Transpose")
def _transpose(node: Node) -> list[Value]:
    tf = _tf()
    rank = len(shape_of(node.inputs[0]))
    perm = node.attr("perm") or list(reversed(range(rank)))
    return [tf.transpose(node.t(0), [int(p) for p in perm])]


@op("Concat")
def _concat(node: Node) -> list[Value]:
    tf = _tf()
    values = [node.t(i) for i in range(len(node.inputs)) if node.has(i)]
    rank = len(values[0].shape)
    axis = int(node.attr("axis", 0)) % max(rank, 1)
    values = [v for v in values if int(np.prod(v.shape.as_list())) > 0 or len(values) == 1]
    return [tf.concat(values, axis=axis)]


@op("Split")
def _split(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    axis = int(node.attr("axis", 0)) % len(shape)
    if node.has(1):
        sizes = _ints(node.const(1, "split"))
    elif node.attr("split") is not None:
        sizes = [int(s) for s in node.attr("split")]
    else:
        parts = int(node.attr("num_outputs", node.n_outputs))
        chunk = -(-shape[axis] // parts)
        sizes = [min(chunk, max(0, shape[axis] - k * chunk)) for k in range(parts)]
    x = node.t(0)
    outs, start = [], 0
    for size in sizes:
        begin = [0] * len(shape)
        begin[axis] = start
        extent = list(shape)
        extent[axis] = size
        outs.append(tf.slice(x, begin, extent))
        start += size
    return outs


@op("Slice")
def _slice(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    rank = len(shape)
    if node.opset < 10:
        starts, ends = [int(v) for v in node.attr("starts")], [int(v) for v in node.attr("ends")]
        axes = [int(a) for a in node.attr("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(node.const(1, "starts")), _ints(node.const(2, "ends"))
        axes = _ints(node.const(3, "axes")) if node.has(3) else list(range(len(starts)))
        steps = _ints(node.const(4, "steps")) if node.has(4) else [1] * len(starts)
    begin, end, stride = [0] * rank, list(shape), [1] * rank
    begin_mask = end_mask = 0
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        a %= rank
        dim = shape[a]
        if st > 0:
            s = min(max(s + dim if s < 0 else s, 0), dim)
            e = min(max(e + dim if e < 0 else e, 0), dim)
        else:
            s = min(max(s + dim if s < 0 else s, -1), dim - 1)
            e = min(max(e + dim if e < 0 else e, -1), dim - 1)
            if e < 0:
                end_mask |= 1 << a
        begin[a], end[a], stride[a] = s, e, st
    del begin_mask
    return [tf.strided_slice(node.t(0), begin, end, stride, end_mask=end_mask)]


def _normalised_indices(node: Node, index: int, dim: int) -> Any:
    tf = _tf()
    const = node.maybe_const(index)
    if const is not None:
        fixed = np.where(const < 0, const + dim, const).astype(np.int64 if const.dtype == np.int64 else np.int32)
        return tf.constant(fixed)
    idx = node.t(index)
    return tf.where(idx < 0, idx + tf.cast(dim, idx.dtype), idx)


@op("Gather")
def _gather(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    axis = int(node.attr("axis", 0)) % len(shape)
    return [tf.gather(node.t(0), _normalised_indices(node, 1, shape[axis]), axis=axis)]


def _full_indices(idx: Any, axis: int) -> Any:
    """gather_nd indices that pick idx along ``axis`` and keep every other coordinate."""
    tf = _tf()
    shape = idx.shape.as_list()
    grids = tf.meshgrid(*[tf.range(d, dtype=idx.dtype) for d in shape], indexing="ij")
    grids[axis] = idx
    return tf.stack(grids, axis=-1)


@op("GatherElements")
def _gather_elements(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    axis = int(node.attr("axis", 0)) % len(shape)
    idx = _normalised_indices(node, 1, shape[axis])
    return [tf.gather_nd(node.t(0), _full_indices(idx, axis))]


@op("GatherND")
def _gather_nd(node: Node) -> list[Value]:
    tf = _tf()
    return [tf.gather_nd(node.t(0), node.t(1), batch_dims=int(node.attr("batch_dims", 0)))]


def _scatter(data: Any, indices: Any, updates: Any, reduction: str, node: Node) -> Any:
    tf = _tf()
    if reduction in ("none", None):
        return tf.tensor_scatter_nd_update(data, indices, updates)
    fn = {"add": tf.tensor_scatter_nd_add, "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}.get(
        reduction)
    if fn is None:
        raise node.fail(f"reduction '{reduction}'")
    return fn(data, indices, updates)


@op("ScatterND")
def _scatter_nd(node: Node) -> list[Value]:
    return [_scatter(node.t(0), node.t(1), node.t(2), node.attr("reduction", "none"), node)]


@op("ScatterElements", "Scatter")
def _scatter_elements(node: Node) -> list[Value]:
    shape = shape_of(node.inputs[0])
    axis = int(node.attr("axis", 0)) % len(shape)
    idx = _normalised_indices(node, 1, shape[axis])
    return [_scatter(node.t(0), _full_indices(idx, axis), node.t(2), node.attr("reduction", "none"), node)]


@op("Expand")
def _expand(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    target = _ints(node.const(1, "shape"))
    out = list(np.broadcast_shapes(tuple(shape), tuple(target)))
    return [tf.broadcast_to(node.t(0), out)]


@op("Tile")
def _tile(node: Node) -> list[Value]:
    return [_tf().tile(node.t(0), _ints(node.const(1, "repeats")))]


@op("Pad")
def _pad(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    rank = len(shape)
    if node.opset < 11:
        pads = [int(p) for p in node.attr("pads")]
        value = float(node.attr("value", 0.0))
    else:
        pads = _ints(node.const(1, "pads"))
        # the pad value may be computed from the inputs (Attention's function body: a CastLike of -inf)
        const_value = node.maybe_const(2) if node.has(2) else np.zeros(1)
        value = const_value.reshape(-1)[0] if const_value is not None else tf.reshape(node.t(2), [])
    given = _axes(node, rank, 3) if node.opset >= 18 and node.has(3) else None
    axes = given if given is not None else list(range(rank))
    begin, end = [0] * rank, [0] * rank
    n = len(axes)
    for k, a in enumerate(axes):
        begin[a], end[a] = pads[k], pads[k + n]
    x = node.t(0)
    # negative pads crop
    if any(p < 0 for p in begin + end):
        start = [max(0, -b) for b in begin]
        size = [d - max(0, -b) - max(0, -e) for d, b, e in zip(shape, begin, end, strict=True)]
        x = tf.slice(x, start, size)
        begin, end = [max(0, b) for b in begin], [max(0, e) for e in end]
    mode = node.attr("mode", "constant")
    paddings = [[b, e] for b, e in zip(begin, end, strict=True)]
    if mode == "constant":
        return [tf.pad(x, paddings, constant_values=tf.cast(value, x.dtype))]
    if mode == "reflect":
        return [tf.pad(x, paddings, mode="REFLECT")]
    if mode == "edge":
        return [_edge_pad(x, paddings)]
    if mode == "wrap":
        return [_wrap_pad(x, paddings)]
    raise node.fail(f"mode '{mode}'")


def _edge_pad(x: Any, paddings: list[list[int]]) -> Any:
    tf = _tf()
    for axis, (b, e) in enumerate(paddings):
        if not b and not e:
            continue
        n = x.shape[axis]
        idx = np.clip(np.arange(-b, n + e), 0, n - 1)
        x = tf.gather(x, idx, axis=axis)
    return x


def _wrap_pad(x: Any, paddings: list[list[int]]) -> Any:
    tf = _tf()
    for axis, (b, e) in enumerate(paddings):
        if not b and not e:
            continue
        n = x.shape[axis]
        idx = np.mod(np.arange(-b, n + e), n)
        x = tf.gather(x, idx, axis=axis)
    return x


@op("ConstantOfShape")
def _constant_of_shape(node: Node) -> list[Value]:
    from onnx import numpy_helper

    shape = _ints(node.const(0, "shape"))
    value = node.attr("value")
    fill = numpy_helper.to_array(value).reshape(-1) if value is not None else np.zeros(1, np.float32)
    return [np.full(shape, fill[0], dtype=fill.dtype)]


@op("Shape")
def _shape(node: Node) -> list[Value]:
    shape = np.array(shape_of(node.inputs[0]), np.int64)
    start, end = int(node.attr("start", 0)), node.attr("end")
    return [shape[start:] if end is None else shape[start:int(end)]]


@op("Size")
def _size(node: Node) -> list[Value]:
    return [np.array(int(np.prod(shape_of(node.inputs[0]))), np.int64)]


@op("Range")
def _range(node: Node) -> list[Value]:
    tf = _tf()
    return [tf.range(node.t(0), node.t(1), node.t(2))]


@op("EyeLike")
def _eye_like(node: Node) -> list[Value]:
    shape = shape_of(node.inputs[0])
    dtype = np_dtype(node.inputs[0])
    from edgekit.host.onnx.lower.ops_math import _ONNX_TO_NP

    if node.attr("dtype") is not None:
        dtype = np.dtype(_ONNX_TO_NP[int(node.attr("dtype"))])
    return [np.eye(shape[0], shape[1], k=int(node.attr("k", 0)), dtype=dtype)]


@op("Trilu")
def _trilu(node: Node) -> list[Value]:
    tf = _tf()
    shape = shape_of(node.inputs[0])
    k = int(node.const(1).reshape(-1)[0]) if node.has(1) else 0
    rows, cols = shape[-2], shape[-1]
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    mask = (j - i >= k) if int(node.attr("upper", 1)) else (j - i <= k)
    x = node.t(0)
    return [tf.where(tf.constant(mask), x, tf.zeros_like(x))]


@op("OneHot")
def _one_hot(node: Node) -> list[Value]:
    tf = _tf()
    depth = int(node.const(1, "depth").reshape(-1)[0])
    values = node.t(2)
    idx = node.t(0)
    idx = tf.cast(idx, tf.int64)
    idx = tf.where(idx < 0, idx + depth, idx)
    rank = len(idx.shape)
    axis = int(node.attr("axis", -1))
    axis = axis % (rank + 1)
    return [tf.one_hot(idx, depth, on_value=values[1], off_value=values[0], axis=axis, dtype=values.dtype)]


@op("TopK")
def _topk(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    k = int(node.const(1, "k").reshape(-1)[0]) if node.opset >= 10 else int(node.attr("k"))
    axis = int(node.attr("axis", -1)) % rank
    largest = int(node.attr("largest", 1))
    perm = [*range(axis), *range(axis + 1, rank), axis]
    inverse = [int(i) for i in np.argsort(perm)]
    moved = tf.transpose(x, perm) if axis != rank - 1 else x
    values, indices = tf.math.top_k(moved if largest else -moved, k=k, sorted=True)
    if not largest:
        values = -values
    if axis != rank - 1:
        values, indices = tf.transpose(values, inverse), tf.transpose(indices, inverse)
    return [values, tf.cast(indices, tf.int64)]


@op("ArgMax", "ArgMin")
def _arg(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    axis = int(node.attr("axis", 0)) % rank
    keep = int(node.attr("keepdims", 1))
    if int(node.attr("select_last_index", 0)):
        x = tf.reverse(x, [axis])
    fn = tf.argmax if node.op == "ArgMax" else tf.argmin
    out = fn(x, axis=axis, output_type=tf.int64)
    if int(node.attr("select_last_index", 0)):
        out = (x.shape[axis] - 1) - out
    if keep:
        out = tf.expand_dims(out, axis)
    return [out]


_REDUCE = {"ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "l1", "ReduceL2": "l2",
           "ReduceLogSum": "logsum", "ReduceLogSumExp": "logsumexp", "ReduceSumSquare": "sumsquare"}


@op(*_REDUCE)
def _reduce(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    axes_from_input = node.op == "ReduceSum" and node.opset >= 13 or node.opset >= 18
    axes = _axes(node, rank, 1) if axes_from_input else _axes(node, rank, 99)
    if axes is None or (axes_from_input and node.has(1) and len(axes) == 0):
        if int(node.attr("noop_with_empty_axes", 0)):
            return [tf.identity(x)]
        axes = list(range(rank))
    keep = bool(int(node.attr("keepdims", 1)))
    kind = _REDUCE[node.op]
    if kind == "l1":
        out = tf.reduce_sum(tf.abs(x), axis=axes, keepdims=keep)
    elif kind == "l2":
        out = tf.sqrt(tf.reduce_sum(x * x, axis=axes, keepdims=keep))
    elif kind == "logsum":
        out = tf.math.log(tf.reduce_sum(x, axis=axes, keepdims=keep))
    elif kind == "logsumexp":
        out = tf.reduce_logsumexp(x, axis=axes, keepdims=keep)
    elif kind == "sumsquare":
        out = tf.reduce_sum(x * x, axis=axes, keepdims=keep)
    else:
        out = getattr(tf, kind)(x, axis=axes, keepdims=keep)
    return [out]


@op("CumSum")
def _cumsum(node: Node) -> list[Value]:
    tf = _tf()
    axis = int(node.const(1, "axis").reshape(-1)[0])
    return [tf.cumsum(node.t(0), axis=axis, exclusive=bool(node.attr("exclusive", 0)),
                      reverse=bool(node.attr("reverse", 0)))]


@op("Einsum")
def _einsum(node: Node) -> list[Value]:
    tf = _tf()
    values = [node.t(i) for i in range(len(node.inputs))]
    return [tf.einsum(str(node.attr("equation")).replace(" ", ""), *values)]


@op("ReverseSequence")
def _reverse_sequence(node: Node) -> list[Value]:
    tf = _tf()
    return [tf.reverse_sequence(node.t(0), node.t(1), seq_axis=int(node.attr("time_axis", 0)),
                                batch_axis=int(node.attr("batch_axis", 1)))]


@op("Compress")
def _compress(node: Node) -> list[Value]:
    tf = _tf()
    cond = node.const(1, "condition").astype(bool).reshape(-1)
    axis = node.attr("axis")
    x = node.t(0)
    if axis is None:
        x = tf.reshape(x, [-1])
        axis = 0
    axis = int(axis) % len(x.shape)
    return [tf.gather(x, np.nonzero(cond[: x.shape[axis]])[0], axis=axis)]


@op("SpaceToDepth", "DepthToSpace")
def _space_depth(node: Node) -> list[Value]:
    tf = _tf()
    n, c, h, w = shape_of(node.inputs[0])
    b = int(node.attr("blocksize"))
    x = node.t(0)
    if node.op == "SpaceToDepth":
        t = tf.reshape(x, [n, c, h // b, b, w // b, b])
        # DCR (the default): block offsets before channels; CRD (opset 25): channels first
        t = tf.transpose(t, [0, 3, 5, 1, 2, 4] if node.attr("mode", "DCR") == "DCR" else [0, 1, 3, 5, 2, 4])
        return [tf.reshape(t, [n, c * b * b, h // b, w // b])]
    if node.attr("mode", "DCR") == "DCR":
        t = tf.reshape(x, [n, b, b, c // (b * b), h, w])
        t = tf.transpose(t, [0, 3, 4, 1, 5, 2])
    else:
        t = tf.reshape(x, [n, c // (b * b), b, b, h, w])
        t = tf.transpose(t, [0, 1, 4, 2, 5, 3])
    return [tf.reshape(t, [n, c // (b * b), h * b, w * b])]
