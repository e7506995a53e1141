"""``[thread_scaling] float32 FULLY_CONNECTED_BUILTIN``: how LiteRT's own float FULLY_CONNECTED kernel speeds up past
one thread (:func:`edgekit.profile.opfigures.op_thread_share`).

XNNPACK refuses a FULLY_CONNECTED whose weights are not constant (openWakeWord's classifiers hand theirs to an IF's
branch as inputs), and such an op runs on LiteRT's builtin kernel. The estimator gives LiteRT's GEMM kernels its
thread curve (``MULTITHREADED_BUILTINS``), but how a build runs this one is the build's choice: the x86-64 wheels
call Eigen without a thread pool for float GEMMs, ARM builds go through ruy, which splits. Measured on this
project's 2-vCPU x86 VM (2026-12-05, ai-edge-litert, XNNPACK on, the op on the builtin kernel), 1 thread / 2 threads:
1536 -> 64 with the weights an input 5.7 / 5.7 us, 1536 -> 512 45.3 / 45.1 us; with constant weights and XNNPACK
off 512 -> 2048 77.0 / 75.1 us, 1536 -> 512 at batch 8 444 / 452 us. The estimate had halved openWakeWord
hey-jarvis's 1536 -> 64 at 2 threads.

Measured here: a chain of :data:`LAYERS` float 1024 -> 1024 FULLY_CONNECTED ops whose weights are a graph input
(the runtime keeps them on the builtin kernel with XNNPACK on), at 1 and at T threads, interleaved, the lower of
two timings per thread count (a burst on the other core only slows a run); the share of the float thread curve's
gain it gets, as ``[thread_scaling]`` writes it (:func:`edgekit.calibrate.fit.fit_thread_scaling`).
"""

from __future__ import annotations

import numpy as np

from edgekit.core.progress import status
from edgekit.core.tflite_builder import TFLiteBuilder

WIDTH = 1024
LAYERS = 4
KEY = "FULLY_CONNECTED_BUILTIN"


def dynamic_fc_chain(width: int = WIDTH, layers: int = LAYERS) -> bytes:
    """``layers`` float FULLY_CONNECTED ops, ``width`` -> ``width`` at batch 1, all taking their weights from one
    graph input (not constant: XNNPACK leaves them to LiteRT's kernel)."""
    b = TFLiteBuilder("edgekit calibrate: LiteRT's builtin float FULLY_CONNECTED")
    x = b.tensor("input", (1, width), "float32")
    w = b.tensor("weights", (width, width), "float32")
    cur = x
    for i in range(layers):
        out = b.tensor(f"t{i}", (1, width), "float32")
        b.operator("FULLY_CONNECTED", [cur, w, -1], [out], {"fused_activation_function": "NONE"})
        cur = out
    return b.build([x, w], [cur])


def fc_times_ms(threads: int, target_s: float = 0.1) -> tuple[float, float]:
    """(1 thread, ``threads``) median invoke ms of :func:`dynamic_fc_chain`, each the lower of two timings."""
    from edgekit.calibrate.runner import _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    data = dynamic_fc_chain()
    rng = np.random.default_rng(0)
    interps = []
    for t in (1, threads):
        interp = load_interpreter(data, num_threads=t, use_xnnpack=True)
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], rng.uniform(-0.05, 0.05, d["shape"]).astype(np.float32))
        interps.append(interp)
    rounds = [[_time_invokes(it, target_s, min_runs=10)[0] for it in interps] for _ in range(2)]
    return min(r[0] for r in rounds), min(r[1] for r in rounds)


def builtin_fc_share(top: int, curve_gain: float) -> float | None:
    """The share of the float thread curve's gain at ``top`` threads (``curve_gain`` = curve[top] - 1) that LiteRT's
    builtin float FULLY_CONNECTED gets, in [0, 2]; None at one thread or with no gain to share."""
    if top < 2 or curve_gain <= 0.05:
        return None
    one, many = fc_times_ms(top)
    share = min(2.0, max(0.0, (one / many - 1.0) / curve_gain)) if many > 0 else 0.0
    status(f"calibrate: LiteRT's builtin float FULLY_CONNECTED (weights not constant): {one * 1000:.0f} us at 1 "
           f"thread, {many * 1000:.0f} us at {top}: {share:.2f} of the thread speed-up")
    return round(share, 3)


__all__ = ["KEY", "LAYERS", "WIDTH", "builtin_fc_share", "dynamic_fc_chain", "fc_times_ms"]
