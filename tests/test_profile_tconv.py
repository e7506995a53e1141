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
