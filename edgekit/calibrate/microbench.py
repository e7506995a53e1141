"""Micro-benchmark models built directly as TFLite flatbuffers (no TensorFlow).

Each :class:`MicroSpec` describes one operator class at one size in float32 or int8; :func:`build_model`
turns it into the bytes of a ``.tflite`` file through the schema's object API (``ModelT`` and
friends, packed with ``flatbuffers.Builder`` under the ``TFL3`` identifier). Shape-preserving ops
are chained ``repeat`` times in one model so that the per-op time dominates the interpreter's
per-invoke cost; int8 models carry proper quantization (per-channel symmetric weights, int32 bias
with scale ``input_scale * weight_scale``), like the converter emits.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any

import numpy as np

from edgekit.deps import require


class MicroOp(str, Enum):
    """Operator classes the micro-benchmarks cover."""

    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    ADD = "ADD"
    MUL = "MUL"
    MUL_BROADCAST = "MUL_BROADCAST"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    MEAN = "MEAN"
    SOFTMAX = "SOFTMAX"
    RESIZE_BILINEAR = "RESIZE_BILINEAR"
    CONCATENATION = "CONCATENATION"
    PAD = "PAD"
    LOGISTIC = "LOGISTIC"
    HARD_SWISH = "HARD_SWISH"
    RELU = "RELU"


# the builtin operator each micro op uses (MUL_BROADCAST is a MUL by a [1,1,1,C] tensor)
_BUILTIN: dict[MicroOp, str] = {op: op.value for op in MicroOp}
_BUILTIN[MicroOp.MUL_BROADCAST] = "MUL"

# op versions that declare int8 support (the runtime checks them against its registrations)
_INT8_VERSION: dict[str, int] = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "MUL": 2, "AVERAGE_POOL_2D": 2,
    "MAX_POOL_2D": 2, "MEAN": 2, "SOFTMAX": 2, "RESIZE_BILINEAR": 2, "CONCATENATION": 2, "PAD": 2,
    "LOGISTIC": 2, "HARD_SWISH": 1, "RELU": 2,
}

DTYPES = ("float32", "int8")
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
        if self.dtype not in DTYPES:
            raise ValueError(f"MicroSpec dtype must be one of {DTYPES}, got {self.dtype!r}")
        if min(self.h, self.w, self.c, self.kernel, self.stride, self.repeat) < 1:
            raise ValueError(f"MicroSpec sizes must be positive: {self}")
        if self.repeat > 1 and not self.shape_preserving:
            raise ValueError(f"{self.op.value} with these sizes changes the shape; it cannot be chained")

    @property
    def out_channels(self) -> int:
        return self.cout or self.c

    @property
    def shape_preserving(self) -> bool:
        if self.op in (MicroOp.CONV_2D,):
            return self.stride == 1 and self.out_channels == self.c
        if self.op in (MicroOp.DEPTHWISE_CONV_2D,):
            return self.stride == 1
        return self.op in (MicroOp.ADD, MicroOp.MUL, MicroOp.MUL_BROADCAST, MicroOp.LOGISTIC,
                           MicroOp.HARD_SWISH, MicroOp.RELU, MicroOp.SOFTMAX)

    @property
    def name(self) -> str:
        parts = [self.op.value.lower(), self.dtype, f"{self.h}x{self.w}x{self.c}"]
        if self.op in (MicroOp.CONV_2D, MicroOp.FULLY_CONNECTED):
            parts.append(f"o{self.out_channels}")
        if self.op in (MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D, MicroOp.AVERAGE_POOL_2D, MicroOp.MAX_POOL_2D):
            parts.append(f"k{self.kernel}s{self.stride}")
        if self.repeat > 1:
            parts.append(f"r{self.repeat}")
        return "_".join(parts)


def schema_module() -> ModuleType:
    """The TFLite schema's generated Python module (the object API), without importing a runtime."""
    return importlib.import_module("edgekit.tflite._schema")


class _Graph:
    """A tiny builder over the schema object API."""

    def __init__(self, schema: ModuleType) -> None:
        self.s = schema
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [schema.BufferT()]
        self.opcodes: dict[tuple[str, int], int] = {}
        self.opcode_list: list[Any] = []
        self.operators: list[Any] = []

    def tensor(self, shape: tuple[int, ...], dtype: str, name: str, data: np.ndarray | None = None,
               scale: np.ndarray | float | None = None, zero_point: np.ndarray | int | None = None,
               qdim: int = 0) -> int:
        s = self.s
        t = s.TensorT()
        t.shape = list(shape)
        t.type = {"float32": s.TensorType.FLOAT32, "int8": s.TensorType.INT8, "int32": s.TensorType.INT32}[dtype]
        t.name = name
        if data is not None:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(scale)]
            zp = np.atleast_1d(zero_point if zero_point is not None else 0)
            if zp.size == 1 and len(q.scale) > 1:
                zp = np.zeros(len(q.scale), dtype=np.int64)
            q.zeroPoint = [int(v) for v in zp]
            q.quantizedDimension = qdim
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def act(self, shape: tuple[int, ...], dtype: str, name: str, scale: float = ACT_SCALE, zp: int = 0) -> int:
        if dtype == "int8":
            return self.tensor(shape, "int8", name, scale=scale, zero_point=zp)
        return self.tensor(shape, "float32", name)

    def op(self, builtin: str, inputs: list[int], outputs: list[int], options_type: str | None = None,
           options: Any = None, version: int = 1) -> None:
        s = self.s
        key = (builtin, version)
        if key not in self.opcodes:
            code = s.OperatorCodeT()
            value = getattr(s.BuiltinOperator, builtin)
            code.builtinCode = value
            code.deprecatedBuiltinCode = min(value, 127)
            code.version = version
            self.opcode_list.append(code)
            self.opcodes[key] = len(self.opcode_list) - 1
        o = s.OperatorT()
        o.opcodeIndex = self.opcodes[key]
        o.inputs = inputs
        o.outputs = outputs
        if options_type is not None:
            o.builtinOptionsType = getattr(s.BuiltinOptions, options_type)
            o.builtinOptions = options
        self.operators.append(o)

    def finish(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        s = self.s
        flatbuffers = require("flatbuffers", "Building micro-benchmark models")
        sub = s.SubGraphT()
        sub.tensors = self.tensors
        sub.inputs = inputs
        sub.outputs = outputs
        sub.operators = self.operators
        sub.name = "main"
        model = s.ModelT()
        model.version = 3
        model.operatorCodes = self.opcode_list
        model.subgraphs = [sub]
        model.description = description
        model.buffers = self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _padding(schema: ModuleType, kernel: int) -> int:
    return int(schema.Padding.SAME if kernel > 1 else schema.Padding.VALID)


def _out_hw(size: int, stride: int) -> int:
    return -(-size // stride)  # SAME padding


def _conv_weights(g: _Graph, spec: MicroSpec, rng: np.random.Generator, idx: int, depthwise: bool) -> tuple[int, int]:
    k, cin, cout = spec.kernel, spec.c, spec.out_channels
    shape = (1, k, k, cin) if depthwise else (cout, k, k, cin)
    nout = cin if depthwise else cout
    if spec.dtype == "float32":
        w = rng.normal(0, 0.1, shape).astype(np.float32)
        b = rng.normal(0, 0.1, (nout,)).astype(np.float32)
        return (g.tensor(shape, "float32", f"w{idx}", data=w), g.tensor((nout,), "float32", f"b{idx}", data=b))
    w = rng.integers(-127, 127, shape, endpoint=True).astype(np.int8)
    w_scale = rng.uniform(0.002, 0.02, nout).astype(np.float32)
    b = rng.integers(-1000, 1000, (nout,)).astype(np.int32)
    b_scale = (ACT_SCALE * w_scale).astype(np.float32)
    qdim = 3 if depthwise else 0
    wt = g.tensor(shape, "int8", f"w{idx}", data=w, scale=w_scale, zero_point=np.zeros(nout, np.int64), qdim=qdim)
    bt = g.tensor((nout,), "int32", f"b{idx}", data=b, scale=b_scale, zero_point=np.zeros(nout, np.int64))
    return wt, bt


def build_model(spec: MicroSpec, seed: int = 0) -> bytes:
    """The .tflite bytes of ``spec``."""
    s = schema_module()
    g = _Graph(s)
    rng = np.random.default_rng(seed)
    dt = spec.dtype
    ver = _INT8_VERSION.get(_BUILTIN[spec.op], 1) if dt == "int8" else 1
    builtin = _BUILTIN[spec.op]
    shape = (1, spec.h, spec.w, spec.c)
    x = g.act(shape, dt, "input")
    inputs = [x]
    cur = x
    op = spec.op
    for i in range(spec.repeat):
        last = i == spec.repeat - 1
        if op in (MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D):
            depthwise = op is MicroOp.DEPTHWISE_CONV_2D
            wt, bt = _conv_weights(g, spec, rng, i, depthwise)
            ho, wo = _out_hw(spec.h, spec.stride), _out_hw(spec.w, spec.stride)
            out = g.act((1, ho, wo, spec.c if depthwise else spec.out_channels), dt, f"t{i}")
            if depthwise:
                opts = s.DepthwiseConv2DOptionsT()
                opts.depthMultiplier = 1
                otype = "DepthwiseConv2DOptions"
            else:
                opts = s.Conv2DOptionsT()
                otype = "Conv2DOptions"
            opts.padding = _padding(s, spec.kernel)
            opts.strideW = opts.strideH = spec.stride
            opts.dilationWFactor = opts.dilationHFactor = 1
            opts.fusedActivationFunction = s.ActivationFunctionType.RELU6
            g.op(builtin, [cur, wt, bt], [out], otype, opts, ver)
        elif op is MicroOp.FULLY_CONNECTED:
            n_in, n_out = spec.h * spec.w * spec.c, spec.out_channels
            if dt == "float32":
                w = g.tensor((n_out, n_in), "float32", "w", data=rng.normal(0, 0.05, (n_out, n_in)).astype(np.float32))
                b = g.tensor((n_out,), "float32", "b", data=np.zeros(n_out, np.float32))
            else:
                w_scale = 0.01
                w = g.tensor((n_out, n_in), "int8", "w", data=rng.integers(-127, 127, (n_out, n_in)).astype(np.int8),
                             scale=w_scale, zero_point=0)
                b = g.tensor((n_out,), "int32", "b", data=np.zeros(n_out, np.int32), scale=ACT_SCALE * w_scale, zero_point=0)
            flat = g.act((1, n_in), dt, "flat")
            g.op("RESHAPE", [cur, g.tensor((2,), "int32", "shape", data=np.array([1, n_in], np.int32))], [flat],
                 "ReshapeOptions", _reshape_opts(s, [1, n_in]), 1)
            out = g.act((1, n_out), dt, "out")
            opts = s.FullyConnectedOptionsT()
            g.op(builtin, [flat, w, b], [out], "FullyConnectedOptions", opts, ver)
        elif op in (MicroOp.ADD, MicroOp.MUL, MicroOp.MUL_BROADCAST):
            other_shape = (1, 1, 1, spec.c) if op is MicroOp.MUL_BROADCAST else shape
            other = g.act(other_shape, dt, f"other{i}")
            inputs.append(other)
            out = g.act(shape, dt, f"t{i}")
            if builtin == "ADD":
                g.op("ADD", [cur, other], [out], "AddOptions", s.AddOptionsT(), ver)
            else:
                g.op("MUL", [cur, other], [out], "MulOptions", s.MulOptionsT(), ver)
        elif op in (MicroOp.AVERAGE_POOL_2D, MicroOp.MAX_POOL_2D):
            ho, wo = _out_hw(spec.h, spec.stride), _out_hw(spec.w, spec.stride)
            out = g.act((1, ho, wo, spec.c), dt, "out")
            opts = s.Pool2DOptionsT()
            opts.padding = _padding(s, spec.kernel)
            opts.strideW = opts.strideH = spec.stride
            opts.filterWidth = opts.filterHeight = spec.kernel
            g.op(builtin, [cur], [out], "Pool2DOptions", opts, ver)
        elif op is MicroOp.MEAN:
            axes = g.tensor((2,), "int32", "axes", data=np.array([1, 2], np.int32))
            out = g.act((1, 1, 1, spec.c), dt, "out")
            opts = s.ReducerOptionsT()
            opts.keepDims = True
            g.op("MEAN", [cur, axes], [out], "ReducerOptions", opts, ver)
        elif op is MicroOp.SOFTMAX:
            out = g.act(shape, dt, f"t{i}", scale=1 / 256, zp=-128) if dt == "int8" else g.act(shape, dt, f"t{i}")
            opts = s.SoftmaxOptionsT()
            opts.beta = 1.0
            g.op("SOFTMAX", [cur], [out], "SoftmaxOptions", opts, ver)
        elif op is MicroOp.RESIZE_BILINEAR:
            size = g.tensor((2,), "int32", "size", data=np.array([spec.h * 2, spec.w * 2], np.int32))
            out = g.act((1, spec.h * 2, spec.w * 2, spec.c), dt, "out")
            opts = s.ResizeBilinearOptionsT()
            opts.halfPixelCenters = True
            g.op("RESIZE_BILINEAR", [cur, size], [out], "ResizeBilinearOptions", opts, ver)
        elif op is MicroOp.CONCATENATION:
            other = g.act(shape, dt, "other")
            inputs.append(other)
            out = g.act((1, spec.h, spec.w, spec.c * 2), dt, "out")
            opts = s.ConcatenationOptionsT()
            opts.axis = 3
            g.op("CONCATENATION", [cur, other], [out], "ConcatenationOptions", opts, ver)
        elif op is MicroOp.PAD:
            pads = g.tensor((4, 2), "int32", "pads", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
            out = g.act((1, spec.h + 2, spec.w + 2, spec.c), dt, "out")
            g.op("PAD", [cur, pads], [out], "PadOptions", s.PadOptionsT(), ver)
        elif op is MicroOp.LOGISTIC:
            out = g.act(shape, dt, f"t{i}", scale=1 / 256, zp=-128) if dt == "int8" else g.act(shape, dt, f"t{i}")
            g.op("LOGISTIC", [cur], [out], version=ver)
        elif op in (MicroOp.HARD_SWISH, MicroOp.RELU):
            out = g.act(shape, dt, f"t{i}")
            g.op(builtin, [cur], [out], version=ver)
        else:  # pragma: no cover - every MicroOp is handled above
            raise ValueError(f"unknown micro op {op}")
        cur = out
        del last
    return g.finish(inputs, [cur], f"edgekit micro-benchmark {spec.name}")


def _reshape_opts(schema: ModuleType, shape: list[int]) -> Any:
    opts = schema.ReshapeOptionsT()
    opts.newShape = shape
    return opts
