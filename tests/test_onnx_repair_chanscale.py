"""repair.chanscale: Conv -> Relu -> Mul(per-channel) (a Keras batch norm after its ReLU, through tf2onnx: fastmrz's
MRZ U-Net) folds the Mul into the conv, exactly, checked against onnxruntime on the graph as given."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgekit.host.onnx.repair import RepairContext, chanscale  # noqa: E402


def _model(scale: np.ndarray, skip: bool = False) -> Any:
    rng = np.random.default_rng(0)
    nodes = [h.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["r"]),
             h.make_node("Mul", ["r", "S"], ["m"]), h.make_node("Add", ["m", "A"], ["y"])]
    outputs = [h.make_tensor_value_info("y", T.FLOAT, [1, 6, 8, 8])]
    if skip:  # a U-Net skip reads the ReLU's output before the batch norm
        outputs.append(h.make_tensor_value_info("r", T.FLOAT, [1, 6, 8, 8]))
    inits = [nh.from_array(rng.normal(0, 0.5, (6, 3, 3, 3)).astype(np.float32), "W"),
             nh.from_array(rng.normal(0, 0.2, 6).astype(np.float32), "B"),
             nh.from_array(scale.astype(np.float32), "S"),
             nh.from_array(rng.normal(0, 0.5, (1, 6, 1, 1)).astype(np.float32), "A")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])], outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _run(model: Any, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, {"x": x})]


@pytest.mark.parametrize("shape", [(1, 6, 1, 1), (6, 1, 1)])
def test_a_positive_channel_scale_after_conv_relu_folds_exactly(shape: tuple[int, ...]) -> None:
    model = _model(np.geomspace(5e-4, 30, 6).reshape(shape))
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    want = _run(model, x)
    repair = chanscale.apply(model, RepairContext())
    assert repair is not None and repair.count == 1
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "Add"]
    onnx.checker.check_model(model)
    np.testing.assert_allclose(_run(model, x)[0], want[0], rtol=1e-5, atol=1e-5)


def test_a_negative_scale_or_a_second_reader_is_left_alone() -> None:
    assert chanscale.apply(_model(np.array([1, -2, 3, 4, 5, 6.0]).reshape(1, 6, 1, 1)), RepairContext()) is None
    assert chanscale.apply(_model(np.geomspace(5e-4, 30, 6).reshape(1, 6, 1, 1), skip=True), RepairContext()) is None
