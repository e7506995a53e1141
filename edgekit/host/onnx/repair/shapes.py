"""Make every tensor shape static once the inputs are: ONNX shape inference, then onnxruntime for the rest.

``--input-shape`` (and ``--batch``) fix the graph's inputs; the loader writes
those dims into its private copy. Shape inference alone often stops at
``Reshape``/``Resize``/``Expand`` whose target comes from shape arithmetic
(``Shape -> Gather -> Concat``), and onnx2tf then guesses. This pass runs
symbolic inference with data propagation, then, for every tensor still without
a static shape, runs the graph once in onnxruntime on two different inputs and
records the shapes that agree (a shape that depends on the data, e.g. after
``NonZero``, is left alone), as ``value_info`` entries onnx2tf reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.host.onnx.repair.base import Repair, RepairContext

_NP_OF_ONNX = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
               10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def _is_static(value: Any) -> bool:
    tt = value.type.tensor_type
    return tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim)


def _infer(model: Any) -> Any:
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # inference helps, it is never required
        return model


def _unknown_tensors(model: Any) -> list[str]:
    graph = model.graph
    known = {v.name for v in [*graph.value_info, *graph.output, *graph.input] if _is_static(v)}
    known |= {t.name for t in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        for name in node.output:
            if name and name not in known:
                out.append(name)
    return out


def random_feeds(model: Any, seed: int, shapes: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray] | None:
    """Random values for the graph's inputs (not its initializers), of the model's static shapes or ``shapes``
    where given; None when an input has neither or an element type without a numpy one."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    given = shapes or {}
    feeds: dict[str, np.ndarray] = {}
    for value in model.graph.input:
        if value.name in inits:
            continue
        if value.name not in given and not _is_static(value):
            return None
        tt = value.type.tensor_type
        dtype = _NP_OF_ONNX.get(tt.elem_type)
        if dtype is None:
            return None
        shape = tuple(given[value.name]) if value.name in given else tuple(int(d.dim_value) for d in tt.shape.dim)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.uniform(-1, 1, shape).astype(dtype)
        elif dtype is np.bool_:
            feeds[value.name] = rng.random(shape) < 0.5
        else:
            feeds[value.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def measured_shapes(model: Any, names: list[str]) -> dict[str, tuple[tuple[int, ...], int]]:
    """Shapes (and ONNX element types) of ``names`` that onnxruntime gives alike on two different inputs."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    for name in names:
        if name not in existing:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(probe.SerializeToString(), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        runs = []
        for seed in (0, 1):
            feeds = random_feeds(model, seed)
            if feeds is None:
                return {}
            runs.append(session.run(names, feeds))
    except Exception:
        return {}
    onnx_type = {np.dtype(v): k for k, v in _NP_OF_ONNX.items()}
    found = {}
    for name, a, b in zip(names, runs[0], runs[1], strict=True):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            continue  # a sequence or map value (SequenceConstruct, SplitToSequence): it has no tensor shape
        a, b = np.asarray(a), np.asarray(b)
        if a.shape == b.shape and a.dtype in onnx_type:
            found[name] = (tuple(int(d) for d in a.shape), onnx_type[a.dtype])
    return found


def apply(model: Any, context: RepairContext) -> Repair | None:
    import onnx

    inferred = _infer(model)
    unknown = _unknown_tensors(inferred)
    before = len(_unknown_tensors(model))
    measured = measured_shapes(inferred, unknown) if unknown else {}
    del model.graph.value_info[:]
    model.graph.value_info.extend(inferred.graph.value_info)
    dims_of = {v.name: v for v in model.graph.value_info}
    for name, (shape, elem) in measured.items():
        value = dims_of.get(name)
        if value is None:
            value = model.graph.value_info.add()
            value.name = name
        value.type.CopyFrom(onnx.helper.make_tensor_type_proto(elem, list(shape)))
    for out in model.graph.output:  # outputs too: onnx2tf reads their declared shapes
        if out.name in measured and not _is_static(out):
            shape, elem = measured[out.name]
            out.type.CopyFrom(onnx.helper.make_tensor_type_proto(elem, list(shape)))
    after = len(_unknown_tensors(model))
    if not measured or after >= before:
        return None
    return Repair("shapes", f"made {before - after} tensor shape(s) static ({len(measured)} measured with "
                  f"onnxruntime where shape inference stopped); {after} left dynamic", before - after)
