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
