"""Cross-layer equalization (weights and activations) and bias correction on a float .tflite (device-safe).

Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019): for two weight ops in a
row (CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, then CONV_2D / DEPTHWISE_CONV_2D /
FULLY_CONNECTED) joined by a tensor nothing else reads, with no activation or ReLU in between
(both commute with a positive per-channel scale; ReLU6 does not) and at most zero PADs, channel
``i`` of the first op's output is divided by ``s_i`` and the second op's input channel ``i`` is
multiplied by it, with ``s_i = sqrt(r1_i / r2_i)`` from the per-channel weight ranges. The float
function is unchanged; per-tensor weight quantization loses much less on models whose channels
have very different ranges.

Activation equalization (:func:`equalize_activations`): a per-tensor int8 range must hold the widest
channel; when a convolution's input comes through multiplications/additions by constants (PP-LCNetV3's
learnable affine blocks) and a zero PAD, its channels are evened out there (wide ones divided, narrow ones
multiplied) and the factors go back into the convolution's weights (the whole factor for a depthwise
conv, whose weights are quantized per channel, the square root for a regular one, as SmoothQuant does).
The per-channel constants are snapped onto their int8 grid; a constant several ops share (the ``/6`` of
a decomposed hard-swish) is left alone, the chain starts below it.

Bias correction (empirical): weight quantization shifts each output channel's mean by
``(W_q - W) . E[x]``; measured input means on the calibration samples let us subtract that from
the bias before quantizing, for the weights as the recipe will quantize them (per channel or per
tensor, symmetric int8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from edgekit.core.recipe import QuantRecipe
from edgekit.requant.floatmodel import map_weights, replace_constants
from edgekit.tflite.model import Operator, Subgraph, parse_model

WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_OK_ACTIVATIONS = ("NONE", "RELU", None)


def _out_axis(op: Operator) -> int:
    return 3 if op.name == "DEPTHWISE_CONV_2D" else 0


def _in_axis(op: Operator) -> int:
    return 3 if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D") else 1


def _activation(op: Operator) -> str | None:
    value = op.options.get("fused_activation_function") if isinstance(op.options, dict) else None
    return None if value is None else str(value).upper()


def _uses(sg: Subgraph) -> dict[int, int]:
    """How many op inputs read each tensor (a constant read twice is shared between ops)."""
    uses: dict[int, int] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                uses[i] = uses.get(i, 0) + 1
    return uses


def _pairs(sg: Subgraph) -> list[tuple[Operator, Operator]]:
    consumers: dict[int, list[Operator]] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                consumers.setdefault(i, []).append(op)
    pairs = []
    uses = _uses(sg)
    for op in sg.operators:
        if op.name not in WEIGHT_OPS or _activation(op) not in _OK_ACTIVATIONS or len(op.inputs) < 3:
            continue
        if op.name == "DEPTHWISE_CONV_2D" and int(op.options.get("depth_multiplier", 1) or 1) != 1:
            continue
        tensor = op.outputs[0]
        nxt = consumers.get(tensor, [])
        while len(nxt) == 1 and nxt[0].name == "PAD" and tensor not in sg.outputs:
            pad_value_ok = len(nxt[0].inputs) == 2  # PAD (zeros), not PADV2 with a constant
            if not pad_value_ok:
                break
            tensor = nxt[0].outputs[0]
            nxt = consumers.get(tensor, [])
        if len(nxt) != 1 or tensor in sg.outputs or op.outputs[0] in sg.outputs:
            continue
        second = nxt[0]
        if second.name not in WEIGHT_OPS or second.inputs[0] != tensor or len(second.inputs) < 2:
            continue
        if second.name == "DEPTHWISE_CONV_2D" and int(second.options.get("depth_multiplier", 1) or 1) != 1:
            continue
        w1, w2 = sg.tensor(op.inputs[1]), sg.tensor(second.inputs[1])
        if not (w1.is_constant and w2.is_constant and w1.dtype == "float32" and w2.dtype == "float32"):
            continue
        if op.inputs[2] < 0 or not sg.tensor(op.inputs[2]).is_constant:
            continue
        if any(uses.get(t, 0) != 1 for t in (op.inputs[1], op.inputs[2], second.inputs[1])):
            continue  # shared weights or biases: rescaling them for this pair would change another op
        if w1.shape[_out_axis(op)] != w2.shape[_in_axis(second)]:
            continue
        pairs.append((op, second))
    return pairs


def pairs_in(data: bytes) -> int:
    """How many places equalization can rescale in this float model (layer pairs, affine chains into convs)."""
    sg = parse_model(data, "float model").main
    return len(_pairs(sg)) + len(_affine_chains(sg))


def equalize(data: bytes, feeds: Sequence[np.ndarray] | None = None) -> bytes:
    """Cross-layer equalization of the weight ranges, then (with calibration ``feeds``) of the activation ranges
    that feed convolutions through affine ops (:func:`equalize_activations`). The float outputs do not change."""
    data = equalize_weights(data)
    if feeds is not None:
        data = equalize_activations(data, feeds)
    return data


def equalize_weights(data: bytes, iterations: int = 2) -> bytes:
    """Cross-layer equalization of every eligible pair (see the module docstring); the float outputs do not change."""
    for _ in range(iterations):
        model = parse_model(data, "float model")
        sg = model.main
        pairs = _pairs(sg)
        if not pairs:
            return data
        weights = {t.name: t.data() for t in sg.tensors if t.is_constant and t.dtype == "float32"}
        scaled: dict[str, np.ndarray] = {}
        for first, second in pairs:
            n1, b1, n2 = sg.tensor(first.inputs[1]).name, sg.tensor(first.inputs[2]).name, sg.tensor(second.inputs[1]).name
            if n1 in scaled or n2 in scaled or b1 in scaled or n1 == n2:
                continue  # shared weights: leave them
            w1 = np.asarray(scaled.get(n1, weights[n1]), np.float64)
            w2 = np.asarray(scaled.get(n2, weights[n2]), np.float64)
            ax1, ax2 = _out_axis(first), _in_axis(second)
            r1 = np.max(np.abs(np.moveaxis(w1, ax1, 0)).reshape(w1.shape[ax1], -1), axis=1)
            r2 = np.max(np.abs(np.moveaxis(w2, ax2, 0)).reshape(w2.shape[ax2], -1), axis=1)
            ok = (r1 > 0) & (r2 > 0)
            s = np.ones_like(r1)
            s[ok] = np.sqrt(r1[ok] / r2[ok])
            s = np.clip(s, 1e-4, 1e4)
            shape1 = [1] * w1.ndim
            shape1[ax1] = -1
            shape2 = [1] * w2.ndim
            shape2[ax2] = -1
            scaled[n1] = (w1 / s.reshape(shape1)).astype(np.float32)
            scaled[b1] = (np.asarray(weights[b1], np.float64) / s).astype(np.float32)
            scaled[n2] = (w2 * s.reshape(shape2)).astype(np.float32)
        data = map_weights(data, {name: _constant(new) for name, new in scaled.items()})
    return data


def _quantized(w: np.ndarray, axis: int, per_tensor: bool) -> np.ndarray:
    """Symmetric int8 quantize-dequantize of weights (per output channel along ``axis``, or per tensor)."""
    if per_tensor:
        scale = np.full(w.shape[axis], max(float(np.max(np.abs(w))), 1e-12) / 127.0)
    else:
        scale = np.maximum(np.max(np.abs(np.moveaxis(w, axis, 0)).reshape(w.shape[axis], -1), axis=1), 1e-12) / 127.0
    shape = [1] * w.ndim
    shape[axis] = -1
    s = scale.reshape(shape)
    return np.clip(np.round(w / s), -127, 127) * s


def bias_correct(data: bytes, recipe: QuantRecipe, feeds: Sequence[np.ndarray], max_samples: int = 32) -> bytes:
    """Subtract the mean output shift weight quantization causes from each conv/dense bias (module docstring)."""
    from edgekit.tflite.runtime import load_interpreter

    model = parse_model(data, "float model")
    sg = model.main
    uses = _uses(sg)
    ops = [op for op in sg.operators if op.name in WEIGHT_OPS and len(op.inputs) >= 3 and op.inputs[2] >= 0
           and sg.tensor(op.inputs[1]).is_constant and sg.tensor(op.inputs[2]).is_constant
           and sg.tensor(op.inputs[1]).dtype == "float32"
           and uses.get(op.inputs[2], 0) == 1]  # a bias shared by several ops cannot take one op's correction
    if not ops:
        return data
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = load_interpreter(data, use_xnnpack=False, preserve_all_tensors=True)
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    count = min(max_samples, int(feeds[0].shape[0]))
    for i in range(count):
        for tensor, arr in zip(model.inputs, feeds, strict=True):
            interp.set_tensor(tensor.index, np.asarray(arr[i], np.dtype(tensor.dtype)).reshape(tensor.shape))
        interp.invoke()
        for op in ops:
            x = np.asarray(interp.get_tensor(op.inputs[0]), np.float64)
            channels = x.shape[-1]
            flat = x.reshape(-1, channels)
            sums[op.index] = sums.get(op.index, 0.0) + flat.sum(axis=0)
            counts[op.index] = counts.get(op.index, 0) + flat.shape[0]
    edits: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for op in ops:
        w = np.asarray(sg.tensor(op.inputs[1]).data(), np.float64)
        bias_name = sg.tensor(op.inputs[2]).name
        mean_x = sums[op.index] / max(counts[op.index], 1)
        out_axis = _out_axis(op)
        dw = _quantized(w, out_axis, recipe.per_tensor) - w
        if op.name == "FULLY_CONNECTED":
            shift = dw @ mean_x
        elif op.name == "CONV_2D":
            shift = np.einsum("ohwi,i->o", dw, mean_x)
        else:  # depthwise [1, kh, kw, c]
            shift = dw.reshape(-1, dw.shape[-1]).sum(axis=0) * mean_x
        edits[bias_name] = _minus(shift)
    return map_weights(data, edits)


def _constant(new: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda _old: new


def _minus(shift: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda b: (b - shift).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# Activation equalization into convolutions

_LINEAR_CONST = ("MUL", "ADD")
MAX_SPREAD = 32.0  # the per-channel factors stay within [1/MAX_SPREAD, MAX_SPREAD] of their median


def _const_operand(sg: Subgraph, op: Operator) -> tuple[int, int] | None:
    """(activation input, constant input) of a MUL/ADD by a constant, else None."""
    if op.name not in _LINEAR_CONST or len(op.inputs) != 2 or _activation(op) not in ("NONE", None):
        return None
    a, b = op.inputs
    if a >= 0 and b >= 0 and sg.tensor(b).is_constant and not sg.tensor(a).is_constant:
        return a, b
    if a >= 0 and b >= 0 and sg.tensor(a).is_constant and not sg.tensor(b).is_constant:
        return b, a
    return None


def _affine_chains(sg: Subgraph) -> list[tuple[Operator, list[Operator], Operator | None]]:
    """(conv, the MUL-by-constant then ADD-by-constant ops feeding it (top first, starting at the MUL), the PAD
    or None).

    Every tensor of the chain has one consumer and every constant one reader, so rescaling them changes
    nothing else. The chain starts at the last MUL by a constant above the conv: that op takes the
    per-channel factor (``x * a / s``), the ADDs below it are divided too, the ops above are left alone
    (a constant several ops share, like the ``/6`` of a decomposed hard-swish, stops the chain)."""
    producer = {o: op for op in sg.operators for o in op.outputs if o >= 0}
    uses = _uses(sg)
    names: dict[str, int] = {}
    for tensor in sg.tensors:
        names[tensor.name] = names.get(tensor.name, 0) + 1
    out: list[tuple[Operator, list[Operator], Operator | None]] = []
    for conv in sg.operators:
        if conv.name not in ("DEPTHWISE_CONV_2D", "CONV_2D") or int(conv.options.get("depth_multiplier", 1) or 1) != 1:
            continue
        if len(conv.inputs) < 2 or not sg.tensor(conv.inputs[1]).is_constant \
                or sg.tensor(conv.inputs[1]).dtype != "float32" or uses.get(conv.inputs[1], 0) != 1:
            continue
        t = conv.inputs[0]
        chain: list[Operator] = []
        pad: Operator | None = None
        cur = producer.get(t)
        if cur is not None and cur.name == "PAD" and len(cur.inputs) == 2 and uses.get(t, 0) == 1:
            pad, t = cur, cur.inputs[0]
            cur = producer.get(t)
        while cur is not None and uses.get(t, 0) == 1 and t not in sg.outputs:
            found = _const_operand(sg, cur)
            if found is None:
                break
            const = sg.tensor(found[1])
            if uses.get(found[1], 0) != 1 or names.get(const.name, 0) != 1 or const.dtype != "float32":
                break  # a shared constant: it cannot take this conv's factors
            chain.insert(0, cur)
            if cur.name == "MUL":
                break  # the multiplication that absorbs the factor
            t = found[0]
            cur = producer.get(t)
        if chain and chain[0].name == "MUL":
            out.append((conv, chain, pad))
    return out


def _asym_grid(values: np.ndarray) -> tuple[float, int]:
    """(scale, zero point) of an int8 asymmetric per-tensor range holding ``values`` and 0, as the quantizer
    makes it for a constant operand of MUL/ADD."""
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    return scale, int(-128 - round(lo / scale))


def _int8_roundtrip(values: np.ndarray) -> np.ndarray:
    scale, zp = _asym_grid(values)
    q = np.clip(np.round(values / scale) + zp, -128, 127)
    return (q - zp) * scale


def _snap(const: np.ndarray) -> np.ndarray:
    """Per-channel constants moved onto the int8 grid their own range gives (the largest sets the step), so that
    quantizing them is exact; every value keeps its sign and is at least one step."""
    scale, _ = _asym_grid(const)
    steps = np.maximum(np.round(np.abs(const) / scale), 1.0)
    return np.sign(const) * steps * scale


def _factors(conv: Operator, ranges: np.ndarray) -> np.ndarray | None:
    """Per-input-channel divisors ``s`` (the activation is divided, the weights multiplied by them).

    A depthwise conv quantizes its weights per channel, the same channel: the activations take the
    whole balance (every channel's range to the median). A regular conv quantizes per output channel,
    over all input channels: the square root, as SmoothQuant does, so its weight ranges do not grow as
    much. Factors stay within [1/MAX_SPREAD, MAX_SPREAD]."""
    ok = ranges > 0
    if not ok.any():
        return None
    raw = np.where(ok, ranges, 1.0)
    if conv.name != "DEPTHWISE_CONV_2D":
        raw = np.sqrt(raw)
    med = float(np.median(raw[ok]))
    if med <= 0:
        return None
    s = np.where(ok, np.clip(raw / med, 1.0 / MAX_SPREAD, MAX_SPREAD), 1.0)
    if float(s.max() / s.min()) < 2.0:
        return None  # ranges already even: nothing to gain
    return s


def equalize_activations(data: bytes, feeds: Sequence[np.ndarray], max_samples: int = 16) -> bytes:
    """Even out the channels of a convolution's input, moving the factors into the constants of the affine ops
    that feed it and into the convolution's weights; the float function does not change.

    A per-tensor int8 range has to hold the widest channel, so narrow channels get a few levels (and
    folded normalisations give those channels the largest weights). When the conv's input comes
    through ``x * a + b`` with constants (PP-LCNetV3's learnable affine blocks, a folded scale) and a zero
    PAD, channel ``c`` is divided by ``s_c`` there (``a`` and ``b`` become per-channel) and the conv's
    weights of input channel ``c`` are multiplied by it (:func:`_factors` chooses ``s``). The new
    per-channel ``a`` is snapped onto its int8 grid, so quantizing it adds no error; the int8 error of
    the per-channel ``b`` is known and is subtracted from the conv's bias.
    """
    from edgekit.tflite.runtime import load_interpreter

    model = parse_model(data, "float model")
    sg = model.main
    chains = _affine_chains(sg)
    if not chains:
        return data
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = load_interpreter(data, use_xnnpack=False, preserve_all_tensors=True)
    watched = {conv.inputs[0] for conv, _, _ in chains}
    peak: dict[int, np.ndarray] = {}
    for i in range(min(max_samples, int(feeds[0].shape[0]))):
        for tensor, arr in zip(model.inputs, feeds, strict=True):
            interp.set_tensor(tensor.index, np.asarray(arr[i], np.dtype(tensor.dtype)).reshape(tensor.shape))
        interp.invoke()
        for t in watched:
            v = np.abs(np.asarray(interp.get_tensor(t), np.float64))
            m = v.reshape(-1, v.shape[-1]).max(axis=0)
            peak[t] = np.maximum(peak.get(t, 0.0), m)
    uses = _uses(sg)
    new: dict[str, np.ndarray] = {}
    for conv, chain, _pad in chains:
        ranges = peak[conv.inputs[0]]
        channels = ranges.shape[0]
        w = np.asarray(sg.tensor(conv.inputs[1]).data(), np.float64)
        if w.shape[-1] != channels:
            continue
        consts = [_const_operand(sg, op) for op in chain]
        values = [np.asarray(sg.tensor(c[1]).data(), np.float64).reshape(-1) if c else np.zeros(0) for c in consts]
        if any(v.size not in (1, channels) for v in values):
            continue
        s = _factors(conv, ranges)
        if s is None:
            continue
        mul = _snap(np.broadcast_to(values[0], (channels,)) / s)
        s = np.broadcast_to(values[0], (channels,)) / mul  # the factors the snapped constants stand for
        offset = np.zeros(channels)  # what int8 adds to the chain's output, per channel (ADD constants' rounding)
        for op, c, v in zip(chain, consts, values, strict=True):
            assert c is not None
            name = sg.tensor(c[1]).name
            if op.name == "MUL":
                new[name] = mul.astype(np.float32)
                offset = offset * mul
            else:
                b = (np.broadcast_to(v, (channels,)) / s).astype(np.float32)
                new[name] = b
                offset = offset + (_int8_roundtrip(b.astype(np.float64)) - b)
        w_new = w * s.reshape((1,) * (w.ndim - 1) + (-1,))
        new[sg.tensor(conv.inputs[1]).name] = w_new.astype(np.float32)
        has_bias = len(conv.inputs) > 2 and conv.inputs[2] >= 0 and sg.tensor(conv.inputs[2]).is_constant \
            and uses.get(conv.inputs[2], 0) == 1
        if has_bias and np.any(offset):
            bias = np.asarray(sg.tensor(conv.inputs[2]).data(), np.float64)
            if conv.name == "DEPTHWISE_CONV_2D":
                shift = w_new.reshape(-1, channels).sum(axis=0) * offset
            else:
                shift = np.einsum("ohwi,i->o", w_new, offset)
            new[sg.tensor(conv.inputs[2]).name] = (bias - shift).astype(np.float32)
    return replace_constants(data, new) if new else data
