"""LiteRT's builtin int8 AVERAGE_POOL_2D (XNNPACK refuses int8 average pools) costs per output element, whatever the
window: 3.3-3.6 ns per output element on the x86 host at 1 and 4 taps, 4.2 at 9 (edgekit.profile.opfigures)."""

from __future__ import annotations

import dataclasses

import pytest

from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.calibrate.runner import _features, _op_key
from edgekit.profile.estimator import estimate
from edgekit.profile.opfigures import POOL_OUTPUTS_KEY
from edgekit.profile.registry import get_profile
from edgekit.profile.schema import OpEfficiency
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def _pool(kernel: int, stride: int, dtype: str = "int8") -> bytes:
    # 56x56x32 -> 28x28x32 (1x1 or 2x2, stride 2) or 56x56x32 (3x3, stride 1)
    return build_model(MicroSpec(MicroOp.AVERAGE_POOL_2D, dtype, 56, 56, 32, kernel=kernel, stride=stride))


def _pool_ms(data: bytes, figures: dict[str, float] | None) -> float:
    entry = get_profile("rpi4b")
    profile = dataclasses.replace(entry.profile, memory=None, op_efficiency=OpEfficiency(int8=figures or {}),
                                  hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
                                  runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0,
                                                              builtin_per_op_overhead_us=0.0))
    est = estimate(parse_model(data, "<pool>"), dataclasses.replace(entry, profile=profile), threads=1)
    [op] = [o for o in est.ops if o.op == "AVERAGE_POOL_2D"]
    assert op.runs_on == "cpu:builtin"
    return op.latency_ms


def test_a_per_output_figure_prices_the_outputs_not_the_taps() -> None:
    figures = {POOL_OUTPUTS_KEY: 0.01}
    one_tap, four_taps = _pool_ms(_pool(1, 2), figures), _pool_ms(_pool(2, 2), figures)
    assert one_tap == pytest.approx(four_taps)  # the same 28x28x32 outputs
    assert _pool_ms(_pool(3, 1), figures) == pytest.approx(4 * one_tap)  # 4x the outputs, 9 taps each
    # without the figure: the MACs (taps x outputs) at the op's other figures, as before
    old = {"AVERAGE_POOL_2D": 0.01}
    assert _pool_ms(_pool(2, 2), old) == pytest.approx(4 * _pool_ms(_pool(1, 2), old))


def test_calibrate_fits_the_builtin_int8_pool_on_its_outputs() -> None:
    data = _pool(3, 1)
    _, _, macs, _, _, summary = _features(data, "AVERAGE_POOL_2D")
    assert not summary["model_delegated"]  # XNNPACK refuses int8 average pools
    assert _op_key(data, "AVERAGE_POOL_2D", delegated=False)[0] == POOL_OUTPUTS_KEY
    assert summary["pool_outputs"] == 56 * 56 * 32 and macs == 9 * 56 * 56 * 32
    # float32: XNNPACK runs it, the MACs stay the work
    assert _op_key(_pool(3, 1, "float32"), "AVERAGE_POOL_2D", delegated=True)[0] == ""  # the op name


def test_the_builtin_float_pool_over_a_1x1_window_costs_its_input_pixels_and_elements() -> None:
    """LiteRT's builtin float AVERAGE_POOL_2D over a 1x1 window with a stride (XNNPACK refuses it: NASNet's reduction
    cells) loops over its input: 8.0 ns per input pixel + 0.10 per input element on the x86 host, 112x112x8 108 us
    and 14x14x528 12 us. Its key is POOL_INPUTS_KEY, its work the input elements, its rows the input pixels."""
    from edgekit.profile.opfigures import POOL_INPUTS_KEY, efficiency_key, pool_inputs
    from edgekit.profile.schema import RowCost

    def sg_op(h: int, c: int, kernel: int = 1, stride: int = 2, dtype: str = "float32"):  # type: ignore[no-untyped-def]
        sg = parse_model(build_model(MicroSpec(MicroOp.AVERAGE_POOL_2D, dtype, h, h, c, kernel=kernel, stride=stride)),
                         "<pool>").main
        return sg, next(o for o in sg.operators if o.name == "AVERAGE_POOL_2D")

    sg, op = sg_op(112, 8)
    assert pool_inputs(sg, op) == (112 * 112, 112 * 112 * 8)
    assert efficiency_key(sg, op, delegated=False) == POOL_INPUTS_KEY
    assert pool_inputs(*sg_op(56, 32, kernel=3, stride=1)) == (0, 0)  # XNNPACK runs it
    assert pool_inputs(*sg_op(56, 32, dtype="int8")) == (0, 0)  # the int8 one costs its outputs

    entry = get_profile("rpi4b")

    def ms(h: int, c: int, figures: dict[str, float], rows: dict[str, float]) -> float:
        profile = dataclasses.replace(entry.profile, memory=None, op_efficiency=OpEfficiency(float32=figures),
                                      row_ns=RowCost(channel_tile=16, float32=rows),
                                      hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
                                      runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0,
                                                                  builtin_per_op_overhead_us=0.0))
        data = build_model(MicroSpec(MicroOp.AVERAGE_POOL_2D, "float32", h, h, c, kernel=1, stride=2))
        est = estimate(parse_model(data, "<pool>"), dataclasses.replace(entry, profile=profile), threads=1)
        [o] = [o for o in est.ops if o.op == "AVERAGE_POOL_2D"]
        assert o.runs_on == "cpu:builtin"
        return o.latency_ms

    figures, rows = {POOL_INPUTS_KEY: 0.1}, {POOL_INPUTS_KEY: 8.0}
    # the same input elements in 4x the pixels: 3 x 112 x 112 pixels more, at 8 ns each
    assert ms(112, 8, figures, rows) - ms(56, 32, figures, rows) == pytest.approx(3 * 56 * 56 * 8.0e-6, rel=1e-6)
    assert ms(112, 8, figures, {}) == pytest.approx(ms(56, 32, figures, {}))  # without the row figure: elements only


def test_calibrate_splits_the_1x1_pool_into_pixels_and_elements() -> None:
    from edgekit.calibrate.fit import Peaks, fit_profile_figures
    from edgekit.calibrate.runner import Measurement, _rows_of
    from edgekit.profile.opfigures import POOL_INPUTS_KEY

    data = build_model(MicroSpec(MicroOp.AVERAGE_POOL_2D, "float32", 112, 112, 8, kernel=1, stride=2))
    _, _, _, _, _, summary = _features(data, "AVERAGE_POOL_2D")
    assert _rows_of(POOL_INPUTS_KEY, summary) == {"rows": 112 * 112, "row_width": 8}
    assert _op_key(data, "AVERAGE_POOL_2D", delegated=False)[0] == POOL_INPUTS_KEY

    def m(name: str, h: int, c: int) -> Measurement:
        pixels, elements = h * h, h * h * c
        t = 0.0003 + pixels * 8e-6 + elements * 1e-7
        return Measurement(name=name, op="AVERAGE_POOL_2D", op_class="pool", dtype="float32", threads=1, xnnpack=True,
                           delegated=False, model_delegated=False, partitions=0, repeat=1, median_ms=t, min_ms=t,
                           per_op_ms=t, macs=elements, bytes=5 * elements, weight_bytes=0, op_key=POOL_INPUTS_KEY,
                           rows=pixels, row_width=c)

    narrow_pad = Measurement(name="np", op="PAD", op_class="data_movement", dtype="float32", threads=1, xnnpack=True,
                             delegated=True, model_delegated=True, partitions=1, repeat=1, median_ms=0.1, min_ms=0.1,
                             per_op_ms=0.1, macs=10_000, bytes=80_000, weight_bytes=0, rows=10_000, row_width=1)
    ms = [m("a", 112, 8), m("b", 56, 64), m("c", 14, 512), narrow_pad]
    fit = fit_profile_figures(ms, [], Peaks(fp32_gmacs=10.0, int8_gmacs=40.0, bandwidth_gb_s=1e4), [1], per_op=True,
                              per_op_overhead_ms=0.0003, row_tile=16)
    assert fit.row_ns["float32"][POOL_INPUTS_KEY] == pytest.approx(8.0, rel=1e-3)
    assert fit.every_width == ()  # its own rule, not the every-width list
    assert "AVERAGE_POOL_2D.float32" not in fit.delegated  # refused by design: not the plain pool's answer
    assert all(abs(fit.residuals[n]) < 0.02 for n in "abc")
