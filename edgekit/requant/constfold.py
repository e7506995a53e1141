"""Shape arithmetic folded into constants, and run-time shapes written into the file, before quantizing.

Graphs exported with dynamic shapes compute their reshape targets at run time: SHAPE -> STRIDED_SLICE /
GATHER / PACK / CONCATENATION / FLOOR_DIV ... -> RESHAPE (BirdNET's analyzer has ~100 such int32 ops), and
store placeholder shapes for the tensors those reshapes make (``1x1`` for what is ``1x?x2048`` at run time).
With the batch fixed, none of it depends on the inputs. XNNPACK refuses a RESHAPE whose shape is computed,
so each one splits the graph, float or int8, and the quantizer reads the placeholder shapes.

:func:`fold_static` runs the model twice on different inputs (LiteRT, every tensor kept) and then

* makes every integer tensor that the ops compute from constants and shapes alone, and that came out the
  same in both runs, a constant, removing the ops that made it (not graph outputs);
* writes each activation's run-time shape into the file where both runs agree on it.

A model the runtime cannot run here is left as it is (the quantizer's own run will say why).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.requant.objectapi import opcode_names, read_model, write_model

_INTEGER = {2: np.int32, 4: np.int64}  # schema TensorType INT32, INT64
_RANDOM = frozenset({"RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL", "MULTINOMIAL"})
_MAX_FOLDED_ELEMENTS = 4096  # shape arithmetic is small; anything bigger stays computed


def _runs(data: bytes) -> list[dict[int, np.ndarray]] | None:
    """Every tensor's value after two invocations on different inputs; None when the runtime cannot run it."""
    from edgekit.tflite.runtime import load_interpreter, tensor_values

    results = []
    try:
        interp = load_interpreter(data, use_xnnpack=False, preserve_all_tensors=True, num_threads=1)
        for seed in (1, 2):
            rng = np.random.default_rng(seed)
            for d in interp.get_input_details():
                shape, dtype = tuple(int(v) for v in d["shape"]), np.dtype(d["dtype"])
                value = rng.standard_normal(shape) if dtype.kind == "f" else rng.integers(0, 2, shape)
                interp.set_tensor(d["index"], value.astype(dtype))
            interp.invoke()
            results.append({int(k): v for k, v in tensor_values(interp).items()})
    except (EdgekitError, RuntimeError, ValueError):
        return None
    return results


def fold_static(model_t: Any, data: bytes, opcode_names: list[str], fold: bool = True,
                runs: list[dict[int, np.ndarray]] | None = None) -> tuple[int, int]:
    """Fold ``model_t`` (the object form of ``data``) in place; returns (ops folded, shapes written).
    ``fold=False`` only writes the shapes (the ops stay, as the runtime will run them); ``runs``: :func:`_runs`
    of ``data`` when the caller has them. Worth calling for a graph that computes its shapes
    (:attr:`edgekit.tflite.model.TFLiteModel.computes_shapes`) or whose input shapes were just set."""
    if len(model_t.subgraphs) != 1:
        return 0, 0
    from ai_edge_litert import schema_py_generated as schema

    sg = model_t.subgraphs[0]

    def is_constant(t: int) -> bool:
        tensor = sg.tensors[t]
        return bool(tensor.buffer) and model_t.buffers[tensor.buffer].data is not None \
            and len(model_t.buffers[tensor.buffer].data) > 0

    runs = runs if runs is not None else _runs(data)
    if runs is None:
        return 0, 0
    first, second = runs
    outputs = {int(t) for t in (sg.outputs if sg.outputs is not None else [])}

    # constants, and tensors of no elements (an empty shape vector for a scalar reshape carries no value)
    static: set[int] = {i for i, t in enumerate(sg.tensors)
                        if is_constant(i) or (t.shape is not None and 0 in [int(v) for v in t.shape])}
    folded: list[Any] = []
    for op in sg.operators:
        name = opcode_names[op.opcodeIndex]
        ins = [int(i) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0]
        outs = [int(o) for o in (op.outputs if op.outputs is not None else [])]
        if name in _RANDOM or not outs or any(o in outputs for o in outs):
            continue
        if not fold or not (name == "SHAPE" or all(i in static for i in ins)):
            continue
        if all(sg.tensors[o].type in _INTEGER and o in first and o in second
               and first[o].size <= _MAX_FOLDED_ELEMENTS and np.array_equal(first[o], second[o]) for o in outs):
            static.update(outs)
            folded.append(op)
    for op in folded:
        for o in (int(v) for v in op.outputs):
            tensor, value = sg.tensors[o], first[o].astype(_INTEGER[sg.tensors[o].type])
            buf = schema.BufferT()
            buf.data = np.frombuffer(value.tobytes(), np.uint8)
            model_t.buffers.append(buf)
            tensor.buffer = len(model_t.buffers) - 1
            tensor.shape = list(value.shape)
            tensor.shapeSignature = list(value.shape)
    dropped = {id(op) for op in folded}
    sg.operators = [op for op in sg.operators if id(op) not in dropped]
    shaped = 0
    for i, tensor in enumerate(sg.tensors):
        if i in static or i not in first or i not in second or first[i].shape != second[i].shape:
            continue
        shape = [int(v) for v in first[i].shape]
        if tensor.shape is not None and [int(v) for v in tensor.shape] != shape:
            tensor.shape = shape
            tensor.shapeSignature = list(shape)
            shaped += 1
    return len(folded), shaped


def runtime_shapes(data: bytes) -> tuple[bytes, int | None]:
    """``data`` with the shapes LiteRT computes at run time written over the placeholders a graph that
    computes its shapes stores (nothing folded); returns (bytes, shapes written), None for the count when
    LiteRT could not run the graph here (or it has control-flow subgraphs). What ``profile`` estimates."""
    model_t = read_model(data)
    runs = _runs(data) if len(model_t.subgraphs) == 1 else None
    if runs is None:
        return data, None
    _, shaped = fold_static(model_t, data, opcode_names(model_t), fold=False, runs=runs)
    return (write_model(model_t), shaped) if shaped else (data, 0)
