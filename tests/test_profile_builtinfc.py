"""LiteRT's builtin float FULLY_CONNECTED past one thread (issue 14, ``[thread_scaling] FULLY_CONNECTED_BUILTIN``):
XNNPACK refuses a FULLY_CONNECTED whose weights are not constant (openWakeWord's hey-jarvis hands its weights to an
IF's branch), and the x86 wheels' own kernel for it runs on one thread: the estimate had halved it at 2 threads.
Calibrate's model and measurement, and the estimator's use of the figure."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.builtinfc import KEY, LAYERS, WIDTH, builtin_fc_share, dynamic_fc_chain
from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.profile.estimator import cpu_placement, estimate
from edgekit.profile.opfigures import efficiency_key, op_thread_share
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model


def _both_fcs() -> bytes:
    """A 256 -> 256 FULLY_CONNECTED with constant weights (XNNPACK's) and one whose weights are an input, over 64 rows
    (compute-bound, so that the thread curve shows)."""
    import numpy as np

    b = TFLiteBuilder("two fcs")
    x = b.tensor("x", (64, 256), "float32")
    w = b.tensor("w", (256, 256), "float32")
    wc = b.constant("wc", np.random.default_rng(0).normal(0, 0.1, (256, 256)).astype(np.float32))
    y, z = b.tensor("y", (64, 256), "float32"), b.tensor("z", (64, 256), "float32")
    b.operator("FULLY_CONNECTED", [x, wc, -1], [y], {"fused_activation_function": "NONE"})
    b.operator("FULLY_CONNECTED", [y, w, -1], [z], {"fused_activation_function": "NONE"})
    return b.build([x, w], [z])


def _profiles(folder: Path) -> tuple[object, object]:
    """The rpi4b profile (its builtin kernels' thread curve: 1.45x at 2 threads), and with a measured builtin FC
    share of 0."""
    scaled = rpi4b_variant(folder, "fc-scaled")
    single = rpi4b_variant(folder, "fc-single", f"\n[thread_scaling.float32]\n{KEY} = 0.0\n")
    return get_profile(scaled, [folder]), get_profile(single, [folder])


@pytest.mark.device
def test_calibrates_model_is_the_op_the_estimator_keys() -> None:
    model = parse_model(dynamic_fc_chain(), "<chain>")
    sg = model.main
    assert [op.name for op in sg.operators] == ["FULLY_CONNECTED"] * LAYERS
    assert sg.tensor(sg.operators[0].inputs[1]).shape == (WIDTH, WIDTH)
    entry = get_profile("rpi4b")
    assert cpu_placement(entry.profile, sg)[0] == [False] * LAYERS  # the estimator leaves it to LiteRT too
    assert efficiency_key(sg, sg.operators[0], delegated=False) + "_BUILTIN" == KEY


@pytest.mark.device
def test_the_builtin_share_applies_to_the_builtin_kernel_only(tmp_path: Path) -> None:
    scaled, single = _profiles(tmp_path)
    assert op_thread_share(single.profile, "float32", "FULLY_CONNECTED", builtin=True) == 0.0
    assert op_thread_share(single.profile, "float32", "FULLY_CONNECTED") is None  # XNNPACK's: the curve
    model = parse_model(_both_fcs(), "<two fcs>")
    assert cpu_placement(single.profile, model.main)[0] == [True, False]
    one = estimate(model, single, 1).ops
    two_single, two_scaled = estimate(model, single, 2).ops, estimate(model, scaled, 2).ops
    # XNNPACK's FC: the same with or without the figure
    assert two_single[0].latency_ms == pytest.approx(two_scaled[0].latency_ms)
    # LiteRT's: one thread's time at 2 threads with the figure, the curve's speed-up without it
    assert two_single[1].latency_ms == pytest.approx(one[1].latency_ms)
    assert two_scaled[1].latency_ms < 0.8 * one[1].latency_ms


def test_calibrate_measures_it_on_this_machine() -> None:
    """In range; on the x86-64 wheels (Eigen without a thread pool) well under the curve: 0.00-0.02 here."""
    assert builtin_fc_share(1, 0.9) is None and builtin_fc_share(2, 0.0) is None
    share = builtin_fc_share(2, 0.9)
    assert share is not None and 0.0 <= share <= 2.0
    if platform.machine() in ("x86_64", "AMD64"):
        assert share < 0.5, share
