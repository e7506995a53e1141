"""repair.initializers: an ONNX IR < 4 model lists every weight among the graph's inputs as well (ONNX's own
``light_shufflenet``: 1 image and 243 weights). onnx2tf made a 244-input ``.tflite`` of it and the loader then
stopped with "unexpected ValueError: zip() argument 2 is longer than argument 1" (a bug report). The pass, checked
against onnxruntime, and the conversion as a user runs it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from edgekit.cli import main  # noqa: E402
from edgekit.host.onnx.repair import RepairContext, initializers  # noqa: E402
from edgekit.tflite.model import load_model  # noqa: E402


def _ir3_model() -> Any:
    """x [1,3,8,8] -> Conv(w, b) -> Relu -> y, opset 9, IR 3, as ONNX's "light" test models are made: the conv's
    weights computed by a ConstantOfShape from a shape initializer; that shape and the bias are graph inputs too."""
    rng = np.random.default_rng(0)
    w_shape = numpy_helper.from_array(np.array([4, 3, 3, 3], np.int64), "w_shape")
    b = numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b")
    nodes = [h.make_node("ConstantOfShape", ["w_shape"], ["w"], value=h.make_tensor("v", T.FLOAT, [1], [0.05])),
             h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["y"])]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8]), h.make_tensor_value_info("w_shape", T.INT64, [4]),
              h.make_tensor_value_info("b", T.FLOAT, [4])]
    graph = h.make_graph(nodes, "ir3", inputs, [h.make_tensor_value_info("y", T.FLOAT, [1, 4, 8, 8])], [w_shape, b])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 9)])
    model.ir_version = 3
    onnx.checker.check_model(model)
    return model


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_the_weights_leave_the_inputs_and_the_result_is_unchanged() -> None:
    model = _ir3_model()
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    want = _run(model, x)
    repair = initializers.apply(model, RepairContext())
    assert repair is not None and repair.name == "initializers" and repair.count == 2
    assert [v.name for v in model.graph.input] == ["x"]
    assert model.ir_version == 4
    onnx.checker.check_model(model)
    np.testing.assert_array_equal(_run(model, x), want)
    assert initializers.apply(model, RepairContext()) is None  # nothing left to do


def test_such_a_model_converts_with_only_its_real_input(tmp_path: Path) -> None:
    src, out = tmp_path / "ir3.onnx", tmp_path / "ir3.tflite"
    onnx.save(_ir3_model(), str(src))
    res = CliRunner().invoke(main, ["convert", str(src), "--quantize", "none", "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "graph repair 'initializers': removed 2 initializer(s)" in res.stderr
    sg = load_model(out).main
    assert len(sg.inputs) == 1 and sg.tensor(sg.inputs[0]).shape == (1, 8, 8, 3)


def test_a_backend_that_takes_constants_for_inputs_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the pass the backends take the weights that stay inputs for inputs: each attempt fails with the count,
    and the command ends with the attempts listed, no bug report."""
    import edgekit.host.onnx.load as load

    monkeypatch.setattr(load, "COMMON_REPAIRS", tuple(p for p in load.COMMON_REPAIRS if p != "initializers"))
    src = tmp_path / "ir3.onnx"
    onnx.save(_ir3_model(), str(src))
    res = CliRunner().invoke(main, ["convert", str(src), "--quantize", "none", "-o", str(tmp_path / "x.tflite")])
    assert res.exit_code == 3, res.stderr
    assert re.search(r"lowering made a model with \d+ input\(s\), the ONNX model has 1", res.stderr), res.stderr
    assert "bug in edgekit" not in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.tflite").exists()
