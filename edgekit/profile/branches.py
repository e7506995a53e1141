"""What an IF's other branch costs (the estimate takes its cheaper one).

Which branch of an IF runs is data: streaming models guard work that happens now and then (openWakeWord's
classifiers run a 26-op scoring branch or an empty one), so :func:`edgekit.profile.costs.graph_costs` costs an IF
at its cheaper branch and the estimate is the invoke where the data takes it. That is half the truth: on
random input openWakeWord's hey-jarvis took the other branch every call, and bench measured 0.026 ms against an
estimate of 0.0157 ms. So the estimate says, per IF, what the other branch would add, estimated the way the
main graph is (the branch's ops on the same profile and thread count), plus the hand-over of the IF's inputs to
the branch: hey-jarvis's scoring branch alone, its 12 inputs fed as graph inputs, ran 0.0072 ms (estimated
0.0072), the IF that takes it 0.0130 ms more than the one that takes the empty branch: 5.8 us for the 400 KiB of
inputs (weights among them) the branch reads, a copy's time (:func:`handed_bytes`, charged as a copy of them by
the caller). WHILE bodies are costed for one pass and are not described here (their trip count is data too; the
costs module says so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgekit.profile.costs import if_branch_order, tensor_bytes
from edgekit.report import format_ms, ms_figure
from edgekit.tflite.model import Operator, Subgraph


def if_branches(sg: Subgraph, subgraphs: Sequence[Subgraph], include: Sequence[bool]) -> list[tuple[int, int, int]]:
    """(op index, cheaper branch, other branch) of every IF in ``sg`` that ``include`` keeps, the cheaper as the
    estimate chose it (:func:`edgekit.profile.costs.if_branch_order`)."""
    out: list[tuple[int, int, int]] = []
    for op, inc in zip(sg.operators, include, strict=True):
        order = if_branch_order(op, subgraphs) if op.name == "IF" and inc else None
        if order is not None:
            out.append((op.index, *order))
    return out


def handed_bytes(sg: Subgraph, op: Operator, branch: Subgraph) -> int:
    """Bytes of the IF's inputs (after its condition) that ``branch`` reads: an input one of its ops takes or that
    it passes straight out (the runtime hands those over each call; an empty branch reads none of its weights)."""
    read = {t for o in branch.operators for t in o.inputs} | set(branch.outputs)
    total = 0
    for outer, inner in zip(op.inputs[1:], branch.inputs, strict=False):
        if outer >= 0 and inner in read:
            total += tensor_bytes(sg.tensor(outer))
    return total


@dataclass(frozen=True)
class IfBranch:
    """One IF the estimate costed at its cheaper branch, and what an invoke adds when the data takes the other
    (ESTIMATED: the other branch's ops and the hand-over of the inputs it reads, minus the same for the cheaper)."""

    op_index: int
    estimated_subgraph: int
    estimated_ops: int
    other_subgraph: int
    other_ops: int
    other_adds_ms: float

    @property
    def note(self) -> str:
        return (f"IF (op #{self.op_index}) is estimated with its cheaper branch (subgraph {self.estimated_subgraph}, "
                f"{self.estimated_ops} ops); which runs is data: when the other does (subgraph {self.other_subgraph}, "
                f"{self.other_ops} ops), an invoke takes about {format_ms(self.other_adds_ms, 3)} ms more")

    def to_dict(self) -> dict[str, Any]:
        return {"op_index": self.op_index, "estimated_subgraph": self.estimated_subgraph,
                "estimated_ops": self.estimated_ops, "other_subgraph": self.other_subgraph, "other_ops": self.other_ops,
                "other_adds_ms": ms_figure(self.other_adds_ms)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IfBranch:
        return cls(op_index=int(d["op_index"]), estimated_subgraph=int(d["estimated_subgraph"]),
                   estimated_ops=int(d["estimated_ops"]), other_subgraph=int(d["other_subgraph"]),
                   other_ops=int(d["other_ops"]), other_adds_ms=float(d["other_adds_ms"]))


def branch_costs(sg: Subgraph, subgraphs: Sequence[Subgraph], include: Sequence[bool],
                 branch_ms: Callable[[Subgraph], float], copy_ms: Callable[[int], float]) -> list[IfBranch]:
    """Every IF whose other branch costs more than the one the estimate took; ``branch_ms``: the estimate of a
    branch subgraph's ops (no invoke overhead), on the profile and threads of the estimate; ``copy_ms``: of
    copying that many bytes (the inputs handed to the branch)."""
    out: list[IfBranch] = []
    for index, cheap, other in if_branches(sg, subgraphs, include):
        op = sg.operators[index]
        cheap_ms, other_ms = ((branch_ms(subgraphs[b]) + copy_ms(handed_bytes(sg, op, subgraphs[b])))
                              for b in (cheap, other))
        if other_ms > cheap_ms:
            out.append(IfBranch(index, cheap, len(subgraphs[cheap].operators), other, len(subgraphs[other].operators),
                                other_ms - cheap_ms))
    return out


def branch_taken_ms(latency_ms: float, branches: Sequence[IfBranch], taken: Mapping[int, int]) -> float:
    """The estimate of an invoke whose IFs took the subgraphs in ``taken`` (op index -> subgraph index, as bench
    reports them): ``latency_ms`` (every IF at its cheaper branch) plus what each IF that took its other adds."""
    return latency_ms + sum(b.other_adds_ms for b in branches if taken.get(b.op_index) == b.other_subgraph)


__all__ = ["IfBranch", "branch_costs", "branch_taken_ms", "handed_bytes", "if_branches"]
