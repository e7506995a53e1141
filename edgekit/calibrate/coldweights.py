"""Cold weights: what a whole model pays for weights that no longer stay in cache between invokes.

Every other ``calibrate`` benchmark runs one op again and again, its weights hot in cache. Here a chain of the
same 1x1 convolution (256 -> 256 channels over 8x8 pixels: 256 KiB of float32 weights per layer) grows from 1
to 192 layers; each layer's time in the chain against its time alone is the cold-weight cost. The fit
(:func:`fit_cold_weights`) follows :mod:`edgekit.profile.memory`: a chain whose weights and arena come to
``W`` meets a share ``max(0, 1 - C / W)`` of its weights cold, at a cost per byte per thread count; ``C`` is
the grid value with the least squared error over every chain and thread count, each cost the least-squares
slope at that ``C``. The profile gets ``[memory] weight_cache_bytes = C`` and ``cold_weight_gb_per_s``.

On this project's 2-vCPU x86 VM (32 MiB L3, shared with other tenants) chains of 1 MiB layers were as fast per
layer as one layer up to 4 MiB and levelled off near 20 MiB at +0.018 ms per MiB (1 thread; float32 and int8,
1 to 256 output pixels alike), +0.02-0.04 ms at 2 threads (docs/BENCHMARKS.md, "estimator").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgekit.calibrate.blocks import build_conv_chain
from edgekit.core.progress import status

CHAIN_DTYPE = "float32"
CHAIN_SIZE = 8
CHAIN_CHANNELS = 256
CHAIN_LAYERS = (1, 2, 4, 8, 16, 32, 64, 128, 192)
# below this slow-down of the longest chain against one layer there is nothing to fit (a cache larger
# than the chain, or noise): the profile keeps the rule without the figures (weights from DRAM past the LLC)
MIN_EFFECT = 0.03


@dataclass(frozen=True)
class ChainTiming:
    layers: int
    threads: int
    layer_weight_bytes: int
    working_set_bytes: int  # weights + activation arena, as the estimator counts them
    per_layer_ms: float


@dataclass(frozen=True)
class ColdWeights:
    weight_cache_bytes: int
    cold_weight_gb_per_s: tuple[float, ...]  # per thread count, from 1
    rms_error: float  # of the per-layer slow-downs, relative to the in-cache time

    def __post_init__(self) -> None:
        if self.weight_cache_bytes < 1 or not self.cold_weight_gb_per_s:
            raise ValueError(f"cold weights need a cache size and at least one rate: {self}")
        if any(not math.isfinite(g) or g <= 0 for g in self.cold_weight_gb_per_s):
            raise ValueError(f"cold-weight rates must be positive GB/s: {self.cold_weight_gb_per_s}")


def chain_sizes(data: bytes) -> tuple[int, int]:
    """(weight bytes, weights + arena bytes) of a model, counted as the estimator counts them."""
    from edgekit.profile.arena import Strategy, plan_arena
    from edgekit.profile.costs import graph_costs
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "<chain>")
    weights = sum(c.weight_bytes for c in graph_costs(model.main, model.subgraphs))
    return weights, weights + plan_arena(model.main, Strategy.BEST_FIT, 64).arena_bytes


def measure_chains(max_threads: int, target_s: float = 0.08, rounds: int = 3,
                   layers: Sequence[int] = CHAIN_LAYERS) -> list[ChainTiming]:
    """Wall-clock median per layer of every chain at 1..``max_threads`` threads, the least of ``rounds``
    interleaved rounds (a stall on memory is wall time; process CPU time misses the workers' share). The least: the
    L3 is shared with other tenants, and the median of three moved the fitted cache size 5.1-14.8 MiB between
    calibrations minutes apart."""
    from edgekit.calibrate.runner import _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    models = {k: build_conv_chain(CHAIN_DTYPE, CHAIN_SIZE, CHAIN_SIZE, CHAIN_CHANNELS, k) for k in layers}
    sizes = {k: chain_sizes(data) for k, data in models.items()}
    samples: dict[tuple[int, int], list[float]] = {}
    for _ in range(rounds):
        for threads in range(1, max_threads + 1):
            for k, data in models.items():
                interp = load_interpreter(data, num_threads=threads)
                med, _, _ = _time_invokes(interp, target_s, min_runs=3)
                samples.setdefault((k, threads), []).append(med / k)
                del interp
    out = []
    for (k, threads), per_layer in sorted(samples.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        weights, working_set = sizes[k]
        out.append(ChainTiming(k, threads, weights // k, working_set, min(per_layer)))
    for t in out:
        status(f"calibrate: cold weights: {t.layers} layer(s), {t.working_set_bytes / 2**20:.1f} MiB, "
               f"{t.threads} thread(s): {t.per_layer_ms:.4f} ms per layer")
    return out


def least_disturbed(*runs: Sequence[ChainTiming]) -> list[ChainTiming]:
    """Per chain and thread count, the least time of several runs of :func:`measure_chains` (calibrate times them at
    its start and its end: a neighbour on the memory bus for a few seconds slowed one run's long chains at 2
    threads to a 17 GB/s cold rate, where six other calibrations measured 31-52)."""
    best: dict[tuple[int, int], ChainTiming] = {}
    for run in runs:
        for t in run:
            key = (t.layers, t.threads)
            if key not in best or t.per_layer_ms < best[key].per_layer_ms:
                best[key] = t
    return [best[k] for k in sorted(best, key=lambda k: (k[1], k[0]))]


def _cache_grid(timings: Sequence[ChainTiming]) -> np.ndarray:
    sets = [t.working_set_bytes for t in timings]
    return np.geomspace(min(sets) / 2, max(sets), 48)


def fit_cold_weights(timings: Sequence[ChainTiming]) -> ColdWeights | None:
    """The cache size and per-thread-count costs that best explain the chains' slow-down (None: no slow-down
    worth fitting, see ``MIN_EFFECT``)."""
    by_threads: dict[int, list[ChainTiming]] = {}
    for t in timings:
        by_threads.setdefault(t.threads, []).append(t)
    if not by_threads or sorted(by_threads) != list(range(1, max(by_threads) + 1)):
        return None
    rows = []
    for threads, ts in sorted(by_threads.items()):
        ts = sorted(ts, key=lambda t: t.working_set_bytes)
        hot = ts[0].per_layer_ms
        if len(ts) < 3 or hot <= 0:
            return None
        extra = np.array([t.per_layer_ms - hot for t in ts])
        if extra[-1] < MIN_EFFECT * hot:
            return None
        rows.append((threads, np.array([t.working_set_bytes for t in ts], float),
                     np.array([t.layer_weight_bytes for t in ts], float), extra, hot))
    best: tuple[float, float, list[float]] | None = None
    for cache in _cache_grid(timings):
        sse = 0.0
        slopes = []
        for _, sets, layer_bytes, extra, hot in rows:
            x = np.maximum(0.0, 1.0 - cache / sets) * layer_bytes
            denom = float(x @ x)
            slope = float(x @ extra) / denom if denom > 0 else 0.0
            slopes.append(slope)
            sse += float(np.sum(((extra - slope * x) / hot) ** 2))
        if all(s > 0 for s in slopes) and (best is None or sse < best[0]):
            best = (sse, float(cache), slopes)
    if best is None:
        return None
    sse, cache, slopes = best
    n = sum(len(r[3]) for r in rows)
    # slope: ms per byte -> GB/s
    return ColdWeights(int(cache), tuple(round(1e-6 / s, 2) for s in slopes), math.sqrt(sse / n))


__all__ = ["ChainTiming", "ColdWeights", "chain_sizes", "fit_cold_weights", "least_disturbed", "measure_chains"]
