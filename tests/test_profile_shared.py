"""The shared cache levels at more than one thread (``[memory] shared_speedup``): each core has its own path into a
shared L3, so two threads streaming weights from it went 1.66-1.78x as fast as one on this project's host, where the
estimate had charged the shared level one thread's bandwidth at any count (openWakeWord's timer, 1.6 MiB of one-row
weights: 20.1 us at 1 thread, 12.8 at 2, estimated 20.7 and 20.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.gemv import measure_shared, shared_probe_bytes
from edgekit.calibrate.overheads import cache_levels
from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.errors import ProfileError
from edgekit.profile.costs import graph_costs
from edgekit.profile.estimator import estimate
from edgekit.profile.memory import memory_ms
from edgekit.profile.registry import get_profile
from edgekit.profile.schema import Memory
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

MIB = 2**20
LEVELS = "\n[memory]\ncache_bytes = [1048576, 33554432]\nbandwidth_gb_per_s = [100.0, 90.0, 20.0]\n"


def _fc(cin: int, cout: int) -> bytes:
    b = TFLiteBuilder("fc")
    x = b.tensor("x", (1, cin), "float32")
    w = b.constant("w", np.random.default_rng(0).normal(0, 0.05, (cout, cin)).astype(np.float32))
    bias = b.constant("b", np.zeros(cout, np.float32))
    y = b.tensor("y", (1, cout), "float32")
    b.operator("FULLY_CONNECTED", [x, w, bias], [y])
    return b.build([x], [y])


def test_the_shared_level_draws_the_measured_speedup_private_levels_the_threads_dram_one_thread(
        tmp_path: Path) -> None:
    plain = get_profile(rpi4b_variant(tmp_path, "plain", LEVELS), [tmp_path]).profile
    shared = get_profile(rpi4b_variant(tmp_path, "shared", LEVELS + "shared_speedup = [1.0, 1.75]\n"), [tmp_path]).profile
    assert shared.memory is not None and shared.memory.shared_at(1) == 1.0
    assert shared.memory.shared_at(2) == 1.75 and shared.memory.shared_at(4) == 1.75  # past the list: its last
    costs = {}
    for name, cin in (("private", 128), ("shared", 3264), ("dram", 65536)):  # 0.06, 1.6 and 32 MiB of weights
        model = parse_model(_fc(cin, 128), f"<{name}>")
        [costs[name]] = [c for c in graph_costs(model.main) if c.op == "FULLY_CONNECTED"]
    for name, ratio in (("private", 1.0), ("shared", 1.75), ("dram", 1.0)):
        cost = costs[name]
        # without the figure the levels behave as before at 2 threads; with it only the shared level moves
        assert memory_ms(shared, cost, 1) == pytest.approx(memory_ms(plain, cost, 1))
        assert memory_ms(plain, cost, 2) / memory_ms(shared, cost, 2) == pytest.approx(ratio, rel=1e-6)
    # the private level: its bandwidth adds up over the threads with or without the figure
    assert memory_ms(plain, costs["private"], 1) / memory_ms(plain, costs["private"], 2) == pytest.approx(2.0)


def test_a_weight_stream_in_the_shared_cache_gets_faster_at_two_threads(tmp_path: Path) -> None:
    """The timer's 3264 -> 128 layer: memory-bound in the shared level, the thread count did not move it."""
    model = parse_model(_fc(3264, 128), "<timer-like>")
    plain = get_profile(rpi4b_variant(tmp_path, "plain", LEVELS), [tmp_path])
    shared = get_profile(rpi4b_variant(tmp_path, "shared", LEVELS + "shared_speedup = [1.0, 1.75, 2.5, 3.2]\n"), [tmp_path])
    one, two_plain, two = (estimate(model, p, threads=t).latency_ms for p, t in ((shared, 1), (plain, 2), (shared, 2)))
    assert two < 0.8 * two_plain and two < 0.8 * one
    assert estimate(model, plain, threads=1).latency_ms == pytest.approx(one)


def test_a_profile_rejects_a_shared_speedup_below_one() -> None:
    with pytest.raises(ProfileError, match="out of range"):
        Memory((MIB, 32 * MIB), (100.0, 90.0, 20.0), 1, shared_speedup=(1.0, 0.5))


def test_the_probe_sits_past_the_private_caches_inside_the_first_shared_one() -> None:
    assert shared_probe_bytes([(MIB, True), (32 * MIB, False)]) == 4 * MIB  # this project's host
    assert shared_probe_bytes([(MIB, False)]) == MIB // 4  # a Pi 4: one L2, shared by the four cores
    assert shared_probe_bytes([(512 * 1024, True), (2 * MIB, False)]) == MIB  # half the shared level at most
    assert shared_probe_bytes([(2 * MIB, True), (4 * MIB, False)]) is None  # no room between them
    assert shared_probe_bytes([(MIB, True)]) is None and shared_probe_bytes([]) is None


def test_calibrate_measures_the_shared_speedup_here() -> None:
    """On whatever runs the tests: between 1 and the thread count, one figure per count; none without a shared level."""
    levels = cache_levels()
    figures = measure_shared(levels, 2, rounds=1, target_s=0.01)
    if shared_probe_bytes(levels) is None:
        assert figures is None
    else:
        assert figures is not None and len(figures) == 2 and figures[0] == 1.0 and 1.0 <= figures[1] <= 2.0
    assert measure_shared(levels, 1) is None  # one thread: nothing to measure
