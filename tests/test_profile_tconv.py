"""Transposed convolutions in the estimator (issue 14): MediaPipe's selfie segmenter ends in its
``Convolution2DTransposeBias`` custom op, which XNNPACK runs with the kernel of TRANSPOSE_CONV; the estimator
charged it 8 MACs per element ("roughly", 0.13 ms) where it ran 1.1-1.8 ms. Both are now a GEMM of the input
pixels with every kernel tap, at a figure calibrate measures on TRANSPOSE_CONV micro-benchmarks."""

from __future__ import annotations

import numpy as np
import pytest
from profile_helpers import TCONV_SHAPE, tconv_model

from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.calibrate.runner import suite
from edgekit.profile.costs import TRANSPOSE_CONV_CUSTOM, graph_costs
from edgekit.profile.delegate import xnnpack_placement
from edgekit.profile.estimator import efficiency_key, estimate, gemm_shape
from edgekit.profile.registry import get_profile
from edgekit.profile.rows import narrow_rows
from edgekit.profile.schema import OpClass
from edgekit.tflite.model import parse_model
from edgekit.tflite.runtime import delegation_summary, load_interpreter

pytestmark = pytest.mark.device

H, CIN, COUT, K, S = TCONV_SHAPE


def test_the_custom_op_is_the_builtin_one_for_the_runtime_and_the_estimator() -> None:
    builtin, custom = tconv_model(custom=False), tconv_model(custom=True)
    x = np.random.default_rng(1).normal(0, 1, (1, H, H, CIN)).astype(np.float32)
    outs = []
    for data in (builtin, custom):
        interp = load_interpreter(data, num_threads=1, use_xnnpack=True)
        assert delegation_summary(interp)[0] == 1  # XNNPACK takes both
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    sgs = [parse_model(d, "<t>").main for d in (builtin, custom)]
    ops = [next(o for o in sg.operators if "TRANSPOSE" in o.name or "Transpose" in o.name) for sg in sgs]
    assert ops[1].name == TRANSPOSE_CONV_CUSTOM
    costs = [next(c for c in graph_costs(sg) if c.index == op.index) for sg, op in zip(sgs, ops, strict=True)]
    for cost in costs:
        assert cost.op_class is OpClass.TRANSPOSE_CONV and cost.known
        assert cost.macs == H * H * CIN * K * K * COUT
    for sg, op in zip(sgs, ops, strict=True):
        assert xnnpack_placement(sg, op).delegated
        assert efficiency_key(sg, op) == "TRANSPOSE_CONV"
        assert gemm_shape(sg, op) == (H * H, COUT, CIN, K * K)  # input pixels x every tap
        assert narrow_rows(sg, op, 16) == (H * S) ** 2  # a 1-channel output: one row per output pixel
    # and so the same estimate (no "roughly" for the custom op any more)
    profile = get_profile("rpi4b")
    est = [estimate(parse_model(d, "<t>"), profile, 1) for d in (builtin, custom)]
    tconv = [next(o for o in e.ops if o.index == op.index) for e, op in zip(est, ops, strict=True)]
    # (the builtin op reads 16 more bytes: its output_shape)
    assert tconv[0].latency_ms == pytest.approx(tconv[1].latency_ms, rel=1e-3) and not tconv[1].roughly


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_transpose_conv_micro_benchmarks_run_on_xnnpack_at_twice_the_resolution(dtype: str) -> None:
    spec = MicroSpec(MicroOp.TRANSPOSE_CONV, dtype, 8, 8, 16, cout=8, kernel=3, stride=2)
    assert spec.name == f"transpose_conv_{dtype}_8x8x16_o8_k3s2"
    data = build_model(spec)
    interp = load_interpreter(data, num_threads=1, use_xnnpack=True)
    assert delegation_summary(interp)[0] == 1
    assert list(interp.get_output_details()[0]["shape"]) == [1, 16, 16, 8]
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    interp.invoke()
    assert np.abs(interp.get_tensor(interp.get_output_details()[0]["index"]).astype(np.float64)).max() > 0
    sg = parse_model(data, "<t>").main
    op = next(o for o in sg.operators if o.name == "TRANSPOSE_CONV")
    assert gemm_shape(sg, op) == (64, 8, 16, 9)


def test_full_suite_measures_transpose_convs_in_both_dtypes() -> None:
    specs = [s for s in suite(120.0) if s.op is MicroOp.TRANSPOSE_CONV]
    assert {s.dtype for s in specs} == {"float32", "int8"} and len(specs) >= 6
    assert not any(s.op is MicroOp.TRANSPOSE_CONV for s in suite(10.0))


def test_a_transposed_convolution_pays_its_fixed_cost_per_output_and_tap() -> None:
    """XNNPACK splits a transposed convolution into stride x stride sub-convolutions, each input pixel and tap
    writing an output of its own: the fixed cost is per tap. On the x86 host the six float32 shapes' rates, 16-36
    GMAC/s at the conv's 2 MAC-equivalents per input pixel, came within 33-38 GMAC/s for five at 24 per output
    and tap."""
    from edgekit.profile.opfigures import gemm_work
    shape = (128 * 128, 1, 16, 4)  # the selfie segmenter's mask: 1 channel padded to the 16-wide tile
    assert gemm_work(shape, 16, 1, 24.0, 32, per_tap=True) == 128 * 128 * 16 * (16 * 4 + 24 * 4)
    assert gemm_work(shape, 16, 1, 24.0, 32) == 128 * 128 * 16 * (16 * 4 + 24)


def test_calibrate_fits_the_transposed_convolutions_own_fixed_cost() -> None:
    """Micro-benchmarks made to run at one rate under a per-tap cost of 24 MAC-equivalents give back 24 (the grid
    value), and then every one of them has the same work rate; the estimator charges it to both op names."""
    import dataclasses

    from edgekit.calibrate.fit import apply_gemm, fit_tconv_overhead
    from edgekit.calibrate.runner import Measurement
    from edgekit.profile.opfigures import gemm_work

    figures = (16, 1, 1.0, 32)
    shapes = [(4096, 16, 32, 4), (1024, 64, 64, 4), (1024, 16, 32, 9), (256, 64, 128, 16), (16384, 1, 16, 4),
              (4096, 8, 32, 4)]
    base = Measurement(name="t", op="TRANSPOSE_CONV", op_class="transpose_conv", dtype="float32", threads=1,
                       xnnpack=True, delegated=True, model_delegated=True, partitions=1, repeat=1, median_ms=1.0,
                       min_ms=1.0, per_op_ms=1.0, macs=1, bytes=1, weight_bytes=0)
    ms = [dataclasses.replace(base, name=f"t{i}", gemm=s, macs=s[0] * s[1] * s[2] * s[3],
                              per_op_ms=gemm_work(s, 16, 1, 24.0, 32, per_tap=True) / 35e6)
          for i, s in enumerate(shapes)]
    k0 = fit_tconv_overhead(ms, {"float32": figures})
    assert k0 == {"float32": 24.0}
    rates = [m.macs / m.per_op_ms for m in apply_gemm(ms, {"float32": figures}, 0.0, k0)]
    assert max(rates) / min(rates) == pytest.approx(1.0, abs=1e-6)
    assert fit_tconv_overhead(ms[:3], {"float32": figures}) == {}  # too few to fit


def test_the_estimator_charges_a_profiles_per_tap_cost_to_both_transposed_convolutions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from profile_helpers import rpi4b_variant

    gemm = ("\n[gemm]\nfloat32_tile_n = 16\nfloat32_tile_k = 1\nfloat32_output_overhead_macs = 2.0\n"
            "int8_tile_n = 16\nint8_tile_k = 8\nint8_output_overhead_macs = 32.0\n")
    plain = get_profile(rpi4b_variant(tmp_path, "g0", gemm), [tmp_path])
    per_tap = get_profile(rpi4b_variant(tmp_path, "g1", gemm + "float32_tconv_output_overhead_macs = 24.0\n"),
                          [tmp_path])
    for custom in (False, True):
        model = parse_model(tconv_model(custom=custom), "<t>")
        a, b = estimate(model, per_tap, 1), estimate(model, plain, 1)
        assert a.latency_ms > b.latency_ms, custom
