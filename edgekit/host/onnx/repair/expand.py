"""Replace ops a backend gets wrong by their ONNX function body (the spec's own decomposition).

Many ONNX ops are defined by the standard as a function of simpler ops:
``LayerNormalization``, ``GroupNormalization``, ``Gelu``, ``Attention``,
``RMSNormalization``, ``Celu``, ``Mish``, ``HardSwish``, ``Shrink``,
``SoftmaxCrossEntropyLoss``, ``Range``… The schema carries that body (for some
ops it depends on the input types). Where a backend lowers such an op wrongly
or not at all, this pass inlines the body the ONNX schema gives for the
model's opset, so the backend sees only primitive ops. The body IS the op's
definition, so the result computes the same thing; the conversion check
against onnxruntime confirms it.

The op types to expand come from the backend (``RepairContext.expand_ops``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from edgekit.host.onnx.repair.base import Repair, RepairContext, opset_version

MAX_ROUNDS = 4


def _types(model: Any) -> dict[str, Any]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception:
        inferred = model
    graph = inferred.graph
    types = {v.name: v.type for v in [*graph.input, *graph.value_info, *graph.output]}
    for init in graph.initializer:
        types[init.name] = onnx.helper.make_tensor_type_proto(init.data_type, list(init.dims))
    return types


def function_body(node: Any, opset: int, types: dict[str, Any]) -> Any | None:
    """The FunctionProto the schema defines ``node`` by at ``opset`` (None: no body, or types unknown)."""
    import onnx

    try:
        schema: Any = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:
        return None
    candidates = [v for v in schema.function_opset_versions if v <= opset]
    if candidates:
        proto = onnx.FunctionProto()
        proto.ParseFromString(schema.get_function_with_opset_version(max(candidates)))
        return proto
    dependent = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
    if not dependent:
        return None
    input_types = []
    for name in node.input:
        if not name:
            input_types.append(onnx.TypeProto())
            continue
        if name not in types:
            return None
        input_types.append(types[name])
    try:
        raw = schema.get_context_dependent_function_with_opset_version(
            max(dependent), node.SerializeToString(), [t.SerializeToString() for t in input_types])
    except Exception:
        return None
    proto = onnx.FunctionProto()
    proto.ParseFromString(raw)
    return proto if proto.node else None


def _with_defaults(node: Any, opset: int) -> dict[str, Any]:
    import onnx

    attrs = {a.name: a for a in node.attribute}
    schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    for name, spec in schema.attributes.items():
        if name not in attrs and spec.default_value and spec.default_value.name:
            attrs[name] = spec.default_value
    return attrs


def _rename(node: Any, rename: Any, attrs: dict[str, Any]) -> Any:
    import onnx

    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.input[:]
    del new.output[:]
    del new.attribute[:]
    new.input.extend(rename(n) for n in node.input)
    new.output.extend(rename(n) for n in node.output)
    for attr in node.attribute:
        if attr.HasField("ref_attr_name"):
            if attr.ref_attr_name in attrs:
                ref = onnx.AttributeProto()
                ref.CopyFrom(attrs[attr.ref_attr_name])
                ref.name = attr.name
                new.attribute.append(ref)
        else:
            copy = onnx.AttributeProto()
            copy.CopyFrom(attr)
            for sub in ([copy.g] if copy.HasField("g") else []) + list(copy.graphs):
                _rename_graph(sub, rename, attrs)
            new.attribute.append(copy)
    return new


def _rename_graph(graph: Any, rename: Any, attrs: dict[str, Any]) -> None:
    """A subgraph of a function body (an If branch): every name through ``rename``, as in the body itself."""
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = rename(value.name)
    for init in graph.initializer:
        init.name = rename(init.name)
    renamed = [_rename(inner, rename, attrs) for inner in graph.node]
    del graph.node[:]
    graph.node.extend(renamed)


def inline(node: Any, body: Any, opset: int, prefix: str) -> list[Any]:
    """The body's nodes wired to ``node``'s inputs and outputs (internal names get ``prefix``)."""
    io: dict[str, str] = {}
    for i, formal in enumerate(body.input):
        io[formal] = node.input[i] if i < len(node.input) else ""
    for i, formal in enumerate(body.output):
        if i < len(node.output) and node.output[i]:
            io[formal] = node.output[i]

    def rename(name: str) -> str:
        if name in io:
            return io[name]
        return f"{prefix}{name}" if name else ""

    attrs = _with_defaults(node, opset)
    nodes = [_rename(inner, rename, attrs) for inner in body.node]
    for k, inner in enumerate(nodes):
        inner.name = f"{prefix}{inner.op_type}_{k}"
    return nodes


def _wanted(node: Any, context: RepairContext) -> bool:
    return node.op_type in context.expand_ops and node.domain in ("", "ai.onnx")


def apply(model: Any, context: RepairContext) -> Repair | None:
    if not context.expand_ops:
        return None
    opset = opset_version(model)
    expanded: Counter[str] = Counter()
    serial = 0
    for _ in range(MAX_ROUNDS):
        if not any(_wanted(n, context) for n in model.graph.node):
            break
        types = _types(model)
        new_nodes = []
        changed = False
        for node in model.graph.node:
            body = function_body(node, opset, types) if _wanted(node, context) else None
            body_opset = max((o.version for o in body.opset_import if o.domain in ("", "ai.onnx")), default=0) \
                if body is not None else 0
            if body is None or body_opset > opset:
                new_nodes.append(node)
                continue
            serial += 1
            new_nodes.extend(inline(node, body, opset, f"x{serial}_{node.op_type}_"))
            expanded[node.op_type] += 1
            changed = True
        if not changed:
            break
        del model.graph.node[:]
        model.graph.node.extend(new_nodes)
    if not expanded:
        return None
    ops = ", ".join(f"{op} x{n}" for op, n in sorted(expanded.items()))
    return Repair("expand", f"replaced by the ONNX function body the standard defines them with: {ops}",
                  sum(expanded.values()))
