"""Least-squares fit of a device profile's figures from micro-benchmark measurements (numpy only).

The model fitted is the estimator's per-op formula (docs/DESIGN.md "The estimator", edgekit.profile.estimator)::

    t_op = max(MACs / (peak_gmacs(dtype) * 1e6 * eff[class, dtype]),
               bytes / (bandwidth_gb_s * 1e6 * memory_efficiency)) / k + per_op_overhead
    k = 1 for ops the delegate takes, builtin_kernel_factor for ops it refuses

(times in ms). Steps, each a least-squares problem on log errors (relative errors), every op weighted
by the square root of its time so the ops networks spend their time in count more than 5 us ones:

1. ``builtin_kernel_factor``: the median XNNPACK/builtin time ratio over conv/depthwise/FC ops.
2. ``eff[class, dtype]``: per class a 1-D search (the max() makes it nonlinear), inside a grid search
   over the two shared figures ``per_op_overhead`` and ``memory_efficiency`` (allowed above 1 when
   bytes-bound ops beat the measured copy bandwidth; the pipeline then writes the effective bandwidth).
   Ops the estimator's delegate model says XNNPACK refuses enter through ``k``.
3. ``op_eff[op, dtype]`` (``per_op=True``): the same 1-D search per builtin op name, measured where the
   runtime placed the op (no ``k``), which the estimator prefers over the class figure.
0. GEMM shape (``tiles`` given): CONV_2D / FULLY_CONNECTED get ``MACs`` replaced by the work of
   :func:`edgekit.profile.estimator.gemm_work` -- padded SIMD tiles (from the SIMD level, see
   ``GEMM_TILES``) and a per-output cost in MAC-equivalents, chosen per dtype from a grid as the one
   under which the one-thread conv micro-benchmarks run at the most uniform rate (least weighted
   variance of log(work / time)). Steps 2-3 then fit efficiencies on that work.
4. thread speed-up: the median wall-clock t(1)/t(T) of the compute-heavy ops, per dtype (ratios above T dropped).
5. memory: ``runtime_overhead_bytes`` and ``repack_weights`` from the peak-RSS probes.
6. narrow rows (``row_tile`` given): ``[row_ns]`` from the narrow micro-benchmarks (:mod:`.narrow`).

Residuals (pred/meas - 1 per micro-benchmark at one thread) are returned with the figures.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edgekit.calibrate.narrow import (
    BUILTIN_EVERY_WIDTH_OPS,
    EVERY_WIDTH_KEYS,
    every_key,
    fit_every_width_rows,
    fit_row_ns,
    is_narrow,
    strip_rows,
)
from edgekit.calibrate.runner import Measurement, MemoryProbe, speedup_ratios
from edgekit.profile.opfigures import POOL_INPUTS_KEY, UINT8_HYBRID_CONV, depthwise_pad_factor
from edgekit.profile.signs import SIGNS_KEY

# XNNPACK's GEMM micro-kernel tiles (output channels, input channels) per SIMD level and compute dtype
# (AVX2: f32 5x16 FMA3 kernels, QS8 3x8c8 kernels; AVX-512: f32 7x16 kernels, QS8 7x16c8 kernels -- measured
# on an AVX-512 EPYC: a 1x1 conv takes the same time for 4, 8 and 16 output channels in both dtypes, and int8
# the same for 4 and 8 input channels); other SIMD levels get no padding (tile 1), only the fitted per-output
# cost. A third figure: the output-channel tile of the spatial (IGEMM) kernels when it differs, for more output
# channels than the first tile (AVX-512 float32, 56x56x64 3x3 convs, 1 thread: 16 channels 0.531 ms, 24 and 32
# 1.06-1.08, 40 to 64 2.18, 80 and 96 3.26, 112 and 128 4.35, i.e. 32-wide above 16; its 1x1 GEMMs and every
# int8 kernel step by 16)
GEMM_TILES: dict[str, dict[str, tuple[int, ...]]] = {
    "avx2": {"float32": (16, 1), "int8": (8, 8)},
    "avx512": {"float32": (16, 1, 32), "int8": (16, 8)},
}
HYBRID_ELEMENT_GRID = (0.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0, 192.0, 256.0, 384.0, 512.0)
OUTPUT_OVERHEAD_GRID = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0)
EFF_MIN = 1e-5
MEM_EFF_MAX = 8.0
COMPUTE_CLASSES = ("conv", "depthwise_conv", "fully_connected")


@dataclass(frozen=True)
class Peaks:
    """The hardware figures the efficiencies are relative to."""

    fp32_gmacs: float  # per core
    int8_gmacs: float  # per core
    bandwidth_gb_s: float
    # the memory hierarchy (cache level sizes, their bandwidths then DRAM's); empty: one bandwidth for all
    cache_bytes: tuple[int, ...] = ()
    level_gb_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if min(self.fp32_gmacs, self.int8_gmacs, self.bandwidth_gb_s) <= 0:
            raise ValueError(f"peak figures must be positive: {self}")

    def bandwidth(self, working_set_bytes: int) -> float:
        """GB/s of the level a working set this size lives in (the estimator's ``[memory]`` rule)."""
        if not self.cache_bytes:
            return self.bandwidth_gb_s
        for size, bw in zip(self.cache_bytes, self.level_gb_s, strict=False):
            if working_set_bytes <= size:
                return bw
        return self.level_gb_s[-1]

    def gmacs(self, dtype: str) -> float:
        return self.int8_gmacs if dtype == "int8" else self.fp32_gmacs


@dataclass(frozen=True)
class FitResult:
    """The fitted figures and how well they explain the measurements."""

    efficiency: dict[str, dict[str, float]]  # dtype -> class -> efficiency
    per_op_overhead_us: float
    memory_efficiency: float
    builtin_kernel_factor: float
    thread_speedup: dict[str, list[float]]  # dtype -> [1.0, s2, ...]
    runtime_overhead_bytes: int
    repack_weights: bool
    weight_rss_factor: float
    samples: int
    rms_relative_error: float
    max_relative_error: float
    residuals: dict[str, float] = field(default_factory=dict)  # name -> relative error (pred/meas - 1)
    delegated: dict[str, bool] = field(default_factory=dict)  # "OP.dtype" -> taken by the delegate
    op_efficiency: dict[str, dict[str, float]] = field(default_factory=dict)  # dtype -> op name -> efficiency
    # dtype -> (tile_n, tile_k, output MACs, IGEMM tile_n or 0)
    gemm: dict[str, tuple[int, int, float, int]] = field(default_factory=dict)
    hybrid_element_macs: float = 0.0  # per float element a dynamic-range conv converts (Gemm.hybrid_element_macs)
    # more per input and output element on the uint8-weight kernel (Gemm.uint8_hybrid_input_macs / _output_macs)
    uint8_hybrid_element_macs: tuple[float, float] = (0.0, 0.0)
    row_ns: dict[str, dict[str, float]] = field(default_factory=dict)  # dtype -> [row_ns] key -> ns per narrow row
    row_tile: int = 0  # the channel tile the row figures are for (0: none fitted)
    every_width: tuple[str, ...] = ()  # [row_ns] keys whose figure is per row at every width (fit_every_width_rows)
    thread_scaling: dict[str, dict[str, float]] = field(default_factory=dict)  # dtype -> key -> share ([thread_scaling])
    tconv_overhead: dict[str, float] = field(default_factory=dict)  # dtype -> per output and tap ([gemm])


def predict_op_ms(m: Measurement, peaks: Peaks, eff: float, overhead_ms: float, mem_eff: float, bkf: float) -> float:
    """The estimator's per-op time (one thread) for a measured micro op under candidate figures."""
    compute = m.macs / (peaks.gmacs(m.dtype) * 1e6 * max(eff, EFF_MIN)) if m.macs else 0.0
    memory = m.bytes / (peaks.bandwidth(m.bytes) * 1e6 * mem_eff)
    # the estimator decides placement with its delegate model, so the fit uses the same belief
    k = 1.0 if (m.model_delegated and m.xnnpack) else bkf
    # a convolution's indirection pointers, read on every call on top of its work (edgekit.profile.indirection)
    pointers = m.pointer_bytes / (peaks.bandwidth(m.pointer_bytes) * 1e6 * mem_eff) if m.pointer_bytes else 0.0
    return max(compute, memory) / k + pointers + overhead_ms


def fit_builtin_factor(ms: Sequence[Measurement]) -> float:
    """Median of t_xnnpack / t_builtin over the (spec) pairs the delegate took (1 thread), clamped to (0, 1]."""
    xnn = {m.name: m for m in ms if m.xnnpack and m.threads == 1 and m.delegated}
    ratios = [xnn[m.name].per_op_ms / m.per_op_ms for m in ms
              if not m.xnnpack and m.name in xnn and m.per_op_ms > 0 and xnn[m.name].op_class in COMPUTE_CLASSES]
    if not ratios:
        ratios = [xnn[m.name].per_op_ms / m.per_op_ms for m in ms if not m.xnnpack and m.name in xnn and m.per_op_ms > 0]
    if not ratios:
        return 0.5
    return min(1.0, max(0.01, float(np.median(ratios))))


_EFF_GRID = np.exp(np.linspace(math.log(EFF_MIN), 0.0, 300))


def _class_arrays(ms: Sequence[Measurement], peaks: Peaks, bkf: float) -> tuple[np.ndarray, ...]:
    """Per op: compute ms at efficiency 1 (already divided by k), memory bytes / k, log(measured ms)."""
    k = np.array([1.0 if (m.model_delegated and m.xnnpack) else bkf for m in ms])
    compute1 = np.array([m.macs / (peaks.gmacs(m.dtype) * 1e6) for m in ms]) / k
    mem_bytes = np.array([float(m.bytes) / peaks.bandwidth(m.bytes) * peaks.bandwidth_gb_s for m in ms]) / k
    meas = np.log(np.array([m.per_op_ms for m in ms]))
    return compute1, mem_bytes, meas


def _weights(ms: Sequence[Measurement]) -> np.ndarray:
    """Weight of each op's squared log error: sqrt of its time, so that the ops where networks spend their
    time count more than 5 us ops, without letting one big op decide alone."""
    return np.sqrt(np.array([max(m.per_op_ms, 1e-4) for m in ms]))


def fit_class_efficiency(ms: Sequence[Measurement], peaks: Peaks, overhead_ms: float, mem_eff: float,
                         bkf: float) -> tuple[float, float]:
    """(efficiency, summed squared log error) minimising sum((log pred - log meas)^2) over ``ms``
    (one class, one dtype); a grid search because of the max() in the formula."""
    compute1, mem_bytes, meas = _class_arrays(ms, peaks, bkf)
    memory = mem_bytes / (peaks.bandwidth_gb_s * 1e6 * mem_eff)
    w = _weights(ms)

    def errors(grid: np.ndarray) -> np.ndarray:
        pred = np.maximum(compute1[None, :] / grid[:, None], memory[None, :]) + overhead_ms
        out: np.ndarray = np.sum(w[None, :] * (np.log(pred) - meas[None, :]) ** 2, axis=1)
        return out

    err = errors(_EFF_GRID)
    i = int(np.argmin(err))
    # the grid's steps are 4% apart: refine between the neighbours of the best point (0.2% steps), so that two
    # calibrations of one machine do not differ by a grid step
    local = np.exp(np.linspace(math.log(_EFF_GRID[max(0, i - 1)]), math.log(_EFF_GRID[min(len(_EFF_GRID) - 1, i + 1)]),
                               41))
    local_err = errors(local)  # the local grid holds the best grid point itself: never worse than it
    j = int(np.argmin(local_err))
    return float(local[j]), float(local_err[j])


def fit_efficiencies(one: Sequence[Measurement], peaks: Peaks, bkf: float, overhead_ms: float | None = None,
                     ) -> tuple[dict[str, dict[str, float]], float, float]:
    """Efficiencies per dtype and class, with the per-op overhead and memory efficiency that minimise the
    total squared log error (a grid over the two shared figures, a 1-D search per class inside)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in one:
        groups.setdefault((m.dtype, m.op_class), []).append(m)
    best: tuple[float, float, float, dict[str, dict[str, float]]] = (math.inf, 0.0, 1.0, {})
    overhead_grid_ms = (np.array([overhead_ms]) if overhead_ms is not None
                        else np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]) / 1e3)
    # above 1: bytes-bound ops beat the measured copy bandwidth (cache-resident tensors); the profile then
    # gets the effective bandwidth and memory_efficiency 1 (see pipeline.build_profile_doc)
    mem_grid = np.exp(np.linspace(math.log(0.05), math.log(MEM_EFF_MAX), 21))

    def total_error(o: float, me: float) -> tuple[float, dict[str, dict[str, float]]]:
        total = 0.0
        effs: dict[str, dict[str, float]] = {"float32": {}, "int8": {}}
        for (dtype, cls), subset in groups.items():
            with_macs = [m for m in subset if m.macs > 0]
            if with_macs:
                e, _ = fit_class_efficiency(with_macs, peaks, o, me, bkf)
                effs.setdefault(dtype, {})[cls] = e
            for m, w in zip(subset, _weights(subset), strict=True):
                pred = predict_op_ms(m, peaks, effs.get(dtype, {}).get(cls, 1.0), o, me, bkf)
                total += float(w) * (math.log(pred) - math.log(m.per_op_ms)) ** 2
        return total, effs

    for o in overhead_grid_ms:
        for me in mem_grid:
            total, effs = total_error(float(o), float(me))
            if total < best[0]:
                best = (total, float(o), float(me), effs)
    # the memory grid's steps are 29% apart: refine between the neighbours of the best value
    step = float(mem_grid[1] / mem_grid[0])
    for me in best[2] * np.exp(np.linspace(-math.log(step), math.log(step), 13)):
        total, effs = total_error(best[1], float(me))
        if total < best[0]:
            best = (total, best[1], float(me), effs)
    return best[3], best[1], best[2]


def fit_op_efficiencies(one: Sequence[Measurement], peaks: Peaks, overhead_ms: float, mem_eff: float,
                        bkf: float) -> dict[str, dict[str, float]]:
    """Efficiency per dtype and builtin op name (e.g. int8 HARD_SWISH), for ops with MACs that were measured:
    ops of one class differ by 10x and more (a lookup-table LOGISTIC vs a refused HARD_SWISH)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in one:
        if m.macs > 0:
            # measured where the runtime placed it: the figure already includes a refused op's slower kernel
            # kernel-size variants (DEPTHWISE_CONV_2D_K7) get their own figure; the plain name keeps the rest
            groups.setdefault((m.dtype, m.op_key or m.op), []).append(dataclasses.replace(m, model_delegated=True))
    out: dict[str, dict[str, float]] = {"float32": {}, "int8": {}}
    for (dtype, op), subset in sorted(groups.items()):
        out.setdefault(dtype, {})[op] = fit_class_efficiency(subset, peaks, overhead_ms, mem_eff, bkf)[0]
    return out


def fit_thread_speedup(ms: Sequence[Measurement], threads: Sequence[int], dtype: str) -> list[float]:
    """[1.0, s2, ..., sN] up to max(threads); missing counts interpolated; from ops >= 0.05 ms at 1 thread.

    The ratios are of wall-clock medians (the invoke's, per chained copy), whatever the timing of the fit:
    process CPU time counts what the runtime's worker threads burn spin-waiting for the next op, so at T
    threads it over-states the time and the speed-up comes out low (1.67 where the wall clock gave 1.90 on
    this project's 2-core AVX-512 machine, whose whole-model 2-thread runs of big float nets are 1.8-2.0x)."""
    one = {m.name: m.median_ms / m.repeat for m in ms if m.xnnpack and m.threads == 1 and m.dtype == dtype
           and m.op_class in COMPUTE_CLASSES and m.per_op_ms >= 0.05}
    measured: dict[int, float] = {1: 1.0}
    for t in threads:
        if t == 1:
            continue
        ratios = [one[m.name] / (m.median_ms / m.repeat) for m in ms
                  if m.xnnpack and m.threads == t and m.name in one and m.median_ms > 0]
        # t threads cannot do more than t times the work: a larger ratio is a timing artefact of a loaded
        # machine (the one-thread run slowed by cache-thrashing neighbours, a worker's CPU time lost), not a
        # speed-up; on this machine such runs come in a second cluster near 2x the real one, which would
        # drag the median. Keep the physically possible ratios and bound the result by t.
        possible = [r for r in ratios if r <= t * 1.05]
        if possible:
            measured[t] = min(float(t), max(0.05, float(np.median(possible))))
    top = max(threads) if threads else 1
    xs = sorted(measured)
    curve = [float(np.interp(n, xs, [measured[x] for x in xs])) for n in range(1, top + 1)]
    curve[0] = 1.0
    return [round(v, 4) for v in curve]


# a kernel's share of the dtype's thread speed-up is written only where it differs by this much from 1 (the curve's
# own kernels scatter around it by less: conv 0.95-1.05 on the x86 host; builtin dynamic-range convolutions 0.2-0.36)
SCALING_MIN_DEVIATION = 0.15


def fit_thread_scaling(ms: Sequence[Measurement], threads: Sequence[int],
                       speedup: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per dtype and ``[op_efficiency]`` key: the share of the dtype's speed-up past one thread the key's kernels
    get at the top thread count (``[thread_scaling]``), from the micro-benchmarks of :data:`~edgekit.calibrate.runner.SCALING_MIN_OP_MS`+ at one thread
    measured where the runtime placed them (XNNPACK on); keys with >= 2 of them, written where the share is
    more than :data:`SCALING_MIN_DEVIATION` away from 1, and always for a kernel LiteRT runs itself.

    A key's ratio is the upper quartile of its micro-benchmarks' (one thread / T threads, wall clock): a burst on
    the other core during a run only ever lowers a ratio, and on a 2-vCPU VM such a window took three 7x7
    depthwise runs in a row to ~1.0 where the same shapes run 1.5-1.6 minutes later."""
    top = max(threads) if threads else 1
    if top < 2:
        return {}
    ratios_of = speedup_ratios(ms, top)
    groups: dict[tuple[str, str], list[float]] = {}
    builtin: set[tuple[str, str]] = set()
    for m in ms:
        ratio = ratios_of.get(m.name, 0.0)
        # more than T times faster is a disturbed one-thread run (fit_thread_speedup)
        if m.xnnpack and m.threads == top and 0.0 < ratio <= top * 1.05:
            group = (m.dtype, m.op_key or m.op)
            groups.setdefault(group, []).append(ratio)
            if not m.delegated:
                builtin.add(group)
    out: dict[str, dict[str, float]] = {}
    for (dtype, key), ratios in sorted(groups.items()):
        gain = speedup.get(dtype, [1.0])[-1] - 1.0
        if len(ratios) < 2 or gain <= 0.05:
            continue
        share = min(2.0, max(0.0, (float(np.percentile(ratios, 75)) - 1.0) / gain))
        # a builtin kernel's always: without it the estimator goes by which op classes LiteRT multi-threads
        # (MIRROR_PAD is one of those it does, 2.0x at 2 threads here)
        if (dtype, key) in builtin or abs(share - 1.0) > SCALING_MIN_DEVIATION:
            out.setdefault(dtype, {})[key] = round(share, 3)
    return out


def fit_memory(probes: Sequence[MemoryProbe]) -> tuple[int, bool, float]:
    """(runtime overhead bytes, repack_weights, RSS bytes per weight byte) from the memory probes."""
    if not probes:
        return 16 * 2**20, True, 2.0
    smallest = min(probes, key=lambda p: p.weight_bytes + p.activation_bytes)
    overhead = max(0, smallest.model_peak_rss_bytes - smallest.weight_bytes - smallest.activation_bytes)
    heavy = [p for p in probes if p.weight_bytes > 1_000_000]
    if not heavy:
        return overhead, True, 2.0
    factors = [(p.model_peak_rss_bytes - overhead - p.activation_bytes) / p.weight_bytes for p in heavy]
    factor = float(np.median(factors))
    repack = factor > 1.5
    # the overhead that best explains every probe under the estimator's memory formula
    # (weights, once more if repacked, + arena + overhead)
    per_probe = [p.model_peak_rss_bytes - p.weight_bytes * (2 if repack else 1) - p.activation_bytes for p in probes]
    return int(max(0.0, float(np.median(per_probe)))), repack, factor


def _work(m: Measurement, figures: tuple[int, int, float, int], tconv_overhead: float | None = None) -> int:
    from edgekit.profile.estimator import gemm_work

    if m.op == "TRANSPOSE_CONV" and tconv_overhead is not None:
        return max(1, int(round(gemm_work(m.gemm, *figures[:2], tconv_overhead, figures[3], per_tap=True))))
    return max(1, int(round(gemm_work(m.gemm, *figures))))


def fit_gemm(one: Sequence[Measurement], tiles: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, int, float, int]]:
    """Per dtype (tile_n, tile_k, per-output MAC-equivalents): the grid value under which the one-thread
    CONV_2D micro-benchmarks the delegate ran have the most uniform work rate."""
    out: dict[str, tuple[int, int, float, int]] = {}
    for dtype, (tile_n, tile_k, *rest) in tiles.items():
        igemm = rest[0] if rest else 0
        convs = [m for m in one if m.dtype == dtype and m.op == "CONV_2D" and m.xnnpack and m.delegated
                 and m.gemm[0] > 0 and m.per_op_ms > 0]
        if len(convs) < 4:
            continue
        tiles_of = functools.partial(_tiled_work, tile_n=tile_n, tile_k=tile_k, igemm=igemm)
        out[dtype] = (tile_n, tile_k, _most_uniform(convs, OUTPUT_OVERHEAD_GRID, tiles_of), igemm)
    return out


def _tiled_work(m: Measurement, k0: float, tile_n: int, tile_k: int, igemm: int = 0) -> float:
    return _work(m, (tile_n, tile_k, k0, igemm))


def _most_uniform(ops: Sequence[Measurement], grid: Sequence[float],
                  work: Callable[[Measurement, float], float]) -> float:
    """The grid value under which ``ops`` have the most uniform work rate (least time-weighted variance of
    log(work / time)); the first of equals."""
    best = (math.inf, 0.0)
    for value in grid:
        var = _rate_variance(ops, [work(m, value) for m in ops])
        if var < best[0] - 1e-12:
            best = (var, value)
    return best[1]


def _rate_variance(ops: Sequence[Measurement], works: Sequence[float]) -> float:
    """Time-weighted variance of log(work / time) over ``ops`` (``works``: each op's work, in order)."""
    w = _weights(ops)
    rate = np.log(np.array(works, dtype=float)) - np.log(np.array([m.per_op_ms for m in ops]))
    mean = float(np.sum(w * rate) / np.sum(w))
    return float(np.sum(w * (rate - mean) ** 2))


def _tconv_work(m: Measurement, k0: float, figures: tuple[int, int, float, int]) -> float:
    return float(_work(m, figures, k0))


def fit_tconv_overhead(one: Sequence[Measurement], gemm: dict[str, tuple[int, int, float, int]]) -> dict[str, float]:
    """Per dtype: a transposed convolution's fixed cost per output and tap (``[gemm]
    <dtype>_tconv_output_overhead_macs``), the grid value under which the one-thread TRANSPOSE_CONV micro-benchmarks
    the delegate ran (the narrow ones too: the padded tile is what a 1-channel mask pays) have the most uniform work
    rate, at the conv's tiles. XNNPACK splits a transposed convolution into stride x stride sub-convolutions, each
    input pixel and tap writing its own output: on the x86 host the six float32 shapes' rates (16-36 GMAC/s at the
    conv's 2 MAC-equivalents per input pixel) came within 33-38 for five of them at 24 per output and tap."""
    out: dict[str, float] = {}
    for dtype, figures in gemm.items():
        tconvs = [m for m in one if m.dtype == dtype and m.op == "TRANSPOSE_CONV" and m.xnnpack and m.delegated
                  and m.gemm[0] > 0 and m.per_op_ms > 0]
        if len(tconvs) >= 4:
            out[dtype] = _most_uniform(tconvs, OUTPUT_OVERHEAD_GRID,
                                       functools.partial(_tconv_work, figures=figures))
    return out


def fit_hybrid_elements(one: Sequence[Measurement], gemm: dict[str, tuple[int, int, float, int]]) -> float:
    """MAC-equivalents per float element a dynamic-range CONV_2D / FULLY_CONNECTED converts (its input quantized,
    its output scaled back on every call): the grid value under which the delegated hybrid micro-benchmarks
    have the most uniform work rate on top of their int8 GEMM work. 0 without enough of them."""
    ops = [m for m in one if m.hybrid and m.xnnpack and m.delegated and m.gemm[0] > 0 and m.per_op_ms > 0
           and m.elements > 0 and m.dtype in gemm]
    if len(ops) < 3:
        return 0.0
    return _most_uniform(ops, HYBRID_ELEMENT_GRID, lambda m, e: _work(m, gemm[m.dtype]) + e * m.elements)


def _uint8_work(m: Measurement, pair: tuple[float, float]) -> float:
    """The uint8-weight kernel's extra work: ``pair`` MAC-equivalents per input and per output element."""
    return pair[0] * m.input_elements + pair[1] * (m.elements - m.input_elements)


def fit_uint8_element_macs(one: Sequence[Measurement], gemm: dict[str, tuple[int, int, float, int]],
                           hybrid_element_macs: float) -> tuple[float, float]:
    """MAC-equivalents per float input and per float output element that LiteRT's builtin kernel for uint8
    weights (TF1's format, ``CONV_2D_UINT8_HYBRID_BUILTIN``) pays beyond ``hybrid_element_macs``: the grid pair
    under which its micro-benchmarks have the most uniform work rate. On this project's x86 host, one thread, a
    1x1 conv 50x50x144 -> 24 took 1.32 ms and 50x50x24 -> 144 (the same MACs) 0.43 ms: ~3.3 ns per input element
    and ~0.8 per output element against 0.013 per MAC (19 shapes); facex's projection convs were estimated at
    half their time and its expansions 30% over without them. (0, 0) without four such benchmarks."""
    ops = [m for m in one if m.op_key == UINT8_HYBRID_CONV and m.gemm[0] > 0 and m.per_op_ms > 0
           and m.input_elements > 0 and m.dtype in gemm]
    if len({(m.input_elements, m.elements) for m in ops}) < 4:
        return 0.0, 0.0
    base = [_work(m, gemm[m.dtype]) + hybrid_element_macs * m.elements for m in ops]
    best: tuple[float, tuple[float, float]] = (math.inf, (0.0, 0.0))
    for pair in ((e_in, e_out) for e_in in HYBRID_ELEMENT_GRID for e_out in HYBRID_ELEMENT_GRID):
        var = _rate_variance(ops, [b + _uint8_work(m, pair) for b, m in zip(base, ops, strict=True)])
        if var < best[0] - 1e-12:
            best = (var, pair)
    return best[1]


def apply_gemm(ms: Sequence[Measurement], gemm: dict[str, tuple[int, int, float, int]],
               hybrid_element_macs: float = 0.0, tconv: dict[str, float] | None = None,
               uint8_element_macs: tuple[float, float] = (0.0, 0.0)) -> list[Measurement]:
    """``ms`` with the MACs of GEMM-shaped ops replaced by their work under ``gemm`` (what the estimator uses),
    plus a dynamic-range op's conversion work (``uint8_element_macs`` more per input and output element on the
    uint8-weight kernel); ``tconv``: per dtype, a transposed convolution's per-tap cost."""
    tconv = tconv or {}
    return [dataclasses.replace(m, macs=_work(m, gemm[m.dtype], tconv.get(m.dtype))
                                + int(round(hybrid_element_macs * m.elements
                                            + (_uint8_work(m, uint8_element_macs) if m.op_key == UINT8_HYBRID_CONV
                                               else 0.0))))
            if m.gemm[0] > 0 and m.dtype in gemm and m.macs > 0 else m for m in ms]


# the taps of a depthwise micro-benchmark by its [op_efficiency] key (3x3: the op name's)
_DEPTHWISE_TAPS = {"": 9, "DEPTHWISE_CONV_2D_K5": 25, "DEPTHWISE_CONV_2D_K7": 49}


def pad_depthwise(ms: Sequence[Measurement], tile: int) -> list[Measurement]:
    """``ms`` with the MACs of the depthwise ops XNNPACK ran over their channels padded to ``tile``, as the estimator
    charges them (:func:`edgekit.profile.opfigures.depthwise_pad_factor`)."""
    def factor(m: Measurement) -> float:
        taps = _DEPTHWISE_TAPS.get(m.op_key)
        return 1.0 if taps is None else depthwise_pad_factor(m.row_width, taps, tile)

    return [dataclasses.replace(m, macs=int(round(m.macs * factor(m))))
            if m.op == "DEPTHWISE_CONV_2D" and m.xnnpack and m.delegated and m.row_width > 0 and m.macs > 0 else m
            for m in ms]


def _merge_rows(narrow: dict[str, dict[str, float]], every: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {dtype: dict(table) for dtype, table in narrow.items()}
    for dtype, table in every.items():
        out.setdefault(dtype, {}).update(table)
    return out


def _common_ops(every: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """``every`` with the keys of :data:`EVERY_WIDTH_KEYS` kept to those fitted in every dtype (the estimator reads an
    op's width rule once for all dtypes: an op fitted in one dtype only keeps its narrow-row figures)."""
    tables = list(every.values())
    common = set.intersection(*(set(t) for t in tables)) if tables else set()
    out = {dtype: {k: v for k, v in table.items() if k in common or k not in EVERY_WIDTH_KEYS}
           for dtype, table in every.items()}
    return {dtype: table for dtype, table in out.items() if table}


def _every_width(every: dict[str, dict[str, float]]) -> tuple[str, ...]:
    return tuple(sorted({k for table in every.values() for k in table if k in EVERY_WIDTH_KEYS}))


def fit_profile_figures(ms: Sequence[Measurement], probes: Sequence[MemoryProbe], peaks: Peaks,
                        threads: Sequence[int], per_op: bool = False,
                        tiles: dict[str, tuple[int, ...]] | None = None,
                        per_op_overhead_ms: float | None = None, row_tile: int = 0) -> FitResult:
    """Fit every figure; residuals are per measured micro op at one thread (pred/meas - 1).

    ``per_op``: also fit an efficiency per op name (for estimators that read ``[op_efficiency]``); the
    residuals then use those where they exist, as such an estimator would. ``per_op_overhead_ms``: the
    fixed cost per op measured on tiny-op chains (:mod:`edgekit.calibrate.overheads`), instead of a grid.
    ``row_tile``: fit ``[row_ns]`` on the measurements narrower than it (:mod:`edgekit.calibrate.narrow`), which
    take no part in the other figures; a depthwise's work is then over its channels padded to it (:func:`pad_depthwise`)."""
    every: dict[str, dict[str, float]] = {}
    if row_tile and not any(is_narrow(m, row_tile) for m in ms):
        row_tile = 0  # no narrow micro-benchmarks (a short budget): no [row_ns] to write, so no tiles or row split
    if row_tile:
        ms = pad_depthwise(ms, row_tile)
        # PAD and broadcast MUL pay per row at every width: that figure first, fitted with their per-element one
        every = _common_ops(fit_every_width_rows([m for m in ms if m.threads == 1 and
                                                  (m.xnnpack or m.op in BUILTIN_EVERY_WIDTH_OPS)],
                                                 per_op_overhead_ms if per_op_overhead_ms is not None else 0.0))

    def split(m: Measurement) -> bool:  # priced per row at every width (or per input pixel): not a narrow-row one
        return every_key(m) in every.get(m.dtype, {}) or m.op_key == POOL_INPUTS_KEY

    narrow = [m for m in ms if row_tile and is_narrow(m, row_tile) and not split(m)]
    ms = [m for m in ms if not (row_tile and is_narrow(m, row_tile) and not split(m))]
    one = strip_rows([m for m in ms if m.threads == 1 and m.xnnpack], every)
    if not one:
        raise ValueError("no one-thread XNNPACK measurements to fit")
    # dynamic-range ("hybrid") ops run other kernels than the int8 ones whose compute dtype they share: they
    # get their own per-op figure only, and take no part in the shared figures (tiles, class efficiencies,
    # builtin factor, thread speed-up)
    plain = [m for m in ms if not m.hybrid and m.op_key != SIGNS_KEY]
    gemm = fit_gemm([m for m in one if not m.hybrid], tiles) if tiles else {}
    hybrid_element_macs = fit_hybrid_elements(one, gemm)
    uint8_element_macs = fit_uint8_element_macs(one, gemm, hybrid_element_macs)
    tconv = fit_tconv_overhead([*one, *(m for m in narrow if m.threads == 1 and m.xnnpack)], gemm)
    if gemm:
        one = apply_gemm(one, gemm, hybrid_element_macs, tconv, uint8_element_macs)
        # a narrow transposed convolution's padded tile is GEMM work, as the estimator counts it: the row figure
        # is what is left beyond it
        narrow = apply_gemm(narrow, gemm, 0.0, tconv)
    bkf = fit_builtin_factor(plain)
    # the RELU timed on channel signs is its own figure only (edgekit.profile.signs): the class keeps random input
    eff, overhead_ms, mem_eff = fit_efficiencies([m for m in one if not m.hybrid and m.op_key != SIGNS_KEY], peaks,
                                                 bkf, per_op_overhead_ms)
    # a hybrid op the delegate takes also has a builtin kernel (uint8 weights, XNNPACK off): its own figure
    # (marked as placed where measured, so that the fit charges no builtin factor on top, as the estimator does not)
    builtin_hybrid = [dataclasses.replace(m, xnnpack=True) for m in ms if m.threads == 1 and not m.xnnpack
                      and m.op_key.endswith("_HYBRID_BUILTIN") and m.model_delegated]
    # so do the other ops the delegate takes (<KEY>_BUILTIN): the estimator charges it where LiteRT keeps such an
    # op on its builtin kernel (a depthwise whose weights a DEQUANTIZE computes; 2.7x the XNNPACK figure at 3x3)
    # (a builtin concatenation with its rows' time taken off: the per-row figure above prices them)
    builtin_plain = strip_rows([dataclasses.replace(m, xnnpack=True, op_key=f"{m.op_key or m.op}_BUILTIN") for m in plain
                                if m.threads == 1 and not m.xnnpack and m.model_delegated], every)
    if gemm:
        builtin_hybrid = apply_gemm(builtin_hybrid, gemm, hybrid_element_macs)
        builtin_plain = apply_gemm(builtin_plain, gemm, 0.0, tconv)
    op_eff = (fit_op_efficiencies([*one, *builtin_hybrid, *builtin_plain], peaks, overhead_ms, mem_eff, bkf)
              if per_op else {})
    def predict(m: Measurement) -> float:
        op_e = op_eff.get(m.dtype, {}).get(m.op_key or m.op)
        if op_e is not None:  # as measured: no builtin-kernel factor on top
            placed = dataclasses.replace(m, model_delegated=True, xnnpack=True)
            return predict_op_ms(placed, peaks, op_e, overhead_ms, mem_eff, bkf)
        return predict_op_ms(m, peaks, eff[m.dtype].get(m.op_class, 1.0), overhead_ms, mem_eff, bkf)

    residuals: dict[str, float] = {}
    errs: list[float] = []
    for m in one:
        rel = predict(m) / m.per_op_ms - 1.0
        residuals[m.name] = round(rel, 4)
        errs.append(rel)
    arr = np.abs(np.array(errs))
    speedup = {dt: fit_thread_speedup(plain, threads, dt) for dt in ("float32", "int8")}
    overhead_bytes, repack, factor = fit_memory(probes)
    # where the delegate took each op (the 1x1-window float pool, which it refuses by design, is not the op's answer)
    delegated = {f"{m.op}.{m.dtype}": m.delegated for m in one
                 if not m.hybrid and m.op_key not in (POOL_INPUTS_KEY, SIGNS_KEY)}
    return FitResult(
        efficiency=eff, op_efficiency=op_eff, per_op_overhead_us=overhead_ms * 1e3, memory_efficiency=mem_eff,
        builtin_kernel_factor=bkf, thread_speedup=speedup, runtime_overhead_bytes=overhead_bytes,
        repack_weights=repack, weight_rss_factor=factor, samples=len(ms),
        rms_relative_error=float(np.sqrt(np.mean(arr ** 2))), max_relative_error=float(arr.max()),
        residuals=residuals, delegated=delegated, gemm=gemm, hybrid_element_macs=hybrid_element_macs,
        uint8_hybrid_element_macs=uint8_element_macs,
        row_ns=_merge_rows(fit_row_ns(narrow, row_tile, predict) if narrow else {}, every),
        row_tile=row_tile if narrow or every else 0, every_width=_every_width(every),
        thread_scaling=fit_thread_scaling(ms, threads, speedup), tconv_overhead=tconv,
    )
