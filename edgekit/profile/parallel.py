"""Which ops XNNPACK splits over its threads, and the fixed cost of each split (``[parallel]``).

Past one thread, XNNPACK hands every op that spans more than one of its tiles to pthreadpool's workers and
waits for them; an op of one tile runs on the calling thread. Measured on this project's 2-vCPU x86 VM
(2026-12-04, chains of 8 and 40 identical ops, per op = difference / 32; docs/BENCHMARKS.md, "estimator"):

- a 1x1 conv with 16 output channels: 1 to 7 output pixels run inline at 2 threads (0.035-0.059 us per op
  at both thread counts), 8 pixels and more pay ~0.3 us (0.085 -> 0.35 us): the GEMM's 7-row tile;
- one output pixel: inline up to 16 output channels, split from 20 (float32 at exactly 32 ran inline again);
- a 3x3 depthwise: one output row inline, two rows and more split (+0.38-0.45 us); max and average pooling
  alike (XNNPACK gives each output row a task: 2x2 int8 max pools of 512 B out paid +0.3 us at 2 threads);
- ADD: float32 inline up to 16 KiB of output, split at 32 KiB; int8 the same in bytes.

What a split op pays grows with its work up to ~0.2 us of it, then holds (calm, 2 threads: 0.24-0.30 us for a
16-row chain of 0.08 us ops, 0.39-0.52 for ops of 0.2-19 us); every split op of a model but the smallest is past
that ramp, so ``dispatch_us`` is the plateau's (:mod:`edgekit.calibrate.parallel`).
So the estimator adds ``dispatch_us[threads]`` to each op XNNPACK runs that :func:`splits` says is split, and
nothing to the rest: a microWakeWord streaming model pays it on its five 1x1 convolutions and not on its
one-row depthwise ones (2 threads: -38% without, +3% with). ``edgekit calibrate`` measures the four sizes and
the cost on the machine (:mod:`edgekit.calibrate.parallel`); a profile without ``[parallel]`` adds nothing.
"""

from __future__ import annotations

from edgekit.profile.costs import OP_CLASSES, gemm_shape, op_macs, tensor_bytes
from edgekit.profile.schema import OpClass, Parallel
from edgekit.profile.schema_fields import at_threads
from edgekit.tflite.model import Operator, Subgraph

# XNNPACK runs these one output row per task, whatever their bytes (its depthwise, max- and average-pooling
# operators): split past one thread from two output rows. The sample classifier's three int8 max pools (512 B -
# 4 KiB out, under the bytes rule's 16 KiB) ran 1.14 / 0.35 / 0.05 us at 1 thread and 1.01 / 0.52 / 0.36 at 2
ROW_SPLIT_OPS = frozenset({"DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"})
# LiteRT's builtin kernels that run on its own thread pool (ruy / gemmlowp); the other builtins run on one thread.
# A build may run one of them on one thread all the same (the x86-64 wheels' float FULLY_CONNECTED: Eigen without a
# pool): calibrate measures that one's share ([thread_scaling] FULLY_CONNECTED_BUILTIN, edgekit.calibrate.builtinfc)
MULTITHREADED_BUILTINS = frozenset({OpClass.CONV, OpClass.DEPTHWISE_CONV, OpClass.FULLY_CONNECTED,
                                    OpClass.TRANSPOSE_CONV, OpClass.BATCH_MATMUL})
# those whose cost in a graph past one thread calibrate measures (``[parallel] builtin_pool_us``): its depthwise, and
# the convolutions on the same pool; its FULLY_CONNECTED at batch 1 (openWakeWord's 1536x64 with non-constant
# weights) paid no such cost here, TRANSPOSE_CONV / BATCH_MATMUL are not measured
BUILTIN_POOL_CLASSES = frozenset({OpClass.CONV, OpClass.DEPTHWISE_CONV})


def splits(parallel: Parallel, sg: Subgraph, op: Operator, dtype: str) -> bool:
    """True when XNNPACK splits ``op`` (compute dtype ``dtype``) over more than one thread."""
    shape = gemm_shape(sg, op)
    if shape is not None:
        rows, channels = shape[0], shape[1]
        limit = parallel.int8_gemm_channels if dtype in ("int8", "uint8") else parallel.float32_gemm_channels
        return rows > parallel.gemm_rows or channels > limit
    if not op.outputs or op.outputs[0] < 0:
        return False
    out = sg.tensor(op.outputs[0])
    if op.name in ROW_SPLIT_OPS:  # one task per output row (XNNPACK's 2-d parallelization: batch x output rows)
        return len(out.shape) == 4 and out.shape[0] * out.shape[1] > 1
    return tensor_bytes(out) > parallel.split_bytes


def splits_channels(parallel: Parallel, sg: Subgraph, op: Operator) -> bool:
    """A GEMM whose output rows fit in one of XNNPACK's row tiles (a fully connected layer, a conv after global
    pooling): split at all, it is split by output channels, so each thread reads only its share of the weights.
    Measured here (docs/BENCHMARKS.md, "estimator"): chains of 256 -> 256 float32 1x1 convs past the cache paid
    12.9 / 15.3 / 18.3 / 23.6 us per MiB of cold weights at 1 thread with 1 / 7 / 16 / 64 output rows, and 2.6 /
    7.9 / 17.9 / 21.6 at 2 threads: a share per thread up to one row tile (7), the whole above it."""
    shape = gemm_shape(sg, op)
    return shape is not None and shape[0] <= parallel.gemm_rows


def dispatch_ms(parallel: Parallel | None, threads: int) -> float:
    """Milliseconds one split op pays at ``threads`` (0 at one thread or without the figures)."""
    if parallel is None or threads <= 1:
        return 0.0
    return at_threads(parallel.dispatch_us, threads) / 1000.0


def handoff_figures(parallel: Parallel | None, threads: int) -> tuple[float, float] | None:
    """(share, cap ms) of ``[parallel] handoff_share / handoff_cap_us`` at ``threads`` (the last figure beyond the
    list), None at one thread or without them: a single-threaded builtin op that runs while XNNPACK's workers
    still spin after a split op is ``share`` slower, by at most ``cap`` over such ops until the next split
    (:mod:`edgekit.calibrate.handoff`)."""
    if parallel is None:
        return None
    return _share_cap(parallel.handoff_share, parallel.handoff_cap_us, threads)


def inline_figures(parallel: Parallel | None, threads: int) -> tuple[float, float] | None:
    """(share, cap ms) of ``[parallel] inline_share / inline_cap_us`` at ``threads``, None at one thread or without
    them: the ops XNNPACK runs inline after a split op are ``share`` slower, by at most ``cap`` until the next split.
    Measured here (int8, 2 threads, the calm hand-over of 0.28-0.30 us): a split 1x1 conv followed by 1, 2, 4, 8,
    16, 32, 64 inline ADDs (0.03-2.5 us of them) took +0.02, +0.03, +0.09..0.16, +0.15..0.19, +0.20..0.22,
    +0.24..0.29, +0.26..0.29 us more than the two chains alone; in the slow mood (1.0-1.2 us) +0.17..0.53."""
    if parallel is None:
        return None
    return _share_cap(parallel.inline_share, parallel.inline_cap_us, threads)


# LiteRT's own rules for using more than one thread (tensorflow/lite/kernels/internal): its depthwise one thread per
# 8192 multiplies (depthwiseconv_multithread.h, kMinMulPerThread); a GEMM (ruy) 2^(ceil_log2(rows) +
# ceil_log2(cols) + ceil_log2(depth) - 15) threads. Below two, the op runs on the calling thread and wakes no pool.
DEPTHWISE_MULS_PER_THREAD = 1 << 13
GEMM_THREADS_LOG2_DIVISOR = 15


def _ceil_log2(n: int) -> int:
    return max(0, (max(1, n) - 1).bit_length())


def uses_builtin_pool(sg: Subgraph, op: Operator, macs: int) -> bool:
    """True when LiteRT's builtin kernel of ``op`` (a convolution XNNPACK refused) takes more than one thread
    (:data:`BUILTIN_POOL_CLASSES`; the rules above)."""
    cls = OP_CLASSES.get(op.name)
    if cls not in BUILTIN_POOL_CLASSES:
        return False
    if cls == OpClass.DEPTHWISE_CONV:
        return macs >= 2 * DEPTHWISE_MULS_PER_THREAD
    shape = gemm_shape(sg, op)
    if shape is None:
        return False
    pixels, channels, cin, taps = shape
    return _ceil_log2(channels) + _ceil_log2(pixels) + _ceil_log2(cin * taps) - GEMM_THREADS_LOG2_DIVISOR >= 1


def builtin_pool_ms(parallel: Parallel | None, threads: int) -> float:
    """``[parallel] builtin_pool_us`` at ``threads`` in ms (0 at one thread or without it): what each of LiteRT's
    own multi-threaded convolutions (:data:`BUILTIN_POOL_CLASSES`) pays in a graph beyond its time alone
    (:mod:`edgekit.calibrate.builtinpool`)."""
    if parallel is None or threads < 2 or not parallel.builtin_pool_us:
        return 0.0
    return at_threads(parallel.builtin_pool_us, threads) / 1000.0


def _share_cap(shares: tuple[float, ...], caps_us: tuple[float, ...], threads: int) -> tuple[float, float] | None:
    if threads < 2 or not shares:
        return None
    share, cap_us = at_threads(shares, threads), at_threads(caps_us, threads)
    return (share, cap_us / 1000.0) if share > 0 and cap_us > 0 else None


def two_pools_note(sg: Subgraph, delegated: list[bool], include: list[bool], threads: int,
                   pool_us: float = 0.0, cores: int = 0) -> list[str]:
    """Say so when, past one thread, XNNPACK's ops share the graph with builtin ops LiteRT runs on its own thread pool,
    and what of it the estimate includes (``pool_us``: ``[parallel] builtin_pool_us`` at ``threads``, 0 without).

    Measured on this project's 2-vCPU VM (docs/BENCHMARKS.md, "estimator"): one builtin dynamic-range depthwise
    among 8-48 float 1x1 convs that XNNPACK splits cost +58..72 us at 2 threads beyond the two parts alone, wherever
    it sat and whatever the convs' size; fer's emotion model (one such depthwise) 0.27-0.40 ms at 2 threads against
    0.37 at 1; facex's (49 builtin dynamic-range convolutions) 13-24 ms against 12.0-12.3, and 15.5 against 13.2
    with XNNPACK off altogether (so not only the two pools: LiteRT's own pool pays in a graph what it does not
    alone). ``edgekit calibrate`` measures the cost per convolution (:mod:`edgekit.calibrate.builtinpool`) and the
    estimate adds it.

    The rest is where the OS puts the threads, when XNNPACK's ``threads - 1`` workers, LiteRT's own (at least as
    many) and the calling thread outnumber the ``cores``: facex's model at 2 threads (3 runtime threads on 2
    vCPUs) ran 11.3-13.0 ms with each thread pinned so that its busiest worker (one of LiteRT's, which spins
    between jobs) had a core without the calling thread, 20.1 ms with the two others on the caller's core, 120 ms
    with the busy one there, and 12.1-20.2 ms unpinned from one process to the next
    (``scripts/bench_thread_placement.py``; docs/BENCHMARKS.md). The estimate is the first placement's; the note
    says which way the rest goes (``cores`` 0: unknown, not said)."""
    if threads < 2 or not any(d and i for d, i in zip(delegated, include, strict=True)):
        return []
    builtin = [op for op, d, i in zip(sg.operators, delegated, include, strict=True)
               if i and not d and OP_CLASSES.get(op.name) in MULTITHREADED_BUILTINS]
    if not builtin:
        return []
    names = ", ".join(sorted({op.name for op in builtin}))
    charged = sum(1 for op in builtin if uses_builtin_pool(sg, op, op_macs(sg, op)[0])) if pool_us > 0 else 0
    included = (f"; the estimate includes the {pool_us:.0f} us each of the {charged} convolution(s) among them pay "
                "in a graph (calibrate measured it)" if charged else ", which this estimate does not include")
    crowded = cores > 0 and 2 * threads - 1 > cores
    placement = (f". With the calling thread that is at least {2 * threads - 1} threads on {cores} cores, and where "
                 "the OS puts them decides the time: the estimate is for the pools' busiest worker on a core of its "
                 "own; on a 2-vCPU VM one such graph ran 1.6x that with two workers on the calling thread's core and "
                 "10x with the busiest there, unpinned one or the other from run to run "
                 f"(docs/BENCHMARKS.md, \"thread placement\"); at most {max(1, (cores + 1) // 2)} thread(s) avoid it"
                 if crowded else "")
    return [f"at {threads} threads {len(builtin)} op(s) ({names}) run on LiteRT's own multi-threaded kernels between "
            f"XNNPACK's: the two runtimes' thread pools spin against each other{included} (on a 2-vCPU VM such graphs "
            f"ran 1.1-4.6x their estimate without it, some slower than at 1 thread; docs/BENCHMARKS.md){placement}"]


__all__ = ["BUILTIN_POOL_CLASSES", "MULTITHREADED_BUILTINS", "builtin_pool_ms", "uses_builtin_pool", "ROW_SPLIT_OPS", "splits", "splits_channels", "dispatch_ms", "handoff_figures", "inline_figures",
           "two_pools_note"]
