"""Dynamic-range convolutions with uint8 weights (edgekit.profile.legacyhybrid): calibrate times LiteRT's builtin
kernel for them, and an estimate without that figure says so (facex's 32: 12.2 ms measured against 7.3 estimated
on the x86 host)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import Quant, TFLiteBuilder
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def _conv(weights: str) -> bytes:
    b = TFLiteBuilder(f"hybrid {weights}")
    rng = np.random.default_rng(0)
    x = b.tensor("x", (1, 50, 50, 144), "float32")
    if weights == "uint8":
        w = b.constant("w", rng.integers(0, 255, (24, 1, 1, 144)).astype(np.uint8), quant=Quant.per_tensor(0.01, 128))
    else:
        w = b.constant("w", rng.integers(-127, 127, (24, 1, 1, 144)).astype(np.int8),
                       quant=Quant.per_channel(np.full(24, 0.01, np.float32), axis=0))
    bias = b.constant("b", np.zeros(24, np.float32))
    y = b.tensor("y", (1, 50, 50, 24), "float32")
    b.operator("CONV_2D", [x, w, bias], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1},
               version=2 if weights == "uint8" else 5)
    return b.build([x], [y])


def test_uint8_dynamic_range_convolutions_get_a_note_int8_ones_do_not() -> None:
    profile = get_profile("rpi4b")
    notes = estimate(parse_model(_conv("uint8"), "<u8>"), profile).notes
    [note] = [n for n in notes if "uint8 dynamic-range weights" in n]
    assert note.startswith("1 convolution(s)") and "expect them slower" in note
    assert not any("uint8 dynamic-range" in n for n in estimate(parse_model(_conv("int8"), "<i8>"), profile).notes)


def test_a_calibrated_uint8_figure_prices_them_and_replaces_the_note() -> None:
    """calibrate times LiteRT's per-tensor kernel for uint8 weights (CONV_2D_UINT8_HYBRID_BUILTIN); a profile that has
    it prices the conv with it and drops the note, one with only the per-channel builtin figure falls back to that."""
    import dataclasses

    from edgekit.profile.opfigures import UINT8_HYBRID_CONV
    from edgekit.profile.schema import OpEfficiency

    model = parse_model(_conv("uint8"), "<u8>")
    base = get_profile("rpi4b")

    def conv_ms(figures: dict[str, float]) -> tuple[float, list[str]]:
        profile = dataclasses.replace(base.profile, op_efficiency=OpEfficiency(int8=figures))
        est = estimate(model, dataclasses.replace(base, profile=profile))
        [op] = [o for o in est.ops if o.op == "CONV_2D"]
        return op.latency_ms, est.notes

    per_channel, notes = conv_ms({"CONV_2D_HYBRID_BUILTIN": 0.2})
    assert any("uint8 dynamic-range" in n for n in notes)
    uint8, notes = conv_ms({"CONV_2D_HYBRID_BUILTIN": 0.2, UINT8_HYBRID_CONV: 0.05})
    assert not any("uint8 dynamic-range" in n for n in notes)
    assert uint8 > 2.5 * per_channel  # the slower kernel's figure (4x less efficient), not the per-channel one's
    alone, _ = conv_ms({UINT8_HYBRID_CONV: 0.05})
    assert alone == pytest.approx(uint8)


def test_calibrate_times_uint8_weights_on_the_builtin_kernel() -> None:
    from edgekit.calibrate.microbench import HYBRID_UINT8, MicroOp, MicroSpec, build_model
    from edgekit.calibrate.runner import _op_key, suite
    from edgekit.profile.opfigures import UINT8_HYBRID_CONV

    spec = MicroSpec(MicroOp.CONV_2D, HYBRID_UINT8, 28, 28, 64, cout=64)
    sg = parse_model(build_model(spec), "<u8>").main
    [conv] = [op for op in sg.operators if op.name == "CONV_2D"]
    assert sg.tensor(conv.inputs[1]).dtype == "uint8" and sg.tensor(conv.inputs[1]).quant is not None
    assert _op_key(build_model(spec), "CONV_2D", delegated=False)[0] == UINT8_HYBRID_CONV
    assert any(s.dtype == HYBRID_UINT8 for s in suite(60.0))
    with pytest.raises(ValueError, match="uint8 weights are for a hybrid CONV_2D"):
        MicroSpec(MicroOp.DEPTHWISE_CONV_2D, HYBRID_UINT8, 28, 28, 64)


# the uint8 kernel's micro-benchmarks (calibrate's shapes): (M, N, Cin, taps), input and output elements
_UINT8_SHAPES = [((3136, 64, 64, 1), 3136 * 64, 3136 * 64), ((12544, 96, 16, 1), 12544 * 16, 12544 * 96),
                 ((196, 256, 256, 1), 196 * 256, 196 * 256), ((784, 64, 64, 9), 784 * 64, 784 * 64),
                 ((3136, 24, 144, 1), 3136 * 144, 3136 * 24)]


def _uint8_measurements(input_macs: float, output_macs: float, element_macs: float = 32.0) -> list:
    """uint8-weight convs whose time is their GEMM work plus ``element_macs`` per converted element plus
    ``input_macs`` / ``output_macs`` more per input / output element, at one work rate."""
    from edgekit.calibrate.runner import Measurement
    from edgekit.profile.estimator import gemm_work
    from edgekit.profile.opfigures import UINT8_HYBRID_CONV

    out = []
    for i, (shape, n_in, n_out) in enumerate(_UINT8_SHAPES):
        work = gemm_work(shape, 16, 8, 32.0) + element_macs * (n_in + n_out) + input_macs * n_in + output_macs * n_out
        ms = work / 25e6  # 25 G MAC-equivalents a second
        out.append(Measurement(name=f"conv_2d_hybrid_uint8_{i}", op="CONV_2D", op_class="conv", dtype="int8",
                               threads=1, xnnpack=True, delegated=False, model_delegated=False, partitions=0, repeat=1,
                               median_ms=ms, min_ms=ms, per_op_ms=ms, macs=int(np.prod(shape)), bytes=1000,
                               weight_bytes=0, op_key=UINT8_HYBRID_CONV, gemm=shape, elements=n_in + n_out,
                               input_elements=n_in))
    return out


@pytest.mark.parametrize(("input_macs", "output_macs"), [(0.0, 0.0), (256.0, 8.0), (96.0, 48.0)])
def test_fit_recovers_the_uint8_kernels_cost_per_input_and_output_element(input_macs: float,
                                                                           output_macs: float) -> None:
    """On the x86 host LiteRT's uint8-weight kernel took ~3.3 ns per input element against ~0.8 per output element
    and 0.013 per MAC (1x1 50x50x144 -> 24: 1.32 ms; 24 -> 144, the same MACs: 0.43 ms). calibrate fits both
    figures on its five uint8 micro-benchmarks and the work it then counts has one rate over all of them."""
    from edgekit.calibrate.fit import apply_gemm, fit_uint8_element_macs

    ms = _uint8_measurements(input_macs, output_macs)
    gemm = {"int8": (16, 8, 32.0, 0)}
    assert fit_uint8_element_macs(ms, gemm, 32.0) == (input_macs, output_macs)
    rates = [m.macs / m.per_op_ms for m in apply_gemm(ms, gemm, 32.0, None, (input_macs, output_macs))]
    assert max(rates) / min(rates) == pytest.approx(1.0, abs=1e-3)
    # three benchmarks cannot tell the two figures from the rate: none fitted
    assert fit_uint8_element_macs(ms[:3], gemm, 32.0) == (0.0, 0.0)


def test_a_uint8_projection_costs_more_than_the_expansion_of_the_same_macs() -> None:
    """With ``[gemm] uint8_hybrid_input_macs`` the estimate of facex's 50x50x144 -> 24 projection is above that of
    a 50x50x24 -> 144 expansion (same MACs), as measured (1.32 against 0.43 ms); without it, below."""
    import dataclasses

    from edgekit.profile.opfigures import UINT8_HYBRID_CONV
    from edgekit.profile.schema import Gemm, OpEfficiency

    def expansion() -> bytes:
        b = TFLiteBuilder("hybrid uint8 expansion")
        rng = np.random.default_rng(0)
        x = b.tensor("x", (1, 50, 50, 24), "float32")
        w = b.constant("w", rng.integers(0, 255, (144, 1, 1, 24)).astype(np.uint8), quant=Quant.per_tensor(0.01, 128))
        y = b.tensor("y", (1, 50, 50, 144), "float32")
        b.operator("CONV_2D", [x, w, b.constant("b", np.zeros(144, np.float32))], [y],
                   {"padding": "SAME", "stride_w": 1, "stride_h": 1}, version=2)
        return b.build([x], [y])

    base = get_profile("rpi4b")

    def conv_ms(data: bytes, input_macs: float) -> float:
        gemm = Gemm(int8_tile_n=16, int8_tile_k=8, int8_output_overhead_macs=32.0, hybrid_element_macs=32.0,
                    uint8_hybrid_input_macs=input_macs, uint8_hybrid_output_macs=8.0 if input_macs else 0.0)
        profile = dataclasses.replace(base.profile, op_efficiency=OpEfficiency(int8={UINT8_HYBRID_CONV: 0.05}),
                                      gemm=gemm)
        [op] = [o for o in estimate(parse_model(data, "<u8>"), dataclasses.replace(base, profile=profile)).ops
                if o.op == "CONV_2D"]
        return op.latency_ms

    projection, expand = _conv("uint8"), expansion()
    assert conv_ms(projection, 0.0) < conv_ms(expand, 0.0)
    assert 2.0 * conv_ms(expand, 256.0) < conv_ms(projection, 256.0) < 4.0 * conv_ms(expand, 256.0)
