"""Find and rewrite the weight tensors of a float SavedModel on disk (workstation only).

Why here: every source format reaches the TFLite converter as a float SavedModel
(`SourceModel.saved_model_dir`: Keras is exported to one, a SavedModel is used as is or re-saved,
ONNX goes through onnx2tf to one). So pruning the SavedModel's weights serves Keras, SavedModel and
ONNX alike, happens before quantization (calibration sees the pruned model), and leaves the loaded
original (the reference runner) untouched. Weights live either in variables (Keras, tf.Module:
the checkpoint under ``variables/``) or in graph constants (onnx2tf): both are handled.

How a weight is found: in every function of the SavedModel, the filter input of Conv2D,
DepthwiseConv2dNative, Conv2DBackpropInput, Conv3D and the inputs of MatMul/BatchMatMul are traced
back (through Identity, ReadVariableOp, Cast, Reshape, Transpose and function calls) to a Const
node or a captured variable/constant of the object graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.host.convert.tf_util import tensorflow

# op -> indices of inputs that carry weights
WEIGHT_INPUTS: dict[str, tuple[int, ...]] = {
    "Conv2D": (1,),
    "DepthwiseConv2dNative": (1,),
    "Conv2DBackpropInput": (1,),
    "Conv3D": (1,),
    "MatMul": (0, 1),
    "BatchMatMulV2": (1,),
    "BatchMatMulV3": (1,),
}
_PASS_THROUGH = {"Identity", "ReadVariableOp", "Cast", "Reshape", "Transpose", "IdentityN"}
_CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}


@dataclass
class WeightRef:
    """Where one weight tensor lives in the SavedModel."""

    name: str  # variable name (e.g. 'conv2d/kernel') or constant op name
    consumer: str  # the op that reads it, e.g. 'Conv2D functional/conv2d/convolution'
    kind: str  # "variable" | "graph_const" | "function_const"
    key: str  # checkpoint key, graph node name, or "function/node"
    order: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.consumer})"


class _Model:
    """saved_model.pb + the checkpoint object graph, parsed once."""

    def __init__(self, saved_dir: Path) -> None:
        self.tf = tensorflow("Pruning a model")
        from tensorflow.core.protobuf import saved_model_pb2, trackable_object_graph_pb2

        self.dir = saved_dir
        self.proto = saved_model_pb2.SavedModel()
        self.proto.ParseFromString((saved_dir / "saved_model.pb").read_bytes())
        self.mg = self.proto.meta_graphs[0]
        self.functions = {f.signature.name: f for f in self.mg.graph_def.library.function}
        self.graph_nodes = {n.name: n for n in self.mg.graph_def.node}
        self.ckpt_prefix = str(saved_dir / "variables" / "variables")
        self.ckpt_keys: dict[int, str] = {}
        index = saved_dir / "variables" / "variables.index"
        if index.is_file():
            reader = self.tf.train.load_checkpoint(self.ckpt_prefix)
            graph = trackable_object_graph_pb2.TrackableObjectGraph()
            graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
            for node_id, node in enumerate(graph.nodes):
                for attr in node.attributes:
                    if attr.name == "VARIABLE_VALUE":
                        self.ckpt_keys[node_id] = attr.checkpoint_key
        # function name -> (calling function, call node) pairs
        self.callers: dict[str, list[tuple[str, Any]]] = {}
        for fname, f in self.functions.items():
            for node in f.node_def:
                callee = self._callee(node)
                if callee is not None:
                    self.callers.setdefault(callee, []).append((fname, node))

    def _callee(self, node: Any) -> str | None:
        if node.op in _CALL_OPS and "f" in node.attr:
            return str(node.attr["f"].func.name)
        return node.op if node.op in self.functions else None

    def _object_ref(self, fname: str, arg_index: int) -> Iterator[tuple[str, str, str]]:
        """A function argument bound to a capture of the object graph -> (kind, name, key)."""
        cf = self.mg.object_graph_def.concrete_functions.get(fname)
        if cf is None:
            return
        n_args = len(self.functions[fname].signature.input_arg)
        k = arg_index - (n_args - len(cf.bound_inputs))
        if not 0 <= k < len(cf.bound_inputs):
            return
        node_id = cf.bound_inputs[k]
        obj = self.mg.object_graph_def.nodes[node_id]
        kind = obj.WhichOneof("kind")
        if kind == "variable" and node_id in self.ckpt_keys:
            yield "variable", obj.variable.name, self.ckpt_keys[node_id]
        elif kind == "constant" and obj.constant.operation in self.graph_nodes:
            yield "graph_const", obj.constant.operation, obj.constant.operation

    def trace(self, fname: str, ref: str, depth: int = 0) -> Iterator[tuple[str, str, str]]:
        """Follow a tensor reference inside function ``fname`` back to where its value is stored."""
        if depth > 64 or ref.startswith("^"):
            return
        f = self.functions[fname]
        node_name = ref.split(":")[0]
        arg_names = [a.name for a in f.signature.input_arg]
        if node_name in arg_names and ":" not in ref:
            idx = arg_names.index(node_name)
            yield from self._object_ref(fname, idx)
            for caller, call in self.callers.get(fname, []):
                inputs = [i for i in call.input if not i.startswith("^")]
                if idx < len(inputs):
                    yield from self.trace(caller, inputs[idx], depth + 1)
            return
        node = next((n for n in f.node_def if n.name == node_name), None)
        if node is None:
            return
        if node.op == "Const":
            yield "function_const", node.name, f"{fname}/{node.name}"
        elif node.op in _PASS_THROUGH and node.input:
            yield from self.trace(fname, node.input[0], depth + 1)


def find_weights(saved_dir: Path) -> tuple[_Model, list[WeightRef]]:
    model = _Model(Path(saved_dir))
    found: dict[str, WeightRef] = {}
    order = 0
    for fname, f in model.functions.items():
        if "traced_save" in fname or "traced_restore" in fname:
            continue
        for node in _topological(f):
            for idx in WEIGHT_INPUTS.get(node.op, ()):
                if idx >= len(node.input):
                    continue
                for kind, name, key in model.trace(fname, node.input[idx]):
                    if key not in found:
                        found[key] = WeightRef(name=name, consumer=f"{node.op} {node.name}", kind=kind, key=key,
                                               order=order)
                        order += 1
    return model, sorted(found.values(), key=lambda w: w.order)


def _topological(f: Any) -> list[Any]:
    nodes = {n.name: n for n in f.node_def}
    seen: set[str] = set()
    out: list[Any] = []

    def visit(name: str) -> None:
        stack = [(name, False)]
        while stack:
            cur, done = stack.pop()
            if done:
                out.append(nodes[cur])
                continue
            if cur in seen:
                continue
            seen.add(cur)
            stack.append((cur, True))
            for inp in nodes[cur].input:
                dep = inp.lstrip("^").split(":")[0]
                if dep in nodes and dep not in seen:
                    stack.append((dep, False))

    for n in f.node_def:
        visit(n.name)
    return out


def read_weight(model: _Model, ref: WeightRef) -> np.ndarray:
    tf = model.tf
    if ref.kind == "variable":
        return np.asarray(tf.train.load_checkpoint(model.ckpt_prefix).get_tensor(ref.key))
    if ref.kind == "graph_const":
        return np.asarray(tf.make_ndarray(model.graph_nodes[ref.key].attr["value"].tensor))
    fname, node_name = ref.key.split("/", 1)
    node = next(n for n in model.functions[fname].node_def if n.name == node_name)
    return np.asarray(tf.make_ndarray(node.attr["value"].tensor))


def write_weights(model: _Model, new_values: dict[str, np.ndarray], refs: list[WeightRef]) -> None:
    """Write pruned values back into ``model.dir`` (which must be a private copy)."""
    tf = model.tf
    by_key = {r.key: r for r in refs}
    variables: dict[str, np.ndarray] = {}
    for key, value in new_values.items():
        ref = by_key[key]
        if ref.kind == "variable":
            variables[key] = value
        elif ref.kind == "graph_const":
            model.graph_nodes[key].attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            fname, node_name = key.split("/", 1)
            node = next(n for n in model.functions[fname].node_def if n.name == node_name)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    (model.dir / "saved_model.pb").write_bytes(model.proto.SerializeToString())
    if variables:
        reader = tf.train.load_checkpoint(model.ckpt_prefix)
        names = sorted(reader.get_variable_to_dtype_map())
        originals = {k: np.asarray(reader.get_tensor(k)) for k in variables}
        tensors = []
        for n in names:
            value = reader.get_tensor(n)
            if n not in variables and isinstance(value, np.ndarray):
                # Keras tracks each variable twice (its own object and the backing tf.Variable, both
                # restored into the same resource): a checkpoint entry holding exactly the original
                # values of a pruned weight is the same weight and gets the same pruned values.
                twin = next((k for k, o in originals.items()
                             if o.shape == value.shape and o.dtype == value.dtype and np.array_equal(o, value)), None)
                if twin is not None:
                    value = variables[twin]
            tensors.append(variables.get(n, value))
        for old in (model.dir / "variables").glob("variables.*"):
            old.unlink()
        tf.raw_ops.SaveV2(prefix=model.ckpt_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=tensors)


def captured_parameters(saved_dir: Path) -> list[tuple[str, np.ndarray, bool]]:
    """Every float variable/constant the SavedModel's functions capture: (name, values, is_weight).

    ``is_weight`` is True for tensors feeding conv/depthwise/matmul weights (see :func:`find_weights`).
    A variable tracked twice (Keras) is listed once.
    """
    model, refs = find_weights(saved_dir)
    weight_keys = {r.key for r in refs}
    og = model.mg.object_graph_def
    reader = model.tf.train.load_checkpoint(model.ckpt_prefix) if model.ckpt_keys else None
    seen: set[str] = set()
    out: list[tuple[str, np.ndarray, bool]] = []
    for fname, cf in og.concrete_functions.items():
        if "traced_save" in fname or "traced_restore" in fname:
            continue
        for node_id in cf.bound_inputs:
            obj = og.nodes[node_id]
            kind = obj.WhichOneof("kind")
            if kind == "variable" and node_id in model.ckpt_keys and reader is not None:
                key, name = model.ckpt_keys[node_id], obj.variable.name
                if key in seen:
                    continue
                value = np.asarray(reader.get_tensor(key))
            elif kind == "constant" and obj.constant.operation in model.graph_nodes:
                key = name = obj.constant.operation
                if key in seen:
                    continue
                value = np.asarray(model.tf.make_ndarray(model.graph_nodes[key].attr["value"].tensor))
            else:
                continue
            seen.add(key)
            if value.dtype.kind == "f":
                out.append((name, value, key in weight_keys))
    for r in refs:  # constants inlined in functions
        if r.kind == "function_const" and r.key not in seen:
            seen.add(r.key)
            out.append((r.name, read_weight(model, r), True))
    return out
