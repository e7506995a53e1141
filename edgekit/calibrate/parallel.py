"""``[parallel]``: which ops XNNPACK splits over its threads here, and what a split costs (:mod:`edgekit.profile.parallel`).

Each figure comes from chains of 8 and 40 identical tiny ops, timed like ``edgekit bench`` times an invoke
(wall clock, median); the time per op is the difference over 32. At T threads an op that runs inline takes its
one-thread time; a split one takes its share of the work plus the hand-over, so its excess
``per_op(T) - per_op(1) / T`` stands out above noise even for ops of a few hundred MACs:

- ``dispatch_us[T]``: the median excess (the lower of two measurements each) of 1x1 convs of 64, 128 and 256
  output pixels and 8 channels (more rows than any GEMM tile of XNNPACK's kernels, so split wherever there are
  threads). The excess grows with the op's work up to ~0.2 us of it, then holds: here, calm, 16 / 32 / 64 / 128
  / 256 rows (0.08 / 0.12-0.20 / 0.20-0.28 / 0.36-0.41 / 0.69-0.80 us at one thread) paid 0.24-0.30 / 0.32-0.36 /
  0.42-0.44 / 0.39-0.42 / 0.41-0.45 us, and int8 / float32 1x1 convs of 8x8x16 to 64x64x16 (0.26-19 us) 0.36-0.52.
  An op in a model is one of the latter (the sample classifier's, microWakeWord's, whose 2-thread estimates were
  -12% / -4..-9% with the 16-64-row median of 0.33); the 16-row chain stays the quick check of the mood
  (:func:`handover_us`) and the yardstick of what splits;
- ``gemm_rows``: the last pixel count 1, 2, ... 16 of such a conv (8 channels) that runs inline at 2 threads;
- ``<dtype>_gemm_channels``: the last output-channel count of a one-pixel conv that runs inline;
- ``split_bytes``: the last float32 ADD output size (4 KiB ... 128 KiB) that runs inline.

"Inline" is an excess below half the 16-row chain's, measured right before it, in two of three measurements.

A virtual machine's hand-over has moods: on this project's 2-vCPU VM it costs 0.3-0.4 us for minutes, then
1.2 us or more for minutes (the chains' 2-thread time triples, a small model's 2-thread invoke grows by half,
while each vCPU alone computes as fast as ever: the host moved the vCPUs apart), and now and then 0.12 us.
calibrate measures the figures three times, at the start, the middle and the end of its run, and keeps the set
with the median hand-over (:func:`middle`): one measurement in a passing mood, either way, does not decide. :func:`handover_us` is the quick check of the
mood at any moment (``scripts/bench_estimator.py`` runs it around every multi-thread bench).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgekit.calibrate.blocks import LayerNet, build_conv_chain
from edgekit.core.progress import status

ROWS = tuple(range(1, 17))
CHANNELS = (4, 8, 16, 24, 32, 48, 64, 96, 128)  # float32 at 32 ran inline here, 20-28 and 40+ split
SPLIT_BYTES = (4096, 8192, 16384, 32768, 65536, 131072)
SHORT, LONG = 8, 40
DISPATCH_ROWS = (64, 128, 256)  # past the ramp: what a split op of a model pays
HANDOVER_ROWS = 16  # the smallest split chain: the mood check, and half its excess tells a split op


@dataclass(frozen=True)
class ParallelFigures:
    dispatch_us: tuple[float, ...]  # per thread count, from 1 (0.0)
    gemm_rows: int
    float32_gemm_channels: int
    int8_gemm_channels: int
    split_bytes: int
    handoff_share: tuple[float, ...] = ()  # edgekit.calibrate.handoff, per thread count from 1
    handoff_cap_us: tuple[float, ...] = ()
    inline_share: tuple[float, ...] = ()
    inline_cap_us: tuple[float, ...] = ()
    builtin_pool_us: tuple[float, ...] = ()  # edgekit.calibrate.builtinpool

    def to_doc(self) -> dict[str, object]:
        handoff = ({"handoff_share": list(self.handoff_share), "handoff_cap_us": list(self.handoff_cap_us)}
                   if self.handoff_share else {})
        if self.inline_share:
            handoff.update(inline_share=list(self.inline_share), inline_cap_us=list(self.inline_cap_us))
        if self.builtin_pool_us:
            handoff.update(builtin_pool_us=list(self.builtin_pool_us))
        return {"dispatch_us": [round(d, 4) for d in self.dispatch_us], "gemm_rows": self.gemm_rows,
                "float32_gemm_channels": self.float32_gemm_channels, "int8_gemm_channels": self.int8_gemm_channels,
                "split_bytes": self.split_bytes, **handoff}


def add_chain(dtype: str, elements: int, n: int) -> bytes:
    """``n`` ADDs of a tensor of ``elements`` with itself."""
    net = LayerNet(dtype, (1, 1, 1, elements), 0, f"edgekit parallel-split chain {dtype} add {elements}")
    x = net.inp
    for _ in range(n):
        x = net.binary("ADD", x, x)
    return net.finish(x)


def per_op_us(build: Callable[[int], bytes], threads: int, target_s: float) -> float:
    """Microseconds per op of a chain: (t(LONG) - t(SHORT)) / (LONG - SHORT), wall-clock medians."""
    from edgekit.calibrate.runner import _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    times = []
    for n in (SHORT, LONG):
        interp = load_interpreter(build(n), num_threads=threads)
        times.append(_time_invokes(interp, target_s, min_runs=20, max_runs=20000)[0])
        del interp
    return max(0.0, (times[1] - times[0]) * 1000.0 / (LONG - SHORT))


def excess_us(build: Callable[[int], bytes], threads: int, target_s: float) -> float:
    """What an op pays at ``threads`` beyond its share of the one-thread time."""
    return per_op_us(build, threads, target_s) - per_op_us(build, 1, target_s) / threads


def last_inline(sizes: Sequence[int], split: Callable[[int], bool]) -> int:
    """The last size before the first that is split (the first size - 1 when even that one is)."""
    for i, size in enumerate(sizes):
        if split(size):
            return sizes[i - 1] if i else max(1, size - 1)
    return sizes[-1]


def rows_chain(rows: int) -> Callable[[int], bytes]:
    """A chain of 1x1 float32 convs of ``rows`` output pixels and 8 channels (``n`` long)."""
    return lambda n: build_conv_chain("float32", 1, rows, 8, n)


def handover_us(threads: int = 2, target_s: float = 0.05) -> float:
    """One measurement of what a split op pays at ``threads`` now (the 16-row chain's excess; ~0.3 s)."""
    return max(0.0, excess_us(rows_chain(HANDOVER_ROWS), threads, target_s))


def handover_at(threads: int | None) -> float | None:
    """:func:`handover_us` at ``threads``; None below 2 threads or for the runtime's default count (``edgekit
    bench`` measures it before and after each multi-thread run: :mod:`edgekit.benchhandover`)."""
    return handover_us(threads) if threads is not None and threads >= 2 else None


def middle(measured: Sequence[ParallelFigures | None]) -> ParallelFigures | None:
    """Of the figures measured at calibrate's start, middle and end, the set whose hand-over at the most threads is
    the median (of two, the cheaper). The VM here has three moods, not two: 0.3-0.4 us for minutes,
    1.1-1.2 us for minutes, and now and then 0.12 us (a 40-op chain at 2 threads in 5.5 us instead of 13.7): a
    calibration that kept the cheaper of two took 0.12 once, and microWakeWord's 2-thread estimates went -45%."""
    sets = sorted((f for f in measured if f is not None), key=lambda f: f.dispatch_us[-1])
    return sets[(len(sets) - 1) // 2] if sets else None


def calmest(measured: Sequence[ParallelFigures | None]) -> ParallelFigures | None:
    """The measurement whose hand-over at the most threads was the cheapest (None: none measured)."""
    return min((f for f in measured if f is not None), key=lambda f: f.dispatch_us[-1], default=None)


def calm_thresholds(chosen: ParallelFigures | None, measured: Sequence[ParallelFigures | None]) -> ParallelFigures | None:
    """``chosen`` (:func:`middle`'s) with which ops split taken from the measurement whose hand-over was the
    cheapest. Which ops XNNPACK splits is its tiling, not the VM's mood, but it is judged against the hand-over
    measured at the same moment: eleven calibrations here found int8 one-pixel GEMMs inline up to 16-24 channels
    (other ops up to 8-16 KiB in ten of them), one made wholly in the 1.1 us mood 128 channels and 128 KiB
    (microWakeWord's convolutions then inline: its 2-thread estimates -60%)."""
    calm = calmest(measured)
    if chosen is None or calm is None:
        return chosen
    return dataclasses.replace(chosen, gemm_rows=calm.gemm_rows, float32_gemm_channels=calm.float32_gemm_channels,
                               int8_gemm_channels=calm.int8_gemm_channels, split_bytes=calm.split_bytes)


def measure_parallel(max_threads: int, target_s: float = 0.05) -> ParallelFigures | None:
    """The ``[parallel]`` figures of this machine (None at one thread: nothing is split)."""
    if max_threads < 2:
        return None

    # each config twice, its lower excess: now and then a whole measurement runs in a slow mode (1.2 us where
    # the same chains gave 0.3-0.4 before and after, in one calibrate of five here), which bench's medians do not
    dispatch = [0.0] + [max(0.0, statistics.median(min(excess_us(rows_chain(m), t, target_s) for _ in range(2))
                                                   for m in DISPATCH_ROWS))
                        for t in range(2, max_threads + 1)]

    def split(build: Callable[[int], bytes]) -> bool:
        # split when its excess is over half the smallest split op's (the 16-row chain's, below the plateau),
        # measured right before it: the VM's mood moves within seconds, and one reference taken in its slow mood
        # (1.1 us) with sizes timed in the calm one calls nearly everything inline (one calibration here kept 16
        # rows, 32 / 128 channels and 64 KiB, against 7, 16 / 16 and 8-16 KiB in the others). Two of three votes
        # agree: one noisy excess moved the last inline size (int8 one-pixel convs: 16 channels in 37 of 47
        # calibrations here, 24-48 in the others, each a single measurement below threshold)
        def vote() -> bool:
            reference = excess_us(rows_chain(HANDOVER_ROWS), 2, target_s)
            return excess_us(build, 2, target_s) > max(0.5 * reference, 0.02)

        votes = [vote(), vote()]
        return votes[0] if votes[0] == votes[1] else vote()

    rows = last_inline(ROWS, lambda m: split(rows_chain(m)))
    def channel_split(dtype: str) -> Callable[[int], bool]:
        return lambda c: split(lambda n: build_conv_chain(dtype, 1, 1, c, n))

    channels = {dt: last_inline(CHANNELS, channel_split(dt)) for dt in ("float32", "int8")}
    nbytes = last_inline(SPLIT_BYTES, lambda b: split(lambda n: add_chain("float32", b // 4, n)))
    figures = ParallelFigures(tuple(dispatch), rows, channels["float32"], channels["int8"], nbytes)
    status(f"calibrate: threads: an op XNNPACK splits pays {', '.join(f'{d:.2f}' for d in dispatch[1:])} us "
           f"(2..{max_threads} threads); inline: GEMMs of <= {rows} rows and <= {channels['float32']} (float32) / "
           f"{channels['int8']} (int8) channels, other ops of <= {nbytes} bytes")
    return figures


__all__ = ["ParallelFigures", "measure_parallel", "add_chain", "per_op_us", "excess_us", "last_inline", "rows_chain",
           "handover_us", "handover_at", "middle", "calmest", "calm_thresholds"]
