"""Load a Keras 3 ``.keras`` / legacy ``.h5`` model into a SourceModel (workstation only).

The converter gets a SavedModel that this loader exports with FIXED input
shapes and ``training=False`` (the same ExportArchive route TFLiteConverter's
``from_keras_model`` takes internally for Keras 3), with outputs named after
the Keras outputs. ``from_concrete_functions`` is not used: it silently keeps
READ_VARIABLE ops.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import InputDims, resolve_shapes
from edgekit.core.source import SourceFormat, TensorSpec
from edgekit.deps import require
from edgekit.errors import ModelFormatError
from edgekit.host.convert.tf_util import condense, dtype_name, temp_dir, tensorflow
from edgekit.host.source_model import LoadOptions, SourceModel

SIGNATURE_KEY = "serving_default"


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_container(path: Path) -> None:
    """Say what is wrong with a file that is not a Keras container before Keras says 'File not found'."""
    import zipfile

    with open(path, "rb") as fh:
        head = fh.read(8)
    if path.suffix.lower() == ".keras":
        ok = zipfile.is_zipfile(path)
        what = "a .keras file is a zip archive"
    else:
        ok = head == _HDF5_SIGNATURE
        what = "an .h5 model is an HDF5 file"
    if not ok:
        raise ModelFormatError(
            f"{path} is not a Keras model: {what}, and this file is not one"
            + (" (empty file)." if not head else "."),
            hint="Pass a model saved with model.save('model.keras') (or a legacy .h5), copied whole.",
        )


def _load(path: Path) -> Any:
    _check_container(path)
    keras = require("keras", "Loading a Keras model")
    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for bad files
        reason = condense(f"{type(exc).__name__}: {exc}", 300)
    raise ModelFormatError(
        f"Cannot load {path} as a Keras model: {reason}",
        hint="Pass a model saved with model.save('model.keras') (or a legacy .h5); custom layers must be "
        "registered with keras.saving.register_keras_serializable.",
    )


def _output_names(model: Any) -> list[str]:
    names = list(getattr(model, "output_names", None) or [])
    n_out = len(model.outputs) if getattr(model, "outputs", None) else len(names)
    if len(names) != n_out or len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(n_out)]
    return [str(n) for n in names]


def _output_specs(tf: Any, model: Any, names: list[str], inputs: list[TensorSpec], saved_dir: Path) -> list[TensorSpec]:
    """Output shapes from the Keras graph (batch = the inputs' batch); the exported signature if still dynamic."""
    batch = inputs[0].shape[0]
    shapes = [[batch if i == 0 and d is None else d for i, d in enumerate(t.shape)] for t in model.outputs]
    if all(d is not None for shape in shapes for d in shape):
        return [TensorSpec(name=n, shape=tuple(int(d) for d in shape), dtype=dtype_name(t.dtype))
                for n, shape, t in zip(names, shapes, model.outputs, strict=True)]
    struct = tf.saved_model.load(str(saved_dir)).signatures[SIGNATURE_KEY].structured_outputs
    return [TensorSpec(name=n, shape=tuple(int(d) for d in struct[n].shape), dtype=dtype_name(struct[n].dtype))
            for n in names]


def load_keras(path: Path, options: LoadOptions) -> SourceModel:
    tf = tensorflow("Converting a Keras model", options.debug)
    keras = require("keras", "Converting a Keras model")
    model = _load(Path(path))
    if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
        raise ModelFormatError(
            f"{path} holds a subclassed Keras model without known inputs/outputs.",
            hint="Save a Functional or Sequential model, or export a SavedModel with model.export(DIR).",
        )
    declared = [InputDims(str(t.name), tuple(None if d is None else int(d) for d in t.shape), dtype_name(t.dtype))
                for t in model.inputs]
    resolved, notes = resolve_shapes(declared, options.shapes)
    inputs = [TensorSpec(name=r.name, shape=r.shape, dtype=d.dtype, dynamic_dims=r.dynamic_dims)
              for r, d in zip(resolved, declared, strict=True)]
    out_names = _output_names(model)
    layers = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"]
    if layers and type(layers[0]).__name__ == "Rescaling":
        scale = getattr(layers[0], "scale", None)
        notes.append(f"the model's first layer is Rescaling (scale {scale}): it takes raw pixels, so calibrate "
                     "images with --preprocess raw")

    def serve(args: Any) -> dict[str, Any]:
        result = model(args, training=False)
        if not isinstance(result, list | tuple):
            result = [result]
        return dict(zip(out_names, result, strict=True))

    tf_specs = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in inputs]
    signature = [tf_specs] if len(tf_specs) > 1 else tf_specs
    saved_dir, cleanup = temp_dir("keras")
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(SIGNATURE_KEY, functools.partial(serve), signature)
        archive.write_out(str(saved_dir), verbose=False)
    except Exception as exc:
        cleanup()
        raise ModelFormatError(f"Cannot export the Keras model {path} for conversion: {condense(str(exc), 300)}",
                               hint="Check that the model runs with model(x, training=False).") from None
    outputs = _output_specs(tf, model, out_names, inputs, saved_dir)

    in_specs = list(inputs)

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = [np.asarray(inputs[s.name], dtype=s.dtype) for s in in_specs]
        result = serve(feed if len(feed) > 1 else feed[0])
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in result.items()}

    return SourceModel(
        path=Path(path), format=SourceFormat.KERAS, inputs=inputs, outputs=outputs, run=run,
        saved_model_dir=saved_dir, notes=notes, cleanup=cleanup,
    )
