"""The ONNX model as a reference for `verify ORIGINAL.onnx CONVERTED.tflite`, without running onnx2tf again.

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

from edgekit.convert.onnx_loader import (
    OnnxLoadOptions,
    OrtRunner,
    candidate_perms,
    fix_input_shapes,
    graph_inputs,
    make_reference_runner,
    read_onnx,
    resolve_input_shapes,
)
from edgekit.convert.onnx_runner import signature_key
from edgekit.convert.source import SourceFormat, SourceModel, TensorSpec
from edgekit.errors import DataError


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


def load_onnx_reference(path: Path, options: Any, converted: Path) -> SourceModel:
    """onnxruntime for the ONNX model + the layout of ``converted``; no onnx2tf, no SavedModel."""
    from edgekit.tflite.model import load_model

    opts = OnnxLoadOptions.from_any(options)
    path = Path(path)
    model = read_onnx(path)
    inputs = graph_inputs(model)
    tflite = load_model(converted)
    # Symbolic dims not given with --input-shape: the converted model has them fixed already.
    matched, _ = _match("input", [i.name for i in inputs], tflite)
    guessed = dict(opts.input_shapes)
    for inp, tensor in zip(inputs, matched, strict=True):
        if inp.name not in guessed and any(not isinstance(d, int) for d in inp.dims):
            dims = _unpermute(inp.dims, tuple(tensor.shape))
            if dims is not None:
                guessed[inp.name] = dims
    opts = replace(opts, input_shapes=guessed)
    shapes, notes = resolve_input_shapes(inputs, opts)
    fixed_model = fix_input_shapes(model, shapes)
    session, output_names = make_reference_runner(fixed_model.SerializeToString(), path.name)
    runner = OrtRunner(session, output_names)
    zeros = {i.name: np.zeros(shapes[i.name], dtype=np.dtype(i.dtype)) for i in inputs}
    ref = runner(zeros)
    in_tensors, note_in = _match("input", [i.name for i in inputs], tflite)
    out_tensors, note_out = _match("output", output_names, tflite)
    notes.extend(n for n in (note_in, note_out) if n)
    in_specs = [
        _spec(i.name, shapes[i.name], i.dtype, t, notes, tuple(a for a, d in enumerate(i.dims) if not isinstance(d, int)))
        for i, t in zip(inputs, in_tensors, strict=True)
    ]
    out_specs = [_spec(n, tuple(ref[n].shape), str(ref[n].dtype), t, notes)
                 for n, t in zip(output_names, out_tensors, strict=True)]
    notes.append(f"reference: {path.name} in onnxruntime; layout read from {Path(converted).name}")
    return SourceModel(path=path, format=SourceFormat.ONNX, inputs=in_specs, outputs=out_specs, run=runner, notes=notes)


def _unpermute(dims: tuple[int | str, ...], converted: tuple[int, ...]) -> tuple[int, ...] | None:
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
        if all(not isinstance(d, int) or d == s for d, s in zip(dims, source, strict=True)):
            return tuple(source)
    return None
