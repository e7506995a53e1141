"""The passes for onnxruntime's dynamic quantization (repair.qlstm, repair.integer) on tiny graphs built here,
with onnxruntime running the graph as given as the reference (no TensorFlow: fast).

onnxruntime's u8 x s8 integer GEMM on x86 without VNNI adds the byte products in pairs saturated to int16,
so int8 weights whose pairs exceed 32767 give a CPU-dependent result; the lowering computes the exact
(ONNX-spec) product. The tests therefore use uint8 weights, or int8 weights small enough (|w| <= 64) that no
pair saturates, where onnxruntime is exact on every CPU."""

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
from edgekit.host.onnx.repair import RepairContext, integer, qlstm  # noqa: E402


def _run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feeds)]


def _copy(model: Any) -> Any:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _qlstm_model(direction: str, per_channel: bool, signed: bool, steps: int = 6, batch: int = 1, size: int = 5,
                 hidden: int = 4, state: bool = True, clip: float | None = None, peephole: bool = False,
                 seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
    """One DynamicQuantizeLSTM as quantize_dynamic writes it: W [dirs, input, 4H], R [dirs, H, 4H], scales."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    inits = []
    for name, rows in (("W", size), ("R", hidden)):
        shape = (dirs, rows, 4 * hidden)
        q = rng.integers(-64, 65, shape).astype(np.int8) if signed else rng.integers(0, 256, shape).astype(np.uint8)
        qshape = (dirs, 4 * hidden) if per_channel else (dirs,)
        zp = np.zeros(qshape, q.dtype) if signed else np.full(qshape, 128, np.uint8)  # what the kernel accepts
        inits += [nh.from_array(q, name), nh.from_array(rng.uniform(0.005, 0.03, qshape).astype(np.float32), name + "_s"),
                  nh.from_array(zp, name + "_z")]
    inits.append(nh.from_array(rng.normal(0, 0.5, (dirs, 8 * hidden)).astype(np.float32), "B"))
    if peephole:
        inits.append(nh.from_array(rng.normal(0, 0.5, (dirs, 3 * hidden)).astype(np.float32), "P"))
    ins = ["X", "W", "R", "B", "", "h0" if state else "", "c0" if state else "", "P" if peephole else "",
           "W_s", "W_z", "R_s", "R_z"]
    attrs: dict[str, Any] = {"direction": direction, "hidden_size": hidden}
    if clip is not None:
        attrs["clip"] = clip
    node = h.make_node("DynamicQuantizeLSTM", ins, ["Y", "Yh", "Yc"], name="lstm/quant", domain="com.microsoft",
                       **attrs)
    inputs = [h.make_tensor_value_info("X", T.FLOAT, [steps, batch, size])]
    feeds = {"X": rng.normal(0, 2, (steps, batch, size)).astype(np.float32)}
    if state:
        for name in ("h0", "c0"):
            inputs.append(h.make_tensor_value_info(name, T.FLOAT, [dirs, batch, hidden]))
            feeds[name] = rng.normal(0, 0.5, (dirs, batch, hidden)).astype(np.float32)
    outputs = [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("Y", "Yh", "Yc")]
    model = h.make_model(h.make_graph([node], "g", inputs, outputs, inits),
                         opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model, feeds


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("signed", [False, True])
def test_qlstm_matches_onnxruntime(direction: str, per_channel: bool, signed: bool) -> None:
    model, feeds = _qlstm_model(direction, per_channel, signed)
    lowered = _copy(model)
    repair = qlstm.apply(lowered, RepairContext())
    assert repair is not None and repair.name == "qlstm" and repair.count == 1
    assert {n.domain for n in lowered.graph.node} == {""}  # standard ops only
    assert "ReduceMax" in {n.op_type for n in lowered.graph.node}  # the activations are quantized
    for want, got in zip(_run(model, feeds), _run(lowered, feeds), strict=True):
        assert want.shape == got.shape
        np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


def test_qlstm_batch_zero_state_and_clip() -> None:
    # no initial state (zeros: onnxruntime's scale-1 case), a clip, and a batch quantized as one matrix per step
    model, feeds = _qlstm_model("forward", False, False, batch=2, hidden=300, state=False, clip=0.8, seed=3)
    lowered = _copy(model)
    assert qlstm.apply(lowered, RepairContext()) is not None
    for want, got in zip(_run(model, feeds), _run(lowered, feeds), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


def test_qlstm_float_weights_alone_are_not_enough() -> None:
    """Why the pass quantizes the activations: the same LSTM in float on the dequantized weights differs."""
    model, feeds = _qlstm_model("forward", False, False, steps=12, seed=5)
    values = {t.name: nh.to_array(t) for t in model.graph.initializer}
    w = ((values["W"].astype(np.float32) - 128) * values["W_s"][:, None, None]).transpose(0, 2, 1)
    r = ((values["R"].astype(np.float32) - 128) * values["R_s"][:, None, None]).transpose(0, 2, 1)
    plain = _copy(model)
    plain.graph.initializer.extend([nh.from_array(w.astype(np.float32), "Wf"), nh.from_array(r.astype(np.float32), "Rf")])
    node = plain.graph.node[0]
    lstm = h.make_node("LSTM", ["X", "Wf", "Rf", "B", "", "h0", "c0"], list(node.output), hidden_size=4)
    del plain.graph.node[:]
    plain.graph.node.append(lstm)
    assert np.abs(_run(plain, feeds)[0] - _run(model, feeds)[0]).max() > 1e-4


def test_qlstm_leaves_what_it_cannot_lower_and_the_refusal_names_it() -> None:
    model, _ = _qlstm_model("forward", False, False, peephole=True)
    assert foreign_ops_error(model, "m.onnx") is None  # let through to the repairs
    context = RepairContext()
    assert qlstm.apply(model, context) is None
    assert "peephole" in " ".join(context.notes)
    error = foreign_ops_error(model, "m.onnx", lowerable=False)
    assert error is not None and "DynamicQuantizeLSTM" in error.message and "lstm/quant" in error.message


def _integer_model(bias_from_scale: bool) -> tuple[Any, dict[str, np.ndarray]]:
    """What quantize_dynamic writes for Conv (ConvInteger + an int32 bias made from the runtime scale) and MatMul."""
    rng = np.random.default_rng(1)
    inits = [
        nh.from_array(rng.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8), "cw"),
        nh.from_array(np.array(131, np.uint8), "cw_zp"),
        nh.from_array(np.float32(0.01), "cw_s"),
        nh.from_array(rng.normal(0, 1, 3).astype(np.float32), "cb"),
        nh.from_array(np.array([1, 3, 1, 1], np.int64), "cb_shape"),
        nh.from_array(rng.integers(-60, 61, (48, 5)).astype(np.int8), "mw"),
        nh.from_array(np.float32(0.02), "mw_s"),
        nh.from_array(np.array([1, 48], np.int64), "flat"),
    ]
    nodes = [
        h.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        h.make_node("ConvInteger", ["xq", "cw", "xz", "cw_zp"], ["ci"], name="conv", kernel_shape=[3, 3],
                    pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Mul", ["xs", "cw_s"], ["cs"]),
    ]
    if bias_from_scale:  # bias quantized at run time with the activation's scale (older quantize_dynamic)
        nodes += [h.make_node("Div", ["cb", "cs"], ["cbd"]), h.make_node("Floor", ["cbd"], ["cbf"]),
                  h.make_node("Cast", ["cbf"], ["cbi"], to=T.INT32),
                  h.make_node("Reshape", ["cbi", "cb_shape"], ["cbr"]),
                  h.make_node("Add", ["ci", "cbr"], ["cia"], name="bias_add")]
    nodes += [
        h.make_node("Cast", ["cia" if bias_from_scale else "ci"], ["cf"], to=T.FLOAT),
        h.make_node("Mul", ["cf", "cs"], ["conv_out"]),
        h.make_node("Reshape", ["conv_out", "flat"], ["flat_out"]),
        h.make_node("DynamicQuantizeLinear", ["flat_out"], ["fq", "fs", "fz"]),
        h.make_node("MatMulInteger", ["fq", "mw", "fz"], ["mi"], name="matmul"),
        h.make_node("Cast", ["mi"], ["mf"], to=T.FLOAT),
        h.make_node("Mul", ["fs", "mw_s"], ["ms"]),
        h.make_node("Mul", ["mf", "ms"], ["y"]),
    ]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 8, 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 5])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model, {"x": rng.normal(0, 1.5, (1, 2, 8, 8)).astype(np.float32)}


@pytest.mark.parametrize("bias_from_scale", [False, True])
def test_integer_ops_in_float_match_onnxruntime(bias_from_scale: bool) -> None:
    model, feeds = _integer_model(bias_from_scale)
    lowered = _copy(model)
    repair = integer.apply(lowered, RepairContext())
    assert repair is not None and repair.count == 4
    assert not {n.op_type for n in lowered.graph.node} & set(integer.OPS)
    np.testing.assert_allclose(_run(lowered, feeds)[0], _run(model, feeds)[0], atol=1e-5, rtol=1e-6)


def test_integer_ops_kept_when_an_integer_result_is_read_otherwise() -> None:
    model, _ = _integer_model(False)
    model.graph.output.append(h.make_tensor_value_info("xq", T.UINT8, None))  # the uint8 tensor is an output
    context = RepairContext()
    assert integer.apply(model, context) is None
    assert "kept" in context.notes[0]


def test_check_failure_of_a_runtime_quantized_model_says_why() -> None:
    from edgekit.host.onnx.attempts import Attempt, all_failed_error

    attempts = [Attempt("lower", "check", "output 'y' differs by up to 0.07", None, None)]
    plain = all_failed_error("m.onnx", attempts)
    quantized = all_failed_error("m.onnx", attempts, runtime_quantized=True)
    assert "--keep-nchw" in plain.hint and "quantize_dynamic" not in plain.hint
    assert "quantize_dynamic" in quantized.hint and "--no-check" in quantized.hint
    # one backend stopped converting, another converted and differs: the rounding is still what to explain
    mixed = [Attempt("onnx2tf", "convert", "ValueError in tf.concat", None, None), *attempts]
    assert "quantize_dynamic" in all_failed_error("m.onnx", mixed, runtime_quantized=True).hint


# --- the conversion check of a runtime-quantized graph: cosine as well as max error -------------------------


def test_check_takes_cosine_only_when_asked_and_only_on_outputs_with_enough_values() -> None:
    from edgekit.host.onnx.check import MIN_COSINE_ELEMENTS, _compare

    rng = np.random.default_rng(3)
    ref = rng.normal(0, 4, (1, 64, 32)).astype(np.float32)
    got = ref.copy()
    got[0, 5, 7] += 0.25  # one activation rounded to the other side of a step: far above 1e-4 + 1e-3 * peak
    strict = _compare("y", ref, got, (0, 1, 2), 0, 1e-3, 1e-4)
    assert not strict.ok and strict.max_abs_error == pytest.approx(0.25, rel=1e-6)
    lenient = _compare("y", ref, got, (0, 1, 2), 0, 1e-3, 1e-4, min_cosine=0.9999)
    assert lenient.ok and not lenient.within_tolerance and lenient.cosine > 0.99999
    assert "cosine" in lenient.describe() and "cosine" not in strict.describe()
    # a wrong output is still wrong: a sign flipped over a tenth of it
    bad = ref.copy()
    bad[0, :7] *= -1
    assert not _compare("y", ref, bad, (0, 1, 2), 0, 1e-3, 1e-4, min_cosine=0.9999).ok
    # too few values for a cosine to mean anything: two same-sign scalars have cosine 1 whatever they are
    small = np.array([[3.0] * (MIN_COSINE_ELEMENTS - 1)], np.float32)
    assert not _compare("s", small, small * 1.5, (0, 1), 0, 1e-3, 1e-4, min_cosine=0.9999).ok


def test_check_min_cosine_is_validated() -> None:
    from edgekit.errors import UsageError
    from edgekit.host.source_model import LoadOptions

    assert LoadOptions(check_min_cosine=0.9999).check_min_cosine == 0.9999
    for wrong in (0.0, 1.5, -0.2):
        with pytest.raises(UsageError, match="check_min_cosine"):
            LoadOptions(check_min_cosine=wrong)


@pytest.mark.parametrize("quantized", [True, False])
def test_loader_asks_for_the_cosine_after_the_runtime_quantization_repairs(
    quantized: bool, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_onnx hands the backends LoadOptions with check_min_cosine set exactly when qlstm/integer ran."""
    import edgekit.host.onnx.load as load

    model, _ = _integer_model(False)
    if not quantized:  # the same graph's float twin: Conv + MatMul with float weights, no integer ops
        x = h.make_tensor_value_info("x", T.FLOAT, [1, 2, 8, 8])
        w = nh.from_array(np.ones((3, 2, 3, 3), np.float32), "w")
        graph = h.make_graph([h.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g", [x],
                             [h.make_tensor_value_info("y", T.FLOAT, [1, 3, 8, 8])], [w])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
        model.ir_version = 8
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    seen: list[float | None] = []

    class Stop(Exception):
        pass

    def capture(*args: Any) -> Any:
        seen.append(args[10].check_min_cosine)  # the LoadOptions argument
        raise Stop

    monkeypatch.setattr(load, "_convert_with_backends", capture)
    with pytest.raises(Stop):
        load.load_onnx(path)
    assert seen == [load.RUNTIME_QUANTIZED_MIN_COSINE if quantized else None]


def test_convert_explains_a_float_check_failure_of_a_runtime_quantized_model() -> None:
    """The float .tflite of a quantize_dynamic graph misses float32's SQNR bar by rounding: the warning says so
    and does not send the user to `edgekit tune` (a float conversion has nothing to tune)."""
    from edgekit.core.quant import QuantKind
    from edgekit.host.onnx.repair.base import runtime_quantized
    from edgekit.requant.check import CheckResult, check_warning
    from edgekit.verify.compare import compare_outputs
    from edgekit.verify.thresholds import default_thresholds

    rng = np.random.default_rng(0)
    ref = rng.normal(0, 4, (1, 32, 64)).astype(np.float32)
    got = ref + rng.normal(0, 0.05, ref.shape).astype(np.float32)  # SQNR ~38 dB: below float32's 50
    thresholds = default_thresholds(QuantKind.FLOAT32)
    check = CheckResult(outputs=compare_outputs({"y": ref}, {"y": got}, thresholds), thresholds=thresholds,
                        samples=1, kind=QuantKind.FLOAT32)
    assert not check.passed
    plain = check_warning(check, "edgekit tune m.onnx ...")
    quantized = check_warning(check, "edgekit tune m.onnx ...", runtime_quantized_float=True)
    assert "edgekit tune m.onnx" in plain and "quantize_dynamic" not in plain
    assert "quantize_dynamic" in quantized and "--allow-mismatch" in quantized and "edgekit tune m.onnx" not in quantized
    assert runtime_quantized({"repairs": [{"pass": "names"}, {"pass": "integer", "detail": "", "count": 3}]})
    assert not runtime_quantized({"repairs": [{"pass": "names"}]}) and not runtime_quantized(None)


def test_a_long_unrolled_recurrence_tries_the_lowering_first() -> None:
    """text2tashkeel's BiLSTM (3 DynamicQuantizeLSTM, 192 steps unrolled): onnx2tf failed for 12 minutes before
    the lowering converted it. From 100 unrolled steps, --backend auto tries the lowering first; fewer (ddddocr's
    32) or a forced backend keep the order."""
    from edgekit.core.onnx_backend import OnnxBackend
    from edgekit.host.onnx.backends import backend_order
    from edgekit.host.onnx.load import _lowering_first_when_unrolled
    from edgekit.host.source_model import LoadOptions

    order = backend_order(OnnxBackend.AUTO)
    if len(order) < 2:
        pytest.skip("one backend installed")
    model, feeds = _qlstm_model("bidirectional", False, True, steps=6)
    context = RepairContext()
    assert qlstm.apply(model, context) is not None and context.unrolled_steps == 6
    notes: list[str] = []
    assert _lowering_first_when_unrolled(order, LoadOptions(), context, notes) == order and not notes
    context.unrolled_steps = 192
    first = _lowering_first_when_unrolled(order, LoadOptions(), context, notes)
    assert first[0].name is OnnxBackend.LOWER and set(first) == set(order)
    assert notes == ["192 recurrence steps unrolled: edgekit's lowering is tried before onnx2tf"]
    forced = backend_order(OnnxBackend.ONNX2TF)
    assert _lowering_first_when_unrolled(forced, LoadOptions(backend=OnnxBackend.ONNX2TF), context, []) == forced
