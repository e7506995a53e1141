"""The ORIGINAL ONNX model in onnxruntime: the reference runner of convert's check and of verify.

:class:`OrtRunner` is the reference runner every ONNX :class:`SourceModel` carries.
:func:`load_onnx_reference` is verify's loader: `verify ORIGINAL.onnx CONVERTED.tflite`
without running onnx2tf again.

`edgekit verify` needs the original model's outputs (onnxruntime) and, per
input and output, the permutation between the ONNX tensor and the TFLite
tensor. Both come from files the user already has: the ONNX model and the
.tflite to verify. The layout is read from the .tflite itself (tensors matched
by signature name, which edgekit sets to the ONNX names), so a model converted
with ``--keep-nchw`` is verified in its own layout, and verify takes seconds
instead of a second onnx2tf conversion.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import resolve_shapes
from edgekit.core.source import SourceFormat, TensorSpec
from edgekit.deps import require
from edgekit.errors import DataError, InputError, ModelFormatError
from edgekit.host.onnx.graph import candidate_perms, fix_input_shapes, graph_inputs, one_line, read_onnx
from edgekit.host.onnx.keys import signature_key
from edgekit.host.source_model import LoadOptions, SourceModel

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
              "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


def make_reference_runner(model_bytes: bytes | str, name: str) -> tuple[Any, list[str]]:
    """An onnxruntime session for the fixed model, and its output names."""
    ort = require("onnxruntime", "Running the ONNX model as the reference")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelFormatError(
            f"onnxruntime cannot load {name}: {one_line(exc, 300)}",
            hint="The model uses an op or opset onnxruntime does not support; re-export it with a standard opset (e.g. 17).",
        ) from exc
    return session, [o.name for o in session.get_outputs()]


class OrtRunner:
    """The reference runner: the ORIGINAL ONNX model in onnxruntime, inputs/outputs in the ONNX layout."""

    def __init__(self, session: Any, output_names: list[str]) -> None:
        self._session = session
        self._output_names = output_names

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        for arg in self._session.get_inputs():
            if arg.name not in inputs:
                raise InputError(f"No data for ONNX input '{arg.name}' (given: {sorted(inputs)}).",
                                 hint="Give one array per model input, keyed by the input name.")
            dtype = _ORT_TYPES.get(arg.type)
            value = np.asarray(inputs[arg.name])
            feeds[arg.name] = value.astype(dtype, copy=False) if dtype is not None else value
        try:
            outputs = self._session.run(self._output_names, feeds)
        except Exception as exc:  # onnxruntime refusing these values (an index out of range, sizes that do not fit)
            raise DataError(f"onnxruntime could not run the ONNX model on these inputs: {one_line(exc, 300)}",
                            hint="Give inputs the model accepts (--calibration/--data with real samples, one key "
                                 "per input); random values are not valid for index or size inputs.") from exc
        return {n: np.asarray(o) for n, o in zip(self._output_names, outputs, strict=True)}


def _match(side: str, names: list[str], tflite: Any) -> tuple[list[Any], str | None]:
    """The .tflite tensor for each ONNX name: by signature name, else by order (with a note)."""
    tensors = tflite.inputs if side == "input" else tflite.outputs
    if len(tensors) != len(names):
        raise DataError(
            f"The ONNX model has {len(names)} {side}s ({', '.join(names)}) but {tflite.display_name} has {len(tensors)}.",
            hint="Check that the .tflite was converted from this ONNX model.",
        )
    sigs = [s for s in tflite.signatures if s.subgraph_index == 0]
    if sigs:
        table = sigs[0].inputs if side == "input" else sigs[0].outputs
        if all(signature_key(n) in table for n in names):
            return [tflite.main.tensor(table[signature_key(n)]) for n in names], None
    return list(tensors), f"{side}s matched to the .tflite by order (no signature names to match)"


def _spec(name: str, shape: tuple[int, ...], dtype: str, tensor: Any, notes: list[str],
          dynamic: tuple[int, ...] = ()) -> TensorSpec:
    perms = candidate_perms(shape, tensor.shape, channel_first_kept=False)
    if not perms:
        raise DataError(
            f"ONNX tensor '{name}' {list(shape)} does not fit .tflite tensor '{tensor.name}' {list(tensor.shape)} "
            f"in any layout.",
            hint="Pass the --input-shape/--batch used for `edgekit convert`, or check the two models belong together.",
        )
    perm = perms[0]
    identity = tuple(range(len(shape)))
    if identity in perms and len(perms) > 1:  # channel-first kept (--keep-nchw) or moved: shapes cannot tell
        notes.append(f"layout of '{name}' {list(shape)} -> {list(tensor.shape)} is ambiguous by shape; "
                     f"assumed {list(perm)} (onnx2tf's channels-last rule)")
    return TensorSpec(name=name, shape=shape, dtype=dtype, dynamic_dims=dynamic,
                      to_tflite_perm=None if perm == identity else perm)


def load_onnx_reference(path: Path, options: LoadOptions, converted: Path) -> SourceModel:
    """onnxruntime for the ONNX model + the layout of ``converted``; no onnx2tf, no SavedModel."""
    from edgekit.tflite.model import load_model

    path = Path(path)
    model = read_onnx(path)
    inputs = graph_inputs(model)
    tflite = load_model(converted)
    # Symbolic dims not given with --input-shape: the converted model has them fixed already.
    matched, _ = _match("input", [i.name for i in inputs], tflite)
    guessed = dict(options.shapes.input_shapes)
    if "" in guessed and len(inputs) == 1:
        guessed[inputs[0].name] = guessed.pop("")
    for inp, tensor in zip(inputs, matched, strict=True):
        if inp.name not in guessed and inp.dynamic_axes:
            dims = _unpermute(inp.dims, tuple(tensor.shape))
            if dims is not None:
                guessed[inp.name] = dims
    request = replace(options.shapes, input_shapes=tuple(guessed.items()))
    resolved, notes = resolve_shapes(inputs, request)
    shapes = {r.name: r.shape for r in resolved}
    fixed_model = fix_input_shapes(model, shapes, notes)
    session, output_names = make_reference_runner(fixed_model.SerializeToString(), path.name)
    runner = OrtRunner(session, output_names)
    zeros = {i.name: np.zeros(shapes[i.name], dtype=np.dtype(i.dtype)) for i in inputs}
    ref = runner(zeros)
    in_tensors, note_in = _match("input", [i.name for i in inputs], tflite)
    out_tensors, note_out = _match("output", output_names, tflite)
    notes.extend(n for n in (note_in, note_out) if n)
    in_specs = [_spec(i.name, shapes[i.name], i.dtype, t, notes, i.dynamic_axes)
                for i, t in zip(inputs, in_tensors, strict=True)]
    out_specs = [_spec(n, tuple(ref[n].shape), str(ref[n].dtype), t, notes)
                 for n, t in zip(output_names, out_tensors, strict=True)]
    notes.append(f"reference: {path.name} in onnxruntime; layout read from {Path(converted).name}")
    return SourceModel(path=path, format=SourceFormat.ONNX, inputs=in_specs, outputs=out_specs, run=runner, notes=notes)


def _unpermute(dims: tuple[int | None, ...], converted: tuple[int, ...]) -> tuple[int, ...] | None:
    """Concrete ONNX dims from a converted shape: identity first, then channels-last (onnx2tf's rule)."""
    rank = len(dims)
    if rank != len(converted):
        return None
    channel_last = (0, *range(2, rank), 1) if rank >= 3 else tuple(range(rank))
    for perm in (channel_last, tuple(range(rank))):
        # converted[k] = source[perm[k]]  ->  source[perm[k]] = converted[k]
        source: list[int] = [0] * rank
        for k, p in enumerate(perm):
            source[p] = int(converted[k])
        if all(d is None or d == s for d, s in zip(dims, source, strict=True)):
            return tuple(source)
    return None
