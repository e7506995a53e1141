"""XNNPACK's indirection pointers (issue 14): a spatial convolution reads one pointer per output pixel and kernel
tap on every call. A raw-waveform front-end's 1x256 kernel over 44,100 samples reads 90 MB of them (basic-pitch:
-20% at 1 thread without them, -2% with). The byte count, the estimator's time, the fit's prediction."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from profile_helpers import one_thread_cpu_s, rpi4b_variant

from edgekit.calibrate.fit import Peaks, predict_op_ms
from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model, conv_options
from edgekit.calibrate.runner import Measurement, _features
from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.profile.estimator import estimate
from edgekit.profile.indirection import indirection_bytes, indirection_ms, op_indirection_bytes, pointer_ms
from edgekit.profile.memory import cold_fraction, stream_ms
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

SAMPLES = 44_100


def _fir(cin: int, taps: int, cout: int = 16, samples: int = SAMPLES) -> bytes:
    """A 1-D convolution over ``samples`` (H = 1): ``taps`` wide, ``cin`` -> ``cout`` channels, SAME padding."""
    b = TFLiteBuilder("fir")
    rng = np.random.default_rng(0)
    x = b.tensor("x", (1, 1, samples, cin))
    w = b.constant("w", rng.normal(0, 0.1, (cout, 1, taps, cin)).astype(np.float32))
    y = b.tensor("y", (1, 1, samples, cout))
    b.operator("CONV_2D", [x, w, b.constant("b", np.zeros(cout, np.float32))], [y], conv_options(3, 1, "NONE", False))
    return b.build([x], [y])


@pytest.mark.device
def test_pointer_bytes_count_every_output_pixel_and_tap_of_spatial_ops() -> None:
    sg = parse_model(_fir(1, 256), "<fir>").main
    assert op_indirection_bytes(sg, sg.operators[0]) == SAMPLES * 256 * 8
    one = parse_model(build_model(MicroSpec(MicroOp.CONV_2D, "float32", 28, 28, 64, cout=64, kernel=1)), "<1x1>").main
    assert op_indirection_bytes(one, one.operators[0]) == 0  # a plain GEMM
    pool = parse_model(build_model(MicroSpec(MicroOp.MAX_POOL_2D, "float32", 56, 56, 32, kernel=3, stride=2)), "<p>")
    assert op_indirection_bytes(pool.main, pool.main.operators[0]) == 28 * 28 * 9 * 8
    assert indirection_bytes(pool.main) == 28 * 28 * 9 * 8  # the memory estimate counts the same pointers


def _profile(folder: Path) -> str:
    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    (folder / "ind-test.toml").write_text(text.replace('id = "rpi4b"', 'id = "ind-test"', 1), encoding="utf-8")
    return "ind-test"


# an L2 of 1 MiB, a 32 MiB last-level cache, DRAM at a third of its bandwidth; 16 MiB kept between invokes
MEMORY = """
[memory]
cache_bytes = [1048576, 33554432]
bandwidth_gb_per_s = [100.0, 90.0, 30.0]
private_levels = 1
{cache}"""


@pytest.mark.device
def test_the_estimator_adds_the_pointer_reads_to_the_convolution(tmp_path: Path) -> None:
    entry = get_profile(_profile(tmp_path), [tmp_path])
    profile = entry.profile
    long_taps = parse_model(_fir(1, 256), "<1x256>")
    wide = parse_model(_fir(16, 16), "<16x16>")  # the same GEMM (K = 256, M, N), 1/16 of the pointers
    t_long, t_wide = (estimate(m, entry, 1).ops[0].latency_ms for m in (long_taps, wide))
    pointers = indirection_ms(profile, SAMPLES * 256 * 8) - indirection_ms(profile, SAMPLES * 16 * 8)
    assert pointers > 0
    assert t_long - t_wide == pytest.approx(pointers, rel=0.01)
    two = profile.runtime.thread_speedup.at("float32", 2)
    t2_long, t2_wide = (estimate(m, entry, 2).ops[0].latency_ms for m in (long_taps, wide))
    assert t2_long - t2_wide == pytest.approx(pointers / two, rel=0.01)  # split over the threads


@pytest.mark.device
def test_pointers_out_of_cache_between_invokes_stream_from_memory(tmp_path: Path) -> None:
    """basic-pitch's 22 MB of 1x256 pointers fit the last-level cache alone, not beside the model's other 140 MB of
    them: the share the cold-weight rule puts out of cache is read at the memory's bandwidth."""
    fir = parse_model(_fir(1, 256, cout=1, samples=11_025), "<1x256>")  # 22.6 MB of pointers: the 32 MiB level
    pointers = 11_025 * 256 * 8
    warm = get_profile(rpi4b_variant(tmp_path, "warm", MEMORY.format(cache="")), [tmp_path])
    kept = get_profile(rpi4b_variant(tmp_path, "kept", MEMORY.format(
        cache="weight_cache_bytes = 16777216\ncold_weight_gb_per_s = [40.0, 40.0, 40.0, 40.0]\n")), [tmp_path])
    est_warm, est_kept = estimate(fir, warm, 1), estimate(fir, kept, 1)
    share = cold_fraction(kept.profile.memory, est_kept.weights_bytes + est_kept.arena_bytes + pointers)
    assert 0.2 < share < 0.5
    level, dram = indirection_ms(kept.profile, pointers), stream_ms(kept.profile, pointers, past_caches=True)
    assert dram == pytest.approx(3 * level)
    assert pointer_ms(kept.profile, pointers, share) == pytest.approx((1 - share) * level + share * dram)
    # the weights' own cold share (1 KiB of them) is noise beside it
    extra = est_kept.ops[0].latency_ms - est_warm.ops[0].latency_ms
    assert extra == pytest.approx(share * (dram - level), rel=0.01)
    # without pointers in the working set the model (23 MB) would pass the 16 MiB too, by less
    assert share > cold_fraction(kept.profile.memory, est_kept.weights_bytes + est_kept.arena_bytes)


@pytest.mark.device
def test_calibrate_predicts_the_pointer_reads_its_benchmarks_contain() -> None:
    data = build_model(MicroSpec(MicroOp.CONV_2D, "float32", 28, 28, 32, cout=32, kernel=3))
    op_class, dtype, macs, nbytes, wbytes, summary = _features(data, "CONV_2D")
    assert summary["pointer_bytes"] == 28 * 28 * 9 * 8
    peaks = Peaks(fp32_gmacs=50.0, int8_gmacs=200.0, bandwidth_gb_s=20.0)
    m = Measurement(name="c", op="CONV_2D", op_class=op_class, dtype=dtype, threads=1, xnnpack=True, delegated=True,
                    model_delegated=True, partitions=1, repeat=1, median_ms=1.0, min_ms=1.0, per_op_ms=1.0, macs=macs,
                    bytes=nbytes, weight_bytes=wbytes)
    with_pointers = dataclasses.replace(m, pointer_bytes=summary["pointer_bytes"])
    extra = predict_op_ms(with_pointers, peaks, 0.5, 0.0, 1.0, 1.0) - predict_op_ms(m, peaks, 0.5, 0.0, 1.0, 1.0)
    assert extra == pytest.approx(28 * 28 * 9 * 8 / (20.0 * 1e6))


def test_the_runtime_pays_for_the_pointers_beside_the_arithmetic() -> None:
    """The measured fact behind the term: the same GEMM with 16x the pointers runs longer (this project's x86 VM:
    6.98 against 3.55 ms, its 90 MB of pointers from DRAM; a machine whose caches hold them would show less, so the
    bound is loose), which the arithmetic alone does not say."""
    long_taps, wide = one_thread_cpu_s(_fir(1, 256), runs=15), one_thread_cpu_s(_fir(16, 16), runs=15)
    assert long_taps > 1.15 * wide, (long_taps, wide)
