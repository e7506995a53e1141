"""Activation-arena planning from tensor lifetimes, the way TFLite's planners do it.

Every non-constant, non-variable tensor of the main subgraph lives from the op
that produces it (graph inputs: from the start) to the last op that reads it
(graph outputs: to the end). Buffers are placed largest first; each goes to an
offset where it does not overlap any already-placed buffer whose lifetime
overlaps its own, so offsets are reused once a tensor is dead:

- ``first_fit`` (TFLite Micro's GreedyMemoryPlanner, 16-byte alignment): the
  lowest such offset.
- ``best_fit`` (TFLite's ArenaPlanner / SimpleMemoryArena, 64-byte alignment):
  the smallest gap that fits, else the end.

The arena size is the highest end offset. Variable tensors (RNN state) are
persistent and reported separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from edgekit.profile.costs import tensor_bytes
from edgekit.tflite.model import Subgraph


class Strategy(str, Enum):
    FIRST_FIT = "first_fit"
    BEST_FIT = "best_fit"


@dataclass(frozen=True)
class Buffer:
    tensor: int
    size_bytes: int
    first: int  # op index of the first use (-1: before the first op)
    last: int  # op index of the last use

    def overlaps(self, other: Buffer) -> bool:
        return not (self.last < other.first or other.last < self.first)


@dataclass(frozen=True)
class ArenaPlan:
    arena_bytes: int
    persistent_bytes: int
    offsets: dict[int, int]  # tensor index -> offset
    buffers: tuple[Buffer, ...]


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def tensor_lifetimes(sg: Subgraph) -> tuple[list[Buffer], int]:
    """(arena buffers, persistent bytes) for a subgraph, in op-index time."""
    n_ops = len(sg.operators)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for ti in sg.inputs:
        first[ti] = -1
        last[ti] = -1
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                first.setdefault(i, op.index)
                last[i] = max(last.get(i, op.index), op.index)
        for o in op.outputs:
            if o >= 0:
                first.setdefault(o, op.index)
                last[o] = max(last.get(o, op.index), op.index)
    for ti in sg.outputs:
        last[ti] = n_ops
    buffers: list[Buffer] = []
    persistent = 0
    for idx in sorted(first):
        t = sg.tensor(idx)
        if t.is_constant:
            continue
        size = tensor_bytes(t)
        if t.is_variable:
            persistent += size
            continue
        if size <= 0:
            continue
        buffers.append(Buffer(idx, size, first[idx], last[idx]))
    return buffers, persistent


def plan_buffers(buffers: Sequence[Buffer], strategy: Strategy = Strategy.BEST_FIT, alignment: int = 64,
                 persistent_bytes: int = 0) -> ArenaPlan:
    """Place buffers largest first (ties: earlier first use, then tensor index)."""
    order = sorted(buffers, key=lambda b: (-b.size_bytes, b.first, b.tensor))
    placed: list[tuple[int, int, Buffer]] = []  # (offset, aligned size, buffer)
    offsets: dict[int, int] = {}
    top = 0
    for buf in order:
        size = _align(buf.size_bytes, alignment)
        live = sorted((off, sz) for off, sz, other in placed if other.overlaps(buf))
        chosen: int | None = None
        best_gap: int | None = None
        cursor = 0
        for off, sz in live:
            gap = off - cursor
            if gap >= size:
                if strategy == Strategy.FIRST_FIT:
                    chosen = cursor
                    break
                if best_gap is None or gap < best_gap:
                    best_gap, chosen = gap, cursor
            cursor = max(cursor, _align(off + sz, alignment))
        if chosen is None:
            chosen = cursor
        placed.append((chosen, size, buf))
        offsets[buf.tensor] = chosen
        top = max(top, chosen + size)
    return ArenaPlan(arena_bytes=top, persistent_bytes=persistent_bytes, offsets=offsets, buffers=tuple(buffers))


def plan_arena(sg: Subgraph, strategy: Strategy = Strategy.BEST_FIT, alignment: int = 64) -> ArenaPlan:
    buffers, persistent = tensor_lifetimes(sg)
    return plan_buffers(buffers, strategy, alignment, persistent)


__all__ = ["Strategy", "Buffer", "ArenaPlan", "tensor_lifetimes", "plan_buffers", "plan_arena"]
