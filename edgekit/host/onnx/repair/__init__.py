"""Graph repair before conversion: small passes over a private copy of the ONNX graph.

Each pass is a module with one function ``apply(model, context) -> Repair | None``
that edits ``model`` (an ``onnx.ModelProto``, already a private copy) in place
and returns what it did, or ``None`` when the graph needed nothing. The loader
runs :data:`PASSES` in order (:func:`run_repairs`); every applied pass is
listed in the conversion's notes and in the bundle manifest
(``conversion.repairs``), so a user can see exactly how the graph that was
converted differs from the one they gave.

The common passes (initializers, names, fused, double, half, fold, loop, shapes, fold, allowzero, split, maxpool, chanscale, qlstm, integer) run for every backend;
``expand`` and ``resize`` only where a backend needs them
(:mod:`edgekit.host.onnx.backends`). The passes never change what the model computes: each is checked against
onnxruntime by the conversion check that follows (and each has a test that
runs the graph before and after).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgekit.host.onnx.repair import (
    allowzero,
    chanscale,
    double,
    expand,
    fold,
    fused,
    initializers,
    integer,
    loop,
    maxpool,
    names,
    qlstm,
    resize,
    shapes,
    split,
)
from edgekit.host.onnx.repair.base import Repair, RepairContext

__all__ = ["PASS_NAMES", "Repair", "RepairContext", "run_repairs"]


PASSES: dict[str, Any] = {
    "initializers": initializers.apply,
    "names": names.apply,
    "fused": fused.apply,
    "double": double.apply,
    "half": double.apply_half,
    "shapes": shapes.apply,
    "expand": expand.apply,
    "fold": fold.apply,
    "loop": loop.apply,
    "allowzero": allowzero.apply,
    "split": split.apply,
    "maxpool": maxpool.apply,
    "chanscale": chanscale.apply,
    "qlstm": qlstm.apply,
    "integer": integer.apply,
    "resize": resize.apply,
}

PASS_NAMES = tuple(PASSES)


def run_repairs(model: Any, context: RepairContext, passes: Sequence[str] = PASS_NAMES) -> list[Repair]:
    """Run ``passes`` in order on ``model`` (edited in place); the repairs that changed something."""
    unknown = [p for p in passes if p not in PASSES]
    if unknown:
        raise ValueError(f"unknown repair pass(es): {unknown}")
    done: dict[str, Repair] = {}
    for name in passes:
        repair = PASSES[name](model, context)
        if repair is None:
            continue
        if name in done:  # a pass run twice (fold before and after shapes) is listed once
            first = done[name]
            repair = Repair(name, f"{first.detail}; then {repair.detail}", first.count + repair.count)
        done[name] = repair
    return list(done.values())
