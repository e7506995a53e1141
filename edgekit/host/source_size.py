"""`edgekit size` for float source models (.keras/.h5, SavedModel, .onnx) - workstation only.

TensorFlow / keras / onnx are imported inside functions through :func:`edgekit.deps.require`.
Sparsity and the source file's sizes are measured. What each ``--quantize`` mode would weigh is
ESTIMATED: the weights are cast/quantized in numpy the way the converter stores them (float32,
float16, or symmetric per-channel int8 with int32/int64 biases), their bytes are counted and
deflated; the graph structure the converter adds (a few KiB) is not included.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.core.quant import DYNAMIC_RANGE_MIN_ELEMENTS, MODE_SPECS, QuantizeMode, WeightStorage
from edgekit.core.source import SourceFormat
from edgekit.deps import require
from edgekit.errors import ModelFormatError
from edgekit.sizing.compress import deflate9_size
from edgekit.sizing.magnitude import PrunePolicy, PruneScope, PruneTarget, achieved_sparsity, plan_pruning
from edgekit.sizing.report import (
    QuantizeEstimate,
    SourceSizeReport,
    SourceTensor,
    SourceWhatIfRow,
    ZeroCount,
)


@dataclass(frozen=True)
class SourceWeight:
    """One parameter tensor of a float source model."""

    name: str
    role: str  # "weights" (conv/depthwise/dense kernels), "bias", "other" (batch norm, embeddings, ...)
    values: np.ndarray
    channel_axis: int  # output-channel axis, for per-channel int8 estimates


def _keras_weights(path: Path) -> list[SourceWeight]:
    keras = require("keras", "Sizing a Keras model")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for unreadable files
        raise ModelFormatError(f"{path} could not be loaded as a Keras model ({type(exc).__name__}: {exc}).",
                               hint="Pass a model saved with model.save('x.keras') (or a legacy .h5).") from exc
    out: list[SourceWeight] = []
    seen: set[int] = set()
    for layer in model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers:
        for var in layer.weights:
            if id(var) in seen:
                continue
            seen.add(id(var))
            vname = str(getattr(var, "path", None) or var.name)
            short = vname.rsplit("/", 1)[-1]
            arr = np.asarray(var.numpy() if hasattr(var, "numpy") else var)
            if short in ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings") and arr.ndim >= 2:
                role = "weights" if short != "embeddings" else "other"
            elif short == "bias":
                role = "bias"
            else:
                role = "other"
            out.append(SourceWeight(vname, role, arr, arr.ndim - 1))
    return out


def _saved_model_weights(path: Path) -> list[SourceWeight]:
    require("tensorflow", "Sizing a SavedModel")
    from edgekit.host.convert.saved_model_weights import captured_parameters

    try:
        params = captured_parameters(Path(path))
    except Exception as exc:  # protobuf/TF raise many types for damaged folders
        raise ModelFormatError(f"{path} could not be read as a SavedModel ({type(exc).__name__}: {exc}).",
                               hint="Pass a folder written by model.export() or tf.saved_model.save().") from exc
    out: list[SourceWeight] = []
    for name, arr, is_weight in params:
        role = "weights" if is_weight else "bias" if arr.ndim == 1 else "other"
        out.append(SourceWeight(name, role, arr, max(arr.ndim - 1, 0)))
    return out


def _onnx_weights(path: Path) -> list[SourceWeight]:
    onnx = require("onnx", "Sizing an ONNX model")
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ModelFormatError(f"{path} could not be read as an ONNX model ({type(exc).__name__}).",
                               hint="Pass a valid .onnx file.") from exc
    roles: dict[str, tuple[str, int]] = {}
    for node in model.graph.node:
        ins = list(node.input)
        if node.op_type in ("Conv", "ConvTranspose") and len(ins) > 1:
            roles.setdefault(ins[1], ("weights", 0 if node.op_type == "Conv" else 1))
            if len(ins) > 2:
                roles.setdefault(ins[2], ("bias", 0))
        elif node.op_type == "Gemm" and len(ins) > 1:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            roles.setdefault(ins[1], ("weights", 0 if trans_b else 1))
            if len(ins) > 2:
                roles.setdefault(ins[2], ("bias", 0))
        elif node.op_type == "MatMul":
            for i in ins:
                roles.setdefault(i, ("weights", -1))
    out: list[SourceWeight] = []
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype.kind != "f":
            continue
        role, axis = roles.get(init.name, ("other", 0))
        if role == "weights" and arr.ndim < 2:
            role = "other"
        out.append(SourceWeight(init.name, role, arr, axis % arr.ndim if arr.ndim else 0))
    return out


LOADERS = {
    SourceFormat.KERAS: _keras_weights,
    SourceFormat.SAVED_MODEL: _saved_model_weights,
    SourceFormat.ONNX: _onnx_weights,
}


def load_source_weights(path: Path, fmt: SourceFormat) -> list[SourceWeight]:
    loader = LOADERS.get(fmt)
    if loader is None:
        raise ModelFormatError(f"{path}: format '{fmt.value}' is not a float source model.",
                               hint=f"size reads .tflite and: {', '.join(f.value for f in LOADERS)}.")
    return loader(path)


def _int8_per_channel(w: np.ndarray, axis: int) -> np.ndarray:
    if w.ndim == 0:
        return np.zeros((), np.int8)
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    maxabs = np.max(np.abs(w), axis=reduce_axes, keepdims=True) if reduce_axes else np.abs(w)
    scale = np.where(maxabs > 0, maxabs / 127.0, 1.0)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8)


def _stored(weights: Sequence[SourceWeight], mode: QuantizeMode, pruned: dict[str, np.ndarray] | None = None) -> bytes:
    """The weight bytes the way ``mode`` stores them (its row in MODE_SPECS; estimate: no graph structure)."""
    spec = mode.spec
    buf = io.BytesIO()
    for w in weights:
        v = (pruned or {}).get(w.name, w.values).astype(np.float32)
        if spec.weights is WeightStorage.FLOAT32:
            buf.write(v.tobytes())
        elif spec.weights is WeightStorage.FLOAT16:
            buf.write(v.astype(np.float16).tobytes())
        elif spec.weights is WeightStorage.INT8_LARGE_ONLY:
            big = w.role == "weights" and v.size >= DYNAMIC_RANGE_MIN_ELEMENTS
            buf.write(_int8_per_channel(v, w.channel_axis).tobytes() if big else v.tobytes())
        elif w.role == "bias":  # int8 / int16x8: bias stays wide (scale = input scale x weight scale)
            peak = float(np.max(np.abs(v))) if v.size else 0.0
            q = np.round(v / (peak / 2**20)) if peak > 0 else np.zeros(v.shape)
            buf.write(q.astype(np.dtype(spec.bias_dtype)).tobytes())
        else:
            buf.write(_int8_per_channel(v, w.channel_axis).tobytes())
    return buf.getvalue()


def _path_bytes(path: Path) -> tuple[int, bytes]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        data = b"".join(p.read_bytes() for p in files)
        return len(data), data
    data = path.read_bytes()
    return len(data), data


def _zeros(w: SourceWeight) -> int:
    return int(np.count_nonzero(w.values == 0))


def size_source(path: Path, fmt: SourceFormat, sparsities: Sequence[float],
                scope: PruneScope = PruneScope.PER_LAYER) -> SourceSizeReport:
    """Measure the source file and its zeros; estimate what each quantize mode and each pruning would weigh."""
    weights = load_source_weights(Path(path), fmt)
    file_bytes, data = _path_bytes(Path(path))
    modes = []
    for mode, spec in MODE_SPECS.items():
        stored = _stored(weights, mode)
        modes.append(QuantizeEstimate(mode.value, len(stored), deflate9_size(stored), spec.weights_note))
    what_if = []
    kernels = [w for w in weights if w.role == "weights"]
    for s in sparsities:
        targets = plan_pruning([PruneTarget(w.name, np.abs(w.values)) for w in kernels], PrunePolicy(s, scope=scope))
        pruned = {w.name: np.where(t.zero_mask, 0.0, w.values) for w, t in zip(kernels, targets, strict=True)
                  if t.zero_mask is not None}
        stored = _stored(weights, QuantizeMode.INT8, pruned)
        what_if.append(SourceWhatIfRow(
            target_sparsity=s, achieved_sparsity_pruned_tensors=round(achieved_sparsity(targets), 6),
            weights_sparsity=round(achieved_sparsity(targets, only_pruned=False), 6), file_bytes=len(stored),
            deflate9_bytes=deflate9_size(stored),
        ))
    tensors = tuple(SourceTensor(w.name, w.role, tuple(w.values.shape), int(w.values.size), _zeros(w))
                    for w in weights)
    return SourceSizeReport(
        model=str(path),
        format=fmt.value,
        is_dir=Path(path).is_dir(),
        parameters=sum(int(w.values.size) for w in weights),
        file_bytes=file_bytes,
        deflate9_bytes=len(zlib.compress(data, 9)),
        weights=ZeroCount.total((t.elements, t.zeros) for t in tensors if t.role == "weights"),
        all_parameters=ZeroCount.total((t.elements, t.zeros) for t in tensors),
        tensors=tensors,
        quantize_estimates=tuple(modes),
        what_if_scope=scope.value,
        what_if=tuple(what_if),
    )
