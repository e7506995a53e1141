"""Element-wise ops, activations, comparisons and casts (ONNX broadcasting is numpy's, as TensorFlow's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Node, Value, np_dtype, op


def _tf() -> Any:
    import tensorflow as tf

    return tf


# TensorFlow ops that are TFLite builtins; the rest of the unary ops are written with builtins below
_UNARY = {
    "Abs": "abs", "Ceil": "ceil", "Cos": "cos", "Exp": "exp", "Floor": "floor", "Log": "log", "Neg": "negative",
    "Round": "round", "Sigmoid": "sigmoid", "Sign": "sign", "Sin": "sin", "Sqrt": "sqrt", "Tanh": "tanh",
    "Not": "logical_not",
}


def _unary(node: Node) -> list[Value]:
    tf = _tf()
    fn = getattr(tf.math, _UNARY[node.op])
    return [fn(node.t(0))]


for _name in _UNARY:
    op(_name)(_unary)


@op("Reciprocal")
def _reciprocal(node: Node) -> list[Value]:
    x = node.t(0)
    return [1.0 / x if x.dtype.is_floating else _tf().math.reciprocal(x)]


@op("Tan", "Sinh", "Cosh", "Asin", "Acos", "Atan", "Asinh", "Acosh", "Atanh", "Softsign", "Softplus")
def _composite_unary(node: Node) -> list[Value]:
    """Unary ops TFLite has no kernel for, written with ones it has (ATAN2, EXP, LOG, SQRT, SIN, COS)."""
    tf = _tf()
    x = node.t(0)
    one = tf.ones_like(x)
    if node.op == "Tan":
        return [tf.sin(x) / tf.cos(x)]
    if node.op == "Sinh":
        return [(tf.exp(x) - tf.exp(-x)) * 0.5]
    if node.op == "Cosh":
        return [(tf.exp(x) + tf.exp(-x)) * 0.5]
    if node.op == "Asin":
        return [tf.math.atan2(x, tf.sqrt(one - x * x))]
    if node.op == "Acos":
        return [tf.math.atan2(tf.sqrt(one - x * x), x)]
    if node.op == "Atan":
        return [tf.math.atan2(x, one)]
    if node.op == "Asinh":
        return [tf.math.log(x + tf.sqrt(x * x + one))]
    if node.op == "Acosh":
        return [tf.math.log(x + tf.sqrt(x * x - one))]
    if node.op == "Atanh":
        return [0.5 * tf.math.log((one + x) / (one - x))]
    if node.op == "Softsign":
        return [x / (one + tf.abs(x))]
    # Softplus, stable: max(x, 0) + log(1 + exp(-|x|))
    return [tf.maximum(x, 0.0) + tf.math.log(one + tf.exp(-tf.abs(x)))]


def erf(x: Any) -> Any:
    """erf with TFLite builtins: Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7), odd symmetry."""
    tf = _tf()
    a = tf.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return tf.sign(x) * (1.0 - poly * tf.exp(-a * a))


@op("Erf")
def _erf(node: Node) -> list[Value]:
    return [erf(node.t(0))]


@op("Relu")
def _relu(node: Node) -> list[Value]:
    return [_tf().nn.relu(node.t(0))]


@op("Identity", "Dropout")
def _identity(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    outs: list[Value] = [tf.identity(x)]
    if node.n_outputs > 1:  # Dropout's mask: all true in inference
        outs.append(tf.ones_like(x, dtype=tf.bool))
    return outs


@op("Elu")
def _elu(node: Node) -> list[Value]:
    tf = _tf()
    x, alpha = node.t(0), float(node.attr("alpha", 1.0))
    return [tf.where(x > 0, x, alpha * (tf.exp(x) - 1.0))]


@op("Selu")
def _selu(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    alpha = float(node.attr("alpha", 1.67326319217681884765625))
    gamma = float(node.attr("gamma", 1.05070102214813232421875))
    return [gamma * tf.where(x > 0, x, alpha * (tf.exp(x) - 1.0))]


@op("Celu")
def _celu(node: Node) -> list[Value]:
    tf = _tf()
    x, alpha = node.t(0), float(node.attr("alpha", 1.0))
    return [tf.maximum(x, 0.0) + tf.minimum(0.0, alpha * (tf.exp(x / alpha) - 1.0))]


@op("LeakyRelu")
def _leaky(node: Node) -> list[Value]:
    tf = _tf()
    x, alpha = node.t(0), float(node.attr("alpha", 0.01))
    return [tf.where(x >= 0, x, alpha * x)]


@op("ThresholdedRelu")
def _thresholded(node: Node) -> list[Value]:
    tf = _tf()
    x, alpha = node.t(0), float(node.attr("alpha", 1.0))
    return [tf.where(x > alpha, x, tf.zeros_like(x))]


@op("HardSigmoid")
def _hard_sigmoid(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    alpha, beta = float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))
    return [tf.clip_by_value(alpha * x + beta, 0.0, 1.0)]


@op("HardSwish")
def _hard_swish(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    return [x * tf.clip_by_value(x / 6.0 + 0.5, 0.0, 1.0)]


@op("Mish")
def _mish(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    return [x * tf.tanh(tf.maximum(x, 0.0) + tf.math.log(1.0 + tf.exp(-tf.abs(x))))]


@op("Swish")
def _swish(node: Node) -> list[Value]:
    tf = _tf()
    x, alpha = node.t(0), float(node.attr("alpha", 1.0))
    return [x * tf.sigmoid(alpha * x)]


@op("Gelu")
def _gelu(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    if node.attr("approximate", "none") == "tanh":
        return [0.5 * x * (1.0 + tf.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))]
    return [0.5 * x * (1.0 + erf(x * 0.7071067811865476))]


@op("Shrink")
def _shrink(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    bias, lambd = float(node.attr("bias", 0.0)), float(node.attr("lambd", 0.5))
    dtype = x.dtype
    return [tf.where(x < -lambd, x + tf.cast(bias, dtype), tf.where(x > lambd, x - tf.cast(bias, dtype),
                                                                   tf.zeros_like(x)))]


@op("PRelu")
def _prelu(node: Node) -> list[Value]:
    tf = _tf()
    x, slope = node.t(0), node.t(1)
    return [tf.where(x < 0, x * slope, x)]


_BINARY = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "And": "logical_and", "Or": "logical_or",
           "Xor": "logical_xor", "Equal": "equal", "Greater": "greater", "Less": "less",
           "GreaterOrEqual": "greater_equal", "LessOrEqual": "less_equal"}


def _binary(node: Node) -> list[Value]:
    tf = _tf()
    return [getattr(tf.math, _BINARY[node.op])(node.t(0), node.t(1))]


for _name in _BINARY:
    op(_name)(_binary)


@op("Div")
def _div(node: Node) -> list[Value]:
    a, b = node.t(0), node.t(1)
    if a.dtype.is_integer:
        return [_truncating_div(a, b)]
    return [a / b]


def _truncating_div(a: Value, b: Value) -> Value:
    """C's truncating integer division (onnxruntime's) from TFLite's FLOOR_DIV builtin, which has no truncating
    twin: the quotient of the magnitudes with the sign of a * b. FLOOR_DIV, ABS and SIGN have no int64 kernels,
    so int64 (an exporter's index arithmetic: box index // classes) is divided in int32 and cast back."""
    tf = _tf()
    if a.dtype.is_unsigned:
        return tf.math.floordiv(a, b)
    if a.dtype == tf.int64:
        return tf.cast(_truncating_div(tf.cast(a, tf.int32), tf.cast(b, tf.int32)), tf.int64)
    return tf.sign(a) * tf.sign(b) * tf.math.floordiv(tf.abs(a), tf.abs(b))


@op("Pow")
def _pow(node: Node) -> list[Value]:
    tf = _tf()
    a, b = node.t(0), node.t(1)
    exponent = node.maybe_const(1)
    if exponent is not None and exponent.size == 1:
        e = float(exponent.reshape(-1)[0])
        if e == 2.0:
            return [a * a]
        if e == 0.5 and a.dtype.is_floating:
            return [tf.sqrt(a)]
        if e == 1.0:
            return [tf.identity(a)]
    if b.dtype != a.dtype:
        b = tf.cast(b, a.dtype)
    return [tf.pow(a, b)]


@op("Mod")
def _mod(node: Node) -> list[Value]:
    tf = _tf()
    a, b = node.t(0), node.t(1)
    if int(node.attr("fmod", 0)):
        # C's fmod (the sign of the dividend) with TFLite's FLOOR_MOD builtin: sign(a) * (|a| mod |b|)
        return [tf.sign(a) * tf.math.floormod(tf.abs(a), tf.abs(b))]
    return [tf.math.floormod(a, b)]


@op("BitShift")
def _bitshift(node: Node) -> list[Value]:
    tf = _tf()
    a, b = node.t(0), node.t(1)
    fn = tf.bitwise.left_shift if node.attr("direction") == "LEFT" else tf.bitwise.right_shift
    return [fn(a, b)]


@op("BitwiseAnd", "BitwiseOr", "BitwiseXor")
def _bitwise(node: Node) -> list[Value]:
    tf = _tf()
    fn = {"BitwiseAnd": tf.bitwise.bitwise_and, "BitwiseOr": tf.bitwise.bitwise_or,
          "BitwiseXor": tf.bitwise.bitwise_xor}[node.op]
    return [fn(node.t(0), node.t(1))]


@op("BitwiseNot")
def _bitwise_not(node: Node) -> list[Value]:
    return [_tf().bitwise.invert(node.t(0))]


@op("Max", "Min", "Sum", "Mean")
def _variadic(node: Node) -> list[Value]:
    tf = _tf()
    values = [node.t(i) for i in range(len(node.inputs)) if node.has(i)]
    fn = {"Max": tf.maximum, "Min": tf.minimum, "Sum": tf.add, "Mean": tf.add}[node.op]
    out = values[0]
    for v in values[1:]:
        out = fn(out, v)
    if node.op == "Mean":
        out = out / float(len(values))
    elif len(values) == 1:
        out = tf.identity(out)
    return [out]


@op("Where")
def _where(node: Node) -> list[Value]:
    tf = _tf()
    cond, a, b = node.t(0), node.t(1), node.t(2)
    shape = tf.broadcast_static_shape(tf.broadcast_static_shape(cond.shape, a.shape), b.shape)
    return [tf.where(tf.broadcast_to(cond, shape), tf.broadcast_to(a, shape), tf.broadcast_to(b, shape))]


@op("Clip")
def _clip(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    if node.opset < 11:
        low, high = node.attr("min"), node.attr("max")
    else:
        low = node.t(1) if node.has(1) else None
        high = node.t(2) if node.has(2) else None
    if low is not None:
        x = tf.maximum(x, tf.cast(low, x.dtype))
    if high is not None:
        x = tf.minimum(x, tf.cast(high, x.dtype))
    return [x]


_ONNX_TO_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
               9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


@op("Cast")
def _cast(node: Node) -> list[Value]:
    tf = _tf()
    to = _ONNX_TO_NP.get(int(node.attr("to")))
    if to is None:
        raise node.fail(f"cast to ONNX type {node.attr('to')} (not a tensor type TFLite has)")
    return [tf.cast(node.t(0), to)]  # float -> int truncates toward zero, as numpy (the ONNX reference) does


@op("CastLike")
def _cast_like(node: Node) -> list[Value]:
    tf = _tf()
    return [tf.cast(node.t(0), np_dtype(node.inputs[1]))]


@op("IsNaN")
def _isnan(node: Node) -> list[Value]:
    return [_tf().math.is_nan(node.t(0))]


@op("IsInf")
def _isinf(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    pos, neg = int(node.attr("detect_positive", 1)), int(node.attr("detect_negative", 1))
    inf = tf.math.is_inf(x)
    if pos and neg:
        return [inf]
    if pos:
        return [tf.logical_and(inf, x > 0)]
    if neg:
        return [tf.logical_and(inf, x < 0)]
    return [tf.zeros_like(inf)]


@op("Softmax", "LogSoftmax", "Hardmax")
def _softmax(node: Node) -> list[Value]:
    tf = _tf()
    x = node.t(0)
    rank = len(x.shape)
    if node.opset < 13:  # coerce to 2-D at axis
        axis = int(node.attr("axis", 1)) % max(rank, 1)
        shape = x.shape.as_list()
        flat = tf.reshape(x, [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))])
        out = _softmax_last(node.op, flat)
        return [tf.reshape(out, shape)]
    axis = int(node.attr("axis", -1)) % max(rank, 1)
    if axis == rank - 1:
        return [_softmax_last(node.op, x)]
    perm = [*range(axis), *range(axis + 1, rank), axis]
    inverse = [int(i) for i in np.argsort(perm)]
    return [tf.transpose(_softmax_last(node.op, tf.transpose(x, perm)), inverse)]


def _softmax_last(kind: str, x: Any) -> Any:
    tf = _tf()
    if kind == "Softmax":
        return tf.nn.softmax(x, axis=-1)
    if kind == "LogSoftmax":
        return tf.nn.log_softmax(x, axis=-1)
    return tf.one_hot(tf.argmax(x, axis=-1), int(x.shape[-1]), dtype=x.dtype)
