"""Load a TF SavedModel directory into a SourceModel (workstation only).

The converter reads the SavedModel's ``serving_default`` signature. When the
signature has dynamic dimensions (or another key), the loader re-saves a
small wrapper with FIXED shapes in a temp dir so that the .tflite has static
shapes (what Coral and microcontrollers need).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import InputDims, resolve_shapes
from edgekit.core.source import SourceFormat, TensorSpec
from edgekit.errors import ModelFormatError
from edgekit.host.convert.tf_util import condense, dtype_name, temp_dir, tensorflow
from edgekit.host.source_model import LoadOptions, SourceModel

SIGNATURE_KEY = "serving_default"


def _pick_signature(path: Path, loaded: Any) -> tuple[str, Any]:
    keys = list(loaded.signatures.keys())
    if SIGNATURE_KEY in keys:
        return SIGNATURE_KEY, loaded.signatures[SIGNATURE_KEY]
    if len(keys) == 1:
        return keys[0], loaded.signatures[keys[0]]
    if not keys:
        raise ModelFormatError(f"SavedModel {path} has no signatures to convert.",
                               hint="Save it with tf.saved_model.save(obj, DIR, signatures=...) or model.export(DIR).")
    raise ModelFormatError(f"SavedModel {path} has several signatures {keys} and none is '{SIGNATURE_KEY}'.",
                           hint=f"Re-save it with the signature to convert named '{SIGNATURE_KEY}'.")


def load_saved_model(path: Path, options: LoadOptions) -> SourceModel:
    tf = tensorflow("Converting a SavedModel", options.debug)
    path = Path(path)
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise ModelFormatError(f"Cannot load SavedModel {path}: {condense(str(exc), 300)}",
                               hint="Pass a directory written by tf.saved_model.save or model.export().") from None
    key, fn = _pick_signature(path, loaded)
    arg_specs: dict[str, Any] = dict(fn.structured_input_signature[1])
    declared = [InputDims(name, tuple(None if d is None or int(d) < 0 else int(d) for d in spec.shape),
                          dtype_name(spec.dtype)) for name, spec in arg_specs.items()]
    resolved, notes = resolve_shapes(declared, options.shapes)
    inputs = [TensorSpec(name=r.name, shape=r.shape, dtype=d.dtype, dynamic_dims=r.dynamic_dims)
              for r, d in zip(resolved, declared, strict=True)]
    needs_resave = key != SIGNATURE_KEY or any(s.dynamic_dims for s in inputs)
    saved_dir, cleanup = path, None
    serve = fn
    if needs_resave:
        saved_dir, cleanup = temp_dir("saved-model")
        fixed = {s.name: tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in inputs}
        module = tf.Module()
        module.loaded = loaded

        @tf.function
        def wrapper(**kwargs: Any) -> Any:
            return fn(**kwargs)

        try:
            concrete = wrapper.get_concrete_function(**fixed)
            tf.saved_model.save(module, str(saved_dir), signatures={SIGNATURE_KEY: concrete})
            serve = tf.saved_model.load(str(saved_dir)).signatures[SIGNATURE_KEY]
        except Exception as exc:
            cleanup()
            raise ModelFormatError(f"Cannot fix the input shapes of {path}: {condense(str(exc), 300)}",
                                   hint="Check --input-shape / --batch against the model.") from None
        notes.append(f"re-saved signature '{key}' with fixed input shapes for conversion")
    out_struct = serve.structured_outputs
    if not isinstance(out_struct, dict):
        raise ModelFormatError(f"SavedModel {path}: signature '{key}' does not return a dict of outputs.",
                               hint="Save the model with a signature that returns named outputs.")
    outputs = []
    for name, spec in out_struct.items():
        dims = [1 if d is None else int(d) for d in spec.shape]
        outputs.append(TensorSpec(name=str(name), shape=tuple(dims), dtype=dtype_name(spec.dtype)))

    in_specs = list(inputs)

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {s.name: tf.constant(np.asarray(inputs[s.name], dtype=s.dtype)) for s in in_specs}
        result = serve(**feed)
        return {str(k): np.asarray(v.numpy()) for k, v in result.items()}

    return SourceModel(
        path=path, format=SourceFormat.SAVED_MODEL, inputs=inputs, outputs=outputs, run=run,
        saved_model_dir=saved_dir, notes=notes, cleanup=cleanup,
    )
