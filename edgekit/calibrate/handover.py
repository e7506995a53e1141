"""The hand-over slow-down of a builtin dynamic-range depthwise after XNNPACK's 1x1 dynamic-range conv.

Measured on this project's x86 host (docs/BENCHMARKS.md, "Dynamic-range and float16 files"): LiteRT's builtin
hybrid DEPTHWISE_CONV_2D (XNNPACK refuses it) runs 2.2-2.6x its time alone when a 1x1 hybrid CONV_2D that XNNPACK
runs feeds it (MobileNet's expand -> depthwise), and at its time alone after a 3x3 hybrid conv, a float conv or
another builtin op. The conv's kernel leaves state behind that the depthwise's kernel pays for (on x86: any AVX
code in between, such as one numpy operation, removes the slow-down: 2.44 -> 0.85 ms), so it is measured where
it happens, not modelled: the pair and each op alone, in one process, interleaved rounds; the factor is
``(t_pair - t_conv) / t_depthwise``, 1.0 where there is no such effect. The estimator multiplies such a
depthwise's time by it (``[runtime] hybrid_handover_factor``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from edgekit.calibrate.microbench import conv_options
from edgekit.core.tflite_builder import Quant, TFLiteBuilder

SHAPE = (1, 56, 56, 144)  # MobileNetV2's block 2: expand output -> 3x3 depthwise
FACTOR_RANGE = (1.0, 10.0)


def clear_vector_state(scratch: np.ndarray) -> None:
    """One short AVX operation (numpy's vector loop: ``scratch`` of 256+ float32): on x86 it clears the vector
    registers' upper halves a previous kernel may have left dirty (16 floats run numpy's scalar loop and do not)."""
    np.multiply(scratch, 1.0, out=scratch)


def hybrid_depthwise(b: TFLiteBuilder, x: int, name: str, scales: np.ndarray, rng: np.random.Generator) -> int:
    """Append a 3x3 dynamic-range DEPTHWISE_CONV_2D (float in and out, int8 per-channel weights: XNNPACK refuses
    it, LiteRT's builtin kernel runs it) reading ``x``; returns its output."""
    shape = b.shape(x)
    c = shape[3]
    w = b.constant(f"{name}_w", rng.integers(-127, 127, (1, 3, 3, c), endpoint=True).astype(np.int8),
                   quant=Quant.per_channel(scales, axis=3))
    out = b.tensor(f"{name}_out", shape, "float32")
    b.operator("DEPTHWISE_CONV_2D", [x, w, b.constant(f"{name}_b", np.zeros(c, np.float32))], [out],
               conv_options(3, 1, "RELU6", True), version=4)
    return out


def handover_models(conv: bool, depthwise: bool, seed: int = 0, weight_scale: float | None = None) -> bytes:
    """A 1x1 hybrid CONV_2D, a 3x3 hybrid DEPTHWISE_CONV_2D, or the conv feeding the depthwise (float I/O)."""
    if not (conv or depthwise):
        raise ValueError("a hand-over model has the conv, the depthwise, or both")
    rng = np.random.default_rng(seed)
    c = SHAPE[3]
    scales = (rng.uniform(0.002, 0.02, c) if weight_scale is None else np.full(c, weight_scale)).astype(np.float32)
    b = TFLiteBuilder("edgekit calibrate: hybrid hand-over")
    x = b.tensor("input", SHAPE, "float32")
    cur = x
    if conv:
        w = b.constant("cw", rng.integers(-127, 127, (c, 1, 1, c), endpoint=True).astype(np.int8),
                       quant=Quant.per_channel(scales, axis=0))
        y = b.tensor("conv_out", SHAPE, "float32")
        b.operator("CONV_2D", [cur, w, b.constant("cb", np.zeros(c, np.float32))], [y],
                   conv_options(1, 1, "RELU6", False), version=2)
        cur = y
    if depthwise:
        cur = hybrid_depthwise(b, cur, "dw", scales, rng)
    return b.build([x], [cur])


def measure_hybrid_handover(rounds: int = 21, invokes: int = 8, weight_scale: float | None = None) -> float:
    """The depthwise's time right after the conv over its time alone (1 thread, XNNPACK on), in FACTOR_RANGE.

    The depthwise alone is timed after a numpy operation each time: on x86 the slow-down is state the conv's
    kernel leaves behind (vector registers' upper halves; any AVX code such as numpy's clears it), and a
    depthwise timed right after another run of the conv would carry it too."""
    from edgekit.tflite.runtime import load_interpreter

    rng = np.random.default_rng(0)
    interps = {}
    for key, (conv, dw) in {"conv": (True, False), "dw": (False, True), "pair": (True, True)}.items():
        interp = load_interpreter(handover_models(conv, dw, weight_scale=weight_scale), num_threads=1,
                                  use_xnnpack=True)
        interp.set_tensor(interp.get_input_details()[0]["index"], rng.uniform(-1, 1, SHAPE).astype(np.float32))
        interp.invoke()
        interps[key] = interp
    scratch = np.ones(1024, np.float32)
    times: dict[str, list[float]] = {k: [] for k in interps}
    for _ in range(rounds):  # interleaved: a slow moment of a shared machine hits all three alike
        for key, interp in interps.items():
            samples = []
            for _ in range(invokes):
                clear_vector_state(scratch)  # the same starting state for every timed invoke
                t0 = time.perf_counter()
                interp.invoke()
                samples.append(time.perf_counter() - t0)
            times[key].append(statistics.median(samples))
    t_conv, t_dw, t_pair = (statistics.median(times[k]) for k in ("conv", "dw", "pair"))
    factor = (t_pair - t_conv) / t_dw if t_dw > 0 else 1.0
    return float(min(FACTOR_RANGE[1], max(FACTOR_RANGE[0], factor)))
