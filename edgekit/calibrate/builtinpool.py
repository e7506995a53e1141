"""``[parallel] builtin_pool_us``: what each of LiteRT's own multi-threaded convolutions pays in a graph past one
thread, beyond its time alone (:mod:`edgekit.profile.parallel`).

LiteRT runs the convolutions XNNPACK refuses (dynamic-range depthwise, uint8-weight hybrid convs, non-constant
weights) on its own thread pool (ruy's). Timed alone, invoke after invoke, such a kernel speeds up past one thread
like any other; inside a graph it does not. Measured on this project's 2-vCPU x86 VM (2026-12-05): one builtin
dynamic-range 3x3 depthwise among 8-48 float 1x1 convs that XNNPACK splits took +58..72 us at 2 threads beyond the
two parts alone (at 1 thread +0..2 us), whatever the convs' count and size (28x28x32, 14x14x64, 56x56x16);
facex's emotion model (49 such convs) ran 15.5-15.9 ms at 2 threads against 13.2-13.4 at one with XNNPACK off
altogether, while its ops alone summed 8.7 ms at 2 threads; fer's (one such depthwise) 0.27 ms against an
estimate of 0.195 without the figure. The likely cause: between two of its jobs the pool's worker has gone to
sleep (or shares its core with XNNPACK's spinning workers), and waking it costs about that much on a VM.

Measured here the same way: [1 dynamic-range depthwise among CONVS split float 1x1 convs], the convs alone and the
depthwise alone at T threads, interleaved rounds, medians; the excess per depthwise three times, fresh interpreters
each (fresh threads, placed anew by the OS), the median.
"""

from __future__ import annotations

import statistics

import numpy as np

from edgekit.calibrate.handover import hybrid_depthwise
from edgekit.calibrate.microbench import conv_options
from edgekit.core.progress import status
from edgekit.core.tflite_builder import TFLiteBuilder

SHAPE = (1, 28, 28, 32)  # a 1x1 conv of it: 784 rows, split past one thread
CONVS = 16
ROUNDS = 5
MAX_US = 1e4  # a measurement beyond this is a disturbed machine, not a figure


def pool_chain(convs: int, depthwise: bool, seed: int = 0, shape: tuple[int, int, int, int] = SHAPE) -> bytes:
    """``convs`` float 1x1 convs (XNNPACK splits them), with one builtin dynamic-range 3x3 depthwise (float input,
    int8 weights: XNNPACK refuses it) in their middle when ``depthwise``; either part alone."""
    if convs <= 0 and not depthwise:
        raise ValueError("a pool chain has convs, the depthwise, or both")
    rng = np.random.default_rng(seed)
    c = shape[3]
    b = TFLiteBuilder("edgekit calibrate: LiteRT's thread pool among XNNPACK's")
    x = b.tensor("input", shape, "float32")
    cur = x
    for i in range(convs + (1 if depthwise else 0)):
        if depthwise and i == convs // 2:
            cur = hybrid_depthwise(b, cur, f"dw{i}", rng.uniform(0.002, 0.02, c).astype(np.float32), rng)
            continue
        out = b.tensor(f"t{i}", shape, "float32")
        w = b.constant(f"w{i}", rng.normal(0, 0.1, (c, 1, 1, c)).astype(np.float32))
        b.operator("CONV_2D", [cur, w, b.constant(f"b{i}", np.zeros(c, np.float32))], [out],
                   conv_options(1, 1, "RELU6", False))
        cur = out
    return b.build([x], [cur])


def pool_excess_us(threads: int, target_s: float = 0.06) -> float:
    """What the chain with the depthwise takes at ``threads`` beyond the convs' chain and the depthwise alone (us)."""
    from edgekit.calibrate.runner import _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    rng = np.random.default_rng(0)
    interps = []
    for convs, dw in ((CONVS, True), (CONVS, False), (0, True)):
        interp = load_interpreter(pool_chain(convs, dw), num_threads=threads, use_xnnpack=True)
        interp.set_tensor(interp.get_input_details()[0]["index"], rng.uniform(-1, 1, SHAPE).astype(np.float32))
        interps.append(interp)
    rounds = [[_time_invokes(it, target_s, min_runs=20)[0] for it in interps] for _ in range(ROUNDS)]
    both, convs_ms, dw_ms = (statistics.median(r[i] for r in rounds) for i in range(3))
    return (both - convs_ms - dw_ms) * 1000.0


def measure_builtin_pool(top: int) -> tuple[float, ...]:
    """The excess per builtin convolution at each thread count from 1 (0.0) to ``top`` (us, the median of three).

    Each measurement makes fresh interpreters, so fresh threads the OS places anew (:mod:`edgekit.benchthreads`):
    not a burst that only adds, but another placement. Sixteen in a row here gave 64-95 us (2026-12-06); ten
    calibrations keeping the lower of two got 67-80, one 35 (facex's and fer's 2-thread estimates -12% with it)."""
    figures = [0.0]
    for t in range(2, top + 1):
        excess = statistics.median(pool_excess_us(t) for _ in range(3))
        figures.append(round(min(MAX_US, max(0.0, excess)), 2))
    if top >= 2:
        status(f"calibrate: LiteRT's own multi-threaded convolutions in a graph: +{', '.join(f'{f:.0f}' for f in figures[1:])} "
               f"us each beyond their time alone (2..{top} threads)")
    return tuple(figures)


__all__ = ["CONVS", "measure_builtin_pool", "pool_chain", "pool_excess_us"]
