"""The work XNNPACK's pooling and depthwise kernels do, as the estimator and calibrate count it
(edgekit.profile.opfigures): a pool reads its window in passes of 9 then 8 taps (a 2x2 max pool costs what a 3x3
one does per output), a 3x3 / 5x5 depthwise computes its channels in SIMD tiles (24 channels in the time of 32)."""

from __future__ import annotations

import dataclasses

import pytest

from edgekit.calibrate.fit import Peaks, fit_profile_figures, pad_depthwise
from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.calibrate.runner import Measurement, _features, _work_of
from edgekit.profile.costs import graph_costs
from edgekit.profile.estimator import estimate
from edgekit.profile.opfigures import depthwise_pad_factor, op_work, pool_pass_taps, pool_work
from edgekit.profile.registry import ProfileEntry, get_profile
from edgekit.profile.schema import RowCost
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=10.0, int8_gmacs=40.0, bandwidth_gb_s=1e4)


def _entry(tile: int | None = None) -> ProfileEntry:
    """A shipped profile with memory and fixed costs out of the way (and a channel tile when given)."""
    entry = get_profile("rpi4b")
    profile = dataclasses.replace(entry.profile, memory=None, row_ns=RowCost(channel_tile=tile) if tile else None,
                                  hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
                                  runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0))
    return dataclasses.replace(entry, profile=profile)


def _op_ms(spec: MicroSpec, tile: int | None = None) -> float:
    est = estimate(parse_model(build_model(spec), "<micro>"), _entry(tile), threads=1)
    [op] = [o for o in est.ops if o.op == spec.op.value]
    assert op.runs_on == "cpu:xnnpack"
    return op.latency_ms


def test_pool_passes() -> None:
    # measured (float32 max pool, ns per output element): 0.48-0.52 at 2x2 and 3x3, 1.1 at 4x4, 1.3 at 5x5, 2.6 at 7x7
    assert [pool_pass_taps(t) for t in (4, 9, 10, 16, 17, 25, 49)] == [9, 9, 17, 17, 17, 25, 49]


@pytest.mark.parametrize("op", [MicroOp.MAX_POOL_2D, MicroOp.AVERAGE_POOL_2D])
def test_a_pool_costs_its_passes_not_its_taps(op: MicroOp) -> None:
    two = MicroSpec(op, "float32", 56, 56, 32, kernel=2, stride=2)  # 28x28x32 outputs, 4 taps
    three = MicroSpec(op, "float32", 56, 56, 32, kernel=3, stride=2)  # the same outputs, 9 taps
    assert _op_ms(two) == pytest.approx(_op_ms(three))
    four = MicroSpec(op, "float32", 56, 56, 32, kernel=4, stride=2)  # 16 taps: two passes
    assert _op_ms(four) == pytest.approx(_op_ms(three) * 17 / 9)
    sg = parse_model(build_model(two), "<pool>").main
    [pool] = [o for o in sg.operators if o.name == op.value]
    assert pool_work(sg, pool) == 28 * 28 * 32 * 9
    [cost] = [c for c in graph_costs(sg) if c.op == op.value]
    assert cost.macs == 28 * 28 * 32 * 4  # the graph's MACs stay the window's (other runtimes, Edge TPU, GPU)
    profile = _entry().profile
    assert op_work(profile, sg, pool, cost, delegated=True) == 28 * 28 * 32 * 9
    assert op_work(profile, sg, pool, cost, delegated=False) is None  # LiteRT's builtin kernel loops over the window


def test_calibrate_fits_a_delegated_pool_on_its_passes() -> None:
    data = build_model(MicroSpec(MicroOp.MAX_POOL_2D, "float32", 56, 56, 32, kernel=2, stride=2))
    _, _, macs, _, _, summary = _features(data, "MAX_POOL_2D")
    assert summary["model_delegated"] and macs == 28 * 28 * 32 * 4
    assert _work_of(True, macs, summary) == 28 * 28 * 32 * 9  # where XNNPACK ran it
    assert _work_of(False, macs, summary) == macs  # the builtin kernel's run


def test_depthwise_channel_tiles() -> None:
    assert depthwise_pad_factor(24, 9, 16) == pytest.approx(32 / 24)
    assert depthwise_pad_factor(72, 25, 16) == pytest.approx(80 / 72)
    assert depthwise_pad_factor(48, 9, 16) == 1.0
    assert depthwise_pad_factor(40, 49, 16) == 1.0  # 7x7: measured in proportion to the channels
    assert depthwise_pad_factor(8, 9, 16) == 1.0  # narrower than a tile: the [row_ns] figure prices those rows


def test_a_depthwise_pays_for_its_channels_padded_to_the_tile() -> None:
    def dw(channels: int, kernel: int = 3) -> MicroSpec:
        return MicroSpec(MicroOp.DEPTHWISE_CONV_2D, "float32", 56, 56, channels, kernel=kernel)

    assert _op_ms(dw(24), tile=16) == pytest.approx(_op_ms(dw(32), tile=16))
    assert _op_ms(dw(24)) == pytest.approx(_op_ms(dw(32)) * 24 / 32)  # a profile without a tile: the MACs
    assert _op_ms(dw(48), tile=16) == pytest.approx(_op_ms(dw(48)))
    assert _op_ms(dw(40, kernel=7), tile=16) == pytest.approx(_op_ms(dw(40, kernel=7)))


def _dw_measurement(channels: int, key: str = "", xnnpack: bool = True, ms: float = 0.1) -> Measurement:
    macs = 28 * 28 * channels * (49 if key.endswith("K7") else 25 if key.endswith("K5") else 9)
    return Measurement(name=f"dw{channels}{key}{xnnpack}", op="DEPTHWISE_CONV_2D", op_class="depthwise_conv",
                       dtype="float32", threads=1, xnnpack=xnnpack, delegated=xnnpack, model_delegated=True,
                       partitions=1 if xnnpack else 0, repeat=1, median_ms=ms, min_ms=ms, per_op_ms=ms, macs=macs,
                       bytes=2 * 28 * 28 * channels * 4, weight_bytes=0, op_key=key, rows=28 * 28,
                       row_width=channels)


def test_calibrate_fits_the_depthwise_on_the_padded_work() -> None:
    ms = [_dw_measurement(24), _dw_measurement(32), _dw_measurement(40, "DEPTHWISE_CONV_2D_K7"),
          _dw_measurement(24, xnnpack=False), _dw_measurement(8)]
    padded = pad_depthwise(ms, 16)
    assert padded[0].macs == ms[1].macs  # 24 channels: the work of 32
    assert [p.macs for p in padded[1:]] == [m.macs for m in ms[1:]]  # full tiles, 7x7, the builtin kernel, narrow
    # the same time for 24 and 32 channels is then one efficiency: the fit's residuals are equal
    fit = fit_profile_figures([ms[0], ms[1], ms[4]], [], PEAKS, [1], per_op=True, row_tile=16)
    assert fit.residuals["dw24True"] == pytest.approx(fit.residuals["dw32True"], abs=1e-3)
    # without narrow micro-benchmarks (a short budget) there is no [row_ns] section for the estimator to pad by: nor
    # does the fit
    short = fit_profile_figures([ms[0], ms[1]], [], PEAKS, [1], per_op=True, row_tile=16)
    assert short.row_tile == 0 and short.residuals["dw24True"] != pytest.approx(short.residuals["dw32True"], abs=1e-3)


def test_an_elementwise_op_with_a_fused_activation_has_its_own_figure() -> None:
    """XNNPACK's float32 ADD / MUL with a fused RELU took 0.20-0.22 ns per element on the x86 host, 0.12-0.13 without:
    ``ADD_ACT`` is its own [op_efficiency] key, and a profile without it keeps the ADD figure."""
    from edgekit.profile.opfigures import efficiency_key
    from edgekit.profile.schema import OpEfficiency

    relu = MicroSpec(MicroOp.ADD_RELU, "float32", 28, 28, 64)
    plain = MicroSpec(MicroOp.ADD, "float32", 28, 28, 64)
    sg = parse_model(build_model(relu), "<add>").main
    [add] = [o for o in sg.operators if o.name == "ADD"]
    assert add.options["fused_activation_function"] == "RELU"
    assert efficiency_key(sg, add, delegated=True) == "ADD_ACT"
    assert efficiency_key(sg, add, delegated=False) == "ADD"  # LiteRT's builtin kernel: the ADD figures

    def ms(spec: MicroSpec, figures: dict[str, float]) -> float:
        entry = _entry()
        entry = dataclasses.replace(entry, profile=dataclasses.replace(entry.profile,
                                                                       op_efficiency=OpEfficiency(float32=figures)))
        est = estimate(parse_model(build_model(spec), "<add>"), entry, threads=1)
        [op] = [o for o in est.ops if o.op == "ADD"]
        return op.latency_ms

    assert ms(relu, {"ADD": 0.2}) == pytest.approx(ms(plain, {"ADD": 0.2}))  # no ADD_ACT figure: as before
    assert ms(relu, {"ADD": 0.2, "ADD_ACT": 0.1}) == pytest.approx(2 * ms(plain, {"ADD": 0.2, "ADD_ACT": 0.1}))


def test_calibrate_times_adds_with_their_activation() -> None:
    from edgekit.calibrate.runner import _op_key, suite

    specs = suite(120.0)
    assert {s.dtype for s in specs if s.op is MicroOp.ADD_RELU} == {"float32", "int8"}
    assert any(s.op is MicroOp.MUL_RELU for s in specs)
    data = build_model(MicroSpec(MicroOp.ADD_RELU, "int8", 28, 28, 64, repeat=4))
    assert _op_key(data, "ADD", delegated=True)[0] == "ADD_ACT"
