"""Milliseconds of memory traffic: an op's bytes at the bandwidth of the level they live in, and the weights a
whole model's invoke finds out of cache (what single-op micro-benchmarks do not see).

``edgekit calibrate`` times each op again and again with its weights hot in cache. A whole model reads every
weight once per invoke, and between two invokes it has read all its other weights and activations: a model
whose working set passes what the cache keeps meets part of its weights cold. On this project's x86 VM
(2026-12-04, docs/BENCHMARKS.md) a chain of 1x1 convolutions ran each layer as fast as alone up to 4 MiB of
weights in all, then slower as the chain grew, levelling off near 20 MiB at +0.018-0.022 ms per MiB of
weights, the same from 1 to 256 output pixels and in float32 and int8: a cost added to the op's time, not
hidden under its arithmetic (a GEMM's first pass over its weights is bound by memory), and at 2 threads no
smaller. ``[memory] weight_cache_bytes`` and ``cold_weight_gb_per_s`` hold the two figures
(:mod:`edgekit.calibrate.coldweights` measures them); the share of weights met cold is
``1 - weight_cache_bytes / working set`` (what stays is about the cache's worth, whatever the order).
"""

from __future__ import annotations

from edgekit.profile.costs import OpCost
from edgekit.profile.schema import DeviceProfile, Memory
from edgekit.profile.schema_fields import at_threads


def memory_ms(profile: DeviceProfile, cost: OpCost, threads: int, model_weight_bytes: int = 0) -> float:
    """Milliseconds to move the op's bytes: at ``memory_bandwidth x memory_efficiency``, or with a ``[memory]``
    hierarchy at the bandwidth of the level its working set fits in (private levels' bandwidth adds up over the
    threads, shared cache levels' by ``[memory] shared_speedup``; without measured cold weights, weights from DRAM
    when the model's weights pass the last level)."""
    rt = profile.runtime
    mem = profile.memory
    if mem is None:
        return 1000.0 * cost.bytes / (profile.hardware.memory_bandwidth_gb_per_s * 1e9 * rt.memory_efficiency)
    level = mem.level_of(cost.bytes)
    if level < mem.private_levels:
        scale: float = max(1, min(threads, profile.hardware.cores))
    else:  # a shared cache level: what the threads draw from it together, as measured (DRAM: one thread's)
        scale = mem.shared_at(min(threads, profile.hardware.cores)) if level < len(mem.cache_bytes) else 1.0
    act = cost.bytes - cost.weight_bytes
    seconds = act / (mem.bandwidth_gb_per_s[level] * 1e9 * scale)
    # measured cold weights (cold_weight_ms) are charged on top, by the caller
    cold_rule = model_weight_bytes > mem.cache_bytes[-1] and not has_cold_weights(mem)
    wlevel = len(mem.cache_bytes) if cold_rule else level
    wscale = scale if wlevel == level else 1
    seconds += cost.weight_bytes / (mem.bandwidth_gb_per_s[wlevel] * 1e9 * wscale)
    return 1000.0 * seconds / rt.memory_efficiency


def stream_ms(profile: DeviceProfile, nbytes: int, memory_efficiency: float | None = None,
              past_caches: bool = False) -> float:
    """Milliseconds to move ``nbytes`` on one thread: at the bandwidth of the memory level they fit in
    (``[memory]``; ``past_caches``: of memory past every cache level, data the cache no longer holds), else the
    device's memory bandwidth, times the memory efficiency (the profile's unless given)."""
    if nbytes <= 0:
        return 0.0
    mem = profile.memory
    level = -1 if mem is None or past_caches else mem.level_of(nbytes)
    bandwidth = profile.hardware.memory_bandwidth_gb_per_s if mem is None else mem.bandwidth_gb_per_s[level]
    eff = profile.runtime.memory_efficiency if memory_efficiency is None else memory_efficiency
    return 1000.0 * nbytes / (bandwidth * 1e9 * eff)


def copy_ms(profile: DeviceProfile, nbytes: int) -> float:
    """Milliseconds to copy ``nbytes`` on one thread: read and written (:func:`stream_ms` of twice the bytes)."""
    return stream_ms(profile, 2 * nbytes)


def cold_fraction(memory: Memory | None, working_set_bytes: int) -> float:
    """The share of a model's weights an invoke finds out of cache (0 without the profile's figures)."""
    if memory is None or memory.weight_cache_bytes is None or working_set_bytes <= 0:
        return 0.0
    return max(0.0, 1.0 - memory.weight_cache_bytes / working_set_bytes)


def cold_weight_ms(memory: Memory | None, weight_bytes: int, fraction: float, threads: int) -> float:
    """Milliseconds an op pays on top of its in-cache time for the share ``fraction`` of its weights."""
    if memory is None or not memory.cold_weight_gb_per_s or fraction <= 0.0 or weight_bytes <= 0:
        return 0.0
    return 1000.0 * fraction * weight_bytes / (at_threads(memory.cold_weight_gb_per_s, threads) * 1e9)


def has_cold_weights(memory: Memory | None) -> bool:
    """True when the profile measured cold weights (then memory_ms reads weights at their own level)."""
    return memory is not None and memory.weight_cache_bytes is not None


__all__ = ["memory_ms", "cold_fraction", "cold_weight_ms", "copy_ms", "has_cold_weights", "stream_ms"]
