"""An ONNX input the file fixes, set to another size with --input-shape: the graph is rebuilt at that size
(the declared output sizes go too), and onnxruntime runs it (CenterFace, shipped at [10, 3, 32, 32])."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgekit.host.onnx.graph import fix_input_shapes, graph_inputs  # noqa: E402


def test_fixed_input_resized_with_its_outputs() -> None:
    w = nh.from_array(np.random.default_rng(0).normal(0, 1, (4, 3, 3, 3)).astype(np.float32), "W")
    graph = h.make_graph([h.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [10, 3, 32, 32])],
                         [h.make_tensor_value_info("y", T.FLOAT, [10, 4, 16, 16])], [w])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    assert graph_inputs(model)[0].resizable
    resized = fix_input_shapes(model, {"x": (1, 3, 48, 64)})
    assert [d.dim_value for d in resized.graph.output[0].type.tensor_type.shape.dim] == [1, 4, 24, 32]
    session = ort.InferenceSession(resized.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.zeros((1, 3, 48, 64), np.float32)})
    assert out.shape == (1, 4, 24, 32)
