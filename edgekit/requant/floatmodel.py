"""A float .tflite as a quantization source: check it, fold float16 weights, edit weights in place.

Device-safe: the flatbuffer object API of ``ai_edge_litert`` (the runtime edgekit already needs), no
TensorFlow. :func:`prepare_float` accepts a float32 model, or a float16-weight one (MediaPipe ships
those: float16 constants feeding DEQUANTIZE ops), which it folds into float32 constants, because the
quantizer calibrates and quantizes float32 weights; sparse weights (DENSIFY ops) are stored dense first
(:mod:`edgekit.requant.densify`), and a dynamic-range file's int8/uint8 weights are dequantized. Models with
quantized activations are refused.
:func:`map_weights` rewrites constant tensors (cross-layer equalization and bias correction in
:mod:`edgekit.requant.equalize`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.core.quant import QuantKind
from edgekit.errors import ModelFormatError, UsageError
from edgekit.requant.constfold import fold_static
from edgekit.requant.densify import fold_densify
from edgekit.requant.objectapi import GraphIndex, fold_constant_ops, new_tensor, tensor_name
from edgekit.requant.objectapi import opcode_names as _opcode_names
from edgekit.requant.objectapi import read_model as _read
from edgekit.requant.objectapi import write_model as _write
from edgekit.requant.scalefold import fold_channel_scales
from edgekit.tflite.model import TFLiteModel, parse_model

_FLOAT32 = 0  # schema TensorType.FLOAT32
_FLOAT16 = 1


@dataclass
class FloatModel:
    """A float32 .tflite ready to be quantized."""

    data: bytes
    model: TFLiteModel
    folded_float16: int = 0  # DEQUANTIZE ops of float16 weights folded into float32 constants
    notes: list[str] = field(default_factory=list)

    @property
    def activation_tensors(self) -> list[str]:
        """Names of the non-constant float tensors ops produce or the graph takes (what calibration measures)."""
        sg = self.model.main
        produced = {o for op in sg.operators for o in op.outputs if o >= 0} | set(sg.inputs)
        return [t.name for t in sg.tensors if t.index in produced and not t.is_constant and t.dtype == "float32"]


def _float16_as_float32(model_t: Any, tensor: Any) -> np.ndarray | None:
    buf = model_t.buffers[tensor.buffer]
    if tensor.type != _FLOAT16 or buf.data is None or len(buf.data) == 0:
        return None
    return np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), np.float16).astype(np.float32)


def _fold_float16(model_t: Any) -> int:
    """Replace every DEQUANTIZE of a float16 constant by a float32 constant, in place; returns the count."""
    return fold_constant_ops(model_t, "DEQUANTIZE", _float16_as_float32)


_INT8_TYPES = {9: np.int8, 3: np.uint8}  # schema TensorType INT8, UINT8
# ops that read int8/uint8 weights with float activations in a dynamic-range ("hybrid") file
_HYBRID_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL",
                         "EMBEDDING_LOOKUP"})


def _dequantized(model_t: Any, tensor: Any) -> np.ndarray | None:
    """The real values of an int8/uint8 constant with per-tensor or per-channel scales; None otherwise."""
    q = tensor.quantization
    buf = model_t.buffers[tensor.buffer] if tensor.buffer else None
    if tensor.type not in _INT8_TYPES or q is None or q.scale is None or len(q.scale) == 0 or buf is None \
            or buf.data is None or len(buf.data) == 0:
        return None
    values = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), _INT8_TYPES[tensor.type]).astype(np.float32)
    values = values.reshape(tuple(int(d) for d in tensor.shape))
    scale, zero = np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint if q.zeroPoint is not None else [0],
                                                              np.float32)
    if scale.size > 1:  # per channel along quantized_dimension
        shape = [1] * values.ndim
        shape[int(q.quantizedDimension)] = scale.size
        scale, zero = scale.reshape(shape), (zero.reshape(shape) if zero.size == scale.size else zero)
    return np.asarray((values - zero) * scale, np.float32)


def _dequantize_weights(model_t: Any) -> int:
    """A dynamic-range file's int8/uint8 weights as the float32 values its kernels compute with: a DEQUANTIZE
    of such a constant folded, a hybrid op's weight tensor rewritten in float32. In place; returns the count."""
    done = fold_constant_ops(model_t, "DEQUANTIZE", _dequantized)
    names = _opcode_names(model_t)
    for sg in model_t.subgraphs:
        for op in sg.operators:
            if names[op.opcodeIndex] in _HYBRID_OPS and op.inputs is not None and len(op.inputs) > 1 \
                    and op.inputs[1] >= 0:
                inp, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
                values = _dequantized(model_t, w) if inp.type == _FLOAT32 else None
                if values is not None:
                    model_t.buffers[w.buffer].data = np.frombuffer(values.tobytes(), np.uint8)
                    w.type, w.quantization = _FLOAT32, None
                    done += 1
    return done


# activation ops and the ActivationFunctionType a producer takes for them (schema: RELU 1, RELU_N1_TO_1 2, RELU6 3)
_ACTIVATIONS = {"RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
# ops with a fused_activation_function that XNNPACK and the quantizer run fused
_FUSES_ACTIVATION = frozenset({"ADD", "SUB", "MUL", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                               "AVERAGE_POOL_2D", "MAX_POOL_2D"})


def _options(op: Any, op_name: str) -> Any:
    """``op``'s builtin options; an ADD/SUB/MUL written without any gets fresh ones (no fused activation)."""
    if op.builtinOptions is None and op_name in ("ADD", "SUB", "MUL"):
        from ai_edge_litert import schema_py_generated as schema

        kind = f"{op_name.capitalize()}Options"  # AddOptions, SubOptions, MulOptions
        op.builtinOptionsType, op.builtinOptions = getattr(schema.BuiltinOptions, kind), getattr(schema, f"{kind}T")()
    return op.builtinOptions


def _fuse_activations(model_t: Any) -> int:
    """Fold a RELU / RELU6 / RELU_N1_TO_1 op into the op before it when it is that op's only reader and the op
    has no fused activation yet (what TensorFlow's converter does; MediaPipe's files keep them apart). The same
    float arithmetic; quantized, a lone int8 RELU is an op XNNPACK refuses, which splits the graph on a Pi.
    In place; returns the count."""
    names = _opcode_names(model_t)
    fused = 0
    for sg in model_t.subgraphs:
        ops = list(sg.operators or [])
        g = GraphIndex(sg)
        drop: set[int] = set()
        for op in ops:
            act = _ACTIVATIONS.get(names[op.opcodeIndex])
            if act is None or op.inputs is None or len(op.inputs) != 1 or op.outputs is None or len(op.outputs) != 1:
                continue
            t = int(op.inputs[0])
            prev = g.producer.get(t)
            if (prev is None or names[prev.opcodeIndex] not in _FUSES_ACTIVATION or not g.only_reader(t)
                    or len(prev.outputs) != 1):
                continue
            opts = _options(prev, names[prev.opcodeIndex])
            if getattr(opts, "fusedActivationFunction", None) != 0:
                continue
            opts.fusedActivationFunction = act
            prev.outputs = [int(op.outputs[0])]
            g.producer[int(op.outputs[0])] = prev
            drop.add(id(op))
            fused += 1
        if drop:
            sg.operators = [op for op in ops if id(op) not in drop]
    return fused


def _as_reshapes(model_t: Any) -> int:
    """EXPAND_DIMS and SQUEEZE with a static output shape written as the RESHAPE they are (ai-edge-quantizer has
    no integer rule for either, so each one stays float, and XNNPACK runs no EXPAND_DIMS: basic-pitch's 19 split
    its int8 graph).
    In place; returns the count."""
    from ai_edge_litert import schema_py_generated as schema

    names = _opcode_names(model_t)
    reshape_code = -1
    done = 0
    for sg in model_t.subgraphs:
        for op in sg.operators or []:
            if names[op.opcodeIndex] not in ("EXPAND_DIMS", "SQUEEZE") or not op.outputs or len(op.outputs) != 1:
                continue
            out = sg.tensors[int(op.outputs[0])]
            shape = [int(v) for v in (out.shapeSignature if out.shapeSignature is not None and len(out.shapeSignature)
                                      else out.shape)]
            if any(v < 0 for v in shape):
                continue
            if reshape_code < 0:
                reshape_code = names.index("RESHAPE") if "RESHAPE" in names else len(model_t.operatorCodes)
                if reshape_code == len(model_t.operatorCodes):
                    code = schema.OperatorCodeT()
                    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
                    code.version = 1
                    model_t.operatorCodes.append(code)
            target = new_tensor(model_t, sg, f"{tensor_name(out)}/shape", [len(shape)], 2,  # INT32
                                 np.asarray(shape, np.int32).tobytes())
            op.opcodeIndex = reshape_code
            op.inputs = [int(op.inputs[0]), target]
            op.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
            op.builtinOptions = schema.ReshapeOptionsT()
            op.builtinOptions.newShape = shape
            done += 1
    return done


def _fix_opcodes(model_t: Any) -> None:
    """Old writers set only ``deprecated_builtin_code`` (MediaPipe's models): a reader that looks at
    ``builtin_code`` alone (ai-edge-quantizer 0.10) then sees every such op as ADD. Set both."""
    for code in model_t.operatorCodes:
        if code.builtinCode < code.deprecatedBuiltinCode:
            code.builtinCode = code.deprecatedBuiltinCode


def _fix_batch(model_t: Any) -> list[str]:
    """A dynamic batch (-1 first in a shape signature whose shape says 1) fixed to 1; returns the inputs fixed."""
    fixed = []
    for k, sg in enumerate(model_t.subgraphs):
        inputs = set(int(i) for i in (sg.inputs if sg.inputs is not None else []))
        for index, t in enumerate(sg.tensors):
            sig, shape = t.shapeSignature, t.shape
            if sig is None or shape is None or len(sig) == 0 or len(sig) != len(shape):
                continue
            if int(sig[0]) == -1 and int(shape[0]) == 1 and all(int(v) != -1 for v in sig[1:]):
                t.shapeSignature = [int(v) for v in shape]
                if k == 0 and index in inputs:
                    fixed.append(tensor_name(t))
    return fixed


def _set_input_shapes(model_t: Any, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """The main subgraph's inputs named in ``shapes`` get those static shapes (the rest follows from a run)."""
    sg = model_t.subgraphs[0]
    for i in (int(v) for v in (sg.inputs if sg.inputs is not None else [])):
        t = sg.tensors[i]
        shape = shapes.get(tensor_name(t))
        if shape is not None:
            t.shape = list(shape)
            t.shapeSignature = list(shape)


def normalize(data: bytes, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> tuple[bytes, list[str], int]:
    """One rewrite of a float model into what the quantizer reads well: sparse weights stored dense, int8/uint8
    weights of a dynamic-range model dequantized, float16 weights folded, operator codes completed, lone
    activations fused into their producer, a dynamic batch fixed to 1, shape arithmetic folded, EXPAND_DIMS and
    SQUEEZE as RESHAPE, a (possibly empty) signature list
    (ai-edge-quantizer 0.10 iterates it unconditionally when it changes the inputs/outputs). Returns (bytes,
    notes, folded)."""
    computes_shapes = parse_model(data, "model").computes_shapes
    model_t = _read(data)
    notes: list[str] = []
    densified = fold_densify(model_t)
    if densified:
        notes.append(f"{densified} sparse weight tensors (DENSIFY ops) stored dense before quantizing")
    weights = _dequantize_weights(model_t)
    if weights:
        notes.append(f"{weights} int8/uint8 weight tensors of a dynamic-range model dequantized to the float32 "
                     "values its kernels compute with")
    folded = _fold_float16(model_t)
    if folded:
        notes.append(f"{folded} float16 weight tensors folded to float32 before quantizing")
    _fix_opcodes(model_t)
    fused = _fuse_activations(model_t)
    if fused:
        notes.append(f"{fused} activation op(s) fused into the op before them, as TensorFlow's converter does")
    scaled = fold_channel_scales(model_t)
    if scaled:
        notes.append(f"{scaled} per-channel MUL(s) after a conv (a batch norm after its ReLU) folded into the conv's "
                     "weights: one int8 scale no longer spans channels the MUL sets far apart")
    if input_shapes:
        _set_input_shapes(model_t, input_shapes)
    batch = _fix_batch(model_t)
    if batch:
        notes.append(f"dynamic batch of {', '.join(batch)} fixed to 1")
    ops = shapes = 0
    if computes_shapes or input_shapes:
        ops, shapes = fold_static(model_t, _write(model_t), _opcode_names(model_t))
    if ops or shapes:
        notes.append(f"shapes computed at run time made static: {ops} shape-arithmetic op(s) folded into "
                     f"constants, {shapes} tensor shape(s) written as the runtime computes them")
    reshapes = _as_reshapes(model_t)
    if reshapes:
        notes.append(f"{reshapes} EXPAND_DIMS/SQUEEZE op(s) written as the RESHAPE they are")
    if model_t.signatureDefs is None:
        model_t.signatureDefs = []
    return _write(model_t), notes, folded


def fold_float16(data: bytes) -> tuple[bytes, int]:
    """Replace every DEQUANTIZE of a float16 constant by a float32 constant; (new bytes, ops folded)."""
    model_t = _read(data)
    folded = _fold_float16(model_t)
    return (_write(model_t), folded) if folded else (data, 0)


def prepare_float(data: bytes, name: str = "model",
                  input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> FloatModel:
    """Check that ``data`` is a float model and :func:`normalize` it (see the module docstring); ``input_shapes``
    fixes dynamic inputs (tensor name -> shape), the other shapes then as LiteRT computes them."""
    model = parse_model(data, name)
    kind = model.quant_kind
    if kind not in (QuantKind.FLOAT32, QuantKind.FLOAT16, QuantKind.DYNAMIC_RANGE):
        raise UsageError(
            f"{name} is already quantized ({kind.value}); edgekit quantizes float .tflite models (and dynamic-range "
            "ones, whose activations are float).",
            hint="Start from the float model (e.g. `edgekit convert ORIGINAL --quantize none`), or use this file as is.",
        )
    if len(model.subgraphs) > 1 and any(op.name in ("WHILE", "IF", "CALL_ONCE") for op in model.main.operators):
        raise ModelFormatError(f"{name} has control flow (WHILE/IF/CALL_ONCE subgraphs), which the quantizer "
                               "does not handle.", hint="Quantize a model without control flow.")
    data, notes, folded = normalize(data, input_shapes)
    return FloatModel(data=data, model=parse_model(data, name), folded_float16=folded, notes=notes)


def map_weights(data: bytes, edits: Mapping[str, Callable[[np.ndarray], np.ndarray]]) -> bytes:
    """A copy of a float model with the named constant float32 tensors replaced by ``edits[name](values)``.

    The new values must keep the shape; tensors are matched by name.
    """
    if not edits:
        return data
    model_t = _read(data)
    done: set[str] = set()
    for sg in model_t.subgraphs:
        for tensor in sg.tensors:
            name = tensor_name(tensor)
            fn = edits.get(name)
            if fn is None or name in done or tensor.type != _FLOAT32 or not tensor.buffer:
                continue
            buf = model_t.buffers[tensor.buffer]
            values = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), np.float32).reshape(tuple(tensor.shape))
            new = np.asarray(fn(values.copy()), np.float32)
            if new.shape != values.shape:
                raise ValueError(f"edit of {name} changed its shape {values.shape} -> {new.shape}")
            buf.data = np.frombuffer(new.tobytes(), np.uint8)
            done.add(name)
    missing = sorted(set(edits) - done)
    if missing:
        raise ValueError(f"no float32 constant tensor named {missing[0]!r}")
    return _write(model_t)


def replace_constants(data: bytes, values: Mapping[str, np.ndarray]) -> bytes:
    """A copy with the named float32 constant tensors replaced by ``values`` (their shapes may change, e.g. a
    scalar multiplier becoming one value per channel; the op must broadcast it)."""
    if not values:
        return data
    model_t = _read(data)
    done: set[str] = set()
    for sg in model_t.subgraphs:
        for tensor in sg.tensors:
            name = tensor_name(tensor)
            if name not in values or name in done or tensor.type != _FLOAT32 or not tensor.buffer:
                continue
            new = np.asarray(values[name], np.float32)
            model_t.buffers[tensor.buffer].data = np.frombuffer(new.tobytes(), np.uint8)
            tensor.shape = list(new.shape)
            tensor.shapeSignature = list(new.shape) if tensor.shapeSignature is not None else None
            done.add(name)
    missing = sorted(set(values) - done)
    if missing:
        raise ValueError(f"no float32 constant tensor named {missing[0]!r}")
    return _write(model_t)


def split_read_outputs(data: bytes) -> tuple[bytes, dict[str, str]]:
    """A copy in which ops read each graph output they use through a RESHAPE copy of it (same shape), so that
    every graph output is read by nothing inside the graph; returns (bytes, {copy name: output name}).

    ai-edge-quantizer 0.10, asked for float32 outputs, dequantizes each output and rewires the ops that READ
    that output to the float copy as well: an int8 op then gets a float input and the file does not load
    (``fully_connected.cc: output->type != kTfLiteFloat32``). A streaming model whose state output also feeds
    its head is such a graph. The outputs, their names and the producing ops stay as they are."""
    from ai_edge_litert import schema_py_generated as schema

    model_t = _read(data)
    sg = model_t.subgraphs[0]
    outputs = [int(t) for t in (sg.outputs if sg.outputs is not None else [])]
    read = {int(i) for op in sg.operators for i in (op.inputs if op.inputs is not None else [])}
    targets = [t for t in outputs if t in read]
    if not targets:
        return data, {}
    names = _opcode_names(model_t)
    if "RESHAPE" in names:
        code = names.index("RESHAPE")
    else:
        opcode = schema.OperatorCodeT()
        opcode.builtinCode = opcode.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
        opcode.version = 1
        model_t.operatorCodes.append(opcode)
        code = len(model_t.operatorCodes) - 1
    copies: dict[str, str] = {}
    for t in targets:
        src = sg.tensors[t]
        name = tensor_name(src)
        shape = [int(v) for v in src.shape]
        copy = new_tensor(model_t, sg, f"{name}/read", shape, src.type, None)
        shape_t = new_tensor(model_t, sg, f"{name}/read_shape", [len(shape)], 2,  # INT32
                              np.asarray(shape, np.int32).tobytes())
        op = schema.OperatorT()
        op.opcodeIndex = code
        op.inputs, op.outputs = [t, shape_t], [copy]
        op.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
        op.builtinOptions = schema.ReshapeOptionsT()
        op.builtinOptions.newShape = shape
        for other in sg.operators:
            if other.inputs is not None and t in other.inputs:
                other.inputs = [copy if int(i) == t else int(i) for i in other.inputs]
        producer = next((k for k, o in enumerate(sg.operators) if o.outputs is not None and t in o.outputs), -1)
        sg.operators.insert(producer + 1, op)
        copies[f"{name}/read"] = name
    return _write(model_t), copies
