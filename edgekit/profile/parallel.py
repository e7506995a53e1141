"""Which ops XNNPACK splits over its threads, and the fixed cost of each split (``[parallel]``).

Past one thread, XNNPACK hands every op that spans more than one of its tiles to pthreadpool's workers and
waits for them; an op of one tile runs on the calling thread. Measured on this project's 2-vCPU x86 VM
(2026-12-04, chains of 8 and 40 identical ops, per op = difference / 32; docs/BENCHMARKS.md, "estimator"):

- a 1x1 conv with 16 output channels: 1 to 7 output pixels run inline at 2 threads (0.035-0.059 us per op
  at both thread counts), 8 pixels and more pay ~0.3 us (0.085 -> 0.35 us): the GEMM's 7-row tile;
- one output pixel: inline up to 16 output channels, split from 20 (float32 at exactly 32 ran inline again);
- a 3x3 depthwise: one output row inline, two rows and more split (+0.38-0.45 us);
- ADD: float32 inline up to 16 KiB of output, split at 32 KiB; int8 the same in bytes.

So the estimator adds ``dispatch_us[threads]`` to each op XNNPACK runs that :func:`splits` says is split, and
nothing to the rest: a microWakeWord streaming model pays it on its five 1x1 convolutions and not on its
one-row depthwise ones (2 threads: -38% without, +3% with). ``edgekit calibrate`` measures the four sizes and
the cost on the machine (:mod:`edgekit.calibrate.parallel`); a profile without ``[parallel]`` adds nothing.
"""

from __future__ import annotations

from edgekit.profile.costs import gemm_shape, tensor_bytes
from edgekit.profile.schema import Parallel
from edgekit.tflite.model import Operator, Subgraph


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
    if op.name == "DEPTHWISE_CONV_2D":
        return len(out.shape) == 4 and out.shape[0] * out.shape[1] > 1
    return tensor_bytes(out) > parallel.split_bytes


def dispatch_ms(parallel: Parallel | None, threads: int) -> float:
    """Milliseconds one split op pays at ``threads`` (0 at one thread or without the figures)."""
    if parallel is None or threads <= 1:
        return 0.0
    figures = parallel.dispatch_us
    return figures[min(threads, len(figures)) - 1] / 1000.0


__all__ = ["splits", "dispatch_ms"]
