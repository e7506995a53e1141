"""Passes on a quantized .tflite that keep an int8 graph in one XNNPACK partition.

Device-safe (the flatbuffer object API of ``ai_edge_litert``). Run on ai-edge-quantizer's output (both
passes) and on TensorFlow's converter's (the second):

* :func:`_int8_leaky_relu` -- ai-edge-quantizer 0.10 has no integer rule for LEAKY_RELU, so it leaves each one
  float between a DEQUANTIZE and a QUANTIZE. LiteRT's int8 LEAKY_RELU (and XNNPACK's) takes any input and
  output scale, so ``QUANTIZE(LEAKY_RELU(DEQUANTIZE(a)))`` becomes ``LEAKY_RELU(a)`` writing the QUANTIZE's
  tensor: the same function, computed once in integers instead of through float.
* :func:`_fold_clamps` -- a MAXIMUM of an op's output and a constant at or below the lowest value the
  output's int8 range holds changes nothing the range does not already clamp: ``max(y, -0.4)`` into a range
  that starts at -0.4 (openWakeWord's embedding model has 19, one after each LEAKY_RELU). XNNPACK has no int8
  MAXIMUM, so each such op ends a partition; the op is removed and its producer writes its output
  (quantization parameters included). (ai-edge-quantizer 0.10 has no integer MINIMUM: those stay float.)
  Only producers whose int8 kernels requantize to any output parameters (convolutions, fully connected,
  ADD/SUB/MUL, LEAKY_RELU), when the clamp is the only reader of their output and that is not a graph output.

* :func:`_fold_bounded_activations` -- the same for an int8 RELU / RELU6 / RELU_N1_TO_1 / RELU_0_TO_1 whose
  output's int8 range lies within the activation's bounds (to half a step): saturating to that range clamps
  as the op does. XNNPACK has none of them in int8 (PP-OCRv5's HardSigmoids are ADD -> RELU_0_TO_1); the
  producer writes the activation's tensor, one rounding instead of two.
* :func:`_rescale_small_constants` -- XNNPACK takes an int8 ADD/SUB only when each input's scale is at least
  2^-10 of the output's. A constant added with a far smaller scale (PP-OCRv5's folded batch-norm shifts and
  layer-norm epsilons, 1e-8 to 1e-6 against outputs of 1e-3: 7 to 17 refusals per file) is written again at
  2^-10 of the output's scale: it then differs from its value by at most 1/2048 of one output step.

Each changes the int8 result by at most one quantization step on values at a clamp; the check that follows
quantization judges the file that is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgekit.requant.objectapi import GraphIndex, new_tensor, tensor_name
from edgekit.requant.objectapi import opcode_names as _opcode_names
from edgekit.requant.objectapi import read_model as _read
from edgekit.requant.objectapi import write_model as _write

_INT8 = 9  # schema TensorType.INT8
# ops whose int8 kernels (LiteRT's and XNNPACK's) requantize to any output scale and zero point
_REQUANTIZING = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "LEAKY_RELU"})


def _int8_version(model_t: Any, op_name: str) -> None:
    """Operator versions say which kernels a file needs: LEAKY_RELU's int8 kernel is version 2."""
    for code, name in zip(model_t.operatorCodes, _opcode_names(model_t), strict=True):
        if name == op_name:
            code.version = max(int(code.version), 2)


def _per_tensor(tensor: Any) -> tuple[float, int] | None:
    """(scale, zero point) of an int8 tensor quantized per tensor; None otherwise."""
    q = tensor.quantization
    if tensor.type != _INT8 or q is None or q.scale is None or len(q.scale) != 1 or q.zeroPoint is None:
        return None
    return float(q.scale[0]), int(q.zeroPoint[0])


Rewrite = Callable[[Any, GraphIndex, Any, list[str]], "set[int] | None"]


def _each_op(model_t: Any, op_name: str, inputs: int, rewrite: Rewrite) -> int:
    """Call ``rewrite(subgraph, graph, op, opcode names)`` on every ``op_name`` op with ``inputs`` inputs and one
    output; it edits in place and returns the ids of the ops to remove (None: nothing done). Returns the count."""
    names = _opcode_names(model_t)
    done = 0
    for sg in model_t.subgraphs:
        g = GraphIndex(sg)
        drop: set[int] = set()
        for op in list(sg.operators or []):
            if names[op.opcodeIndex] == op_name and len(op.inputs) == inputs and len(op.outputs) == 1:
                removed = rewrite(sg, g, op, names)
                if removed is not None:
                    drop |= removed
                    done += 1
        if drop:
            sg.operators = [o for o in sg.operators if id(o) not in drop]
    return done


def _int8_leaky_relu(model_t: Any, keep_float: frozenset[str]) -> int:
    def rewrite(sg: Any, g: GraphIndex, op: Any, names: list[str]) -> set[int] | None:
        x, y = int(op.inputs[0]), int(op.outputs[0])
        deq = g.producer.get(x)
        if tensor_name(sg.tensors[y]) in keep_float or deq is None or names[deq.opcodeIndex] != "DEQUANTIZE":
            return None
        if not (g.only_reader(x) and g.only_reader(y)):
            return None
        quant = next((o for o in sg.operators if o.inputs is not None and y in [int(i) for i in o.inputs]), None)
        if quant is None or names[quant.opcodeIndex] != "QUANTIZE":
            return None
        a, b = int(deq.inputs[0]), int(quant.outputs[0])
        if _per_tensor(sg.tensors[a]) is None or _per_tensor(sg.tensors[b]) is None:
            return None
        op.inputs, op.outputs = [a], [b]
        return {id(deq), id(quant)}

    return _each_op(model_t, "LEAKY_RELU", 1, rewrite)


def _constant_value(model_t: Any, tensor: Any) -> float | None:
    """The real value of a one-element int8 constant."""
    params = _per_tensor(tensor)
    data = model_t.buffers[tensor.buffer].data if tensor.buffer else None
    if params is None or data is None or len(data) != 1:
        return None
    scale, zero = params
    return (int(np.asarray(data, np.uint8).view(np.int8)[0]) - zero) * scale


def _fold_clamps(model_t: Any) -> int:
    def rewrite(sg: Any, g: GraphIndex, op: Any, names: list[str]) -> set[int] | None:
        out = int(op.outputs[0])
        params = _per_tensor(sg.tensors[out])
        for x, c in ((int(op.inputs[0]), int(op.inputs[1])), (int(op.inputs[1]), int(op.inputs[0]))):
            prev = g.producer.get(x)
            value = _constant_value(model_t, sg.tensors[c])
            if prev is None or value is None or params is None or names[prev.opcodeIndex] not in _REQUANTIZING:
                continue
            if len(prev.outputs) != 1 or not g.only_reader(x) or _per_tensor(sg.tensors[x]) is None:
                continue
            scale, zero = params
            if value > (-128 - zero) * scale + scale / 2:
                continue  # the range does not clamp there: the op matters
            prev.outputs = [out]
            g.producer[out] = prev
            return {id(op)}
        return None

    return _each_op(model_t, "MAXIMUM", 2, rewrite)


# int8 activations by their bounds: XNNPACK takes none of them in int8
_BOUNDS = {"RELU": (0.0, float("inf")), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def _fold_bounded_activations(model_t: Any) -> int:
    done = 0
    for op_name, (lo, hi) in _BOUNDS.items():
        def rewrite(sg: Any, g: GraphIndex, op: Any, names: list[str], lo: float = lo, hi: float = hi) -> set[int] | None:
            x, out = int(op.inputs[0]), int(op.outputs[0])
            prev, params = g.producer.get(x), _per_tensor(sg.tensors[out])
            if prev is None or params is None or names[prev.opcodeIndex] not in _REQUANTIZING:
                return None
            if len(prev.outputs) != 1 or not g.only_reader(x) or _per_tensor(sg.tensors[x]) is None:
                return None
            scale, zero = params
            if (-128 - zero) * scale < lo - scale / 2 or (127 - zero) * scale > hi + scale / 2:
                return None  # the range reaches past a bound: the op clamps something the range does not
            prev.outputs = [out]
            g.producer[out] = prev
            return {id(op)}

        done += _each_op(model_t, op_name, 1, rewrite)
    return done


_MIN_ADD_RATIO = 2.0 ** -10  # XNNPACK's lowest input/output scale ratio of a quantized ADD/SUB (profile/delegate.py)


def _rescale_small_constants(model_t: Any) -> int:
    """Every int8 per-tensor constant input of an ADD/SUB whose scale is below ``_MIN_ADD_RATIO`` of the output's,
    requantized (zero point 0) at that ratio; a constant other ops read too is copied first. Returns the count."""
    names = _opcode_names(model_t)
    done = 0
    for sg in model_t.subgraphs:
        g = GraphIndex(sg)
        for op in sg.operators or []:
            if names[op.opcodeIndex] not in ("ADD", "SUB") or op.inputs is None or len(op.inputs) != 2:
                continue
            out = _per_tensor(sg.tensors[int(op.outputs[0])])
            for k, t in enumerate(int(i) for i in op.inputs):
                tensor = sg.tensors[t]
                params = _per_tensor(tensor)
                data = model_t.buffers[tensor.buffer].data if tensor.buffer else None
                if out is None or params is None or data is None or params[0] >= _MIN_ADD_RATIO * out[0]:
                    continue
                values = (np.asarray(data, np.uint8).view(np.int8).astype(np.float64) - params[1]) * params[0]
                scale = _MIN_ADD_RATIO * out[0] * (1 + 1e-6)  # just inside the bound after float rounding
                q = np.clip(np.round(values / scale), -128, 127).astype(np.int8)
                if g.readers.get(t, 0) > 1 or t in g.outputs:
                    t = new_tensor(model_t, sg, f"{tensor_name(tensor)}/rescaled", list(tensor.shape), _INT8, None)
                    copy = sg.tensors[t]
                    copy.quantization = type(tensor.quantization)()
                    tensor = copy
                    inputs = [int(i) for i in op.inputs]
                    inputs[k] = t
                    op.inputs = inputs
                # a buffer of its own: converters share one buffer between equal constants
                buffer = type(model_t.buffers[0])()
                buffer.data = np.frombuffer(q.tobytes(), np.uint8)
                model_t.buffers.append(buffer)
                tensor.buffer = len(model_t.buffers) - 1
                tensor.quantization.scale, tensor.quantization.zeroPoint = [scale], [0]
                done += 1
    return done


def finish_int8(data: bytes, keep_float: frozenset[str] = frozenset(),
                int8_leaky: bool = True) -> tuple[bytes, list[str]]:
    """``data`` (a quantized .tflite) with the passes applied; returns (bytes, notes). ``keep_float``: output
    names of ops the recipe keeps float (left as they are). ``int8_leaky=False`` for TensorFlow's converter,
    which has an int8 LEAKY_RELU: a float one there is one the user kept float."""
    model_t = _read(data)
    names = _opcode_names(model_t)
    if not {"LEAKY_RELU", "MAXIMUM", "ADD", "SUB", *_BOUNDS} & set(names):
        return data, []

    def leaky_relu(m: Any) -> int:
        done = _int8_leaky_relu(m, keep_float) if int8_leaky else 0
        if done:
            _int8_version(m, "LEAKY_RELU")
        return done

    passes: list[tuple[Callable[[Any], int], str]] = [
        (leaky_relu, "{} LEAKY_RELU op(s) run in int8 (ai-edge-quantizer leaves them float between DEQUANTIZE and "
                     "QUANTIZE)"),
        (_fold_clamps, "{} MAXIMUM op(s) of a constant at the bottom of their input's int8 range removed (the range "
                       "clamps there already; XNNPACK has no int8 MAXIMUM)"),
        (_fold_bounded_activations, "{} int8 RELU/RELU6/RELU_0_TO_1 op(s) removed: their output's int8 range clamps "
                                    "as they do (XNNPACK has none of them in int8)"),
        (_rescale_small_constants, "{} int8 constant(s) added at under 2^-10 of the sum's scale written at that scale "
                                   "(XNNPACK's ADD/SUB limit; each within 1/2048 of an output step of its value)"),
    ]
    notes = [message.format(count) for run, message in passes if (count := run(model_t))]
    if not notes:
        return data, []
    return _write(model_t), notes
