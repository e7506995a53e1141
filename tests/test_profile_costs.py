"""MAC and byte counts per op type, against hand-computed values (models built as flatbuffers, no TF)."""

from __future__ import annotations

import numpy as np
import pytest
from profile_helpers import profile_builder

from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.profile.costs import op_cost
from edgekit.profile.schema import OpClass
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def _single(build: object) -> tuple:
    b = profile_builder()
    inputs, outputs = build(b)  # type: ignore[operator]
    m = parse_model(b.build(inputs, outputs), "test")
    return m, [op_cost(m.main, op) for op in m.main.operators]


def test_conv2d_stride2_macs_and_bytes() -> None:
    def build(b: TFLiteBuilder) -> tuple:
        x = b.tensor("x", (1, 32, 32, 16))
        w = b.constant("w", np.zeros((24, 3, 3, 16), np.float32))
        bias = b.constant("b", np.zeros((24,), np.float32))
        y = b.tensor("y", (1, 16, 16, 24))
        b.operator("CONV_2D", [x, w, bias], [y],
                   {"padding": "SAME", "stride_w": 2, "stride_h": 2, "fused_activation_function": "RELU"})
        return [x], [y]

    _, (c,) = _single(build)
    # 16*16*24 outputs, each a 3x3x16 dot product
    assert c.macs == 16 * 16 * 24 * 3 * 3 * 16 == 884_736
    assert c.op_class == OpClass.CONV and c.compute_dtype == "float32" and c.known
    assert c.bytes == 4 * (32 * 32 * 16 + 24 * 9 * 16 + 24 + 16 * 16 * 24)
    assert c.weight_bytes == 4 * (24 * 9 * 16 + 24)


def test_depthwise_transpose_conv_fc_batch_matmul() -> None:
    def build(b: TFLiteBuilder) -> tuple:
        x = b.tensor("x", (1, 10, 10, 8), "int8")
        dw = b.constant("dw", np.zeros((1, 3, 3, 16), np.int8))
        dwb = b.constant("dwb", np.zeros((16,), np.int32))
        y = b.tensor("y", (1, 10, 10, 16), "int8")
        b.operator("DEPTHWISE_CONV_2D", [x, dw, dwb], [y],
                   {"padding": "SAME", "depth_multiplier": 2, "stride_w": 1, "stride_h": 1})
        shape = b.constant("oshape", np.array([1, 20, 20, 4]), "int32")
        tw = b.constant("tw", np.zeros((4, 3, 3, 16), np.int8))
        z = b.tensor("z", (1, 20, 20, 4), "int8")
        b.operator("TRANSPOSE_CONV", [shape, tw, y], [z], {"padding": "SAME", "stride_w": 2, "stride_h": 2})
        flat_shape = b.constant("fs", np.array([1, 1600]), "int32")
        f = b.tensor("f", (1, 1600), "int8")
        b.operator("RESHAPE", [z, flat_shape], [f])
        fw = b.constant("fw", np.zeros((10, 1600), np.int8))
        o = b.tensor("o", (1, 10), "int8")
        b.operator("FULLY_CONNECTED", [f, fw], [o])
        a = b.tensor("a", (2, 5, 7))
        bm = b.tensor("bm", (2, 7, 3))
        c = b.tensor("c", (2, 5, 3))
        b.operator("BATCH_MATMUL", [a, bm], [c])
        return [x, a, bm], [o, c]

    _, costs = _single(build)
    dw, tconv, reshape, fc, bmm = costs
    assert dw.macs == 10 * 10 * 16 * 3 * 3 == 14_400 and dw.op_class == OpClass.DEPTHWISE_CONV
    assert dw.compute_dtype == "int8"
    # every input element scatters 3x3 taps into each of 4 output channels
    assert tconv.macs == 10 * 10 * 16 * 3 * 3 * 4 == 57_600 and tconv.op_class == OpClass.TRANSPOSE_CONV
    assert reshape.macs == 0 and reshape.op_class == OpClass.DATA_MOVEMENT
    assert reshape.bytes == 1600 + 8 + 1600
    assert fc.macs == 10 * 1600 and fc.weight_bytes == 16_000
    assert bmm.macs == 2 * 5 * 3 * 7 == 210 and bmm.op_class == OpClass.BATCH_MATMUL


def test_pool_elementwise_softmax_resize_reduce_and_unknown() -> None:
    def build(b: TFLiteBuilder) -> tuple:
        x = b.tensor("x", (1, 8, 8, 4))
        p = b.tensor("p", (1, 4, 4, 4))
        b.operator("AVERAGE_POOL_2D", [x], [p], {"filter_width": 2, "filter_height": 2, "stride_w": 2, "stride_h": 2})
        q = b.tensor("q", (1, 4, 4, 4))
        b.operator("ADD", [p, p], [q])
        s = b.tensor("s", (1, 4, 4, 4))
        b.operator("LOGISTIC", [q], [s])
        sm = b.tensor("sm", (1, 4, 4, 4))
        b.operator("SOFTMAX", [s], [sm], {"beta": 1.0})
        size = b.constant("size", np.array([8, 8]), "int32")
        r = b.tensor("r", (1, 8, 8, 4))
        b.operator("RESIZE_BILINEAR", [sm, size], [r])
        axes = b.constant("axes", np.array([1, 2]), "int32")
        mean = b.tensor("mean", (1, 1, 1, 4))
        b.operator("MEAN", [r, axes], [mean], {"keep_dims": True})
        odd = b.tensor("odd", (1, 1, 1, 4))
        b.operator("CUMSUM", [mean, axes], [odd])
        return [x], [odd]

    _, (pool, add, sig, sm, resize, mean, odd) = _single(build)
    assert pool.macs == 4 * 4 * 4 * 2 * 2 == 256 and pool.op_class == OpClass.POOL
    assert add.macs == 64 and add.op_class == OpClass.ELEMENTWISE
    assert sig.macs == 4 * 64  # transcendental: 4 per element
    assert sm.macs == 5 * 64 and sm.op_class == OpClass.SOFTMAX
    assert resize.macs == 4 * 256 and resize.op_class == OpClass.RESIZE
    assert mean.macs == 256 and mean.op_class == OpClass.REDUCE
    # an op the cost model does not know: conservative 8 * (elements in + out), flagged
    assert not odd.known and odd.op_class == OpClass.OTHER
    assert odd.macs == 8 * (4 + 2 + 4)
