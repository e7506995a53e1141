"""repair.maxpool: a padded MaxPool gets its padding as repeated edge values (exact for a max), so no backend
writes a PAD with -3.4e38 that an int8 quantization stretches into a scale of 1e36. Checked against
onnxruntime on the graph as given."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

from edgekit.host.onnx.repair import RepairContext, maxpool  # noqa: E402


def _model(shape: list[int], out: list[int], **attrs: Any) -> Any:
    graph = h.make_graph([h.make_node("MaxPool", ["x"], ["y"], **attrs)], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, shape)], [h.make_tensor_value_info("y", T.FLOAT, out)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


CASES = {
    "torch-resnet-stem": ([1, 2, 16, 16], [1, 2, 8, 8], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "ceil-mode": ([1, 2, 30, 80], [1, 2, 15, 40], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "ceil-and-pads": ([1, 3, 9, 10], [1, 3, 5, 5], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 0, 1],
                                                    "ceil_mode": 1}),
    "same-upper-1d-ceil": ([1, 2, 11], [1, 2, 4], {"kernel_shape": [4], "strides": [3], "auto_pad": "SAME_UPPER",
                                                    "ceil_mode": 1}),
    "wide-pads": ([1, 1, 7, 7], [1, 1, 9, 9], {"kernel_shape": [5, 5], "strides": [1, 1], "pads": [3, 3, 3, 3]}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge_padding_matches_onnxruntime(name: str) -> None:
    shape, out, attrs = CASES[name]
    model = _model(shape, out, **attrs)
    x = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32) - 5.0  # all negative: pads would show
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})  # noqa: E731
    want = run(model)[0]
    repair = maxpool.apply(model, RepairContext())
    assert repair is not None and repair.name == "maxpool"
    pools = [n for n in model.graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 1 and not any(a.name in ("pads", "auto_pad", "ceil_mode") for a in pools[0].attribute)
    got = run(model)[0]
    assert got.shape == want.shape == tuple(out)
    np.testing.assert_array_equal(got, want)


def test_unpadded_same_and_dilated_pools_are_left_alone() -> None:
    """TF SAME padding without ceil_mode (YOLOv8's SPPF, k5 s1 p2) is a SAME pool in both backends already."""
    assert maxpool.apply(_model([1, 2, 8, 8], [1, 2, 4, 4], kernel_shape=[2, 2], strides=[2, 2]), RepairContext()) is None
    sppf = _model([1, 2, 10, 10], [1, 2, 10, 10], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])
    assert maxpool.apply(sppf, RepairContext()) is None
    same = _model([1, 2, 11], [1, 2, 4], kernel_shape=[4], strides=[3], auto_pad="SAME_UPPER")
    assert maxpool.apply(same, RepairContext()) is None
    dilated = _model([1, 2, 9, 9], [1, 2, 4, 4], kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1])
    assert maxpool.apply(dilated, RepairContext()) is None
