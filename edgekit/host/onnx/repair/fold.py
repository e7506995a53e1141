"""Fold constant subgraphs into initializers, so a backend sees weights, not arithmetic on them.

Exporters leave arithmetic on constants in the graph: shape computations
(``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``; with static input shapes
every ``Shape`` is a constant), weights stored as ``Constant`` nodes (Paddle2ONNX),
``Cast``/``Transpose``/``Reshape`` of weights, ``ConstantOfShape``/``Range``
tables. onnx2tf guesses layouts for such nodes and sometimes guesses wrong;
edgekit's own lowering needs their values. This pass evaluates, in
topological order, every node whose inputs are all known constants (with the
ONNX reference implementation, i.e. the standard's semantics) and replaces it
with an initializer; nodes nothing reads any more are dropped. An ``If`` whose
condition is a constant is replaced by the branch it takes. Random ops are
never folded; results over ``MAX_ELEMENTS`` stay as nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import Repair, RepairContext, opset_version, static_shape

MAX_ELEMENTS = 1 << 24
NEVER_FOLD = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
              "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "Optional"}


def evaluate_node(node: Any, values: list[np.ndarray | None], opset: int) -> list[np.ndarray] | None:
    """``node``'s outputs for constant ``values`` with the ONNX reference implementation (None if it cannot)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    h = onnx.helper
    inputs, feeds = [], {}
    for i, (name, value) in enumerate(zip(node.input, values, strict=True)):
        if not name or value is None:
            inputs.append("")
            continue
        formal = f"in{i}"
        inputs.append(formal)
        feeds[formal] = value
    outputs = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
    single = h.make_node(node.op_type, inputs, outputs, domain=node.domain)
    single.attribute.extend(node.attribute)
    try:
        graph = h.make_graph([single], "fold",
                             [h.make_tensor_value_info(k, h.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                              for k, v in feeds.items()],
                             [h.make_empty_tensor_value_info(o) for o in outputs if o])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
        evaluator = ReferenceEvaluator(model)
        results = evaluator.run(None, feeds)
    except Exception:
        return None
    arrays = [np.asarray(r) for r in results]
    if any(a.dtype == object or a.size > MAX_ELEMENTS for a in arrays):
        return None
    return arrays


def _taken_branch(node: Any, cond: np.ndarray) -> Any:
    import onnx

    name = "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


def _inline_branch(graph: Any, node: Any, branch: Any, known: dict[str, np.ndarray]) -> list[Any]:
    """The nodes of an If's taken branch, wired to the If's outputs (its initializers join the graph's)."""
    from onnx import helper, numpy_helper

    for init in branch.initializer:
        graph.initializer.append(init)
        known[init.name] = numpy_helper.to_array(init)
    nodes = list(branch.node)
    for out, formal in zip(node.output, branch.output, strict=True):
        if out:
            nodes.append(helper.make_node("Identity", [formal.name], [out], name=f"{node.name or 'If'}_{out}_out"))
    return nodes


def fold_constants(model: Any) -> tuple[int, int]:
    """Fold in place; (nodes folded, Constant nodes turned into initializers)."""
    from onnx import numpy_helper

    opset = opset_version(model)
    graph = model.graph
    known: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    graph_inputs = {v.name for v in graph.input} - set(known)
    outputs = {v.name for v in graph.output}
    kept: list[Any] = []
    folded = constants = 0
    new_inits: dict[str, np.ndarray] = {}
    pending = list(graph.node)
    while pending:
        node = pending.pop(0)
        if node.op_type == "If" and node.domain in ("", "ai.onnx") and node.input[0] in known:
            branch = _taken_branch(node, known[node.input[0]])
            pending[:0] = _inline_branch(graph, node, branch, known)
            folded += 1
            continue
        if node.domain not in ("", "ai.onnx") or node.op_type in NEVER_FOLD or not node.output:
            kept.append(node)
            continue
        values: list[np.ndarray | None] = []
        for name in node.input:
            values.append(known.get(name) if name else None)
        if node.op_type in ("Shape", "Size") and node.input and node.input[0] not in known:
            shape = static_shape(model, node.input[0])
            if shape is None:
                kept.append(node)
                continue
            values = [np.zeros(shape, np.float32)]  # only the shape is read
        elif any(name and name not in known for name in node.input) or any(n in graph_inputs for n in node.input):
            kept.append(node)
            continue
        results = evaluate_node(node, values, opset)
        if results is None or len(results) != len([o for o in node.output if o]):
            kept.append(node)
            continue
        for name, array in zip([o for o in node.output if o], results, strict=True):
            known[name] = array
            new_inits[name] = array
        if node.op_type == "Constant":
            constants += 1
        else:
            folded += 1
    if not new_inits and not folded:
        return 0, 0
    # graph outputs that became constants stay computed (an Identity of the initializer), never vanish
    final = []
    for node in kept:
        final.append(node)
    for name in list(new_inits):
        if name in outputs:
            from onnx import helper

            const_name = f"{name}__folded"
            graph.initializer.append(numpy_helper.from_array(new_inits.pop(name), const_name))
            final.append(helper.make_node("Identity", [const_name], [name], name=f"{const_name}_identity"))
    for name, array in new_inits.items():
        graph.initializer.append(numpy_helper.from_array(array, name))
    del graph.node[:]
    graph.node.extend(final)
    prune_unused(model)
    return folded, constants


def prune_unused(model: Any) -> int:
    """Drop nodes whose outputs nobody reads and initializers no node reads; how many nodes went."""
    graph = model.graph
    needed = {v.name for v in graph.output}
    for node in graph.node:  # names read from inside subgraphs count as read
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                for inner in sub.node:
                    needed.update(inner.input)
    keep: list[Any] = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output if o) or not node.output:
            keep.append(node)
            needed.update(i for i in node.input if i)
    dropped = len(graph.node) - len(keep)
    if dropped:
        del graph.node[:]
        graph.node.extend(reversed(keep))
    inits = [t for t in graph.initializer if t.name in needed]
    if len(inits) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(inits)
    names = {t.name for t in graph.initializer}
    value_info = [v for v in graph.value_info if v.name not in names]
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    return dropped


def apply(model: Any, context: RepairContext) -> Repair | None:
    folded, constants = fold_constants(model)
    if not folded and not constants:
        return None
    parts = []
    if folded:
        parts.append(f"computed {folded} node(s) whose inputs are all constant (shape arithmetic, weight casts…)")
    if constants:
        parts.append(f"turned {constants} Constant node(s) into initializers")
    return Repair("fold", "; ".join(parts), folded + constants)
