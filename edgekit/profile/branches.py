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

from collections.abc import Callable, Sequence

from edgekit.profile.costs import if_branch_order, tensor_bytes
from edgekit.report import format_ms
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


def branch_notes(sg: Subgraph, subgraphs: Sequence[Subgraph], include: Sequence[bool],
                 branch_ms: Callable[[Subgraph], float], copy_ms: Callable[[int], float]) -> list[str]:
    """One note per IF whose other branch costs more than the one the estimate took; ``branch_ms``: the estimate
    of a branch subgraph's ops (no invoke overhead), on the profile and threads of the estimate; ``copy_ms``: of
    copying that many bytes (the inputs handed to the branch)."""
    notes: list[str] = []
    for index, cheap, other in if_branches(sg, subgraphs, include):
        op = sg.operators[index]
        cheap_ms, other_ms = ((branch_ms(subgraphs[b]) + copy_ms(handed_bytes(sg, op, subgraphs[b])))
                              for b in (cheap, other))
        if other_ms <= cheap_ms:
            continue
        notes.append(f"IF (op #{index}) is estimated with its cheaper branch (subgraph {cheap}, "
                     f"{len(subgraphs[cheap].operators)} ops); which runs is data: when the other does (subgraph "
                     f"{other}, {len(subgraphs[other].operators)} ops), an invoke takes about "
                     f"{format_ms(other_ms - cheap_ms, 3)} ms more")
    return notes


__all__ = ["branch_notes", "handed_bytes", "if_branches"]
