"""What an IF's other branch costs (the estimate takes its cheaper one).

Which branch of an IF runs is data: streaming models guard work that happens now and then (openWakeWord's
classifiers run a 26-op scoring branch or an empty one), so :func:`edgekit.profile.costs.graph_costs` costs an IF
at its cheaper branch and the estimate is the invoke where the data takes it. That is half the truth: on
random input openWakeWord's hey-jarvis took the other branch every call, and bench measured 0.026 ms against an
estimate of 0.0157 ms. So the estimate says, per IF, what the other branch would add, estimated the way the
main graph is (the branch's ops on the same profile and thread count). WHILE bodies are costed for one pass
and are not described here (their trip count is data too; the costs module says so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edgekit.profile.costs import if_branch_order
from edgekit.report import format_ms
from edgekit.tflite.model import Subgraph


def if_branches(sg: Subgraph, subgraphs: Sequence[Subgraph], include: Sequence[bool]) -> list[tuple[int, int, int]]:
    """(op index, cheaper branch, other branch) of every IF in ``sg`` that ``include`` keeps, the cheaper as the
    estimate chose it (:func:`edgekit.profile.costs.if_branch_order`)."""
    out: list[tuple[int, int, int]] = []
    for op, inc in zip(sg.operators, include, strict=True):
        order = if_branch_order(op, subgraphs) if op.name == "IF" and inc else None
        if order is not None:
            out.append((op.index, *order))
    return out


def branch_notes(sg: Subgraph, subgraphs: Sequence[Subgraph], include: Sequence[bool],
                 branch_ms: Callable[[Subgraph], float]) -> list[str]:
    """One note per IF whose other branch costs more than the one the estimate took; ``branch_ms``: the estimate
    of a branch subgraph's ops (no invoke overhead), on the profile and threads of the estimate."""
    notes: list[str] = []
    for index, cheap, other in if_branches(sg, subgraphs, include):
        cheap_ms, other_ms = branch_ms(subgraphs[cheap]), branch_ms(subgraphs[other])
        if other_ms <= cheap_ms:
            continue
        notes.append(f"IF (op #{index}) is estimated with its cheaper branch (subgraph {cheap}, "
                     f"{len(subgraphs[cheap].operators)} ops); which runs is data: when the other does (subgraph "
                     f"{other}, {len(subgraphs[other].operators)} ops), an invoke takes about "
                     f"{format_ms(other_ms - cheap_ms, 3)} ms more")
    return notes


__all__ = ["if_branches", "branch_notes"]
