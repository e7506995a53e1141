"""Give every node a valid, unique name and every internal tensor a valid, unique name.

onnx2tf builds TensorFlow name scopes from node names. Exporters leave names
empty (Paddle2ONNX: about half the nodes of the PP-OCR models) or use
characters TensorFlow refuses (``/``, ``:``, ``@``…); onnx2tf then names
unnamed nodes itself, e.g. ``Softmax@0``, and TensorFlow stops with
``'Softmax@0' is not a valid scope name``. This pass names every node
``[A-Za-z][A-Za-z0-9_]*`` (from its old name, else its op type), unique in the
model, and does the same for tensor names inside the graph. The graph's own
inputs and outputs keep their names: they are the model's interface, and the
loader matches data and the ``.tflite`` signature by them.
"""

from __future__ import annotations

import re
from typing import Any

from edgekit.host.onnx.repair.base import Repair, RepairContext, all_graphs

_VALID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def clean(name: str, fallback: str) -> str:
    """A name TensorFlow accepts as a scope (letters, digits, underscores; starts with a letter)."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or fallback
    if not text[0].isalpha():
        text = f"t_{text}"
    return text[:120]


class _Namer:
    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        return name


def _tensor_names(graph: Any) -> list[str]:
    """Every tensor name defined in ``graph`` and its subgraphs (node outputs, initializers, subgraph inputs)."""
    names: list[str] = []
    for g in all_graphs(graph):
        names += [t.name for t in g.initializer]
        if g is not graph:
            names += [v.name for v in g.input]
        for node in g.node:
            names += [o for o in node.output if o]
    return names


def apply(model: Any, context: RepairContext) -> Repair | None:
    graph = model.graph
    interface = {v.name for v in graph.input} | {v.name for v in graph.output}
    defined = _tensor_names(graph)
    # tensor renames (never the interface, never the empty name of an omitted optional input)
    namer = _Namer(interface | {n for n in defined if _VALID.match(n)})
    renames: dict[str, str] = {}
    for name in dict.fromkeys(defined):
        if name in interface or name in renames:
            continue
        if not _VALID.match(name):
            renames[name] = namer.unique(clean(name, "tensor"))
    # node names: valid and unique across the whole model (subgraphs included)
    node_namer = _Namer(set())
    unnamed = renamed_nodes = 0
    for g in all_graphs(graph):
        for node in g.node:
            old = node.name
            base = clean(old, node.op_type or "node") if old else clean(node.op_type, "node")
            new = node_namer.unique(base)
            if not old:
                unnamed += 1
            elif new != old:
                renamed_nodes += 1
            node.name = new
    if renames:
        for g in all_graphs(graph):
            for node in g.node:
                for i, n in enumerate(node.input):
                    if n in renames:
                        node.input[i] = renames[n]
                for i, n in enumerate(node.output):
                    if n in renames:
                        node.output[i] = renames[n]
            for t in g.initializer:
                if t.name in renames:
                    t.name = renames[t.name]
            for v in [*g.value_info, *(g.input if g is not graph else []), *(g.output if g is not graph else [])]:
                if v.name in renames:
                    v.name = renames[v.name]
    if not (unnamed or renamed_nodes or renames):
        return None
    parts = []
    if unnamed:
        parts.append(f"named {unnamed} unnamed node(s)")
    if renamed_nodes:
        parts.append(f"renamed {renamed_nodes} node(s) with names TensorFlow rejects or duplicates")
    if renames:
        example = next(iter(renames.items()))
        parts.append(f"renamed {len(renames)} internal tensor(s) (e.g. '{example[0]}' -> '{example[1]}')")
    return Repair("names", "; ".join(parts), unnamed + renamed_nodes + len(renames))
