"""LSTM, GRU and RNN, unrolled over the (static) sequence length, with explicit initial and final states.

Streaming models (voice activity detection, keyword spotting) run one step at a
time and feed the final state back as the next call's initial state; the
state tensors are ordinary model inputs and outputs here, so the converted
model is stateless and the caller carries the state, exactly as with
onnxruntime. The input projection of all time steps is one matrix product;
each step adds the recurrent product. Equations, gate orders (LSTM ``iofc``,
GRU ``zrh``), ``linear_before_reset``, peepholes, ``clip``, the activation
list and ``layout`` follow the ONNX specification.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Node, Value, op, shape_of

MAX_STEPS = 4096


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _activation(name: str, alpha: float | None, beta: float | None) -> Any:
    tf = _tf()
    name = name.lower()
    if name == "sigmoid":
        return tf.sigmoid
    if name == "tanh":
        return tf.tanh
    if name == "relu":
        return tf.nn.relu
    if name == "hardsigmoid":
        a, b = alpha if alpha is not None else 0.2, beta if beta is not None else 0.5
        return lambda x: tf.clip_by_value(a * x + b, 0.0, 1.0)
    if name == "leakyrelu":
        a = alpha if alpha is not None else 0.01
        return lambda x: tf.where(x >= 0, x, a * x)
    if name == "thresholdedrelu":
        a = alpha if alpha is not None else 1.0
        return lambda x: tf.where(x > a, x, tf.zeros_like(x))
    if name == "scaledtanh":
        a, b = alpha if alpha is not None else 1.0, beta if beta is not None else 1.0
        return lambda x: a * tf.tanh(b * x)
    if name == "affine":
        a, b = alpha if alpha is not None else 1.0, beta if beta is not None else 0.0
        return lambda x: a * x + b
    if name == "elu":
        a = alpha if alpha is not None else 1.0
        return lambda x: tf.where(x > 0, x, a * (tf.exp(x) - 1.0))
    if name == "softsign":
        return lambda x: x / (1.0 + tf.abs(x))
    if name == "softplus":
        return lambda x: tf.maximum(x, 0.0) + tf.math.log(1.0 + tf.exp(-tf.abs(x)))
    raise ValueError(name)


def _activations(node: Node, defaults: list[str], directions: int) -> list[list[Any]]:
    names = [a.decode() if isinstance(a, bytes) else str(a) for a in (node.attr("activations") or [])]
    if not names:
        names = defaults * directions
    alphas = list(node.attr("activation_alpha") or [])
    betas = list(node.attr("activation_beta") or [])
    fns = []
    for i, name in enumerate(names):
        try:
            fns.append(_activation(name, alphas[i] if i < len(alphas) else None, betas[i] if i < len(betas) else None))
        except ValueError as exc:
            raise node.fail(f"activation '{name}'") from exc
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(directions)]


class _Inputs:
    def __init__(self, node: Node, gates: int) -> None:
        tf = _tf()
        shape = shape_of(node.inputs[0])
        self.layout = int(node.attr("layout", 0))
        x = node.t(0)
        if self.layout:
            x = tf.transpose(x, [1, 0, 2])
            shape = (shape[1], shape[0], shape[2])
        self.seq, self.batch, _ = shape
        if self.seq > MAX_STEPS:
            raise node.fail(f"{self.seq} time steps (more than {MAX_STEPS} to unroll)")
        self.x = x
        self.hidden = int(node.attr("hidden_size") or shape_of(node.inputs[2])[-1])
        self.direction = node.attr("direction", "forward")
        self.dirs = 2 if self.direction == "bidirectional" else 1
        self.clip = node.attr("clip")
        h = self.hidden
        self.w, self.r = node.t(1), node.t(2)
        self.b = node.t(3) if node.has(3) else tf.zeros([self.dirs, 2 * gates * h], x.dtype)
        if node.has(4):
            lens = node.maybe_const(4)
            if lens is None or not np.all(lens == self.seq):
                raise node.fail("sequence_lens that differ from the sequence length")

        def state(i: int) -> Any:
            if not node.has(i):
                return tf.zeros([self.dirs, self.batch, h], x.dtype)
            value = node.t(i)
            return tf.transpose(value, [1, 0, 2]) if self.layout else value

        self.state = state

    def clipped(self, x: Any) -> Any:
        if self.clip is None:
            return x
        return _tf().clip_by_value(x, -float(self.clip), float(self.clip))

    def order(self, d: int) -> list[int]:
        reverse = self.direction == "reverse" or d == 1
        return list(range(self.seq - 1, -1, -1)) if reverse else list(range(self.seq))


def _outputs(node: Node, spec: _Inputs, ys: list[list[Any]], finals: list[list[Any]]) -> list[Value]:
    """Y [seq, dirs, batch, hidden] (or batch-major with layout=1) and the final states."""
    tf = _tf()
    y = tf.stack([tf.stack(per_dir, axis=0) for per_dir in ys], axis=1)  # [seq, dirs, batch, hidden]
    outs: list[Value] = []
    if spec.layout:
        y = tf.transpose(y, [2, 0, 1, 3])
    outs.append(y)
    for states in finals:
        s = tf.stack(states, axis=0)  # [dirs, batch, hidden]
        outs.append(tf.transpose(s, [1, 0, 2]) if spec.layout else s)
    return outs[: node.n_outputs]


def _project(spec: _Inputs, d: int, gates: int) -> tuple[Any, Any, Any]:
    """X @ W^T + Wb for every step at once, R^T and Rb of direction d."""
    tf = _tf()
    h = spec.hidden
    w, r, b = spec.w[d], spec.r[d], spec.b[d]
    xp = tf.linalg.matmul(tf.reshape(spec.x, [spec.seq * spec.batch, -1]), w, transpose_b=True) + b[: gates * h]
    xp = tf.reshape(xp, [spec.seq, spec.batch, gates * h])
    return xp, tf.transpose(r), b[gates * h:]


@op("LSTM")
def _lstm(node: Node) -> list[Value]:
    tf = _tf()
    spec = _Inputs(node, 4)
    if int(node.attr("input_forget", 0)):
        raise node.fail("input_forget=1")
    acts = _activations(node, ["Sigmoid", "Tanh", "Tanh"], spec.dirs)
    h0, c0 = spec.state(5), spec.state(6)
    peep = node.t(7) if node.has(7) else None
    hs = spec.hidden
    ys, last_h, last_c = [], [], []
    for d in range(spec.dirs):
        f, g, hact = acts[d]
        xp, rt, rb = _project(spec, d, 4)
        h, c = h0[d], c0[d]
        p = peep[d] if peep is not None else None
        out = [None] * spec.seq
        for t in spec.order(d):
            z = xp[t] + tf.linalg.matmul(h, rt) + rb
            zi, zo, zf, zc = (z[:, k * hs:(k + 1) * hs] for k in range(4))
            if p is not None:
                zi = zi + p[:hs] * c
                zf = zf + p[2 * hs:] * c
            i_g = f(spec.clipped(zi))
            f_g = f(spec.clipped(zf))
            c_g = g(spec.clipped(zc))
            c = f_g * c + i_g * c_g
            if p is not None:
                zo = zo + p[hs:2 * hs] * c
            o_g = f(spec.clipped(zo))
            h = o_g * hact(c)
            out[t] = h
        ys.append(out)
        last_h.append(h)
        last_c.append(c)
    return _outputs(node, spec, ys, [last_h, last_c])


@op("GRU")
def _gru(node: Node) -> list[Value]:
    tf = _tf()
    spec = _Inputs(node, 3)
    acts = _activations(node, ["Sigmoid", "Tanh"], spec.dirs)
    h0 = spec.state(5)
    hs = spec.hidden
    before_reset = int(node.attr("linear_before_reset", 0))
    ys, last_h = [], []
    for d in range(spec.dirs):
        f, g = acts[d]
        xp, rt, rb = _project(spec, d, 3)
        h = h0[d]
        out = [None] * spec.seq
        for t in spec.order(d):
            x_t = xp[t]
            hz = tf.linalg.matmul(h, rt[:, : 2 * hs]) + rb[: 2 * hs]
            z = f(spec.clipped(x_t[:, :hs] + hz[:, :hs]))
            r = f(spec.clipped(x_t[:, hs:2 * hs] + hz[:, hs:]))
            if before_reset:
                hh = g(spec.clipped(x_t[:, 2 * hs:] + r * (tf.linalg.matmul(h, rt[:, 2 * hs:]) + rb[2 * hs:])))
            else:
                hh = g(spec.clipped(x_t[:, 2 * hs:] + tf.linalg.matmul(r * h, rt[:, 2 * hs:]) + rb[2 * hs:]))
            h = (1.0 - z) * hh + z * h
            out[t] = h
        ys.append(out)
        last_h.append(h)
    return _outputs(node, spec, ys, [last_h])


@op("RNN")
def _rnn(node: Node) -> list[Value]:
    tf = _tf()
    spec = _Inputs(node, 1)
    acts = _activations(node, ["Tanh"], spec.dirs)
    h0 = spec.state(5)
    ys, last_h = [], []
    for d in range(spec.dirs):
        (f,) = acts[d]
        xp, rt, rb = _project(spec, d, 1)
        h = h0[d]
        out = [None] * spec.seq
        for t in spec.order(d):
            h = f(spec.clipped(xp[t] + tf.linalg.matmul(h, rt) + rb))
            out[t] = h
        ys.append(out)
        last_h.append(h)
    return _outputs(node, spec, ys, [last_h])
