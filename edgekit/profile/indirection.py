"""XNNPACK's indirection buffer: the pointers a spatial convolution reads on every inference.

XNNPACK runs a convolution with a kernel larger than 1x1 as an indirect GEMM: for every output pixel and kernel
tap it keeps a pointer to the input row that tap reads, and the micro-kernel loads them all on every call. Beside the convolution's arithmetic that is ``output pixels x taps x 8`` bytes (64-bit pointers),
which the GEMM figures do not see: negligible for an image model's 3x3 convolutions over a few thousand pixels
(56x56x9 pointers, 225 KiB), but a raw-waveform front-end's 1x256 kernel over 44,100 samples reads 90 MB of them.
Measured (this project's AVX-512 host, float32, one thread; docs/BENCHMARKS.md): Cin = 1, Cout = 2..16, 1x256
over 44,100 samples 6.9-7.2 ms against 3.3 ms of GEMM work, the difference the pointers at DRAM bandwidth
(26.5 GB/s: 3.4 ms); 1x16 over the same samples 0.287 against 0.231 (5.6 MB from the last-level cache: 0.06).
The time adds to the op's (the pointer loads stall the micro-kernel rather than overlap with it).

Pointers are read on every call, like weights, so in a whole model they are part of the working set that the
cache keeps between invokes or not: single-op benchmarks (and calibrate) run with them hot. basic-pitch's
1x256 waveform convolutions (22, 11 and 5.6 MB of pointers, 160 MB in the model) ran 1.09 / 0.51 / 0.25 ms
alone in a loop and 1.73 / 0.91 / 0.41 ms after 96 MB of other traffic (2026-12-05, this project's 2-vCPU
AMD EPYC VM, one thread), as inside the graph (in-graph time of the segments that hold them, from prefixes of
the model: +0.5 ms each over the ops alone). So the share of them the cold-weight rule puts out of cache
(:func:`edgekit.profile.memory.cold_fraction` of the model's weights, arena and pointers) streams at the
memory's bandwidth instead of the level they would fit in (:func:`pointer_ms`).
"""

from __future__ import annotations

from edgekit.profile.memory import stream_ms
from edgekit.profile.schema import DelegateKind, DeviceProfile
from edgekit.tflite.model import Operator, Subgraph

POINTER_BYTES = 8  # 64-bit targets (x86-64, arm64: Raspberry Pi OS 64-bit, Android)
INDIRECT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
# the ops whose pointer reads the estimator times (measured on convolutions; a depthwise reads its input per
# tap and channel, so its pointers are a small share that its fitted figure already holds)
TIMED_OPS = frozenset({"CONV_2D"})


def op_indirection_bytes(sg: Subgraph, op: Operator) -> int:
    """Bytes of XNNPACK indirection pointers of one conv / depthwise / pool: one per output pixel and kernel tap
    (0 with one tap: a 1x1 convolution is a plain GEMM)."""
    if op.name not in INDIRECT_OPS or not op.outputs or op.outputs[0] < 0:
        return 0
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = sg.tensor(op.inputs[1]).shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
        taps = w[1] * w[2] if len(w) == 4 else 1
    else:
        taps = int(op.options.get("filter_width", 1) or 1) * int(op.options.get("filter_height", 1) or 1)
    out = sg.tensor(op.outputs[0]).shape
    return out[0] * out[1] * out[2] * taps * POINTER_BYTES if taps > 1 and len(out) == 4 else 0


def indirection_bytes(sg: Subgraph, include: list[bool] | None = None) -> int:
    """Bytes of XNNPACK indirection buffers for the ops of ``sg`` it takes (``include``: ops to count), kept for
    the life of the interpreter (NASNet-Mobile's 5x5/7x7 depthwise stacks make 16-17 MiB of them)."""
    from edgekit.profile.delegate import place_xnnpack

    include = include if include is not None else [True] * len(sg.operators)
    return sum(op_indirection_bytes(sg, op) for op, p in zip(sg.operators, place_xnnpack(sg), strict=True)
               if p.delegated and include[op.index])


def timed_pointer_bytes(profile: DeviceProfile, sg: Subgraph, op: Operator, delegated: bool) -> int:
    """The pointer bytes the estimator adds to ``op``'s time: those of a CONV_2D that XNNPACK runs, else 0."""
    if not delegated or op.name not in TIMED_OPS or profile.runtime.delegate != DelegateKind.XNNPACK:
        return 0
    return op_indirection_bytes(sg, op)


def indirection_ms(profile: DeviceProfile, nbytes: int, memory_efficiency: float | None = None) -> float:
    """Milliseconds to read ``nbytes`` of pointers: at the bandwidth of the memory level they fit in (``[memory]``),
    else the device's memory bandwidth, times the memory efficiency (the profile's unless given)."""
    return stream_ms(profile, nbytes, memory_efficiency)


def pointer_ms(profile: DeviceProfile, nbytes: int, cold_share: float = 0.0) -> float:
    """Milliseconds to read ``nbytes`` of an op's pointers when ``cold_share`` of them is out of cache at the call
    (the model's working set passes what the cache keeps between invokes): that share at the memory's bandwidth,
    the rest at the level the op's pointers fit in (:func:`indirection_ms`)."""
    share = min(1.0, max(0.0, cold_share))
    return (1.0 - share) * indirection_ms(profile, nbytes) + share * stream_ms(profile, nbytes, past_caches=True)


__all__ = ["INDIRECT_OPS", "POINTER_BYTES", "TIMED_OPS", "indirection_bytes", "indirection_ms", "op_indirection_bytes",
           "pointer_ms", "timed_pointer_bytes"]
