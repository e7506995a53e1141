"""repair.double: a graph that finishes in float64 (swift-f0 0.3.0's pitch head) computed in float32, checked
against onnxruntime on the float64 graph; and the check's message when random inputs are invalid for a model."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgekit.host.onnx.attempts import Attempt, all_failed_error  # noqa: E402
from edgekit.host.onnx.check import INVALID_RANDOM_INPUTS, _compare  # noqa: E402
from edgekit.host.onnx.repair import RepairContext, double  # noqa: E402


def _pitch_head() -> onnx.ModelProto:
    """logits -> Cast(double) -> Softmax -> * a float64 frequency table (Gather by clipped indices) -> ReduceSum."""
    freqs = (46.875 * (2093.75 / 46.875) ** (np.arange(12) / 11)).astype(np.float64)
    nodes = [h.make_node("Cast", ["logits"], ["d"], to=T.DOUBLE),
             h.make_node("Softmax", ["d"], ["p"], axis=-1),
             h.make_node("Gather", ["table", "idx"], ["f"], axis=0),
             h.make_node("Mul", ["p", "f"], ["pf"]),
             h.make_node("ReduceSum", ["pf", "axes"], ["pitch"], keepdims=0),
             h.make_node("Constant", [], ["half"], value=nh.from_array(np.array(0.5, np.float64))),
             h.make_node("Mul", ["pitch", "half"], ["half_pitch"])]
    inits = [nh.from_array(freqs, "table"), nh.from_array(np.arange(12, dtype=np.int64), "idx"),
             nh.from_array(np.array([-1], np.int64), "axes")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("logits", T.FLOAT, [2, 12])],
                         [h.make_tensor_value_info("pitch", T.DOUBLE, [2]),
                          h.make_tensor_value_info("half_pitch", T.DOUBLE, [2])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_float64_graph_in_float32_matches_onnxruntime() -> None:
    model = _pitch_head()
    feeds = {"logits": np.random.default_rng(0).normal(0, 3, (2, 12)).astype(np.float32)}
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)  # noqa: E731
    want = run(model)
    repair = double.apply(model, RepairContext())
    assert repair is not None and "output(s) pitch, half_pitch now float32" in repair.detail
    onnx.checker.check_model(model)
    got = run(model)
    assert all(g.dtype == np.float32 for g in got)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert double.apply(model, RepairContext()) is None  # nothing left in float64


def test_a_float64_input_is_left_alone() -> None:
    model = _pitch_head()
    model.graph.input[0].type.tensor_type.elem_type = T.DOUBLE
    assert double.apply(model, RepairContext()) is None


def test_random_inputs_the_model_cannot_take_ask_for_real_ones() -> None:
    """swift-f0's fmin/fmax drawn from [0, 1] make onnxruntime's own pitch Inf: the error says so, not 'differs'."""
    err = _compare("pitch", np.array([np.inf, 3.0]), np.array([5.0, 3.0]), (0,), 0, 1e-4, 1e-4)
    assert err.reference_nonfinite and not err.ok
    assert not _compare("pitch", np.array([1.0, 3.0]), np.array([5.0, 3.0]), (0,), 0, 1e-4, 1e-4).reference_nonfinite
    attempts = [Attempt("lower", "check", f"output 'pitch' differs by up to inf, where {INVALID_RANDOM_INPUTS}",
                        None, None)]
    error = all_failed_error("model.onnx", attempts)
    assert "Could not check the conversion of model.onnx" in str(error)
    assert "--calibration FILE.npz with one array per model input" in (error.hint or "")


def _mixed_float16_convs() -> onnx.ModelProto:
    """Keras' mixed_float16 policy through tf2onnx (slovorez 0.2): float32 features cast to float16, a float16
    Conv (weights, bias), Relu and Softmax, a float16 output."""
    rng = np.random.default_rng(1)
    nodes = [h.make_node("Cast", ["x"], ["x16"], to=T.FLOAT16),
             h.make_node("Conv", ["x16", "w", "b"], ["c"], pads=[1, 1]),
             h.make_node("Relu", ["c"], ["r"]),
             h.make_node("Softmax", ["r"], ["y"], axis=1)]
    inits = [nh.from_array(rng.normal(0, 0.5, (6, 4, 3)).astype(np.float16), "w"),
             nh.from_array(rng.normal(0, 0.1, 6).astype(np.float16), "b")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 4, 16])],
                         [h.make_tensor_value_info("y", T.FLOAT16, [1, 6, 16])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_float16_compute_in_float32_matches_onnxruntime_within_float16_rounding() -> None:
    model = _mixed_float16_convs()
    feeds = {"x": np.random.default_rng(0).normal(0, 1, (1, 4, 16)).astype(np.float32)}
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)  # noqa: E731
    [want] = run(model)
    assert double.apply(model, RepairContext()) is None  # no float64 here
    repair = double.apply_half(model, RepairContext())
    assert repair is not None and repair.name == "half" and "output(s) y now float32" in repair.detail
    onnx.checker.check_model(model)
    [got] = run(model)
    assert got.dtype == np.float32 and want.dtype == np.float16
    np.testing.assert_allclose(got, want.astype(np.float32), atol=2e-3)  # float16 keeps ~3 decimal digits
    assert double.apply_half(model, RepairContext()) is None
