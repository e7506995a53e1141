"""``[parallel] handoff_share`` / ``handoff_cap_us``: what a single-threaded builtin op pays past one thread when it
runs right after XNNPACK split work over its threads (:mod:`edgekit.profile.parallel`).

Measured on this project's 2-vCPU x86 VM: a chain of 8 pairs [int8 1x1 CONV_2D that XNNPACK splits -> int8
HARD_SWISH, which XNNPACK refuses and LiteRT runs on the calling thread] took 0.07-0.24 ms more at 2 threads than
the two chains alone (at 1 thread: 0.00-0.03 ms), the same with RELU or a QUANTIZE pair in place of the
HARD_SWISH. Per pair: ~20% of the builtin op's time up to a ceiling of 20-30 us (45 us HARD_SWISH -> +9 us,
180 us -> +16-22, 370 and 720 us -> +30). The likely cause: XNNPACK's workers spin for a while after their job,
and the builtin kernel reads what they wrote in the other core's cache, sharing the core pair with the
spinning worker; once the workers sleep the slow-down stops. MobileNetV3's int8 files, whose HARD_SWISHes run
as builtin ops between 20 delegate partitions, ran 3.7 ms at 2 threads against 3.9 at one.

Measured here the same way: the pair chain and each op's chain alone at T threads, interleaved rounds, medians;
``share = excess per pair / builtin time`` on a short builtin op (14x14x64), ``cap = excess per pair`` on a long
one (40x40x64, past the ceiling); each twice, the lower.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgekit.calibrate.blocks import LayerNet
from edgekit.calibrate.parallel import per_op_us
from edgekit.core.progress import status

PAIRS = 8
CHANNELS = 64
SHORT_SIDE, LONG_SIDE = 14, 40
ROUNDS = 5


@dataclass(frozen=True)
class Handoff:
    share: tuple[float, ...]  # per thread count, from 1 (0.0)
    cap_us: tuple[float, ...]
    inline_share: tuple[float, ...] = ()  # the ops XNNPACK runs inline after a split one (same layout)
    inline_cap_us: tuple[float, ...] = ()


# XNNPACK's inline ops after a split one: int8 ADDs of a 16-pixel, 8-channel tensor (inline: under split_bytes)
# after a 1x1 conv of it (split: more rows than a GEMM tile); the share on a few of them, the cap on many (measured
# here in the calm mood: +0.02 / +0.03 / +0.09..0.16 / +0.15..0.19 us after 1 / 2 / 4 / 8 ADDs of 0.03 us each,
# +0.20..0.22 / +0.24..0.29 / +0.26..0.29 after 16 / 32 / 64: saturated)
INLINE_FEW, INLINE_MANY = (4, 8), (16, 32)


def inline_chain(adds: int, conv: bool, inline: bool) -> Callable[[int], bytes]:
    """``n`` x [int8 1x1 conv of 16 pixels x 8 channels (XNNPACK splits it) -> ``adds`` ADDs it runs inline], or
    either part alone."""
    def build(n: int) -> bytes:
        net = LayerNet("int8", (1, 1, 16, 8), 0, f"edgekit calibrate: inline ops after a split one ({adds})")
        x = net.inp
        for _ in range(n):
            if conv:
                x = net.conv(x, 8, 1, act="NONE")
            if inline:
                for _ in range(adds):
                    x = net.binary("ADD", x, x)
        return net.finish(x)
    return build


def inline_excess_us(adds: int, threads: int, target_s: float = 0.06) -> tuple[float, float]:
    """(what a [split conv -> ``adds`` inline ADDs] unit takes at ``threads`` beyond its two parts' chains, the
    ADDs' us), per unit from chains of 8 and 40 units (:func:`edgekit.calibrate.parallel.per_op_us`)."""
    both, conv, adds_us = (per_op_us(inline_chain(adds, c, i), threads, target_s)
                           for c, i in ((True, True), (True, False), (False, True)))
    return both - conv - adds_us, adds_us


def measure_inline(top: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(share, cap us) per thread count from 1 of XNNPACK's inline ops after a split one: the share the median of
    excess / ADD time after 4 and 8 ADDs, the cap the median excess after 16 and 32 (saturated), and never below
    the excess already seen after fewer (the slow-down saturates: it does not shrink with more ops); each excess
    the median of three measurements. An excess is a difference of three chains' times, so a burst in any of them
    moves it either way: the lower of two, kept before, once came out 0.0 us for the cap beside a share of 0.23
    (2026-12-06; microWakeWord's 2-thread estimates -20%). Single measurements here ranged 0.5-2.8 (share) and
    0.1-0.33 us (cap) minutes apart; six sets of three in a row: share 0.68-0.75 and cap 0.24 in the calm
    hand-over, 1.8-2.2 and 0.29-0.42 in the slow one."""
    share, cap = [0.0], [0.0]
    for t in range(2, top + 1):
        few = []
        for m in INLINE_FEW:
            runs = [inline_excess_us(m, t) for _ in range(3)]
            few.append((statistics.median(e for e, _ in runs), statistics.median(us for _, us in runs)))
        many = [statistics.median(inline_excess_us(m, t)[0] for _ in range(3)) for m in INLINE_MANY]
        ratios = [max(0.0, e) / us for e, us in few if us > 0]
        share.append(round(min(10.0, float(statistics.median(ratios))), 4) if ratios else 0.0)
        cap.append(round(max(0.0, float(statistics.median(many)), *(e for e, _ in few)), 3))
    return tuple(share), tuple(cap)


def pair_chain(side: int, conv: bool, builtin: bool, pairs: int = PAIRS) -> bytes:
    """``pairs`` x [int8 1x1 conv (XNNPACK) -> int8 HARD_SWISH (builtin)] on side x side x 64, or either op's chain."""
    if not (conv or builtin):
        raise ValueError("a hand-off chain has the conv, the builtin op, or both")
    net = LayerNet("int8", (1, side, side, CHANNELS), 0, f"edgekit calibrate: builtin hand-off {side}")
    x = net.inp
    for _ in range(pairs):
        if conv:
            x = net.conv(x, CHANNELS, 1, act="NONE")
        if builtin:
            x = net.unary("HARD_SWISH", x)
    return net.finish(x)


def excess_per_pair_us(side: int, threads: int, target_s: float = 0.08) -> tuple[float, float]:
    """(excess us per pair of the pair chain over its two ops' chains, the builtin op's us) at ``threads``."""
    from edgekit.calibrate.runner import _time_invokes
    from edgekit.tflite.runtime import load_interpreter

    interps = [load_interpreter(pair_chain(side, c, b), num_threads=threads)
               for c, b in ((True, True), (False, True), (True, False))]
    rounds = [[_time_invokes(it, target_s, min_runs=20)[0] for it in interps] for _ in range(ROUNDS)]
    both, builtin, conv = (statistics.median(r[i] for r in rounds) for i in range(3))
    return (both - builtin - conv) * 1000.0 / PAIRS, builtin * 1000.0 / PAIRS


def measure_handoff(threads: Sequence[int]) -> Handoff | None:
    """The figures at each thread count from 2 to the largest in ``threads`` (None below 2)."""
    top = max(threads) if threads else 1
    if top < 2:
        return None
    share, cap = [0.0], [0.0]
    for t in range(2, top + 1):
        # each twice, the lower excess: a burst on the other core only ever adds to it (one of three measurements
        # here put the short chain's excess at 17 us where the others gave 9.3-9.6)
        short_excess, short_us = min(excess_per_pair_us(SHORT_SIDE, t) for _ in range(2))
        long_excess = min(excess_per_pair_us(LONG_SIDE, t)[0] for _ in range(2))
        share.append(round(max(0.0, short_excess) / short_us, 4) if short_us > 0 else 0.0)
        cap.append(round(max(0.0, long_excess, short_excess), 2))
    status(f"calibrate: a builtin op right after XNNPACK's threads: +{', '.join(f'{s:.0%}' for s in share[1:])} of "
           f"its time, up to {', '.join(f'{c:.1f}' for c in cap[1:])} us per run of them (2..{top} threads)")
    inline_share, inline_cap = measure_inline(top)
    status(f"calibrate: XNNPACK's inline ops after a split one: +{', '.join(f'{s:.0%}' for s in inline_share[1:])} of "
           f"their time, up to {', '.join(f'{c:.2f}' for c in inline_cap[1:])} us until the next split (2..{top} "
           "threads)")
    return Handoff(tuple(share), tuple(cap), inline_share, inline_cap)


__all__ = ["Handoff", "inline_chain", "inline_excess_us", "measure_handoff", "measure_inline", "pair_chain",
           "excess_per_pair_us"]
