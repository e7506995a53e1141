"""Integer inputs that index a table: synthetic samples stay inside it (text2tashkeel's 54-symbol embedding was
fed random ids up to 255 after a 14-minute conversion, and onnxruntime refused them)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgekit.core.source import TensorSpec  # noqa: E402
from edgekit.data import Preprocessing, load_samples  # noqa: E402
from edgekit.host.onnx.graph import index_limits  # noqa: E402


def test_ids_through_a_cast_into_an_embedding_are_bounded_by_its_rows() -> None:
    table = nh.from_array(np.zeros((54, 8), np.float32), "table")
    nodes = [h.make_node("Cast", ["ids"], ["ids32"], to=T.INT32),
             h.make_node("Gather", ["table", "ids32"], ["emb"], axis=0),
             h.make_node("Gather", ["table", "pos"], ["p"], axis=1)]  # axis 1: 8 columns
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("ids", T.INT64, [1, 16]),
                                      h.make_tensor_value_info("pos", T.INT64, [3]),
                                      h.make_tensor_value_info("scale", T.FLOAT, [1])],
                         [h.make_tensor_value_info("emb", T.FLOAT, [1, 16, 8]),
                          h.make_tensor_value_info("p", T.FLOAT, [54, 3])], [table])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    assert index_limits(model) == {"ids": 54, "pos": 8}
    spec = TensorSpec("ids", (1, 16), "int64", value_limit=54)
    arrays, _ = load_samples(None, [spec], Preprocessing(), 64)
    assert arrays["ids"].max() < 54 and arrays["ids"].max() > 40  # the whole table, nothing past it


def test_ids_through_tf_gathers_negative_id_wrap_are_bounded_by_the_table() -> None:
    """tf2onnx writes tf.gather's ``where(id < 0, id + rows, id)`` as Add/Less/Cast/Mul (slovorez 0.2): ids up to
    255 made onnxruntime refuse its 49-row embedding during convert's check."""
    table = nh.from_array(np.zeros((49, 8), np.float32), "table")
    rows = nh.from_array(np.array(49, np.int32), "rows")
    zero = nh.from_array(np.array(0.0, np.float32), "zero")
    nodes = [h.make_node("Add", ["ids", "rows"], ["wrapped"]),
             h.make_node("Cast", ["ids"], ["idsf"], to=T.FLOAT),
             h.make_node("Less", ["idsf", "zero"], ["neg"]),
             h.make_node("Not", ["neg"], ["pos"]),
             h.make_node("Cast", ["pos"], ["posi"], to=T.INT32),
             h.make_node("Cast", ["neg"], ["negi"], to=T.INT32),
             h.make_node("Mul", ["ids", "posi"], ["keep"]),
             h.make_node("Mul", ["negi", "wrapped"], ["moved"]),
             h.make_node("Add", ["moved", "keep"], ["index"]),
             h.make_node("Gather", ["table", "index"], ["emb"], axis=0)]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("ids", T.INT32, [1, 16])],
                         [h.make_tensor_value_info("emb", T.FLOAT, [1, 16, 8])], [table, rows, zero])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    assert index_limits(model) == {"ids": 49}
