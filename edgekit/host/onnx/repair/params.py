"""Graph inputs that set a shape (``Reshape``'s shape, ``Resize``'s sizes…) or pick a branch: fixed from the data.

A ``.tflite`` for a device has static shapes, so an input that decides an
output's shape (a ``Reshape`` target, ``Resize`` scales or sizes, ``Slice``
bounds, ``TopK``'s k, ``Pad``'s pads, an ``LSTM``'s sequence lengths…) has
to be a constant, and so has one that decides which branch of an ``If`` runs
(a sample rate: each branch has its own shapes). Exporters and test suites sometimes leave such values as
graph inputs. When the user's data (``--calibration``) gives such an input
the same value in every sample, the loader writes that value into the graph
as a constant and the input disappears from the converted model (said in a
note); onnxruntime's reference is the model with the same value, so the check
still compares like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

SHAPE_PORTS: dict[str, frozenset[int]] = {
    "Reshape": frozenset({1}), "Resize": frozenset({1, 2, 3}), "Upsample": frozenset({1}),
    "Expand": frozenset({1}), "Tile": frozenset({1}), "Pad": frozenset({1, 3}), "Slice": frozenset({1, 2, 3, 4}),
    "TopK": frozenset({1}), "Squeeze": frozenset({1}), "Unsqueeze": frozenset({1}), "Split": frozenset({1}),
    "ConstantOfShape": frozenset({0}), "Range": frozenset({0, 1, 2}), "OneHot": frozenset({1}),
    "CumSum": frozenset({1}), "Trilu": frozenset({1}), "CenterCropPad": frozenset({1}), "Compress": frozenset({1}),
    "LSTM": frozenset({4}), "GRU": frozenset({4}), "RNN": frozenset({4}), "MaxUnpool": frozenset({2}),
    "Col2Im": frozenset({1, 2}), "AffineGrid": frozenset({1}), "DFT": frozenset({1, 2}), "STFT": frozenset({1, 3}),
    "NonMaxSuppression": frozenset({2, 3, 4}), "ReverseSequence": frozenset({1}),
    "If": frozenset({0}),  # the branch taken (Silero VAD: `If sr == 16000`); each branch has its own shapes
    **{op: frozenset({1}) for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                     "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")},
}


def shape_inputs(model: Any) -> dict[str, str]:
    """Graph inputs that set a shape, directly or through shape arithmetic: input name -> 'Op input k'.

    An input counts when a shape-setting port reads it, or reads a value computed from it by integer
    arithmetic (an expanded ``AffineGrid`` slices its size input before ``ConstantOfShape`` reads it).
    """
    graph = model.graph
    names = {v.name for v in graph.input} - {t.name for t in graph.initializer}
    integer = {v.name for v in graph.input if v.type.tensor_type.elem_type in (6, 7)}  # int32, int64
    # element types shape inference recorded: a value is only followed while it stays integer or bool (token ids
    # that go through an embedding Gather become float data, not shape arithmetic)
    int_like = {v.name for v in [*graph.value_info, *graph.output]
                if v.type.tensor_type.elem_type in (6, 7, 9)}
    origin: dict[str, set[str]] = {n: {n} for n in names}
    found: dict[str, str] = {}
    for node in graph.node:
        ports = SHAPE_PORTS.get(node.op_type, frozenset())
        for k, name in enumerate(node.input):
            for source in origin.get(name, set()):
                if k in ports and source not in found and (name == source or source in integer):
                    found[source] = f"{node.op_type} input {k}"
        if node.op_type in ("Shape", "Size"):  # depend on the shape only, which is static
            continue
        read = [*node.input, *_outer_reads(node)]  # an If's branches read outer values by name
        sources = set().union(*(origin.get(i, set()) for i in read if i)) & integer
        if sources:
            for out in node.output:
                if out in int_like:
                    origin.setdefault(out, set()).update(sources)
    return found


def _outer_reads(node: Any) -> set[str]:
    """The names the subgraphs of ``node`` (If/Loop/Scan bodies) read: a superset of the outer values they use."""
    import onnx

    names: set[str] = set()
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
        for graph in graphs:
            for inner in graph.node:
                names.update(i for i in inner.input if i)
                names |= _outer_reads(inner)
    return names


def constant_values(model: Any, samples: Mapping[str, np.ndarray] | None) -> dict[str, tuple[np.ndarray, str]]:
    """The shape-setting inputs whose value is the same in every sample: name -> (value, what it sets)."""
    if not samples:
        return {}
    found = {}
    for name, role in shape_inputs(model).items():
        arr = samples.get(name)
        if arr is None or len(arr) == 0:
            continue
        first = np.asarray(arr[0])
        if all(np.array_equal(np.asarray(a), first) for a in arr[1:]):
            found[name] = (first, role)
    return found


def freeze(model: Any, values: Mapping[str, np.ndarray]) -> Any:
    """A copy of ``model`` with ``values`` as initializers instead of graph inputs."""
    import onnx
    from onnx import numpy_helper

    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    kept = [v for v in frozen.graph.input if v.name not in values]
    dtypes = {v.name: v.type.tensor_type.elem_type for v in frozen.graph.input}
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    for name, value in values.items():
        arr = np.asarray(value).astype(onnx.helper.tensor_dtype_to_np_dtype(dtypes[name]))
        frozen.graph.initializer.append(numpy_helper.from_array(arr, name))
    return frozen


def freeze_empty_inputs(model: Any) -> tuple[Any, list[str]]:
    """Inputs with a zero-size dimension hold no values: constants (the reference and the backends agree)."""
    from edgekit.host.onnx.graph import empty_inputs

    empties = empty_inputs(model)
    if not empties:
        return model, []
    notes = [f"input '{n}' {list(v.shape)} has a zero-size dimension: it holds no values, so it is a constant "
             "(empty) and the converted model has no such input" for n, v in empties.items()]
    return freeze(model, empties), notes
