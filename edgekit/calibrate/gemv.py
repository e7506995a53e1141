"""One-row float GEMMs: the weight stream rate of XNNPACK's two output-channel tiles.

A float32 fully-connected layer on one row (a classifier head, a keyword spotter's dense layers) or a 1x1
convolution on one pixel (a squeeze-excite block) reads every weight once for one multiply-add: its time is the
weight stream, not the MACs. On this project's AVX-512 host the stream ran at two rates, by output-channel count
(1 thread, 0.13-8 MiB of weights, all in cache; docs/BENCHMARKS.md, "estimator"):

- ~88-107 GB/s where a 32-wide output tile pads the channels no more than a 16-wide one does (N = 64, 128, 160,
  992, 1016, 1020, 1024: XNNPACK's 32-wide kernel, by the look of it);
- ~55-65 GB/s where the 16-wide tile pads less (N = 48, 72, 136, 144, 240, 1000, 1008, 1040, 1100),
  1.5-1.75x slower for the same bytes (a 1x1 conv on one pixel alike; int8 and rows of 2 or more showed none).

The calibrated FULLY_CONNECTED efficiency came from 1000-wide heads (the slow rate), so openWakeWord's 128-wide
layers were estimated 1.5x over. :func:`measure_gemv` times one-row float32 FULLY_CONNECTED ops with N = 1024
(both tiles pad nothing: the wide one) and N = 1008 (the narrow one pads nothing, the wide one 16); the profile
gets ``[gemm] float32_gemv_tiles`` and ``float32_gemv_gb_per_s`` (one rate per tile), or a single rate where
the two agree within :data:`SAME_RATE`. The estimator charges such an op its weight bytes at the rate of the
tile that pads its output channels least (the wider on a tie), divided by the thread speed-up
(:func:`edgekit.profile.opfigures.gemv_gb_per_s`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.core.progress import status

GEMV_CIN = 256  # 1 MiB of float32 weights at N = 1024: in cache on the boards we know, past L1 everywhere
# (N, tile it probes): every tile pads 1024 not at all (the widest runs it); 1008 pads 16 on a 32-wide tile only
PROBES = ((1024, 32), (1008, 16))
SAME_RATE = 1.2  # rates closer than this are one rate (noise, or no second kernel)
ROUNDS = 5


@dataclass(frozen=True)
class GemvFigures:
    """Weight stream rates of one-row float32 GEMMs, per output-channel tile (one tile: one rate for all)."""

    tiles: tuple[int, ...]
    gb_per_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.tiles or len(self.tiles) != len(self.gb_per_s):
            raise ValueError(f"one GEMV rate per tile, got tiles {self.tiles} and rates {self.gb_per_s}")
        if any(t < 1 for t in self.tiles) or list(self.tiles) != sorted(set(self.tiles)):
            raise ValueError(f"GEMV tiles must be distinct positive channel counts, ascending: {self.tiles}")
        if any(not math.isfinite(g) or g <= 0 for g in self.gb_per_s):
            raise ValueError(f"GEMV rates must be positive GB/s: {self.gb_per_s}")

    def to_doc(self) -> dict[str, list[float] | list[int]]:
        return {"float32_gemv_tiles": list(self.tiles), "float32_gemv_gb_per_s": [round(g, 2) for g in self.gb_per_s]}


def fit_gemv(rates: dict[int, float]) -> GemvFigures | None:
    """Figures from the measured rate (GB/s) per probed tile; one rate when they agree within SAME_RATE."""
    if not rates or any(not math.isfinite(r) or r <= 0 for r in rates.values()):
        return None
    tiles = tuple(sorted(rates))
    values = [rates[t] for t in tiles]
    if max(values) / min(values) < SAME_RATE:
        return GemvFigures((tiles[-1],), (statistics.median(values),))
    return GemvFigures(tiles, tuple(values))


def faster(a: GemvFigures | None, b: GemvFigures | None) -> GemvFigures | None:
    """Of two measurements (calibrate's start and end), the faster rate per tile; the two-tile one when they differ
    in tiles (one measurement's rates merged by a disturbance)."""
    if a is None or b is None:
        return a or b
    if a.tiles != b.tiles:
        return a if len(a.tiles) > len(b.tiles) else b
    return GemvFigures(a.tiles, tuple(max(x, y) for x, y in zip(a.gb_per_s, b.gb_per_s, strict=True)))


WALL, CPU = 0, 2  # columns of runner._time_invokes: median wall ms, median process-CPU ms


def least_ms(interps: Mapping[int, Any], rounds: int, target_s: float, column: int) -> dict[int, float]:
    """Per key, the least of ``rounds`` medians (``column``: :data:`WALL` or :data:`CPU`), the interpreters timed in
    turn each round: a neighbour's burst only slows a run, and interleaving spreads it over the keys."""
    from edgekit.calibrate.runner import _time_invokes

    best: dict[int, float] = {}
    for _ in range(rounds):
        for key, interp in interps.items():
            ms = _time_invokes(interp, target_s, min_runs=50)[column]
            best[key] = min(ms, best.get(key, ms))
    return best


def measure_gemv(rounds: int = ROUNDS, target_s: float = 0.05) -> GemvFigures | None:
    """Time the probes (one thread, XNNPACK, process CPU time less an empty model's; the fastest of ``rounds``
    medians) and fit them."""
    from edgekit.calibrate.runner import _empty_spec, _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    empty = load_interpreter(build_model(_empty_spec()), num_threads=1, use_xnnpack=True)
    base_ms = _time_invokes(empty, target_s, min_runs=50)[2]
    interps = {tile: load_interpreter(build_model(MicroSpec(MicroOp.FULLY_CONNECTED, "float32", 1, 1, GEMV_CIN,
                                                            cout=n)), num_threads=1, use_xnnpack=True)
               for n, tile in PROBES}
    # the least disturbed round, the probes interleaved: a neighbour's burst during one probe merged the two rates in
    # 1 of 6 calibrations, and one calibration of four measured both 15% slow (1 MiB of weights: L2 here, L3 shared)
    best_ms = {tile: ms - base_ms for tile, ms in least_ms(interps, rounds, target_s, CPU).items()}
    if any(ms <= 0 for ms in best_ms.values()):
        return None
    rates = {tile: GEMV_CIN * n * 4 / (best_ms[tile] * 1e6) for n, tile in PROBES}
    figures = fit_gemv(rates)
    if figures is not None:
        status("calibrate: one-row float GEMMs stream their weights at "
               + ", ".join(f"{g:.0f} GB/s ({t}-wide tile)" for t, g in zip(figures.tiles, figures.gb_per_s,
                                                                            strict=True)))
    return figures


def shared_probe_bytes(levels: Sequence[tuple[int, bool]]) -> int | None:
    """Weight bytes of the shared-level probe: well past the private caches (4x the largest), inside the first shared
    one (at most half of it, where the rest of the machine keeps its own); None without a shared level or room."""
    private = [size for size, own in levels if own]
    shared = [size for size, own in levels if not own]
    if not shared:
        return None
    if not private:
        return shared[0] // 4
    nbytes = min(4 * max(private), shared[0] // 2)
    return nbytes if nbytes >= 2 * max(private) else None


def measure_shared(levels: Sequence[tuple[int, bool]], max_threads: int, rounds: int = 3,
                   target_s: float = 0.05) -> tuple[float, ...] | None:
    """``[memory] shared_speedup``: a one-row float32 FULLY_CONNECTED (a weight stream) whose weights sit in the
    first shared cache level, at 1 .. ``max_threads`` threads (wall clock, the thread counts interleaved, each one's
    least time: a burst only slows a run); figure T is the 1-thread time over the T-thread one, between 1 and T.

    Measured on this project's host (L2 1 MiB per core, L3 32 MiB shared; docs/BENCHMARKS.md, "estimator"): 4 MiB
    of weights 44.4 us at 1 thread and 25.4 at 2 (1.75x), 8 MiB 1.78x, where the estimate had charged the shared
    level one thread's bandwidth at any count (openWakeWord's timer, 1.6 MiB of one-row weights: 1.57x measured,
    1.02x estimated)."""
    nbytes = shared_probe_bytes(levels)
    if nbytes is None or max_threads < 2:
        return None
    from edgekit.tflite.runtime import load_interpreter

    cout = 1024  # every tile pads it not at all
    model = build_model(MicroSpec(MicroOp.FULLY_CONNECTED, "float32", 1, 1, max(1, nbytes // (4 * cout)), cout=cout))
    interps = {t: load_interpreter(model, num_threads=t, use_xnnpack=True) for t in range(1, max_threads + 1)}
    best = least_ms(interps, rounds, target_s, WALL)
    figures = tuple(round(min(float(t), max(1.0, best[1] / best[t])), 3) for t in sorted(best))
    status(f"calibrate: {nbytes / 2**20:.1f} MiB of weights in the shared cache stream "
           f"{', '.join(f'{f:.2f}' for f in figures[1:])}x as fast at 2..{max_threads} threads as at 1")
    return figures


__all__ = ["GEMV_CIN", "PROBES", "GemvFigures", "faster", "fit_gemv", "least_ms", "measure_gemv", "measure_shared",
           "shared_probe_bytes"]
