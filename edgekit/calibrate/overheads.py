"""Fixed costs and the memory hierarchy of this machine, measured directly (``edgekit calibrate``).

Single-op micro-benchmarks time ops that take tens of microseconds; the fixed costs hide in their noise,
yet they are what a tiny model is made of (a streaming keyword spotter's whole invoke is a few
microseconds). So they are measured on chains of tiny ops, n = 4, 32 and 128 long, timed like
``edgekit bench`` times an invoke (wall clock around each ``invoke()``, median), and fitted as
``t(n) = invoke + n * per_op``:

- XNNPACK per-op cost: a chain of float32 ADDs (one delegate partition);
- builtin per-op cost: the same chain with the delegate off;
- partition hand-over: int8 ADD (XNNPACK) alternating with int8 RELU (XNNPACK refuses it), n partitions:
  the time beyond n ADDs and n RELUs, per partition;
- a streaming model's state ops (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE: the ring buffers of keyword
  spotters carry their state between calls in resource variables): n variables each looked up, read and
  written, per op. They only dispatch and copy a few hundred bytes: ~0.01 us each here, where the builtin
  per-op cost above (a float ADD's, 0.07 us) charged microWakeWord's six rings 0.6 us of its 2.2.

The memory hierarchy: the cache levels from ``/sys/devices/system/cpu/cpu0/cache`` (the per-core L2 and
the shared last level) and the copy bandwidth of a working set inside each level and of one 4x the last
level (DRAM). Whole models stream their weights from DRAM when they do not fit in the last level; the
micro-benchmarks never do: the estimator's ``[memory]`` section is where that difference lives.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.core.tflite_builder import Quant, TFLiteBuilder

CHAIN_LENGTHS = (4, 32, 128)
TINY = (1, 8)


@dataclass(frozen=True)
class Overheads:
    """Fixed costs in microseconds (wall clock, as `edgekit bench` sees them)."""

    invoke_us: float
    xnnpack_op_us: float
    builtin_op_us: float
    partition_us: float
    builtin_invoke_us: float
    state_op_us: float


@dataclass(frozen=True)
class MemoryLevels:
    cache_bytes: tuple[int, ...]
    bandwidth_gb_per_s: tuple[float, ...]  # one per cache level, then DRAM
    private_levels: int


def _chain(n: int, dtype: str, alternate: bool = False) -> bytes:
    """n tiny ADDs (x + constant); ``alternate``: each followed by a RELU (int8: XNNPACK refuses it)."""
    q = Quant.per_tensor(0.05, 0) if dtype == "int8" else None
    b = TFLiteBuilder("edgekit calibrate overhead chain", default_quant=q)
    x = b.tensor("input", TINY, dtype)
    cur = x
    const = np.zeros(TINY, np.int8 if dtype == "int8" else np.float32)
    for i in range(n):
        c = b.constant(f"c{i}", const, quant=q)
        y = b.tensor(f"add{i}", TINY, dtype)
        b.operator("ADD", [cur, c], [y], version=2 if dtype == "int8" else 1)
        cur = y
        if alternate:
            z = b.tensor(f"relu{i}", TINY, dtype)
            b.operator("RELU", [cur], [z], version=2 if dtype == "int8" else 1)
            cur = z
    return b.build([x], [cur])


def _relu_chain(n: int) -> bytes:
    q = Quant.per_tensor(0.05, 0)
    b = TFLiteBuilder("edgekit calibrate overhead chain", default_quant=q)
    x = b.tensor("input", TINY, "int8")
    cur = x
    for i in range(n):
        z = b.tensor(f"relu{i}", TINY, "int8")
        b.operator("RELU", [cur], [z], version=2)
        cur = z
    return b.build([x], [cur])


def state_chain(n: int) -> bytes:
    """n resource variables, each looked up (VAR_HANDLE), read (READ_VARIABLE) and set to the input
    (ASSIGN_VARIABLE), as a streaming model's ring buffer does on every call; XNNPACK keeps the variables."""
    q = Quant.per_tensor(0.05, 0)
    b = TFLiteBuilder("edgekit calibrate state-op chain", default_quant=q)
    x = b.tensor("input", TINY, "int8")
    out = x
    for i in range(n):
        h = b.tensor(f"var{i}", (), "resource", quant=None)
        b.operator("VAR_HANDLE", [], [h], options_type="VarHandleOptions", options={"sharedName": f"state{i}"})
        out = b.tensor(f"read{i}", TINY, "int8")
        b.operator("READ_VARIABLE", [h], [out])
        b.operator("ASSIGN_VARIABLE", [h, x], [])
    return b.build([x], [out])


def _median_us(data: bytes, use_xnnpack: bool, target_s: float) -> tuple[float, int]:
    from edgekit.tflite.runtime import delegation_summary, load_interpreter

    interp = load_interpreter(data, num_threads=1, use_xnnpack=use_xnnpack)
    parts = delegation_summary(interp)[0]
    detail = interp.get_input_details()[0]
    interp.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(20):
        interp.invoke()
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    while len(samples) < 200 or (clock() - start < target_s and len(samples) < 20000):
        t0 = clock()
        interp.invoke()
        samples.append(clock() - t0)
    return float(np.median(samples)) * 1e6, parts


def _line(ns: list[int], ts: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (n, t)."""
    slope, intercept = np.polyfit(np.array(ns, float), np.array(ts, float), 1)
    return float(intercept), float(slope)


def _least_us(models: list[tuple[bytes, bool]], target_s: float, rounds: int) -> list[tuple[float, int]]:
    """(median us, partitions) of each (model, XNNPACK on) over ``rounds`` interleaved rounds, the least of each:
    one median each swung the fitted invoke cost 0.34-0.81 us between calibrations minutes apart here."""
    best: list[tuple[float, int]] = [(float("inf"), 0)] * len(models)
    for _ in range(rounds):
        for i, (data, xnn) in enumerate(models):
            us, parts = _median_us(data, xnn, target_s / rounds)
            best[i] = (min(us, best[i][0]), parts)
    return best


def measure_overheads(target_s: float = 0.3, rounds: int = 3) -> Overheads:
    """Time the chains (see the module docstring; ``rounds`` interleaved, the least disturbed median of each)
    and fit the fixed costs."""
    ns = list(CHAIN_LENGTHS)
    # hand-overs: n int8 ADDs (delegated) each followed by an int8 RELU (refused) -> n partitions
    kinds: list[tuple[Callable[[int], bytes], bool]] = [
        (lambda n: _chain(n, "float32"), True), (lambda n: _chain(n, "float32"), False),
        (lambda n: _chain(n, "int8"), True), (_relu_chain, True), (lambda n: _chain(n, "int8", alternate=True), True),
        (state_chain, True)]
    models = [(build(n), xnn) for build, xnn in kinds for n in ns]
    timed = _least_us(models, target_s, rounds)
    xnn, builtin, adds, relus, alt, states = (timed[k * len(ns):(k + 1) * len(ns)] for k in range(len(kinds)))
    invoke, xnn_op = _line(ns, [t for t, _ in xnn])
    b_invoke, b_op = _line(ns, [t for t, _ in builtin])
    _, add_op = _line(ns, [t for t, _ in adds])
    _, relu_op = _line(ns, [t for t, _ in relus])
    parts = [p for _, p in alt]
    _, alt_slope = _line(parts, [t for t, _ in alt]) if len(set(parts)) > 1 else (0.0, add_op + relu_op)
    partition = max(0.0, alt_slope - add_op - relu_op)
    _, state_unit = _line(ns, [t for t, _ in states])
    return Overheads(max(0.0, invoke), max(0.0, xnn_op), max(0.0, b_op), partition, max(0.0, b_invoke),
                     max(0.0, state_unit / 3))


def cache_levels(cpu: int = 0) -> list[tuple[int, bool]]:
    """(size in bytes, private to one core) of the unified caches from level 2 up, smallest first (Linux sysfs;
    empty elsewhere)."""
    root = Path(f"/sys/devices/system/cpu/cpu{cpu}/cache")
    out: list[tuple[int, bool]] = []
    for idx in sorted(root.glob("index*")):
        try:
            level = int((idx / "level").read_text().strip())
            kind = (idx / "type").read_text().strip()
            size_text = (idx / "size").read_text().strip().upper()
            shared = (idx / "shared_cpu_list").read_text().strip()
        except (OSError, ValueError):
            continue
        if level < 2 or kind not in ("Unified", "Data"):
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size_text[-1], 1)
        size = int(size_text.rstrip("KMG")) * mult
        private = shared in (str(cpu), "") or ("," not in shared and "-" not in shared)
        out.append((size, private))
    return sorted(out)


def copy_bandwidth_gb_s(working_set_bytes: int, min_time_s: float = 0.05) -> float:
    """Copy bandwidth (bytes read + written per second, best of repeated copies) of a working set this size."""
    n = max(1024, working_set_bytes // 2 // 8)
    src = np.ones(n, np.float64)
    dst = np.empty_like(src)
    # small copies are timed in batches, so that numpy's call overhead does not count as memory time
    batch = max(1, (1 << 21) // src.nbytes)
    best = float("inf")
    start = time.perf_counter()
    reps = 0
    while reps < 5 or (time.perf_counter() - start < min_time_s and reps < 10000):
        t0 = time.perf_counter()
        for _ in range(batch):
            np.copyto(dst, src)
        best = min(best, (time.perf_counter() - t0) / batch)
        reps += 1
    return round(2 * src.nbytes / best / 1e9, 2)


def measure_memory_levels() -> MemoryLevels | None:
    """The cache levels and their copy bandwidths (None when the OS does not say what the caches are)."""
    levels = cache_levels()
    if not levels:
        return None
    # a working set well inside each level (a quarter of it: the rest of the machine uses the shared ones too)
    bws = [copy_bandwidth_gb_s(size // 4) for size, _ in levels]
    bws.append(copy_bandwidth_gb_s(4 * levels[-1][0], min_time_s=0.2))
    # a level can't be faster than the one below it on a loaded machine's bad draw: keep them ordered
    for i in range(len(bws) - 2, -1, -1):
        bws[i] = max(bws[i], bws[i + 1])
    private = sum(1 for _, p in levels if p)
    return MemoryLevels(tuple(size for size, _ in levels), tuple(bws), private)


def median_levels(measured: Sequence[MemoryLevels | None]) -> MemoryLevels | None:
    """Per level, the median bandwidth of :func:`measure_memory_levels` taken at several moments of a calibration:
    the copy rates move with the host, and one calibration here measured every level 30% above nine others
    (132 / 129 / 49 GB/s against 98-103 / 95-100 / 26-37, at its start). The fit's memory efficiency absorbs a
    uniform error (refitted on one suite with the rates 1.3x, the per-op figures stayed), but the levels' rates also
    decide which level a working set is charged at and the weight streams' ratios: one moment should not set them."""
    sets = [m for m in measured if m is not None]
    if not sets:
        return None
    bws = [float(np.median([m.bandwidth_gb_per_s[i] for m in sets])) for i in range(len(sets[0].bandwidth_gb_per_s))]
    for i in range(len(bws) - 2, -1, -1):  # ordered, as each measurement is
        bws[i] = max(bws[i], bws[i + 1])
    return MemoryLevels(sets[0].cache_bytes, tuple(round(b, 2) for b in bws), sets[0].private_levels)


def load_average() -> float:
    try:
        return float(os.getloadavg()[0])
    except OSError:  # pragma: no cover - not Unix
        return float("nan")


__all__ = ["Overheads", "MemoryLevels", "CHAIN_LENGTHS", "measure_overheads", "state_chain", "cache_levels", "copy_bandwidth_gb_s", "median_levels",
           "measure_memory_levels", "load_average"]
