"""Models older than onnxruntime (opset < 7): 30 of the 117 PyTorch-exported cases in the ``onnx`` wheel
(``onnx/backend/test/data/pytorch-*``, opset 6) stopped with "onnxruntime cannot load". ONNX's version converter
upgrades them, checked against ONNX's reference implementation on the original before it is used."""

from __future__ import annotations

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
from edgekit.errors import ModelFormatError  # noqa: E402
from edgekit.host.onnx.opset import TARGET_OPSET, default_opset, upgrade_old_opset  # noqa: E402

SHAPE = [1, 3, 4, 4]


def _opset6(node: Any, weights: dict[str, np.ndarray]) -> Any:
    """x [1,3,4,4] -> node -> y, opset 6 / IR 3 (the weights listed among the inputs, as IR 3 required)."""
    inits = [numpy_helper.from_array(a, n) for n, a in weights.items()]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, SHAPE),
              *(h.make_tensor_value_info(n, T.FLOAT, list(a.shape)) for n, a in weights.items())]
    graph = h.make_graph([node], "old", inputs, [h.make_tensor_value_info("y", T.FLOAT, SHAPE)], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 6)])
    model.ir_version = 3
    return model


def _batch_norm() -> tuple[Any, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    w = {"s": rng.uniform(0.5, 2, 3).astype(np.float32), "b": rng.normal(0, 1, 3).astype(np.float32),
         "m": rng.normal(0, 1, 3).astype(np.float32), "v": rng.uniform(0.5, 2, 3).astype(np.float32)}
    node = h.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-5, is_test=1)
    return _opset6(node, w), w


def test_onnxruntime_cannot_run_it_and_the_checked_upgrade_can() -> None:
    model, w = _batch_norm()
    with pytest.raises(Exception, match="BatchNormalization"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    notes: list[str] = []
    up = upgrade_old_opset(model, {"x": tuple(SHAPE)}, "bn.onnx", notes)
    assert default_opset(up) == TARGET_OPSET and default_opset(model) == 6
    assert "upgraded to opset 13 with ONNX's version converter" in notes[0]
    x = np.random.default_rng(1).normal(0, 1, SHAPE).astype(np.float32)
    got = ort.InferenceSession(up.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    c = (1, 3, 1, 1)
    want = (x - w["m"].reshape(c)) / np.sqrt(w["v"].reshape(c) + 1e-5) * w["s"].reshape(c) + w["b"].reshape(c)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    current = h.make_model(up.graph, opset_imports=[h.make_opsetid("", 17)])
    assert upgrade_old_opset(current, {}, "new.onnx", notes) is current  # a current opset: nothing to do


def test_such_a_model_converts_as_a_user_runs_it(tmp_path: Path) -> None:
    src, out = tmp_path / "bn.onnx", tmp_path / "bn.tflite"
    onnx.save(_batch_norm()[0], str(src))
    res = CliRunner().invoke(main, ["convert", str(src), "--quantize", "none", "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "opset 6 is older than onnxruntime runs: upgraded to opset 13" in res.stderr
    assert out.is_file()


def test_an_upgrade_that_fails_is_refused_with_what_was_tried() -> None:
    """PRelu(6) with one slope per channel: opset 7's PRelu broadcasts the slope from the right, so the upgraded
    graph does not run (the PyTorch cases' ``PReLU_*_multiparam``)."""
    model = _opset6(h.make_node("PRelu", ["x", "slope"], ["y"]), {"slope": np.full((3, 1, 1), 0.1, np.float32)})
    model.graph.input[1].type.tensor_type.shape.ClearField("dim")
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array([0.1, 0.2, 0.3], np.float32), "slope"))
    with pytest.raises(ModelFormatError, match=r"onnxruntime cannot load p\.onnx \(opset 6\).*version converter") as e:
        upgrade_old_opset(model, {"x": tuple(SHAPE)}, "p.onnx", [])
    assert "opset_version=17" in (e.value.hint or "")
