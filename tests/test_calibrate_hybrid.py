"""Dynamic-range ("hybrid") ops in calibrate and the estimator (issue 14): float activations with int8 weights
run other kernels than int8 ops (XNNPACK's hybrid conv, the builtin hybrid depthwise), measured 1.2-5x slower
than the int8 figures on this project's host. They get their own per-op figures (``<OP>_HYBRID``) and a cost per
converted element; the shared int8 figures must not learn from them; a profile without them says so."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from edgekit.calibrate.fit import Peaks, apply_gemm, fit_gemm, fit_hybrid_elements, fit_profile_figures
from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.calibrate.runner import HYBRID_SPECS, UINT8_EXTRA_SPECS, Measurement, suite
from edgekit.profile.costs import graph_costs, hybrid_elements, hybrid_op
from edgekit.profile.delegate import xnnpack_placement
from edgekit.profile.estimator import efficiency_key, estimate, gemm_work
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model
from edgekit.tflite.runtime import delegation_summary, load_interpreter

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=50.0, int8_gmacs=200.0, bandwidth_gb_s=20.0)


@pytest.mark.parametrize("op", [MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D, MicroOp.FULLY_CONNECTED])
def test_hybrid_micro_models_run_and_are_keyed_as_hybrid(op: MicroOp) -> None:
    kw = {"cout": 16} if op is not MicroOp.DEPTHWISE_CONV_2D else {}
    spec = MicroSpec(op, "hybrid", 8, 8, 16, kernel=3 if op is not MicroOp.FULLY_CONNECTED else 1, **kw)
    data = build_model(spec)
    sg = parse_model(data, "<hybrid>").main
    target = next(o for o in sg.operators if o.name == op.value)
    assert hybrid_op(sg, target)
    placed = xnnpack_placement(sg, target).delegated
    assert efficiency_key(sg, target, placed) == f"{op.value}_HYBRID" + ("" if placed else "_BUILTIN")
    assert efficiency_key(sg, target, False) == f"{op.value}_HYBRID_BUILTIN"
    assert next(c for c in graph_costs(sg) if c.op == op.value).compute_dtype == "int8"
    interp = load_interpreter(data, num_threads=1, use_xnnpack=True)
    d = interp.get_input_details()[0]
    assert d["dtype"] == np.float32
    interp.set_tensor(d["index"], np.random.default_rng(0).uniform(-1, 1, d["shape"]).astype(np.float32))
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert np.isfinite(out).all() and np.abs(out).max() > 0
    # XNNPACK takes hybrid CONV_2D and FULLY_CONNECTED, not depthwise (what the delegate model says too)
    assert (delegation_summary(interp)[0] > 0) == (op is not MicroOp.DEPTHWISE_CONV_2D)


def test_plain_int8_and_float_ops_are_not_hybrid() -> None:
    for dtype in ("int8", "float32"):
        sg = parse_model(build_model(MicroSpec(MicroOp.CONV_2D, dtype, 8, 8, 16, cout=16)), "<x>").main
        conv = next(o for o in sg.operators if o.name == "CONV_2D")
        assert not hybrid_op(sg, conv) and efficiency_key(sg, conv) == "CONV_2D"


def test_hybrid_spec_refuses_ops_without_weights() -> None:
    with pytest.raises(ValueError, match="hybrid micro-benchmark"):
        MicroSpec(MicroOp.ADD, "hybrid", 8, 8, 8)


def test_full_suite_measures_the_hybrid_ops() -> None:
    specs = suite(120.0)
    names = {s.name for s in specs if s.dtype == "hybrid"}
    assert len(names) == len(HYBRID_SPECS) and any(n.startswith("depthwise") for n in names)
    # the convolutions again with uint8 weights (LiteRT's builtin kernel for TF1's format)
    convs = {(s.h, s.w, s.c, s.cout, s.kernel, s.repeat) for s in specs if s.dtype == "hybrid" and s.op.value == "CONV_2D"}
    # (and a projection-like one: many input channels to few, where that kernel's cost per input element shows)
    extra = {(kw["h"], kw["w"], kw["c"], kw["cout"], kw["kernel"], 1) for _, kw in UINT8_EXTRA_SPECS}
    assert {(s.h, s.w, s.c, s.cout, s.kernel, s.repeat) for s in specs if s.dtype == "hybrid_uint8"} == convs | extra
    assert all(c > 2 * cout for _, _, c, cout, _, _ in extra)
    assert not any(s.dtype == "hybrid" for s in suite(10.0))


def _hybrid_measurements(element_macs: float, eff: float) -> list[Measurement]:
    """Hybrid convs whose time is (int8 GEMM work + element_macs per converted element) at ``eff`` of peak."""
    out = []
    # (M, N, Cin, taps) and input + output elements
    for i, (shape, elems) in enumerate([((3136, 64, 64, 1), 3136 * 128), ((12544, 96, 16, 1), 12544 * 112),
                                        ((196, 256, 256, 1), 196 * 512), ((784, 64, 64, 9), 784 * 128)]):
        work = gemm_work(shape, 16, 8, 0.0) + element_macs * elems
        ms = work / (PEAKS.int8_gmacs * 1e6 * eff)
        out.append(Measurement(name=f"conv_2d_hybrid_{i}", op="CONV_2D", op_class="conv", dtype="int8", threads=1,
                               xnnpack=True, delegated=True, model_delegated=True, partitions=1, repeat=1,
                               median_ms=ms, min_ms=ms, per_op_ms=ms, macs=shape[0] * shape[1] * shape[2] * shape[3],
                               bytes=1000, weight_bytes=0, op_key="CONV_2D_HYBRID", gemm=shape, elements=elems))
    return out


@pytest.mark.parametrize("element_macs", [0.0, 16.0, 64.0])
def test_fit_recovers_the_cost_per_converted_element(element_macs: float) -> None:
    ms = _hybrid_measurements(element_macs, 0.4)
    gemm = {"int8": (16, 8, 0.0)}
    assert fit_hybrid_elements(ms, gemm) == element_macs
    rates = {m.macs / m.per_op_ms for m in apply_gemm(ms, gemm, element_macs)}
    assert max(rates) / min(rates) == pytest.approx(1.0, abs=1e-3)


def _int8_measurements() -> list[Measurement]:
    """Plain int8 convs at 0.8 of peak (the tiles and the shared figures come from these)."""
    int8 = []
    for i, shape in enumerate([(3136, 64, 64, 1), (196, 256, 256, 1), (784, 64, 64, 9), (784, 40, 24, 1)]):
        ms = gemm_work(shape, 16, 8, 0.0) / (PEAKS.int8_gmacs * 1e6 * 0.8)
        int8.append(Measurement(name=f"conv_2d_int8_{i}", op="CONV_2D", op_class="conv", dtype="int8", threads=1,
                                xnnpack=True, delegated=True, model_delegated=True, partitions=1, repeat=1,
                                median_ms=ms, min_ms=ms, per_op_ms=ms, macs=int(np.prod(shape)), bytes=1000,
                                weight_bytes=0, gemm=shape))
    return int8


def test_hybrid_measurements_get_their_own_figure_and_leave_the_int8_ones_alone() -> None:
    int8 = _int8_measurements()
    hybrid = _hybrid_measurements(32.0, 0.3)
    both = fit_profile_figures(int8 + hybrid, [], PEAKS, [1], per_op=True, tiles={"int8": (16, 8)})
    alone = fit_profile_figures(int8, [], PEAKS, [1], per_op=True, tiles={"int8": (16, 8)})
    assert both.efficiency["int8"]["conv"] == pytest.approx(alone.efficiency["int8"]["conv"])
    assert both.op_efficiency["int8"]["CONV_2D"] == pytest.approx(alone.op_efficiency["int8"]["CONV_2D"])
    assert both.op_efficiency["int8"]["CONV_2D_HYBRID"] == pytest.approx(0.3, rel=0.03)
    assert both.hybrid_element_macs == 32.0 and both.gemm == alone.gemm
    assert all(abs(both.residuals[m.name]) < 0.03 for m in hybrid)
    assert not any(k.startswith("CONV_2D_HYBRID") for k in both.delegated)


def _hybrid_profile(folder: Path) -> str:
    """The shipped rpi4b profile as another device, with hybrid per-op figures (as calibrate writes them)."""
    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    assert "[op_efficiency" not in text  # the shipped profile has none: the figures below are the only ones
    text = text.replace('id = "rpi4b"', 'id = "hybrid-test"', 1)
    text += "\n[op_efficiency.int8]\nCONV_2D_HYBRID = 0.05\nDEPTHWISE_CONV_2D_HYBRID_BUILTIN = 0.01\n"
    (folder / "hybrid-test.toml").write_text(text, encoding="utf-8")
    return "hybrid-test"


def test_estimator_uses_the_hybrid_figures_and_says_when_a_profile_has_none(tmp_path: Path) -> None:
    spec = MicroSpec(MicroOp.CONV_2D, "hybrid", 28, 28, 64, cout=64, kernel=3)
    model = parse_model(build_model(spec), "<hybrid>")
    int8_model = parse_model(build_model(dataclasses.replace(spec, dtype="int8")), "<int8>")
    plain = get_profile("rpi4b")
    est = estimate(model, plain, threads=1)
    assert any("dynamic-range op(s) (CONV_2D_HYBRID" in n for n in est.notes)
    assert not any("dynamic-range" in n for n in estimate(int8_model, plain, threads=1).notes)
    # at int8 rates without a figure: about the int8 conv's estimate (what the note warns about)
    assert est.latency_ms == pytest.approx(estimate(int8_model, plain, threads=1).latency_ms, rel=0.25)
    entry = get_profile(_hybrid_profile(tmp_path), [tmp_path])
    with_figure = estimate(model, entry, threads=1)
    assert not any("dynamic-range" in n for n in with_figure.notes)
    assert with_figure.latency_ms > 3 * est.latency_ms  # efficiency 0.05 instead of the int8 class figure
    # the int8 conv keeps its class figure: the hybrid key does not leak to it
    assert estimate(int8_model, entry, threads=1).latency_ms == pytest.approx(
        estimate(int8_model, plain, threads=1).latency_ms)


def test_hybrid_elements_counts_input_and_output() -> None:
    sg = parse_model(build_model(MicroSpec(MicroOp.CONV_2D, "hybrid", 14, 14, 32, cout=64, kernel=1)), "<x>").main
    conv = next(o for o in sg.operators if o.name == "CONV_2D")
    assert hybrid_elements(sg, conv) == 14 * 14 * 32 + 14 * 14 * 64
    assert fit_gemm([], {"int8": (16, 8)}) == {}


def _hybrid_conv_then_depthwise(kernel: int = 1) -> bytes:
    from edgekit.calibrate.microbench import conv_options
    from edgekit.core.tflite_builder import Quant, TFLiteBuilder

    rng = np.random.default_rng(0)
    b = TFLiteBuilder("hybrid conv then hybrid depthwise")
    x = b.tensor("x", (1, 8, 8, 16), "float32")
    y = b.tensor("y", (1, 8, 8, 16), "float32")
    z = b.tensor("z", (1, 8, 8, 16), "float32")
    scales = np.full(16, 0.01, np.float32)
    w = b.constant("w", rng.integers(-127, 127, (16, kernel, kernel, 16)).astype(np.int8),
                   quant=Quant.per_channel(scales, axis=0))
    dw = b.constant("dw", rng.integers(-127, 127, (1, 3, 3, 16)).astype(np.int8), quant=Quant.per_channel(scales, axis=3))
    b.operator("CONV_2D", [x, w, b.constant("b", np.zeros(16, np.float32))], [y],
               conv_options(kernel, 1, "RELU6", False), version=2)
    b.operator("DEPTHWISE_CONV_2D", [y, dw, b.constant("db", np.zeros(16, np.float32))], [z],
               conv_options(3, 1, "RELU6", True), version=4)
    return b.build([x], [z])


def test_the_hand_over_factor_applies_to_a_builtin_depthwise_right_after_a_1x1_hybrid_conv(tmp_path: Path) -> None:
    from edgekit.profile.costs import hybrid_handover
    from edgekit.profile.delegate import place_xnnpack

    pair = parse_model(_hybrid_conv_then_depthwise(1), "<1x1>")
    after_3x3 = parse_model(_hybrid_conv_then_depthwise(3), "<3x3>")
    for model, expected in ((pair, True), (after_3x3, False)):
        sg = model.main
        placement = [p.delegated for p in place_xnnpack(sg)]
        assert placement == [True, False]  # XNNPACK takes the conv, refuses the hybrid depthwise
        assert hybrid_handover(sg, sg.operators[1], placement) is expected
        assert not hybrid_handover(sg, sg.operators[0], placement)
    entry = get_profile(_hybrid_profile(tmp_path), [tmp_path])
    base = estimate(pair, entry, threads=1)
    assert any("no figure for" in n and "hybrid_handover_factor" in n for n in base.notes)
    text = (tmp_path / "hybrid-test.toml").read_text(encoding="utf-8")
    (tmp_path / "hybrid-test.toml").write_text(
        text.replace("[runtime]\n", "[runtime]\nhybrid_handover_factor = 2.5\n", 1), encoding="utf-8")
    with_factor = estimate(pair, get_profile("hybrid-test", [tmp_path]), threads=1)
    assert with_factor.ops[1].latency_ms == pytest.approx(2.5 * base.ops[1].latency_ms)
    assert with_factor.ops[0].latency_ms == pytest.approx(base.ops[0].latency_ms)
    assert not any("hybrid_handover_factor" in n for n in with_factor.notes)
    # after a 3x3 hybrid conv the depthwise keeps its time
    plain = estimate(after_3x3, entry, threads=1).ops[1].latency_ms
    assert estimate(after_3x3, get_profile("hybrid-test", [tmp_path]), threads=1).ops[1].latency_ms == \
        pytest.approx(plain)


def test_the_hand_over_models_run_as_placed_and_the_factor_is_a_ratio() -> None:
    from edgekit.calibrate.handover import FACTOR_RANGE, handover_models, measure_hybrid_handover

    for conv, dw, parts in ((True, False, 1), (False, True, 0), (True, True, 1)):
        interp = load_interpreter(handover_models(conv, dw), num_threads=1, use_xnnpack=True)
        assert delegation_summary(interp)[0] == parts
        d = interp.get_input_details()[0]
        interp.set_tensor(d["index"], np.ones(d["shape"], np.float32))
        interp.invoke()
        assert np.isfinite(interp.get_tensor(interp.get_output_details()[0]["index"])).all()
    with pytest.raises(ValueError, match="the conv, the depthwise"):
        handover_models(False, False)
    factor = measure_hybrid_handover(rounds=3, invokes=2)
    assert FACTOR_RANGE[0] <= factor <= FACTOR_RANGE[1]


def test_hybrid_depthwise_micro_benchmarks_are_not_chained() -> None:
    # a chained hybrid depthwise runs slower than one alone (the state the first leaves): the per-op figure
    # must be the one alone, the hand-over factor covers what comes after a conv
    assert all(kw.get("repeat", 1) == 1 for op, kw in HYBRID_SPECS if op is MicroOp.DEPTHWISE_CONV_2D)


def test_the_builtin_kernel_of_a_delegated_hybrid_op_gets_its_own_figure_as_measured() -> None:
    """uint8-weight files (TF1-era) run hybrid convs on the builtin kernel: fitted from the XNNPACK-off runs
    with no builtin factor on top, so that the estimator (which applies none to a per-op figure) predicts them."""
    xnn = _hybrid_measurements(16.0, 0.4)
    builtin = [dataclasses.replace(m, xnnpack=False, delegated=False, op_key="CONV_2D_HYBRID_BUILTIN",
                                   per_op_ms=m.per_op_ms * 3.0) for m in xnn]
    fit = fit_profile_figures(_int8_measurements() + xnn + builtin, [], PEAKS, [1], per_op=True,
                              tiles={"int8": (16, 8)})
    assert fit.op_efficiency["int8"]["CONV_2D_HYBRID"] == pytest.approx(0.4, rel=0.03)
    assert fit.op_efficiency["int8"]["CONV_2D_HYBRID_BUILTIN"] == pytest.approx(0.4 / 3.0, rel=0.03)
