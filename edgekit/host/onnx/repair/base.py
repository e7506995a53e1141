"""What a repair pass returns and what it may read; shared by every pass (no imports of the passes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Repair:
    """One pass that changed the graph: its name, what it did (one line) and how many places it touched."""

    name: str
    detail: str
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"pass": self.name, "detail": self.detail, "count": self.count}


@dataclass
class RepairContext:
    """What the passes may need besides the graph."""

    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # the fixed input shapes
    expand_ops: frozenset[str] = frozenset()  # op types to replace by their ONNX function body (if they have one)
    notes: list[str] = field(default_factory=list)
    unrolled_steps: int = 0  # recurrence steps a pass unrolled (repair.qlstm): onnx2tf takes minutes on many


# the passes that rewrite onnxruntime's run-time activation quantization (quantize_dynamic) into float ops
RUNTIME_QUANTIZING = ("qlstm", "integer")


def quantizes_at_run_time(pass_names: Iterable[str]) -> bool:
    """True when the applied passes include one of :data:`RUNTIME_QUANTIZING`."""
    return any(name in RUNTIME_QUANTIZING for name in pass_names)


def runtime_quantized(conversion: Mapping[str, Any] | None) -> bool:
    """:func:`quantizes_at_run_time` of a conversion record (SourceModel.conversion, a result's JSON)."""
    repairs = (conversion or {}).get("repairs") or []
    return quantizes_at_run_time(str(r.get("pass")) for r in repairs if isinstance(r, Mapping))


def subgraphs(node: Any) -> Iterator[Any]:
    """The graphs held in a node's attributes (If/Loop/Scan bodies)."""
    for attr in node.attribute:
        if attr.HasField("g"):
            yield attr.g
        yield from attr.graphs


def all_graphs(graph: Any) -> Iterator[Any]:
    """``graph`` and every graph nested in its nodes, outermost first."""
    yield graph
    for node in graph.node:
        for sub in subgraphs(node):
            yield from all_graphs(sub)


def taken_names(graph: Any) -> set[str]:
    """Every node, tensor, initializer and input name of ``graph``: what a pass adding nodes must not reuse."""
    return ({n.name for n in graph.node} | {o for n in graph.node for o in n.output}
            | {t.name for t in graph.initializer} | {v.name for v in graph.input})


def replace_nodes(graph: Any, nodes: list[Any]) -> None:
    """``graph``'s nodes become ``nodes`` (in that order)."""
    del graph.node[:]
    graph.node.extend(nodes)


def drop_initializers(graph: Any, keep: set[str]) -> None:
    """Remove the main graph's initializers not named in ``keep``, and the graph inputs that fed them."""
    dropped = {t.name for t in graph.initializer if t.name not in keep}
    kept = [t for t in graph.initializer if t.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    inputs = [v for v in graph.input if v.name not in dropped]
    del graph.input[:]
    graph.input.extend(inputs)


def opset_version(model: Any, domain: str = "") -> int:
    for opset in model.opset_import:
        if opset.domain in (domain, "ai.onnx" if domain == "" else domain):
            return int(opset.version)
    return 0


def static_shape(model: Any, name: str) -> tuple[int, ...] | None:
    """The fully static shape shape inference recorded for tensor ``name`` (None if unknown or symbolic)."""
    graph = model.graph
    for init in graph.initializer:
        if init.name == name:
            return tuple(int(d) for d in init.dims)
    for value in [*graph.input, *graph.value_info, *graph.output]:
        if value.name == name and value.type.HasField("tensor_type"):
            tt = value.type.tensor_type
            if not tt.HasField("shape"):
                return None
            dims = []
            for d in tt.shape.dim:
                if not d.HasField("dim_value"):
                    return None
                dims.append(int(d.dim_value))
            return tuple(dims)
    return None


def constants(model: Any) -> dict[str, Any]:
    """Initializers and Constant-node outputs of the main graph as numpy arrays."""
    from onnx import numpy_helper

    values: dict[str, Any] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values
