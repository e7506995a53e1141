"""The ``lower`` backend in the worker process: ONNX -> TensorFlow (:mod:`.graph`) -> SavedModel -> float .tflite.

Runs inside :mod:`edgekit.host.onnx.worker` (network blocked, private working
directory). The SavedModel's ``serving_default`` signature has the same keys as
the onnx2tf backend's (the ONNX names, made valid), every tensor in the ONNX
layout.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.host.onnx.lower.base import Unsupported
from edgekit.host.onnx.lower.graph import run_graph

_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16,
       11: np.float64}


def _inputs(model: Any) -> list[tuple[str, tuple[int, ...], Any]]:
    inits = {t.name for t in model.graph.initializer}
    found = []
    for value in model.graph.input:
        if value.name in inits:
            continue
        tt = value.type.tensor_type
        dims = tuple(int(d.dim_value) for d in tt.shape.dim)
        found.append((value.name, dims, _NP[tt.elem_type]))
    return found


def converter_failure(model: Any, text: str) -> Unsupported:
    """The TFLite converter's refusal, traced back to the ONNX node whose name scope holds the TF op."""
    from edgekit.host.onnx.repair.names import clean

    found = re.findall(r'fused\["(\w+):", "([^"]+)"\]', text)
    scopes = {clean(n.name or n.op_type, "node"): n for n in model.graph.node}
    for tf_op, location in found:
        for part in location.split("/"):
            node = scopes.get(part.split("@")[0])
            if node is not None:
                return Unsupported(node.op_type, node.name or node.op_type,
                                   f"TFLite has no builtin kernel for the TensorFlow op {tf_op} it lowers to")
    summary = " ".join(text.split())[:300]
    return Unsupported("?", "?", f"the TFLite converter refused the lowered graph: {summary}")


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Convert one ONNX file with edgekit's lowering; the worker's result dict (raises Unsupported)."""
    import onnx
    import tensorflow as tf

    from edgekit.host.onnx.keys import signature_key
    from edgekit.host.onnx.repair.base import opset_version

    timings: dict[str, float] = {}
    out_dir = Path(request["out_dir"])
    model = onnx.load(request["onnx"])
    opset = opset_version(model)
    inputs = _inputs(model)
    output_names: list[str] = list(request["output_names"])
    in_keys = [signature_key(n) for n, _, _ in inputs]
    out_keys = [signature_key(n) for n in output_names]

    def serve(*args: Any) -> dict[str, Any]:
        env = run_graph(model, dict(zip([n for n, _, _ in inputs], args, strict=True)), opset)
        outs = {}
        for name, key in zip(output_names, out_keys, strict=True):
            if name not in env:
                raise Unsupported("?", name, f"output '{name}' is never computed")
            outs[key] = tf.identity(tf.convert_to_tensor(env[name]), name=key)
        return outs

    signature = [tf.TensorSpec(shape, dtype, name=key) for (_, shape, dtype), key in zip(inputs, in_keys, strict=True)]
    t0 = time.perf_counter()
    function = tf.function(serve, input_signature=signature, autograph=False)
    concrete = function.get_concrete_function()  # traces: every op is lowered here (Unsupported surfaces now)
    timings["lower_s"] = time.perf_counter() - t0
    out_shapes = {key: [int(d) if d is not None else -1 for d in t.shape] for key, t in concrete.structured_outputs.items()}
    out_dtypes = {key: t.dtype.name for key, t in concrete.structured_outputs.items()}

    t0 = time.perf_counter()
    module = tf.Module()
    module.serve = function
    saved_model_dir = out_dir / "saved_model"
    tf.saved_model.save(module, str(saved_model_dir), signatures={"serving_default": concrete})
    timings["saved_model_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    float_tflite = out_dir / "float.tflite"
    try:
        float_tflite.write_bytes(converter.convert())
    except Exception as exc:
        raise converter_failure(model, str(exc)) from exc
    timings["float_tflite_s"] = time.perf_counter() - t0
    return {
        "ok": True,
        "saved_model_dir": str(saved_model_dir),
        "float_tflite": str(float_tflite),
        "inputs": [{"onnx_name": n, "key": k, "shape": list(s), "dtype": np.dtype(d).name}
                   for (n, s, d), k in zip(inputs, in_keys, strict=True)],
        "outputs": [{"onnx_name": n, "key": k, "shape": out_shapes[k], "dtype": out_dtypes[k]}
                    for n, k in zip(output_names, out_keys, strict=True)],
        "simplifier": "none (edgekit's constant folding)",
        "notes": [],
        "timings": timings,
        "versions": {"lower": "edgekit", "tensorflow": tf.__version__},
    }
