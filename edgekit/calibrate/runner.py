"""Run the micro-benchmark suite on this machine (measured figures only; fitting is in :mod:`.fit`).

Each micro model is timed with XNNPACK on at every requested thread count, and with the default
delegate off (the builtin kernels LiteRT falls back to for ops XNNPACK refuses) at one thread. The
per-op time is (median invoke time - the empty-model invoke time) / chained copies. Which (op,
dtype) pairs the delegate took is recorded from the interpreter's DELEGATE nodes.

On a machine shared with other work the wall-clock median measures the CPU share the benchmark got,
not the hardware. The fitted time is therefore the median *process CPU time* per invoke divided by
the thread count (preemption does not count in it; on an idle board at one thread it equals the wall
time). The thread speed-up is fitted from the wall-clock medians whatever the timing (at T threads the
worker threads' spin-waiting counts as CPU time: see :func:`edgekit.calibrate.fit.fit_thread_speedup`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.calibrate.blocks import BlockKind, BlockSpec, build_block
from edgekit.calibrate.handover import clear_vector_state
from edgekit.calibrate.microbench import (
    HYBRID_UINT8,
    MicroOp,
    MicroSpec,
    build_model,
    builtin_op,
    channel_sign_input,
)
from edgekit.core.progress import status
from edgekit.errors import BackendError
from edgekit.profile.signs import SIGNS_KEY

# below this an op's time is not resolvable from the invoke's fixed cost and the CPU clock's jitter
MIN_OP_MS = 0.0005


@dataclass(frozen=True)
class Measurement:
    """One micro model at one thread count and engine: measured time and the cost model's features."""

    name: str
    op: str  # builtin op name, e.g. CONV_2D
    op_class: str  # OpClass value
    dtype: str  # compute dtype: float32 | int8
    threads: int
    xnnpack: bool
    delegated: bool  # what the runtime did (DELEGATE nodes)
    model_delegated: bool  # what the estimator's delegate model believes
    partitions: int
    repeat: int
    median_ms: float  # whole invoke
    min_ms: float
    per_op_ms: float  # (1 thread: process CPU time; T > 1 or wall: wall clock - empty invoke) / repeat
    macs: int  # per op
    bytes: int  # per op
    weight_bytes: int  # per op
    op_key: str = ""  # the estimator's [op_efficiency] key when it differs from ``op`` (e.g. DEPTHWISE_CONV_2D_K7)
    gemm: tuple[int, int, int, int] = (0, 0, 0, 0)  # (M, N, Cin, taps) of a CONV_2D / FULLY_CONNECTED, else zeros
    elements: int = 0  # a dynamic-range op's float input + output elements (costs.hybrid_elements), else 0
    input_elements: int = 0  # of which its input's (costs.hybrid_input_elements)
    rows: int = 0  # per op: its kernel's rows (edgekit.profile.rows, however wide), 0 for ops without
    row_width: int = 0  # elements per row
    pointer_bytes: int = 0  # XNNPACK indirection pointers a CONV_2D reads per call (edgekit.profile.indirection)

    @property
    def hybrid(self) -> bool:
        """A dynamic-range op (float activations, int8 weights): only its own per-op figure is fitted on it."""
        return self.op_key.endswith(("_HYBRID", "_HYBRID_BUILTIN"))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MemoryProbe:
    """Measured peak RSS of one micro model in a fresh process."""

    name: str
    dtype: str
    model_peak_rss_bytes: int
    weight_bytes: int
    activation_bytes: int  # sum of non-constant tensors (the arena is at most this)
    file_bytes: int


def suite(budget_s: float) -> list[MicroSpec]:
    """The specs to measure, most informative first (a short budget measures a prefix of every class)."""
    C, D = MicroOp.CONV_2D, MicroOp.DEPTHWISE_CONV_2D
    core: list[tuple[MicroOp, dict[str, int]]] = [
        (C, dict(h=28, w=28, c=64, cout=64, kernel=1, repeat=4)),
        (C, dict(h=28, w=28, c=32, cout=32, kernel=3, repeat=2)),
        (C, dict(h=14, w=14, c=512, cout=512, kernel=1, repeat=2)),
        (C, dict(h=56, w=56, c=128, cout=128, kernel=1)),
        (C, dict(h=16, w=16, c=16, cout=16, kernel=3, repeat=4)),
        (C, dict(h=8, w=8, c=32, cout=32, kernel=1, repeat=4)),
        (D, dict(h=56, w=56, c=64, kernel=3, repeat=4)),
        (D, dict(h=16, w=16, c=32, kernel=3, repeat=4)),
        (D, dict(h=28, w=28, c=40, kernel=7, repeat=2)),
        (D, dict(h=28, w=28, c=72, kernel=5, repeat=2)),
        (MicroOp.FULLY_CONNECTED, dict(h=1, w=1, c=1024, cout=1000)),
        (MicroOp.ADD, dict(h=28, w=28, c=64, repeat=4)),
        (MicroOp.ADD_RELU, dict(h=28, w=28, c=64, repeat=4)),  # a residual add with its RELU: ADD_ACT
        (MicroOp.MUL_BROADCAST, dict(h=28, w=28, c=64, repeat=4)),
        (MicroOp.AVERAGE_POOL_2D, dict(h=28, w=28, c=64, kernel=3, stride=1)),
        (MicroOp.MAX_POOL_2D, dict(h=56, w=56, c=32, kernel=3, stride=2)),
        (MicroOp.MEAN, dict(h=14, w=14, c=256)),
        (MicroOp.SOFTMAX, dict(h=1, w=1, c=1000, repeat=2)),
        (MicroOp.HARD_SWISH, dict(h=28, w=28, c=32, repeat=2)),
        (MicroOp.LOGISTIC, dict(h=28, w=28, c=32)),  # one: int8 lookups fuse (MicroSpec)
        (MicroOp.RELU, dict(h=28, w=28, c=64)),  # one: XNNPACK fuses a RELU into the op before it
        (MicroOp.ADD, dict(h=112, w=112, c=32, repeat=2)),
        (MicroOp.MUL_BROADCAST, dict(h=56, w=56, c=144, repeat=2)),
        (MicroOp.CONCATENATION, dict(h=28, w=28, c=64)),
        (MicroOp.PAD, dict(h=56, w=56, c=32)),
        (MicroOp.RESIZE_BILINEAR, dict(h=14, w=14, c=64)),
    ]
    extra: list[tuple[MicroOp, dict[str, int]]] = [
        (C, dict(h=56, w=56, c=32, cout=64, kernel=1)),
        # shallow and narrow 1x1 convs (Cin 16-24, Cout not a multiple of the SIMD tile): GEMM-shape fit
        (C, dict(h=56, w=56, c=16, cout=96, kernel=1)),
        (C, dict(h=56, w=56, c=96, cout=24, kernel=1)),
        (C, dict(h=28, w=28, c=24, cout=72, kernel=1)),
        (C, dict(h=14, w=14, c=40, cout=120, kernel=1, repeat=1)),
        (C, dict(h=14, w=14, c=256, cout=256, kernel=1, repeat=2)),
        (C, dict(h=7, w=7, c=512, cout=512, kernel=1, repeat=2)),
        (C, dict(h=28, w=28, c=256, cout=256, kernel=1)),
        (C, dict(h=7, w=7, c=1024, cout=1024, kernel=1, repeat=2)),
        (C, dict(h=28, w=28, c=128, cout=128, kernel=3)),
        (D, dict(h=14, w=14, c=512, kernel=3, repeat=2)),
        (D, dict(h=28, w=28, c=256, kernel=3, repeat=2)),
        (C, dict(h=56, w=56, c=64, cout=64, kernel=3)),
        (C, dict(h=14, w=14, c=128, cout=128, kernel=3, repeat=2)),
        (C, dict(h=56, w=56, c=32, cout=64, kernel=3, stride=2)),
        (C, dict(h=112, w=112, c=3, cout=32, kernel=3, stride=2)),
        (C, dict(h=28, w=28, c=32, cout=32, kernel=5)),
        (C, dict(h=56, w=56, c=3, cout=64, kernel=7, stride=2)),
        (D, dict(h=112, w=112, c=32, kernel=3, repeat=2)),
        (D, dict(h=14, w=14, c=256, kernel=3, repeat=4)),
        (D, dict(h=28, w=28, c=128, kernel=5, repeat=2)),
        (D, dict(h=56, w=56, c=96, kernel=3, stride=2)),
        # larger depthwise kernels (XNNPACK: unipass up to 25 taps, multipass beyond) at several widths,
        # some not a multiple of the SIMD tile
        (D, dict(h=56, w=56, c=16, kernel=7, repeat=2)),
        (D, dict(h=14, w=14, c=96, kernel=7, repeat=2)),
        (D, dict(h=7, w=7, c=320, kernel=7, repeat=4)),
        (D, dict(h=56, w=56, c=24, kernel=5, repeat=2)),
        (D, dict(h=14, w=14, c=200, kernel=5, repeat=2)),
        (D, dict(h=7, w=7, c=576, kernel=5, repeat=4)),
        (D, dict(h=28, w=28, c=40, kernel=3, repeat=2)),
        (D, dict(h=56, w=56, c=24, kernel=3, repeat=2)),
        (MicroOp.FULLY_CONNECTED, dict(h=1, w=1, c=256, cout=128)),
        (MicroOp.FULLY_CONNECTED, dict(h=1, w=1, c=2048, cout=1000)),
        (MicroOp.ADD, dict(h=56, w=56, c=24, repeat=4)),
        (MicroOp.HARD_SWISH, dict(h=112, w=112, c=16, repeat=2)),
        (MicroOp.LOGISTIC, dict(h=56, w=56, c=96)),
        (D, dict(h=112, w=112, c=96, kernel=3, stride=2)),
        (MicroOp.PAD, dict(h=112, w=112, c=64)),
        (MicroOp.MIRROR_PAD, dict(h=56, w=56, c=32)),
        (MicroOp.MIRROR_PAD, dict(h=28, w=28, c=64)),
        (MicroOp.ADD, dict(h=7, w=7, c=256, repeat=4)),
        (MicroOp.MUL, dict(h=28, w=28, c=64, repeat=4)),
        (MicroOp.ADD_RELU, dict(h=112, w=112, c=8, repeat=2)),
        (MicroOp.MUL_RELU, dict(h=28, w=28, c=64, repeat=4)),
        (MicroOp.MUL_BROADCAST, dict(h=14, w=14, c=256, repeat=4)),
        (MicroOp.AVERAGE_POOL_2D, dict(h=56, w=56, c=32, kernel=2, stride=2)),
        # a 1x1 window with a stride: LiteRT's builtin pool, per input pixel and element (POOL_INPUTS_KEY)
        (MicroOp.AVERAGE_POOL_2D, dict(h=112, w=112, c=8, kernel=1, stride=2)),
        (MicroOp.AVERAGE_POOL_2D, dict(h=56, w=56, c=64, kernel=1, stride=2)),
        (MicroOp.AVERAGE_POOL_2D, dict(h=14, w=14, c=512, kernel=1, stride=2)),
        (MicroOp.MAX_POOL_2D, dict(h=28, w=28, c=64, kernel=3, stride=1)),
        (MicroOp.MEAN, dict(h=7, w=7, c=1024)),
        (MicroOp.HARD_SWISH, dict(h=14, w=14, c=96, repeat=2)),
        (MicroOp.LOGISTIC, dict(h=14, w=14, c=96)),
        (MicroOp.CONCATENATION, dict(h=14, w=14, c=128)),
        (MicroOp.RELU, dict(h=56, w=56, c=32)),
        (MicroOp.PAD, dict(h=28, w=28, c=64)),
        (MicroOp.RESIZE_BILINEAR, dict(h=28, w=28, c=32)),
        # transposed convolutions (segmentation and super-resolution decoders): XNNPACK's deconvolution runs at
        # a third of its conv's rate here, so they get their own figure instead of borrowing the conv one (narrow
        # outputs, the 1-channel masks of segmenters, are edgekit.calibrate.narrow's)
        (MicroOp.TRANSPOSE_CONV, dict(h=64, w=64, c=32, cout=16, kernel=2, stride=2)),
        (MicroOp.TRANSPOSE_CONV, dict(h=32, w=32, c=64, cout=64, kernel=2, stride=2)),
        (MicroOp.TRANSPOSE_CONV, dict(h=32, w=32, c=32, cout=16, kernel=3, stride=2)),
        (MicroOp.TRANSPOSE_CONV, dict(h=16, w=16, c=128, cout=64, kernel=4, stride=2)),
    ]
    chosen = core + (extra if budget_s >= 30 else [])
    specs = [MicroSpec(op, dtype, **kw) for op, kw in chosen for dtype in ("float32", "int8")]
    # the builtin int8 RELU again on activations whose signs follow their channels (RELU_CHANNEL_SIGNS), at the
    # shapes of its random-sign benchmarks: the two ends of what its clamp costs (edgekit.profile.signs)
    specs += [MicroSpec(MicroOp.RELU_CHANNEL_SIGNS, "int8", **kw) for op, kw in chosen if op is MicroOp.RELU]
    if budget_s >= 30:
        # dynamic-range ("hybrid") weight ops: their own per-op figures (edgekit.profile.costs.hybrid_op)
        specs += [MicroSpec(op, "hybrid", **kw) for op, kw in HYBRID_SPECS]
        # the convolutions again with TF1's uint8 weights: XNNPACK refuses them, LiteRT's builtin kernel for them
        # is its own figure (CONV_2D_UINT8_HYBRID_BUILTIN)
        specs += [MicroSpec(op, HYBRID_UINT8, **kw) for op, kw in [*HYBRID_SPECS, *UINT8_EXTRA_SPECS]
                  if op is MicroOp.CONV_2D]
    return specs


# the uint8-weight kernel's cost per input element shows in a conv of many input channels to few (MobileNetV2's
# projections): its figures (edgekit.calibrate.fit.fit_uint8_element_macs) need one such
UINT8_EXTRA_SPECS: list[tuple[MicroOp, dict[str, int]]] = [(MicroOp.CONV_2D, dict(h=56, w=56, c=144, cout=24, kernel=1))]
# shapes of the hybrid micro-benchmarks: MobileNet-like 1x1 and 3x3 convs, depthwise at three sizes, a classifier
HYBRID_SPECS: list[tuple[MicroOp, dict[str, int]]] = [
    (MicroOp.CONV_2D, dict(h=56, w=56, c=64, cout=64, kernel=1)),
    (MicroOp.CONV_2D, dict(h=112, w=112, c=16, cout=96, kernel=1)),
    (MicroOp.CONV_2D, dict(h=14, w=14, c=256, cout=256, kernel=1, repeat=2)),
    (MicroOp.CONV_2D, dict(h=28, w=28, c=64, cout=64, kernel=3)),
    # depthwise alone, not chained: a hybrid depthwise right after another runs slower (the state one leaves for
    # the next, edgekit.calibrate.handover), which the chain would fold into the per-op figure
    (MicroOp.DEPTHWISE_CONV_2D, dict(h=112, w=112, c=32, kernel=3)),
    (MicroOp.DEPTHWISE_CONV_2D, dict(h=28, w=28, c=128, kernel=3)),
    (MicroOp.DEPTHWISE_CONV_2D, dict(h=14, w=14, c=512, kernel=3)),
    (MicroOp.FULLY_CONNECTED, dict(h=1, w=1, c=1024, cout=1000)),
]


def _features(data: bytes, op_name: str) -> tuple[str, str, int, int, int, dict[str, int]]:
    """(op class, compute dtype, MACs, bytes, weight bytes per op, tensor summary) from the cost model."""
    from edgekit.profile.arena import Strategy, plan_arena
    from edgekit.profile.costs import graph_costs, hybrid_input_elements, hybrid_op
    from edgekit.profile.rows import narrow_rows
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "<micro-benchmark>")
    costs = [c for c in graph_costs(model.main) if c.op == op_name]
    if not costs:
        raise BackendError(f"micro-benchmark model has no {op_name} op (an edgekit bug).")
    n = len(costs)
    activations = plan_arena(model.main, Strategy.BEST_FIT, 64).arena_bytes
    summary = {"weight_bytes": int(model.weight_bytes), "activation_bytes": int(activations), "file_bytes": len(data)}
    from edgekit.profile.delegate import xnnpack_placement
    from edgekit.profile.indirection import TIMED_OPS, op_indirection_bytes
    from edgekit.profile.opfigures import kernel_work, pool_inputs, pool_outputs

    ops = [op for op in model.main.operators if op.name == op_name]
    summary["model_delegated"] = int(all(xnnpack_placement(model.main, op).delegated for op in ops))
    rows = narrow_rows(model.main, ops[0], 1 << 30)  # every row, however wide: the fit decides what is narrow
    out_elements = model.main.tensor(ops[0].outputs[0]).num_elements
    summary["rows"], summary["row_width"] = rows, (out_elements // rows if rows else 0)
    summary["pool_outputs"] = pool_outputs(model.main, ops[0])  # the work of a builtin int8 average pool
    # the work the estimator counts where XNNPACK runs it and where LiteRT's builtin kernel does (0: its MACs)
    summary["work_delegated"] = kernel_work(model.main, ops[0], True)[1]
    summary["work_builtin"] = kernel_work(model.main, ops[0], False)[1]
    # the builtin float pool over a 1x1 window: its input pixels are its rows
    summary["pool_input_pixels"], summary["pool_input_elements"] = pool_inputs(model.main, ops[0])
    summary["pointer_bytes"] = op_indirection_bytes(model.main, ops[0]) if op_name in TIMED_OPS else 0
    summary["input_elements"] = hybrid_input_elements(model.main, ops[0]) if hybrid_op(model.main, ops[0]) else 0
    # data movement has no MACs: its output elements are the work its per-op efficiency is fitted on (OpCost)
    return (costs[0].op_class.value, costs[0].compute_dtype, sum(c.macs or c.moved_elements for c in costs) // n,
            sum(c.bytes for c in costs) // n, sum(c.weight_bytes for c in costs) // n, summary)


def _op_key(data: bytes, op_name: str, delegated: bool = True) -> tuple[str, tuple[int, int, int, int], int]:
    """The estimator's efficiency key of the benchmarked op ("" when it is the op name) placed as ``delegated``
    says, its GEMM shape, and (a dynamic-range op) the float elements it converts per call."""
    from edgekit.profile.costs import hybrid_elements, hybrid_op
    from edgekit.profile.estimator import efficiency_key, gemm_shape
    from edgekit.tflite.model import parse_model

    sg = parse_model(data, "<micro-benchmark>").main
    op = next(o for o in sg.operators if o.name == op_name)
    key = efficiency_key(sg, op, delegated)
    elements = hybrid_elements(sg, op) if hybrid_op(sg, op) else 0
    return ("" if key == op_name else key), (gemm_shape(sg, op) or (0, 0, 0, 0)), elements


def _time_invokes(interp: Any, target_s: float, min_runs: int = 5, max_runs: int = 400,
                  channel_signs: bool = False) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median process-CPU ms) of repeated invokes, after two warm-ups; inputs
    random, or with ``channel_signs`` int8 values whose sign is their channel's (:func:`channel_sign_input`)."""
    rng = np.random.default_rng(0)
    for d in interp.get_input_details():
        dtype = np.dtype(d["dtype"])
        if channel_signs and dtype == np.int8:
            arr = channel_sign_input(tuple(d["shape"]), rng)
        elif dtype.kind == "f":
            arr = rng.uniform(-1, 1, d["shape"]).astype(dtype)
        else:
            arr = rng.integers(-128, 127, d["shape"], endpoint=True).astype(dtype)
        interp.set_tensor(d["index"], arr)
    interp.invoke()
    interp.invoke()
    samples: list[float] = []
    cpu: list[float] = []
    clock = time.perf_counter
    cpu_clock = time.process_time
    scratch = np.ones(1024, np.float32)
    start = clock()
    while len(samples) < max_runs and (len(samples) < min_runs or clock() - start < target_s):
        # every op from the same state: on x86 some XNNPACK kernels leave vector state behind that slows the
        # builtin kernel after them 1.6-2.9x until AVX code runs (edgekit.calibrate.handover). Without it a hybrid
        # depthwise measured after the hybrid convs came out 1.8x slower.
        clear_vector_state(scratch)
        c0 = cpu_clock()
        t0 = clock()
        interp.invoke()
        t1 = clock()
        cpu.append((cpu_clock() - c0) * 1e3)
        samples.append((t1 - t0) * 1e3)
    return float(np.median(samples)), float(min(samples)), float(np.median(cpu))


def _empty_spec() -> MicroSpec:
    return MicroSpec(MicroOp.RELU, "float32", 1, 1, 1)


def measure_suite(
    specs: Sequence[MicroSpec],
    threads: Sequence[int],
    budget_s: float,
    wall: bool = False,
    builtin: bool = True,
) -> tuple[list[Measurement], dict[str, float]]:
    """Measure ``specs`` at ``threads`` (XNNPACK on) and at 1 thread with the delegate off (``builtin``), within
    ``budget_s``.

    Returns the measurements and the empty-model invoke overhead per engine in microseconds. ``wall``: per-op
    times from the wall-clock median (a quiet machine) instead of the process CPU time per invoke / threads.
    """
    from edgekit.tflite.runtime import delegation_summary, load_interpreter
    deadline = time.monotonic() + budget_s
    # each spec is measured len(threads) + 1 times; leave ~25% of the budget for loading and building
    per_config_s = max(0.01, min(0.25, 0.75 * budget_s / max(1, len(specs) * (len(threads) + 1))))
    empty = build_model(_empty_spec())
    overhead_us: dict[str, float] = {}
    for xnn in (True, False):
        interp = load_interpreter(empty, num_threads=1, use_xnnpack=xnn)
        med, _, cpu_med = _time_invokes(interp, 0.05, min_runs=50)
        overhead_us["xnnpack" if xnn else "builtin"] = med * 1e3
        overhead_us["cpu_xnnpack" if xnn else "cpu_builtin"] = cpu_med * 1e3
    out: list[Measurement] = []
    configs: list[tuple[int, bool]] = [(t, True) for t in threads] + ([(1, False)] if builtin else [])
    for i, spec in enumerate(specs):
        if time.monotonic() > deadline:
            status(f"calibrate: budget reached after {i}/{len(specs)} micro-benchmarks")
            break
        data = build_model(spec, seed=i)
        op_name = builtin_op(spec.op)
        op_class, cdtype, macs, nbytes, wbytes, summary = _features(data, op_name)
        keys = {xnn: _op_key(data, op_name, xnn and bool(summary["model_delegated"])) for xnn in (True, False)}
        if spec.op is MicroOp.RELU_CHANNEL_SIGNS:  # its own figure (edgekit.profile.signs)
            keys = {xnn: (SIGNS_KEY, *keys[xnn][1:]) for xnn in keys}
        for t, xnn in configs:
            key, gemm, elements = keys[xnn]  # the estimator's key where this run placed the op
            interp = load_interpreter(data, num_threads=t, use_xnnpack=xnn)
            parts = delegation_summary(interp)[0]
            delegated = parts > 0
            med, mn, cpu_med = _time_invokes(interp, per_config_s,
                                             channel_signs=spec.op is MicroOp.RELU_CHANNEL_SIGNS)
            engine = "xnnpack" if xnn else "builtin"
            # one thread: process CPU time per invoke, immune to other processes taking the CPU. wall=True (a quiet
            # machine), and always at T > 1 threads: the wall-clock median, what `edgekit bench` reports (the
            # process CPU clock of a short invoke misses the worker threads' time between scheduler ticks: its
            # median was ~half the work, a 2-thread conv "4x" faster than at 1 thread)
            if wall or t > 1:
                base, value = overhead_us[engine] / 1e3, med
            else:
                base, value = overhead_us["cpu_" + engine] / 1e3, cpu_med
            out.append(Measurement(
                name=spec.name, op=op_name, op_class=op_class, dtype=cdtype, threads=t, xnnpack=xnn,
                delegated=delegated, model_delegated=bool(summary["model_delegated"]), partitions=parts, repeat=spec.repeat, median_ms=med, min_ms=mn,
                per_op_ms=max(MIN_OP_MS, (value - base) / spec.repeat),
                macs=_work_of(delegated and bool(summary["model_delegated"]), macs, summary), bytes=nbytes, weight_bytes=wbytes, op_key=key, gemm=gemm,
                elements=elements, input_elements=summary["input_elements"], **_rows_of(key, summary),
                pointer_bytes=summary["pointer_bytes"] if xnn and summary["model_delegated"] else 0,
            ))
            del interp
        status(f"calibrate: {i + 1}/{len(specs)} {spec.name}: "
            + ", ".join(f"{m.threads}t{'' if m.xnnpack else ' builtin'} {m.per_op_ms:.4f} ms/op"
                        for m in out[-len(configs):]))
    return out, overhead_us


def _work_of(delegated: bool, macs: int, summary: dict[str, int]) -> int:
    """The work the estimator charges the benchmarked op where this run placed it
    (:func:`edgekit.profile.opfigures.kernel_work`), else its MACs."""
    return summary["work_delegated" if delegated else "work_builtin"] or macs


def _rows_of(key: str, summary: dict[str, int]) -> dict[str, int]:
    """The kernel rows of the benchmarked op as the estimator counts them (:func:`edgekit.profile.rows.charged_rows`):
    a builtin float 1x1-window pool's input pixels, else every row however wide."""
    from edgekit.profile.opfigures import POOL_INPUTS_KEY
    if key == POOL_INPUTS_KEY:
        pixels = summary["pool_input_pixels"]
        return {"rows": pixels, "row_width": summary["pool_input_elements"] // max(1, pixels)}
    return {"rows": summary["rows"], "row_width": summary["row_width"]}


# a micro-benchmark whose speed-up at the top thread count is below this share of the median one is timed again
LOW_SCALING = 0.8


# micro-benchmarks of at least this many ms per op at one thread tell a kernel's speed-up past one thread (below it
# the hand-over to the worker threads weighs in)
SCALING_MIN_OP_MS = 0.02


def speedup_ratios(ms: Sequence[Measurement], top: int) -> dict[str, float]:
    """Spec name -> one-thread / ``top``-thread wall-clock median (XNNPACK on), for ops of SCALING_MIN_OP_MS+."""
    one = {m.name: m.median_ms for m in ms if m.xnnpack and m.threads == 1 and m.per_op_ms >= SCALING_MIN_OP_MS}
    return {m.name: one[m.name] / m.median_ms for m in ms
            if m.xnnpack and m.threads == top and m.name in one and m.median_ms > 0}


def retime_poor_scaling(ms: list[Measurement], specs: Sequence[MicroSpec], threads: Sequence[int], budget_s: float,
                        wall: bool = False) -> tuple[list[Measurement], int]:
    """Time again, at 1 and the top thread count, the micro-benchmarks that sped up less than :data:`LOW_SCALING`
    of the median; keep, per thread count, the lesser time of the two (measurements, how many were timed again).

    A burst on the other core during a multi-thread run only slows it: on this project's 2-vCPU VM one window
    took a row of depthwise runs to a speed-up of ~1.0 where the same shapes ran 1.5-1.9 a minute later, which
    would have made their kernels "single-threaded" in ``[thread_scaling]``. Kernels that do not scale (LiteRT's
    builtin dynamic-range convolutions, refused ops) come out as low again and cost one more timing each. The lesser
    time per thread count, not the pair with the larger speed-up: a burst during the one-thread run raises the
    speed-up, and that pair had kept a narrow transposed convolution's disturbed 0.64 ms (0.44 in every other
    timing), its row figure 6.3 ns where other calibrations fitted 0.6-3.5 (the selfie segmenter +20%)."""
    top = max(threads) if threads else 1
    if top < 2:
        return ms, 0
    ratios = speedup_ratios(ms, top)
    if not ratios:
        return ms, 0
    typical = float(np.median(list(ratios.values())))
    low = {name for name, r in ratios.items() if r < LOW_SCALING * typical}
    again_specs = [s for s in specs if s.name in low]
    if not again_specs:
        return ms, 0
    return retime_lesser(ms, again_specs, [1, top], budget_s, wall=wall, builtin=False), len(again_specs)


def retime_lesser(ms: list[Measurement], specs: Sequence[MicroSpec], threads: Sequence[int], budget_s: float,
                  wall: bool = False, builtin: bool = True) -> list[Measurement]:
    """``ms`` with ``specs`` timed again at ``threads`` (and with the delegate off: ``builtin``), each configuration
    keeping the lesser of its two times: a disturbance only ever slows a run."""
    again, _ = measure_suite(specs, threads, budget_s, wall=wall, builtin=builtin)
    before = {(m.name, m.threads, m.xnnpack): m.per_op_ms for m in ms}
    lesser = [m for m in again if m.per_op_ms < before.get((m.name, m.threads, m.xnnpack), float("inf"))]
    replaced = {(m.name, m.threads, m.xnnpack) for m in lesser}
    return [m for m in ms if (m.name, m.threads, m.xnnpack) not in replaced] + lesser


def memory_specs(budget_s: float) -> list[MicroSpec | BlockSpec]:
    """Models for the memory fit: a tiny one (runtime overhead), big weights (repacking), big activations,
    and (full budget) two network blocks, whose XNNPACK workspace single ops do not show."""
    specs = [
        MicroSpec(MicroOp.RELU, "float32", 1, 1, 8),
        MicroSpec(MicroOp.CONV_2D, "float32", 7, 7, 512, cout=512, kernel=3, repeat=2),
    ]
    if budget_s >= 30:
        specs += [
            MicroSpec(MicroOp.FULLY_CONNECTED, "float32", 1, 1, 2048, cout=2048),
            MicroSpec(MicroOp.CONV_2D, "int8", 7, 7, 512, cout=512, kernel=3, repeat=4),
            MicroSpec(MicroOp.CONV_2D, "float32", 112, 112, 64, cout=64, kernel=1, repeat=3),
        ]
    out: list[MicroSpec | BlockSpec] = list(specs)
    if budget_s >= 30:
        out += [BlockSpec(BlockKind.INVERTED_RESIDUAL, "float32", 56, 24), BlockSpec(BlockKind.DENSE, "int8", 28, 128)]
    return out


def _memory_summary(data: bytes) -> tuple[int, int]:
    """(weight bytes, planned arena + XNNPACK indirection bytes) of a model: what the estimator adds
    besides weights and the runtime overhead being fitted."""
    from edgekit.profile.arena import Strategy, plan_arena
    from edgekit.profile.indirection import indirection_bytes
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "<memory probe>")
    arena = int(plan_arena(model.main, Strategy.BEST_FIT, 64).arena_bytes)
    return int(model.weight_bytes), arena + indirection_bytes(model.main)


def measure_memory(specs: Sequence[MicroSpec | BlockSpec]) -> list[MemoryProbe]:
    """Peak RSS of each spec in a fresh child process (the same measurement `edgekit bench` makes)."""
    from edgekit.bench import BenchConfig, bench_isolated
    out: list[MemoryProbe] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-calibrate-") as tmp:
        for spec in specs:
            data = build_model(spec) if isinstance(spec, MicroSpec) else build_block(spec)
            path = Path(tmp) / f"{spec.name}.tflite"
            path.write_bytes(data)
            weights, arena = _memory_summary(data)
            res = bench_isolated(path, BenchConfig(threads=1, runs=3, warmup=1, warmup_s=0.0), timeout_s=120.0)  # RSS only
            out.append(MemoryProbe(spec.name, spec.dtype, res.model_peak_rss_bytes, weights, arena, len(data)))
            status(f"calibrate: memory {spec.name}: peak RSS +{res.model_peak_rss_bytes / 2**20:.1f} MiB")
            os.unlink(path)
    return out


# ---------------------------------------------------------------- blocks (estimator in the loop)


@dataclass(frozen=True)
class BlockMeasurement:
    name: str
    data: bytes = field(repr=False)
    per_block_ms: float  # one thread, a whole invoke (process CPU time, or the wall-clock median when quiet)
    partitions: int


def measure_blocks(specs: Sequence[BlockSpec], target_s: float = 0.15, wall: bool = False) -> list[BlockMeasurement]:
    """Time each block at one thread, whole invoke (process CPU time, like the single ops, or the wall-clock
    median on a quiet machine): what the estimator estimates, invoke overhead included."""
    from edgekit.tflite.runtime import delegation_summary, load_interpreter
    out: list[BlockMeasurement] = []
    for i, spec in enumerate(specs):
        data = build_block(spec, seed=i)
        interp = load_interpreter(data, num_threads=1)
        parts = delegation_summary(interp)[0]
        med, _, cpu = _time_invokes(interp, target_s, min_runs=3)
        out.append(BlockMeasurement(spec.name, data, max(1e-4, med if wall else cpu), parts))
        status(f"calibrate: block {spec.name}: {out[-1].per_block_ms:.3f} ms, {parts} delegate partition(s)")
    return out


def _estimate_ms(doc: dict[str, Any], data: bytes) -> tuple[float, int]:
    from edgekit.profile.estimator import estimate
    from edgekit.profile.registry import ProfileEntry, ProfileOrigin
    from edgekit.profile.schema import profile_from_dict
    from edgekit.tflite.model import parse_model

    profile = profile_from_dict(doc, "<calibrating>")
    est = estimate(parse_model(data, "<block>"), ProfileEntry(profile, ProfileOrigin.CALIBRATED, "<calibrating>"), 1)
    return est.latency_ms, est.delegate_partitions


def block_residuals(doc: dict[str, Any], blocks: Sequence[BlockMeasurement]) -> dict[str, float]:
    """Estimator vs measured on each block: predicted/measured - 1 (validation, not fitted)."""
    return {b.name: _estimate_ms(doc, b.data)[0] / b.per_block_ms - 1.0 for b in blocks}
