"""Walk an ONNX graph and build TensorFlow ops for it; the op table lives in the ``ops_*`` modules.

Constants are computed with the ONNX reference implementation (the
standard's own semantics), so shape arithmetic never reaches TensorFlow; ``If``
with a constant condition keeps the taken branch, otherwise it becomes
``tf.cond``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.host.onnx.lower import ops_math, ops_nn, ops_rnn, ops_shape, ops_signal
from edgekit.host.onnx.lower.base import OPS, RANDOM_OPS, Node, OpFn, Unsupported, Value

_LOADED = (ops_math, ops_nn, ops_rnn, ops_shape, ops_signal)  # importing them fills OPS


def load_ops() -> dict[str, OpFn]:
    """The op table (ONNX op type -> lowering)."""
    return OPS


def _reference(node: Any, values: list[Value | None], opset: int) -> list[np.ndarray] | None:
    from edgekit.host.onnx.repair.fold import evaluate_node

    return evaluate_node(node, values, opset)


def attributes(proto: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}


def run_graph(model: Any, feeds: dict[str, Any], opset: int) -> dict[str, Value]:
    """All values of ``model.graph`` given ``feeds`` (tf tensors) for its inputs."""
    return run_nodes(model.graph, dict(feeds), opset)


# ops whose lowering takes a TF tensor for any input: a large constant they read is made a TF constant once, so
# a weight read at every step of an unrolled recurrence (repair.qlstm: 80 steps x a 9 MB matrix) is stored once
# instead of once per node (which passed the 2 GB GraphDef limit)
SHARED_CONST_OPS = frozenset({"MatMul", "Add", "Sub", "Mul", "Div"})
_SHARED_MIN_SIZE = 4096


def _shared_const(value: Value | None, shared: dict[int, Any]) -> Value | None:
    import tensorflow as tf

    if not isinstance(value, np.ndarray) or value.size < _SHARED_MIN_SIZE:
        return value
    if id(value) not in shared:
        shared[id(value)] = (tf.constant(value), value)  # the array is kept so its id is not reused
    return shared[id(value)][0]


def run_nodes(graph: Any, env: dict[str, Value], opset: int) -> dict[str, Value]:
    """Run ``graph``'s nodes on ``env`` (outer values visible, as ONNX subgraphs see them); the env after."""
    import tensorflow as tf
    from onnx import numpy_helper

    from edgekit.host.onnx.repair.names import clean

    ops = load_ops()
    env.update({t.name: numpy_helper.to_array(t) for t in graph.initializer})
    shared: dict[int, Any] = {}
    for proto in graph.node:
        name = proto.name or proto.op_type
        if proto.domain not in ("", "ai.onnx"):
            raise Unsupported(proto.op_type, name, f"an op of the '{proto.domain}' domain (not standard ONNX)")
        values: list[Value | None] = []
        for i in proto.input:
            if not i:
                values.append(None)
            elif i in env:
                values.append(env[i])
            else:
                raise Unsupported(proto.op_type, name, f"input '{i}' is not computed before it is used")
        n_out = len(proto.output)
        results: list[Value] | None = None
        constant = all(v is None or isinstance(v, np.ndarray) for v in values)
        if constant and proto.op_type not in RANDOM_OPS and proto.op_type not in ("If", "Loop", "Scan"):
            results = _reference(proto, values, opset)
        if results is None:
            if proto.op_type in SHARED_CONST_OPS:  # one TF constant per large weight, however many nodes read it
                values = [_shared_const(v, shared) for v in values]
            node = Node(proto.op_type, name, values, attributes(proto), opset, n_out, proto)
            try:
                with tf.name_scope(clean(name, "node")):
                    if proto.op_type == "If":
                        results = _if(node, env, opset)
                    else:
                        fn = ops.get(proto.op_type)
                        if fn is None:
                            raise Unsupported(proto.op_type, name, "no lowering for this op")
                        results = fn(node)
            except Unsupported as exc:
                if exc.op == "?":
                    raise Unsupported(proto.op_type, name, exc.reason) from exc
                raise
            except Exception as exc:  # TensorFlow refusing the op as lowered is a conversion failure of this op
                raise Unsupported(proto.op_type, name, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") \
                    from exc
        for out_name, value in zip(proto.output, results, strict=False):
            if out_name:
                env[out_name] = value
    return env


def _if(node: Node, env: dict[str, Value], opset: int) -> list[Value]:
    """``If``: the chosen branch when the condition is a constant, else ``tf.cond`` over both branches."""
    import tensorflow as tf

    then_graph, else_graph = node.attrs["then_branch"], node.attrs["else_branch"]

    def branch(graph: Any) -> list[Value]:
        inner = run_nodes(graph, dict(env), opset)
        return [inner[o.name] for o in graph.output]

    cond = node.inputs[0]
    if isinstance(cond, np.ndarray):
        return branch(then_graph if bool(cond.reshape(-1)[0]) else else_graph)

    def as_tensors(values: list[Value]) -> list[Any]:
        return [tf.convert_to_tensor(v) for v in values]

    flag = tf.reshape(tf.cast(cond, tf.bool), [])
    out = tf.cond(flag, lambda: as_tensors(branch(then_graph)), lambda: as_tensors(branch(else_graph)))
    return list(out) if isinstance(out, list | tuple) else [out]
