"""LiteRT's own multi-threaded convolutions in a graph past one thread (issue 14, ``[parallel] builtin_pool_us``):
fer's emotion model (one builtin dynamic-range depthwise among XNNPACK's convolutions) ran 0.27 ms at 2 threads
where the estimate said 0.195; one such depthwise among split float convs costs ~60-70 us more than the two parts
alone here. The schema, the estimator's charge, its note, and calibrate's measurement."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.builtinpool import CONVS, measure_builtin_pool, pool_chain, pool_excess_us
from edgekit.errors import ProfileError
from edgekit.profile.estimator import cpu_placement, estimate
from edgekit.profile.parallel import builtin_pool_ms, uses_builtin_pool
from edgekit.profile.registry import get_profile
from edgekit.profile.schema import Parallel
from edgekit.tflite.model import parse_model

PARALLEL = ("\n[parallel]\ndispatch_us = [0.0, 0.3]\ngemm_rows = 7\nfloat32_gemm_channels = 16\n"
            "int8_gemm_channels = 16\nsplit_bytes = 16384\n")


@pytest.mark.device
def test_the_figure_is_per_thread_count_and_checked() -> None:
    par = Parallel((0.0, 0.3), 7, 16, 16, 16384, builtin_pool_us=(0.0, 64.0))
    assert builtin_pool_ms(par, 1) == 0.0
    assert builtin_pool_ms(par, 2) == pytest.approx(0.064)
    assert builtin_pool_ms(par, 4) == pytest.approx(0.064)  # past the last figure: the last
    assert builtin_pool_ms(Parallel((0.0, 0.3), 7, 16, 16, 16384), 2) == 0.0 and builtin_pool_ms(None, 2) == 0.0
    with pytest.raises(ProfileError, match="builtin_pool_us"):
        Parallel((0.0, 0.3), 7, 16, 16, 16384, builtin_pool_us=(0.0, -5.0))


@pytest.mark.device
def test_each_builtin_convolution_pays_the_figure_past_one_thread(tmp_path: Path) -> None:
    with_it = get_profile(rpi4b_variant(tmp_path, "pool", PARALLEL + "builtin_pool_us = [0.0, 64.0]\n"), [tmp_path])
    without = get_profile(rpi4b_variant(tmp_path, "nopool", PARALLEL), [tmp_path])
    model = parse_model(pool_chain(4, True), "<4 float convs, a dynamic-range depthwise among them>")
    names = [op.name for op in model.main.operators]
    assert names == ["CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D"]
    placed = cpu_placement(with_it.profile, model.main)[0]
    assert placed == [True, True, False, True, True]  # XNNPACK refuses the dynamic-range depthwise
    a, b = estimate(model, with_it, 2), estimate(model, without, 2)
    for op_a, op_b in zip(a.ops, b.ops, strict=True):  # the depthwise pays 64 us, XNNPACK's convs nothing
        assert op_a.latency_ms - op_b.latency_ms == pytest.approx(0.064 if op_a.op == "DEPTHWISE_CONV_2D" else 0.0)
    assert a.latency_ms == pytest.approx(b.latency_ms + 0.064)
    assert estimate(model, with_it, 1).latency_ms == pytest.approx(estimate(model, without, 1).latency_ms)
    note = next(n for n in a.notes if "thread pools" in n)
    assert "includes the 64 us each of the 1 convolution(s)" in note
    assert "does not include" in next(n for n in b.notes if "thread pools" in n)


@pytest.mark.device
def test_a_convolution_litert_runs_on_one_thread_pays_nothing(tmp_path: Path) -> None:
    """LiteRT's depthwise takes a second thread from 2 x 8192 multiplies, its GEMMs (ruy) from
    ceil_log2(rows) + ceil_log2(cols) + ceil_log2(depth) = 16: a small one wakes no pool."""
    with_it = get_profile(rpi4b_variant(tmp_path, "pool", PARALLEL + "builtin_pool_us = [0.0, 64.0]\n"), [tmp_path])
    without = get_profile(rpi4b_variant(tmp_path, "nopool", PARALLEL), [tmp_path])
    small = parse_model(pool_chain(4, True, shape=(1, 4, 4, 8)), "<a 4x4x8 chain>")  # the depthwise: 1152 muls
    assert estimate(small, with_it, 2).latency_ms == pytest.approx(estimate(small, without, 2).latency_ms)
    assert not any("includes" in n for n in estimate(small, with_it, 2).notes)
    sg = small.main
    assert not uses_builtin_pool(sg, sg.operators[0], 4 * 4 * 8 * 8)  # 16 px, 8 ch, depth 8: 4 + 3 + 3 < 16
    big = parse_model(pool_chain(2, True), "<the 28x28x32 chain>").main
    assert uses_builtin_pool(big, big.operators[0], 784 * 32 * 32)  # 10 + 5 + 5 >= 16
    assert uses_builtin_pool(big, big.operators[1], 784 * 32 * 9)  # the depthwise: 225792 muls


def test_calibrate_measures_it_on_this_machine() -> None:
    """A figure per thread count from one, in range, that loads; the chains are what the module says."""
    names = [op.name for op in parse_model(pool_chain(CONVS, True), "<chain>").main.operators]
    assert names.count("DEPTHWISE_CONV_2D") == 1 and names.count("CONV_2D") == CONVS
    assert names.index("DEPTHWISE_CONV_2D") == CONVS // 2
    assert measure_builtin_pool(1) == (0.0,)
    figures = measure_builtin_pool(2)
    assert len(figures) == 2 and figures[0] == 0.0 and 0.0 <= figures[1] < 1e4
    Parallel((0.0, 0.3), 7, 16, 16, 16384, builtin_pool_us=figures)
    assert abs(pool_excess_us(1)) < 50.0  # at one thread the parts add up (here -1..+2 us)
    with pytest.raises(ValueError, match="convs, the depthwise, or both"):
        pool_chain(0, False)


@pytest.mark.device
def test_the_figure_is_the_median_of_three_fresh_placements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each measurement makes fresh interpreters whose threads the OS places anew: one calibration keeping the lower
    of two took 35 us where ten others got 67-80 (and sixteen single measurements 64-95). The median of three."""
    import edgekit.calibrate.builtinpool as bp

    values = iter([35.0, 80.0, 70.0, 999.0])
    monkeypatch.setattr(bp, "pool_excess_us", lambda threads: next(values))
    assert bp.measure_builtin_pool(2) == (0.0, 70.0)
    assert next(values) == 999.0  # three measurements, not more
