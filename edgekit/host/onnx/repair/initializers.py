"""Drop graph inputs that are initializers (ONNX IR < 4 listed every weight as an input too).

Before IR version 4 an initializer had to appear among the graph's inputs as well (a default that the caller may
override); ONNX's own test models of that time (``light_shufflenet``: 1 image input and 243 weights, opset 9) and
old exporters write them so. edgekit feeds only the inputs without an initializer, and the converted model should
take only those: onnx2tf made a 244-input ``.tflite`` of it. This pass removes the initializers from the inputs
(raising the IR version to 4, where that is allowed), so every backend sees the weights as the constants they are.
What the model computes on the inputs edgekit feeds is unchanged.
"""

from __future__ import annotations

from typing import Any

from edgekit.host.onnx.repair.base import Repair, RepairContext

IR_INITIALIZERS_NOT_INPUTS = 4  # the first IR version where an initializer need not be a graph input


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    keep = [v for v in graph.input if v.name not in weights]
    dropped = len(graph.input) - len(keep)
    if not dropped:
        return None
    del graph.input[:]
    graph.input.extend(keep)
    if model.ir_version < IR_INITIALIZERS_NOT_INPUTS:
        model.ir_version = IR_INITIALIZERS_NOT_INPUTS
    return Repair("initializers", f"removed {dropped} initializer(s) from the graph's inputs (listed there as IR < 4 "
                                  "did), so the converted model takes only the real inputs", dropped)
