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
from edgekit.host.onnx.graph import (
    candidate_perms,
    fix_input_shapes,
    graph_inputs,
    index_limits,
    one_line,
    read_onnx,
)
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

    def __init__(self, session: Any, output_names: list[str], fixed: dict[str, np.ndarray] | None = None) -> None:
        self._session = session
        self._output_names = output_names
        self.fixed = dict(fixed or {})  # inputs the converted model has as constants (repair.params)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        inputs = {**self.fixed, **inputs}
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
          dynamic: tuple[int, ...] = (), ambiguous: dict[str, list[tuple[int, ...]]] | None = None) -> TensorSpec:
    perms = candidate_perms(shape, tensor.shape, channel_first_kept=False)
    if not perms:
        raise DataError(
            f"ONNX tensor '{name}' {list(shape)} does not fit .tflite tensor '{tensor.name}' {list(tensor.shape)} "
            f"in any layout.",
            hint="Pass the --input-shape/--batch used for `edgekit convert`, or check the two models belong together.",
        )
    perm = perms[0]
    identity = tuple(range(len(shape)))
    if len(perms) > 1 and ambiguous is not None and len(shape) > 1:
        ambiguous[name] = perms  # settled by running both models (:func:`_settle_layouts`)
    return TensorSpec(name=name, shape=shape, dtype=dtype, dynamic_dims=dynamic,
                      to_tflite_perm=None if perm == identity else perm)


def _to_tensor(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(dtype, np.integer) and np.issubdtype(value.dtype, np.floating) and scale:
        info = np.iinfo(dtype)
        value = np.clip(np.round(value / scale) + zero, info.min, info.max)
    return np.ascontiguousarray(value.astype(dtype))


def _from_tensor(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(value.dtype, np.integer) and scale:
        return (value.astype(np.float32) - zero) * scale
    return np.asarray(value, np.float32)


def _settle_layouts(in_specs: list[TensorSpec], out_specs: list[TensorSpec], ambiguous: dict[str, list[tuple[int, ...]]],
                    runner: OrtRunner, converted: Path, notes: list[str]) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Tensors whose layout the shapes cannot tell (square maps; onnx2tf moves channels last, edgekit's lowering
    does not): run both models once and keep the permutations under which the outputs agree best."""
    from itertools import islice, product

    from edgekit.tflite.runtime import load_interpreter

    try:
        sig = load_interpreter(converted).get_signature_runner("serving_default")
        details = sig.get_input_details()
    except (ValueError, KeyError):
        return in_specs, out_specs
    rng = np.random.default_rng(0)
    sample = {s.name: (_smooth_field(rng, s.shape) if np.issubdtype(np.dtype(s.dtype), np.floating)
                       else rng.integers(0, 2, s.shape)).astype(np.dtype(s.dtype)) for s in in_specs}
    ref = runner(sample)
    from edgekit.tflite.model import load_model
    from edgekit.verify.ranked import ranked_rows

    tfl = load_model(converted)
    ranks = dict(zip([t.name for t in tfl.outputs], ranked_rows(tfl, [t.index for t in tfl.outputs]), strict=True))
    identity = {s.name: tuple(range(len(s.shape))) for s in [*in_specs, *out_specs]}
    choices = [ambiguous.get(s.name, [s.to_tflite_perm or identity[s.name]]) for s in in_specs]
    best: tuple[float, dict[str, tuple[int, ...]]] | None = None
    for combo in islice(product(*choices), 16):
        feeds = {}
        for spec, perm in zip(in_specs, combo, strict=True):
            key = signature_key(spec.name)
            if key not in details:
                return in_specs, out_specs
            feeds[key] = _to_tensor(np.transpose(sample[spec.name], perm), details[key])
        try:
            raw = sig(**feeds)
        except (ValueError, RuntimeError):
            continue
        out_details = sig.get_output_details()
        got = {k: _from_tensor(v, out_details.get(k, {})) for k, v in raw.items()}
        chosen = dict(zip([s.name for s in in_specs], combo, strict=True))
        total = 0.0
        for spec in out_specs:
            key = signature_key(spec.name)
            if key not in got:
                return in_specs, out_specs
            options = ambiguous.get(spec.name, [spec.to_tflite_perm or identity[spec.name]])
            k = ranks.get(key, next(iter(ranks.values())) if len(ranks) == 1 else None)
            errors = {p: _ranked_error(np.transpose(ref[spec.name], p), got[key], k) for p in options
                      if np.transpose(ref[spec.name], p).shape == got[key].shape}
            if not errors:
                continue
            perm = min(errors, key=lambda p: errors[p])
            chosen[spec.name] = perm
            total += errors[perm]
        if best is None or total < best[0]:
            best = (total, chosen)
    if best is None:
        return in_specs, out_specs
    picked = best[1]
    notes.extend(f"layout of '{n}' is ambiguous by shape; settled by running both models: {list(picked[n])}"
                 for n in ambiguous if n in picked)

    def settle(spec: TensorSpec) -> TensorSpec:
        perm = picked.get(spec.name)
        if spec.name not in ambiguous or perm is None:
            return spec
        return replace(spec, to_tflite_perm=None if perm == identity[spec.name] else perm)

    return [settle(s) for s in in_specs], [settle(s) for s in out_specs]


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random walk summed along every axis, scaled to [0, 1]: smooth and unlike itself transposed, so a model
    quantized for [0, 1] inputs still tells a layout from its transpose (i.i.d. noise in -1..1 is neither: an int8
    detector clips it and sees no structure, and its outputs under both layouts are noise alike)."""
    x = rng.uniform(-1.0, 1.0, shape)
    for axis, size in enumerate(shape):
        if size > 1:
            x = np.cumsum(x, axis=axis)
    span = float(np.ptp(x)) or 1.0
    return (x - float(np.min(x))) / span


def _ranked_error(ref: np.ndarray, got: np.ndarray, k: int | None) -> float:
    """Mean |error|; rows a TopK ranks compared tie-aware (their order under near-equal scores is no layout)."""
    from edgekit.verify.ranked import align_ranked

    r, g, _ = align_ranked(ref[None].astype(np.float64), got[None].astype(np.float64), k)
    return float(np.mean(np.abs(r - g)))


def load_onnx_reference(path: Path, options: LoadOptions, converted: Path) -> SourceModel:
    """onnxruntime for the ONNX model + the layout of ``converted``; no onnx2tf, no SavedModel."""
    from edgekit.host.onnx.repair.params import freeze_empty_inputs
    from edgekit.tflite.model import load_model

    path = Path(path)
    model, notes_empty = freeze_empty_inputs(read_onnx(path))  # as convert does: empty inputs are constants
    inputs = graph_inputs(model)
    tflite = load_model(converted)
    fixed_values = _frozen_inputs(path, inputs, tflite, options, Path(converted))
    inputs = [i for i in inputs if i.name not in fixed_values]
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
    notes[:0] = notes_empty + [f"input '{n}' is fixed in {Path(converted).name} (convert froze it); onnxruntime is "
                               f"fed {np.array2string(v.reshape(-1)[:8], separator=',')}" for n, v in fixed_values.items()]
    shapes = {r.name: r.shape for r in resolved}
    fixed_model = fix_input_shapes(model, shapes, notes)
    try:
        session, output_names = make_reference_runner(fixed_model.SerializeToString(), path.name)
    except ModelFormatError:  # the fixed dims contradict a branch the frozen input does not take (Silero VAD v6)
        session, output_names = make_reference_runner(model.SerializeToString(), path.name)
    runner = OrtRunner(session, output_names, fixed_values)
    zeros = {i.name: np.zeros(shapes[i.name], dtype=np.dtype(i.dtype)) for i in inputs}
    ref = runner(zeros)
    in_tensors, note_in = _match("input", [i.name for i in inputs], tflite)
    out_tensors, note_out = _match("output", output_names, tflite)
    notes.extend(n for n in (note_in, note_out) if n)
    ambiguous: dict[str, list[tuple[int, ...]]] = {}
    limits = index_limits(fixed_model)
    in_specs = [replace(_spec(i.name, shapes[i.name], i.dtype, t, notes, i.dynamic_axes, ambiguous),
                        value_limit=limits.get(i.name)) for i, t in zip(inputs, in_tensors, strict=True)]
    out_specs = [_spec(n, tuple(ref[n].shape), str(ref[n].dtype), t, notes, ambiguous=ambiguous)
                 for n, t in zip(output_names, out_tensors, strict=True)]
    if ambiguous:
        in_specs, out_specs = _settle_layouts(in_specs, out_specs, ambiguous, runner, Path(converted), notes)
    notes.append(f"reference: {path.name} in onnxruntime; layout read from {Path(converted).name}")
    return SourceModel(path=path, format=SourceFormat.ONNX, inputs=in_specs, outputs=out_specs, run=runner, notes=notes)


def _frozen_inputs(path: Path, inputs: list[Any], tflite: Any, options: LoadOptions,
                   converted: Path) -> dict[str, np.ndarray]:
    """The ONNX inputs the .tflite does not have (convert fixed them from the data: Silero VAD's `sr`), with their
    values: from the bundle manifest next to the .tflite, else from --data (the same in every sample)."""
    sigs = [s for s in tflite.signatures if s.subgraph_index == 0]
    if not sigs or len(tflite.inputs) >= len(inputs):
        return {}
    absent = [i for i in inputs if signature_key(i.name) not in sigs[0].inputs]
    if len(inputs) - len(absent) != len(tflite.inputs):
        return {}  # not a frozen-input model; _match says what does not fit
    recorded = _recorded_frozen_inputs(converted)
    values: dict[str, np.ndarray] = {}
    for inp in absent:
        entry = recorded.get(inp.name)
        if isinstance(entry, dict) and "value" in entry:
            values[inp.name] = np.asarray(entry["value"], dtype=entry.get("dtype", inp.dtype))
            continue
        value = _constant_from_data(inp, options.check_data)
        if value is None:
            raise DataError(
                f"Input '{inp.name}' of {path.name} is not an input of {converted.name}: convert fixed it from the "
                "data (it sets a shape or picks a branch), and verify needs its value for onnxruntime.",
                hint=f"Give the data you converted with: --data FILE.npz with a key '{inp.name}' (or verify the "
                     "bundle folder of `edgekit convert --bundle`, whose manifest records it).")
        values[inp.name] = value
    return values


def _recorded_frozen_inputs(converted: Path) -> dict[str, Any]:
    """``conversion.frozen_inputs`` of the bundle manifest next to the .tflite ({} when there is none)."""
    import json

    path = converted.parent / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    conversion = manifest.get("conversion") if isinstance(manifest, dict) else None
    recorded = conversion.get("frozen_inputs") if isinstance(conversion, dict) else None
    return recorded if isinstance(recorded, dict) else {}


def _constant_from_data(inp: Any, data: Path | None) -> np.ndarray | None:
    """The value of ``inp`` in a .npz of samples, if every sample has the same one (None when absent)."""
    if data is None or Path(data).suffix.lower() != ".npz" or not Path(data).is_file():
        return None
    with np.load(data, allow_pickle=False) as loaded:
        if inp.name not in loaded.files:
            return None
        arr = np.asarray(loaded[inp.name])
    rank = len(inp.dims)
    samples = arr.reshape((1, *arr.shape)) if arr.ndim == rank else arr
    first = samples[0]
    if any(not np.array_equal(s, first) for s in samples[1:]):
        raise DataError(f"{Path(data).name}: '{inp.name}' differs between samples, but the converted model has it "
                        "fixed (convert froze it because it was the same in every sample it read).",
                        hint="Verify with the data the model was converted with, or convert again.")
    return first.astype(np.dtype(inp.dtype))


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
