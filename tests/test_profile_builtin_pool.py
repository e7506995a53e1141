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
