"""Micro-benchmark models built directly as TFLite flatbuffers (no TensorFlow).

Each :class:`MicroSpec` describes one operator class at one size in float32 or int8; :func:`build_model`
turns it into the bytes of a ``.tflite`` file with the core's builder (:mod:`edgekit.core.tflite_builder`).
Shape-preserving ops are chained ``repeat`` times in one model so that the per-op time dominates the
interpreter's per-invoke cost; int8 models carry proper quantization (per-channel symmetric weights, int32 bias
with scale ``input_scale * weight_scale``), like the converter emits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from edgekit.core.tflite_builder import Quant, TFLiteBuilder


class MicroOp(str, Enum):
    """Operator classes the micro-benchmarks cover."""

    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    TRANSPOSE_CONV = "TRANSPOSE_CONV"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    ADD = "ADD"
    MUL = "MUL"
    MUL_BROADCAST = "MUL_BROADCAST"
    ADD_RELU = "ADD_RELU"  # an ADD with a fused RELU (XNNPACK: 1.7x the plain float32 ADD)
    MUL_RELU = "MUL_RELU"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    MEAN = "MEAN"
    SOFTMAX = "SOFTMAX"
    RESIZE_BILINEAR = "RESIZE_BILINEAR"
    CONCATENATION = "CONCATENATION"
    PAD = "PAD"
    MIRROR_PAD = "MIRROR_PAD"
    LOGISTIC = "LOGISTIC"
    HARD_SWISH = "HARD_SWISH"
    RELU = "RELU"
    # the same int8 RELU, fed activations whose sign is their channel's: LiteRT's clamp is a branch, and this is
    # the predictable end of its range (edgekit.profile.signs)
    RELU_CHANNEL_SIGNS = "RELU_CHANNEL_SIGNS"


# the builtin operator each micro op uses (MUL_BROADCAST is a MUL by a [1,1,1,C] tensor, ADD_RELU an ADD with a
# fused RELU)
_BUILTIN: dict[MicroOp, str] = {op: op.value for op in MicroOp}
_BUILTIN.update({MicroOp.MUL_BROADCAST: "MUL", MicroOp.ADD_RELU: "ADD", MicroOp.MUL_RELU: "MUL",
                 MicroOp.RELU_CHANNEL_SIGNS: "RELU"})
# micro ops with a fused activation on the op
_FUSED_RELU = frozenset({MicroOp.ADD_RELU, MicroOp.MUL_RELU})


def builtin_op(op: MicroOp) -> str:
    """The TFLite builtin operator a micro op builds."""
    return _BUILTIN[op]


def channel_sign_input(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """An int8 activation whose every element has its channel's sign (half the channels negative, at random)
    and a random magnitude: what a RELU inside a graph mostly sees (RELU_CHANNEL_SIGNS)."""
    sign = rng.permutation(np.resize(np.array([1, -1], np.int32), shape[-1]))
    return (sign * rng.integers(1, 127, shape, endpoint=True)).astype(np.int8)

# op versions that declare int8 support (the runtime checks them against its registrations)
_INT8_VERSION: dict[str, int] = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "MUL": 2, "AVERAGE_POOL_2D": 2,
    "MAX_POOL_2D": 2, "MEAN": 2, "SOFTMAX": 2, "RESIZE_BILINEAR": 2, "CONCATENATION": 2, "PAD": 2,
    "LOGISTIC": 2, "HARD_SWISH": 1, "RELU": 2, "TRANSPOSE_CONV": 3,
}

DTYPES = ("float32", "int8")
# "hybrid": float32 activations with int8 weights (dynamic-range quantization), for the weight ops only;
# "hybrid_uint8": a CONV_2D with uint8 weights, one scale per tensor (TensorFlow 1's post-training format), which
# XNNPACK refuses and LiteRT runs on another builtin kernel than int8 per-channel weights (3-5x slower here)
HYBRID_UINT8 = "hybrid_uint8"
MICRO_DTYPES = (*DTYPES, "hybrid", HYBRID_UINT8)
HYBRID_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})
# op versions of the dynamic-range kernels (the runtime checks them against its registrations)
_HYBRID_VERSION: dict[str, int] = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 3}
ACT_SCALE = 0.05


@dataclass(frozen=True)
class MicroSpec:
    """One micro-benchmark: op, dtype, input H/W/C, output channels, kernel, stride, chained copies."""

    op: MicroOp
    dtype: str
    h: int
    w: int
    c: int
    cout: int = 0
    kernel: int = 1
    stride: int = 1
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.dtype not in MICRO_DTYPES:
            raise ValueError(f"MicroSpec dtype must be one of {MICRO_DTYPES}, got {self.dtype!r}")
        if self.dtype in ("hybrid", HYBRID_UINT8) and self.op.value not in HYBRID_OPS:
            raise ValueError(f"a hybrid micro-benchmark is one of {sorted(HYBRID_OPS)}, not {self.op.value}")
        if self.dtype == HYBRID_UINT8 and self.op is not MicroOp.CONV_2D:
            raise ValueError(f"uint8 weights are for a hybrid CONV_2D micro-benchmark, not {self.op.value}")
        if min(self.h, self.w, self.c, self.kernel, self.stride, self.repeat) < 1:
            raise ValueError(f"MicroSpec sizes must be positive: {self}")
        if self.repeat > 1 and not self.shape_preserving:
            raise ValueError(f"{self.op.value} with these sizes changes the shape; it cannot be chained")
        if self.op is MicroOp.RELU_CHANNEL_SIGNS and self.dtype != "int8":
            raise ValueError("RELU_CHANNEL_SIGNS times LiteRT's builtin int8 RELU; its dtype is int8")
        if self.repeat > 1 and self.op in (MicroOp.RELU, MicroOp.RELU_CHANNEL_SIGNS):
            # XNNPACK fuses a clamp into the op before it: four chained RELUs run in the time of one
            raise ValueError("RELU cannot be chained (XNNPACK fuses the chain into one op); measure one")
        if self.repeat > 1 and self.op is MicroOp.LOGISTIC and self.dtype == "int8":
            # an int8 sigmoid is a table lookup, and XNNPACK composes chained lookups into one table: two chained
            # int8 LOGISTICs ran in the time of one (15.1 us a "op" against 30.1 alone, 56x56x96), and the
            # figure fitted on them was half what EfficientNet's 92 swish sigmoids cost
            raise ValueError("an int8 LOGISTIC cannot be chained (XNNPACK fuses chained lookup tables); measure one")

    @property
    def out_channels(self) -> int:
        return self.cout or self.c

    @property
    def shape_preserving(self) -> bool:
        if self.op in (MicroOp.CONV_2D,):
            return self.stride == 1 and self.out_channels == self.c
        if self.op in (MicroOp.DEPTHWISE_CONV_2D,):
            return self.stride == 1
        return self.op in (MicroOp.ADD, MicroOp.MUL, MicroOp.MUL_BROADCAST, *_FUSED_RELU, MicroOp.LOGISTIC,
                           MicroOp.HARD_SWISH, MicroOp.RELU, MicroOp.RELU_CHANNEL_SIGNS, MicroOp.SOFTMAX)

    @property
    def name(self) -> str:
        parts = [self.op.value.lower(), self.dtype, f"{self.h}x{self.w}x{self.c}"]
        if self.op in (MicroOp.CONV_2D, MicroOp.FULLY_CONNECTED, MicroOp.TRANSPOSE_CONV):
            parts.append(f"o{self.out_channels}")
        if self.op in (MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D, MicroOp.AVERAGE_POOL_2D, MicroOp.MAX_POOL_2D,
                       MicroOp.TRANSPOSE_CONV):
            parts.append(f"k{self.kernel}s{self.stride}")
        if self.repeat > 1:
            parts.append(f"r{self.repeat}")
        return "_".join(parts)


def activation(b: TFLiteBuilder, shape: tuple[int, ...], dtype: str, name: str, scale: float = ACT_SCALE,
               zp: int = 0) -> int:
    """An activation tensor: float32 (also for "hybrid"), or int8 with the given per-tensor scale and zero point."""
    if dtype == "int8":
        return b.tensor(name, shape, "int8", quant=Quant.per_tensor(scale, zp))
    return b.tensor(name, shape, "float32")


def conv_options(kernel: int, stride: int, act: str, depthwise: bool) -> dict[str, Any]:
    """CONV_2D / DEPTHWISE_CONV_2D options: SAME padding for k > 1 (VALID for 1x1), no dilation."""
    opts: dict[str, Any] = {"padding": "SAME" if kernel > 1 else "VALID", "stride_w": stride, "stride_h": stride,
                            "dilation_w_factor": 1, "dilation_h_factor": 1, "fused_activation_function": act}
    if depthwise:
        opts["depth_multiplier"] = 1
    return opts


def _out_hw(size: int, stride: int) -> int:
    return -(-size // stride)  # SAME padding


def _conv_weights(b: TFLiteBuilder, spec: MicroSpec, rng: np.random.Generator, idx: int,
                  depthwise: bool) -> tuple[int, int]:
    k, cin, cout = spec.kernel, spec.c, spec.out_channels
    shape = (1, k, k, cin) if depthwise else (cout, k, k, cin)
    nout = cin if depthwise else cout
    if spec.dtype == "float32":
        w = rng.normal(0, 0.1, shape).astype(np.float32)
        bias = rng.normal(0, 0.1, (nout,)).astype(np.float32)
        return b.constant(f"w{idx}", w), b.constant(f"b{idx}", bias)
    if spec.dtype == HYBRID_UINT8:  # TF1's format: uint8 storage, one scale, zero point 0 (facex's emotion model)
        wt = b.constant(f"w{idx}", rng.integers(0, 255, shape, endpoint=True).astype(np.uint8),
                        quant=Quant.per_tensor(0.01))
        return wt, b.constant(f"b{idx}", rng.normal(0, 0.1, (nout,)).astype(np.float32))
    w = rng.integers(-127, 127, shape, endpoint=True).astype(np.int8)
    w_scale = rng.uniform(0.002, 0.02, nout).astype(np.float32)
    if spec.dtype == "hybrid":  # int8 weights per channel, symmetric; float32 bias
        wt = b.constant(f"w{idx}", w, quant=Quant.per_channel(w_scale, axis=3 if depthwise else 0))
        return wt, b.constant(f"b{idx}", rng.normal(0, 0.1, (nout,)).astype(np.float32))
    bias = rng.integers(-1000, 1000, (nout,)).astype(np.int32)
    b_scale = (ACT_SCALE * w_scale).astype(np.float32)
    wt = b.constant(f"w{idx}", w, quant=Quant.per_channel(w_scale, axis=3 if depthwise else 0))
    bt = b.constant(f"b{idx}", bias, quant=Quant.per_channel(b_scale))
    return wt, bt


def build_model(spec: MicroSpec, seed: int = 0) -> bytes:
    """The .tflite bytes of ``spec``."""
    b = TFLiteBuilder(f"edgekit micro-benchmark {spec.name}")
    rng = np.random.default_rng(seed)
    dt = spec.dtype
    builtin = _BUILTIN[spec.op]
    ver = _INT8_VERSION.get(builtin, 1) if dt == "int8" else _HYBRID_VERSION.get(builtin, 1) if dt == "hybrid" else 1
    shape = (1, spec.h, spec.w, spec.c)
    x = activation(b, shape, dt, "input")
    inputs = [x]
    cur = x
    op = spec.op
    for i in range(spec.repeat):
        if op in (MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D):
            depthwise = op is MicroOp.DEPTHWISE_CONV_2D
            wt, bt = _conv_weights(b, spec, rng, i, depthwise)
            ho, wo = _out_hw(spec.h, spec.stride), _out_hw(spec.w, spec.stride)
            out = activation(b, (1, ho, wo, spec.c if depthwise else spec.out_channels), dt, f"t{i}")
            b.operator(builtin, [cur, wt, bt], [out], conv_options(spec.kernel, spec.stride, "RELU6", depthwise),
                       version=ver)
        elif op is MicroOp.TRANSPOSE_CONV:
            # an upsampling decoder's layer: output stride x the input, SAME padding, with bias (version 3)
            wt, bt = _conv_weights(b, spec, rng, i, False)
            ho, wo = spec.h * spec.stride, spec.w * spec.stride
            out_shape = b.constant("output_shape", np.array([1, ho, wo, spec.out_channels], np.int32))
            out = activation(b, (1, ho, wo, spec.out_channels), dt, "out")
            b.operator(builtin, [out_shape, wt, cur, bt], [out], {"padding": "SAME", "stride_w": spec.stride,
                                                                  "stride_h": spec.stride}, version=max(ver, 3))
        elif op is MicroOp.FULLY_CONNECTED:
            n_in, n_out = spec.h * spec.w * spec.c, spec.out_channels
            if dt == "float32":
                w = b.constant("w", rng.normal(0, 0.05, (n_out, n_in)).astype(np.float32))
                bias = b.constant("b", np.zeros(n_out, np.float32))
            else:
                w_scale = 0.01
                w = b.constant("w", rng.integers(-127, 127, (n_out, n_in)).astype(np.int8),
                               quant=Quant.per_tensor(w_scale))
                bias = (b.constant("b", np.zeros(n_out, np.float32)) if dt == "hybrid" else
                        b.constant("b", np.zeros(n_out, np.int32), quant=Quant.per_tensor(ACT_SCALE * w_scale)))
            flat = activation(b, (1, n_in), dt, "flat")
            new_shape = b.constant("shape", np.array([1, n_in], np.int32))
            b.operator("RESHAPE", [cur, new_shape], [flat], {"new_shape": [1, n_in]})
            out = activation(b, (1, n_out), dt, "out")
            b.operator(builtin, [flat, w, bias], [out], version=ver)
        elif op in (MicroOp.ADD, MicroOp.MUL, MicroOp.MUL_BROADCAST, *_FUSED_RELU):
            other_shape = (1, 1, 1, spec.c) if op is MicroOp.MUL_BROADCAST else shape
            other = activation(b, other_shape, dt, f"other{i}")
            inputs.append(other)
            out = activation(b, shape, dt, f"t{i}")
            b.operator(builtin, [cur, other], [out], {"fused_activation_function": "RELU"} if op in _FUSED_RELU
                       else None, version=ver)
        elif op in (MicroOp.AVERAGE_POOL_2D, MicroOp.MAX_POOL_2D):
            ho, wo = _out_hw(spec.h, spec.stride), _out_hw(spec.w, spec.stride)
            out = activation(b, (1, ho, wo, spec.c), dt, "out")
            b.operator(builtin, [cur], [out], {"padding": "SAME" if spec.kernel > 1 else "VALID",
                                               "stride_w": spec.stride, "stride_h": spec.stride,
                                               "filter_width": spec.kernel, "filter_height": spec.kernel}, version=ver)
        elif op is MicroOp.MEAN:
            axes = b.constant("axes", np.array([1, 2], np.int32))
            out = activation(b, (1, 1, 1, spec.c), dt, "out")
            b.operator("MEAN", [cur, axes], [out], {"keep_dims": True}, version=ver)
        elif op in (MicroOp.SOFTMAX, MicroOp.LOGISTIC):
            # int8 outputs in [0, 1): the converter's fixed scale 1/256 and zero point -128
            out = activation(b, shape, dt, f"t{i}", scale=1 / 256, zp=-128)
            b.operator(builtin, [cur], [out], {"beta": 1.0} if op is MicroOp.SOFTMAX else None, version=ver)
        elif op is MicroOp.RESIZE_BILINEAR:
            size = b.constant("size", np.array([spec.h * 2, spec.w * 2], np.int32))
            out = activation(b, (1, spec.h * 2, spec.w * 2, spec.c), dt, "out")
            b.operator("RESIZE_BILINEAR", [cur, size], [out], {"half_pixel_centers": True}, version=ver)
        elif op is MicroOp.CONCATENATION:
            other = activation(b, shape, dt, "other")
            inputs.append(other)
            out = activation(b, (1, spec.h, spec.w, spec.c * 2), dt, "out")
            b.operator("CONCATENATION", [cur, other], [out], {"axis": 3}, version=ver)
        elif op is MicroOp.PAD:
            pads = b.constant("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
            out = activation(b, (1, spec.h + 2, spec.w + 2, spec.c), dt, "out")
            b.operator("PAD", [cur, pads], [out], version=ver)
        elif op is MicroOp.MIRROR_PAD:
            # reflect padding (PyTorch's ReflectionPad, audio front ends): XNNPACK refuses it; LiteRT's kernel
            # computes each output element's source index (basic-pitch's: 5.2 ns per element, 60x a copy's)
            pads = b.constant("pads", np.array([[0, 0], [2, 2], [2, 2], [0, 0]], np.int32))
            out = activation(b, (1, spec.h + 4, spec.w + 4, spec.c), dt, "out")
            b.operator("MIRROR_PAD", [cur, pads], [out], {"mode": "REFLECT"}, version=ver)
        elif op in (MicroOp.HARD_SWISH, MicroOp.RELU, MicroOp.RELU_CHANNEL_SIGNS):
            out = activation(b, shape, dt, f"t{i}")
            b.operator(builtin, [cur], [out], version=ver)
        else:  # pragma: no cover - every MicroOp is handled above
            raise ValueError(f"unknown micro op {op}")
        cur = out
    return b.build(inputs, [cur])
