"""LiteRT's builtin int8 RELU costs what its activations' signs make it (edgekit.profile.signs): 6.8 ns per element on
random signs, 3.1 where each element has its channel's sign on the x86 host. calibrate times both; the estimate
charges halfway and says so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.calibrate.fit import Peaks, fit_profile_figures
from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model, channel_sign_input
from edgekit.calibrate.runner import Measurement, measure_suite, suite
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import ProfileEntry, get_profile
from edgekit.profile.schema import OpEfficiency
from edgekit.profile.signs import SIGNS_KEY
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=10.0, int8_gmacs=40.0, bandwidth_gb_s=1e4)
RELU = MicroSpec(MicroOp.RELU, "int8", 28, 28, 64)


def _entry(int8: dict[str, float], float32: dict[str, float] | None = None) -> ProfileEntry:
    entry = get_profile("rpi4b")
    profile = dataclasses.replace(
        entry.profile, memory=None, op_efficiency=OpEfficiency(int8=int8, float32=float32 or {}),
        hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
        runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0, builtin_per_op_overhead_us=0.0))
    return dataclasses.replace(entry, profile=profile)


def _relu(spec: MicroSpec, entry: ProfileEntry) -> tuple[float, str, tuple[str, ...]]:
    est = estimate(parse_model(build_model(spec), "<relu>"), entry, threads=1)
    [op] = [o for o in est.ops if o.op == "RELU"]
    return op.latency_ms, op.runs_on, est.notes


def test_the_estimate_charges_a_builtin_int8_relu_halfway_between_its_figures() -> None:
    random_ms, where, notes = _relu(RELU, _entry({"RELU": 0.001}))
    assert where == "cpu:builtin"  # XNNPACK has no standalone int8 RELU
    assert not any("RELU" in n for n in notes)  # one figure: charged as before, no note
    channel_ms = _relu(RELU, _entry({"RELU": 0.002}))[0]
    assert channel_ms == pytest.approx(random_ms / 2)
    mid_ms, _, notes = _relu(RELU, _entry({"RELU": 0.001, SIGNS_KEY: 0.002}))
    assert mid_ms == pytest.approx((random_ms + channel_ms) / 2)
    [note] = [n for n in notes if "builtin int8 RELU" in n]
    assert "halfway" in note and f"{channel_ms:.3g} to {random_ms:.3g} ms" in note


def test_other_relus_keep_their_figure() -> None:
    # a float32 RELU runs on XNNPACK (a branch-free clamp): the int8 figures do not touch it
    spec = MicroSpec(MicroOp.RELU, "float32", 28, 28, 64)
    plain = _relu(spec, _entry({"RELU": 0.001}, {"RELU": 0.01}))
    both = _relu(spec, _entry({"RELU": 0.001, SIGNS_KEY: 0.002}, {"RELU": 0.01, SIGNS_KEY: 0.02}))
    assert plain[1] == "cpu:xnnpack" and both[0] == pytest.approx(plain[0])
    assert not any("RELU" in n for n in both[2])


def test_channel_sign_input_gives_every_element_its_channels_sign() -> None:
    x = channel_sign_input((1, 7, 5, 10), np.random.default_rng(3)).astype(np.int32)
    assert x.dtype == np.int32 and x.shape == (1, 7, 5, 10) and np.all(x != 0)
    signs = np.sign(x).reshape(-1, 10)
    assert np.all(signs == signs[0])  # one sign per channel, at every pixel
    assert (signs[0] < 0).sum() == 5  # half the channels negative


def test_calibrate_times_the_int8_relu_both_ways() -> None:
    specs = suite(120.0)
    random = [(s.h, s.w, s.c) for s in specs if s.op is MicroOp.RELU and s.dtype == "int8"]
    channel = [(s.h, s.w, s.c) for s in specs if s.op is MicroOp.RELU_CHANNEL_SIGNS]
    assert random and channel == random
    assert {s.dtype for s in specs if s.op is MicroOp.RELU_CHANNEL_SIGNS} == {"int8"}
    with pytest.raises(ValueError, match="int8"):
        MicroSpec(MicroOp.RELU_CHANNEL_SIGNS, "float32", 8, 8, 8)
    with pytest.raises(ValueError, match="chained"):
        MicroSpec(MicroOp.RELU_CHANNEL_SIGNS, "int8", 8, 8, 8, repeat=2)
    ms, _ = measure_suite([MicroSpec(MicroOp.RELU_CHANNEL_SIGNS, "int8", 8, 8, 16)], [1], 2.0, builtin=False)
    [m] = ms
    assert m.op == "RELU" and m.op_key == SIGNS_KEY and m.dtype == "int8" and m.per_op_ms > 0


def _measurement(key: str, ms: float, op: str = "RELU", op_class: str = "elementwise") -> Measurement:
    n = 28 * 28 * 64
    return Measurement(name=f"{op}{key}", op=op, op_class=op_class, dtype="int8", threads=1, xnnpack=True,
                       delegated=False, model_delegated=False, partitions=0, repeat=1, median_ms=ms, min_ms=ms,
                       per_op_ms=ms, macs=n, bytes=2 * n, weight_bytes=0, op_key=key)


def test_the_channel_sign_figure_is_its_own() -> None:
    shared = [_measurement("", 0.34), _measurement("", 0.05, "ADD"), _measurement("", 0.06, "MUL")]
    with_signs = fit_profile_figures([*shared, _measurement(SIGNS_KEY, 0.15)], [], PEAKS, [1], per_op=True)
    without = fit_profile_figures(shared, [], PEAKS, [1], per_op=True)
    ratio = with_signs.op_efficiency["int8"][SIGNS_KEY] / with_signs.op_efficiency["int8"]["RELU"]
    assert ratio == pytest.approx(0.34 / 0.15, rel=0.1)
    # the class figures and the delegate map are the random-sign benchmarks' alone
    assert with_signs.efficiency == without.efficiency and with_signs.delegated == without.delegated
