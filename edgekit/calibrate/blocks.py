"""Small-block micro-benchmarks: the building blocks of edge CNNs, at full size, as TFLite flatbuffers.

Single-op models measure kernels; blocks measure what the single ops miss when ops run back to back
in a real network (activations that do not stay in cache, the hand-over between XNNPACK partitions
when an op in the middle is refused). ``edgekit calibrate`` predicts each block with the estimator
and the per-op figures, and corrects the figures by the measured/predicted ratio of the blocks:

- inverted residual (MobileNetV2/EfficientNet): 1x1 expand, 3x3 depthwise, 1x1 project, residual ADD
- squeeze-excite with hard-swish (MobileNetV3): MEAN, two 1x1 convs, HARD_SWISH, broadcast MUL
- bottleneck (ResNet): 1x1, 3x3, 1x1 convs and a residual ADD
- dense (DenseNet): CONCATENATION of the input and a 3x3 conv's output, then a 1x1 conv
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from edgekit.calibrate.microbench import ACT_SCALE, DTYPES, activation, conv_options
from edgekit.core.tflite_builder import Quant, TFLiteBuilder


class BlockKind(str, Enum):
    INVERTED_RESIDUAL = "inverted_residual"
    SE_HARD_SWISH = "se_hard_swish"
    BOTTLENECK = "bottleneck"
    DENSE = "dense"


@dataclass(frozen=True)
class BlockSpec:
    kind: BlockKind
    dtype: str
    size: int  # H = W
    channels: int

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"BlockSpec dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.size < 1 or self.channels < 4:
            raise ValueError(f"BlockSpec sizes too small: {self}")

    @property
    def name(self) -> str:
        return f"block_{self.kind.value}_{self.dtype}_{self.size}x{self.size}x{self.channels}"


class LayerNet:
    """Appends layers to a model, each reading a tensor of the model and returning the tensor it writes."""

    def __init__(self, dtype: str, shape: tuple[int, int, int, int], seed: int, description: str) -> None:
        self.b = TFLiteBuilder(description)
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self.n = 0
        self.inp = activation(self.b, shape, dtype, "input")

    def _name(self, what: str) -> str:
        self.n += 1
        return f"{what}{self.n}"

    def _ver(self, int8_version: int) -> int:
        return int8_version if self.dtype == "int8" else 1

    def _act(self, shape: tuple[int, ...]) -> int:
        return activation(self.b, shape, self.dtype, self._name("t"))

    def conv(self, x: int, cout: int, k: int, stride: int = 1, depthwise: bool = False, act: str = "RELU6") -> int:
        b = self.b
        _, h, w, cin = b.shape(x)
        nout = cin if depthwise else cout
        wshape = (1, k, k, cin) if depthwise else (cout, k, k, cin)
        if self.dtype == "float32":
            wt = b.constant(self._name("w"), self.rng.normal(0, 0.1, wshape).astype(np.float32))
            bt = b.constant(self._name("b"), np.zeros(nout, np.float32))
        else:
            w_scale = self.rng.uniform(0.002, 0.02, nout).astype(np.float32)
            wt = b.constant(self._name("w"), self.rng.integers(-127, 127, wshape, endpoint=True).astype(np.int8),
                            quant=Quant.per_channel(w_scale, axis=3 if depthwise else 0))
            bt = b.constant(self._name("b"), np.zeros(nout, np.int32),
                            quant=Quant.per_channel((ACT_SCALE * w_scale).astype(np.float32)))
        out = self._act((1, -(-h // stride), -(-w // stride), nout))
        b.operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wt, bt], [out],
                   conv_options(k, stride, act, depthwise), version=self._ver(3))
        return out

    def binary(self, op: str, a: int, b: int) -> int:
        out = self._act(self.b.shape(a))
        self.b.operator(op, [a, b], [out], version=self._ver(2))
        return out

    def unary(self, op: str, x: int) -> int:
        out = self._act(self.b.shape(x))
        self.b.operator(op, [x], [out])
        return out

    def mean_hw(self, x: int) -> int:
        c = self.b.shape(x)[3]
        axes = self.b.constant(self._name("axes"), np.array([1, 2], np.int32))
        out = self._act((1, 1, 1, c))
        self.b.operator("MEAN", [x, axes], [out], {"keep_dims": True}, version=self._ver(2))
        return out

    def concat(self, a: int, b: int) -> int:
        sa, sb = self.b.shape(a), self.b.shape(b)
        out = self._act((*sa[:3], sa[3] + sb[3]))
        self.b.operator("CONCATENATION", [a, b], [out], {"axis": 3}, version=self._ver(2))
        return out

    def finish(self, out: int) -> bytes:
        return self.b.build([self.inp], [out])


def build_block(spec: BlockSpec, seed: int = 0) -> bytes:
    """The .tflite bytes of ``spec``."""
    c = spec.channels
    n = LayerNet(spec.dtype, (1, spec.size, spec.size, c), seed, f"edgekit block micro-benchmark {spec.name}")
    x = n.inp
    if spec.kind is BlockKind.INVERTED_RESIDUAL:
        for _ in range(2):
            y = n.conv(x, 6 * c, 1)
            y = n.conv(y, 0, 3, depthwise=True)
            y = n.conv(y, c, 1, act="NONE")
            x = n.binary("ADD", x, y)
    elif spec.kind is BlockKind.SE_HARD_SWISH:
        for _ in range(2):
            y = n.unary("HARD_SWISH", n.conv(x, 4 * c, 1, act="NONE"))
            y = n.unary("HARD_SWISH", n.conv(y, 0, 3, depthwise=True, act="NONE"))
            s = n.conv(n.mean_hw(y), max(4, c), 1, act="RELU")
            s = n.conv(s, 4 * c, 1, act="RELU6")
            y = n.binary("MUL", y, s)
            x = n.binary("ADD", x, n.conv(y, c, 1, act="NONE"))
    elif spec.kind is BlockKind.BOTTLENECK:
        for _ in range(2):
            y = n.conv(x, c // 4, 1, act="RELU")
            y = n.conv(y, c // 4, 3, act="RELU")
            y = n.conv(y, c, 1, act="NONE")
            x = n.binary("ADD", x, y)
    else:  # DENSE
        for _ in range(2):
            y = n.conv(x, 4 * 32, 1, act="RELU")
            y = n.conv(y, 32, 3, act="RELU")
            x = n.concat(x, y)
        x = n.conv(x, c, 1, act="RELU")
    return n.finish(x)


def build_conv_chain(dtype: str, height: int, width: int, channels: int, layers: int, seed: int = 0) -> bytes:
    """``layers`` 1x1 convolutions of ``channels`` -> ``channels`` in a row over ``height`` x ``width`` pixels: one
    layer's weights over and over (:mod:`edgekit.calibrate.coldweights` grows the weights with ``layers``,
    :mod:`edgekit.calibrate.parallel` times one layer from the difference of two lengths)."""
    if layers < 1:
        raise ValueError(f"a chain needs at least one layer, got {layers}")
    n = LayerNet(dtype, (1, height, width, channels), seed,
                 f"edgekit conv chain {dtype} {layers} x {height}x{width}x{channels}")
    x = n.inp
    for _ in range(layers):
        x = n.conv(x, channels, 1, act="NONE")
    return n.finish(x)


def block_suite(budget_s: float) -> list[BlockSpec]:
    """Blocks at the sizes where edge CNNs spend their time; fewer on a short budget."""
    shapes = [
        (BlockKind.INVERTED_RESIDUAL, 56, 24), (BlockKind.INVERTED_RESIDUAL, 14, 64),
        (BlockKind.SE_HARD_SWISH, 28, 40), (BlockKind.BOTTLENECK, 56, 256), (BlockKind.DENSE, 28, 128),
    ]
    if budget_s >= 30:
        shapes += [(BlockKind.INVERTED_RESIDUAL, 112, 16), (BlockKind.SE_HARD_SWISH, 14, 80),
                   (BlockKind.BOTTLENECK, 14, 1024), (BlockKind.DENSE, 14, 256)]
    else:
        shapes = shapes[:3]
    return [BlockSpec(kind, dtype, size, ch) for kind, size, ch in shapes for dtype in DTYPES]
