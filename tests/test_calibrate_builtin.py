"""Ops that XNNPACK can run but LiteRT keeps on its builtin kernel (a depthwise whose weights a DEQUANTIZE computes
at run time: facex's TF1-era uint8 model) ran 2.7x the per-op figure calibrate had measured under XNNPACK, which
the estimator applied with no builtin factor. calibrate now fits ``<KEY>_BUILTIN`` figures from its runs with the
delegate off, and the estimator charges them where it places such an op on the builtin kernel."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from edgekit.calibrate.fit import Peaks, fit_profile_figures
from edgekit.calibrate.runner import Measurement
from edgekit.core.tflite_builder import Quant, TFLiteBuilder
from edgekit.profile.delegate import place_xnnpack
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=50.0, int8_gmacs=200.0, bandwidth_gb_s=20.0)


def _depthwise(ms: float, xnnpack: bool, i: int, macs: int) -> Measurement:
    return Measurement(name=f"depthwise_conv_2d_float32_{i}", op="DEPTHWISE_CONV_2D", op_class="depthwise_conv",
                       dtype="float32", threads=1, xnnpack=xnnpack, delegated=xnnpack, model_delegated=True,
                       partitions=int(xnnpack), repeat=1, median_ms=ms, min_ms=ms, per_op_ms=ms, macs=macs,
                       bytes=1000, weight_bytes=0)


def test_calibrate_fits_a_builtin_figure_for_ops_the_delegate_takes() -> None:
    macs = [3_000_000, 800_000, 12_000_000]
    xnn = [_depthwise(m / (PEAKS.fp32_gmacs * 1e6 * 0.25), True, i, m) for i, m in enumerate(macs)]
    builtin = [dataclasses.replace(m, xnnpack=False, delegated=False, per_op_ms=m.per_op_ms * 3.0) for m in xnn]
    fit = fit_profile_figures(xnn + builtin, [], PEAKS, [1], per_op=True)
    assert fit.op_efficiency["float32"]["DEPTHWISE_CONV_2D"] == pytest.approx(0.25, rel=0.03)
    assert fit.op_efficiency["float32"]["DEPTHWISE_CONV_2D_BUILTIN"] == pytest.approx(0.25 / 3.0, rel=0.03)
    alone = fit_profile_figures(xnn, [], PEAKS, [1], per_op=True)
    assert "DEPTHWISE_CONV_2D_BUILTIN" not in alone.op_efficiency["float32"]
    assert fit.efficiency["float32"] == alone.efficiency["float32"]  # the shared figures learn nothing from them


def _dequantized_depthwise() -> bytes:
    """facex's pattern: uint8 weights, a DEQUANTIZE to float, then the float depthwise reading them."""
    b = TFLiteBuilder("dq-depthwise")
    x = b.tensor("x", (1, 50, 50, 144))
    wq = b.constant("wq", np.random.default_rng(0).integers(0, 255, (1, 3, 3, 144)).astype(np.uint8),
                    quant=Quant.per_tensor(0.01, 128))
    w = b.tensor("w", (1, 3, 3, 144))
    b.operator("DEQUANTIZE", [wq], [w])
    y = b.tensor("y", (1, 50, 50, 144))
    opts = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": 1, "dilation_w_factor": 1,
            "dilation_h_factor": 1, "fused_activation_function": "RELU6"}
    b.operator("DEPTHWISE_CONV_2D", [x, w, b.constant("b", np.zeros(144, np.float32))], [y], opts)
    return b.build([x], [y])


def test_the_estimator_charges_the_builtin_figure_where_it_places_the_op_builtin(tmp_path: Path) -> None:
    model = parse_model(_dequantized_depthwise(), "<dq>")
    sg = model.main
    placement = [p.delegated for p in place_xnnpack(sg)]
    assert placement[1] is False  # the depthwise stays on the builtin kernel
    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    base = text.replace('id = "rpi4b"', 'id = "builtin-test"', 1) + "\n[op_efficiency.float32]\nDEPTHWISE_CONV_2D = 0.2\n"
    (tmp_path / "builtin-test.toml").write_text(base, encoding="utf-8")
    before = estimate(model, get_profile("builtin-test", [tmp_path]), threads=1).ops[1].latency_ms
    (tmp_path / "builtin-test.toml").write_text(base + "DEPTHWISE_CONV_2D_BUILTIN = 0.05\n", encoding="utf-8")
    after = estimate(model, get_profile("builtin-test", [tmp_path]), threads=1).ops[1].latency_ms
    assert 3.5 < after / before <= 4.0  # a quarter of the efficiency (the fixed per-op cost stays)
    # a delegated depthwise keeps the XNNPACK figure
    b = TFLiteBuilder("depthwise")
    x = b.tensor("x", (1, 50, 50, 144))
    y = b.tensor("y", (1, 50, 50, 144))
    b.operator("DEPTHWISE_CONV_2D", [x, b.constant("w", np.ones((1, 3, 3, 144), np.float32)),
                                     b.constant("b", np.zeros(144, np.float32))], [y],
               {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": 1})
    plain = parse_model(b.build([x], [y]), "<dw>")
    assert estimate(plain, get_profile("builtin-test", [tmp_path]), threads=1).ops[0].latency_ms == \
        pytest.approx(before, rel=0.05)
