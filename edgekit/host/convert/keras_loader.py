"""Load a Keras 3 ``.keras`` / legacy ``.h5`` model into a SourceModel (workstation only).

A Keras 2 ``.h5`` that Keras 3 cannot read (tf.keras 2.x wrote arguments Keras 3 dropped, such as an LSTM's
``time_major``: ethnicolr's name classifiers) is loaded with ``tf_keras`` instead, with a note; one with a
Lambda layer is refused, as Keras 3's safe mode does.

The converter gets a SavedModel that this loader exports with FIXED input
shapes and ``training=False`` (the same ExportArchive route TFLiteConverter's
``from_keras_model`` takes internally for Keras 3), with outputs named after
the Keras outputs. ``from_concrete_functions`` is not used: it silently keeps
READ_VARIABLE ops.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
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


def _h5_layer_classes(path: Path) -> set[str] | None:
    """The layer class names in a legacy .h5's model_config (None: no readable config)."""
    import json

    import h5py

    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("model_config")
        config = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("class_name"), str):
                found.add(node["class_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def _load_legacy_h5(path: Path, reason: str) -> tuple[Any, Any] | None:
    """A Keras 2 (tf.keras) .h5 that Keras 3 refuses (an LSTM's ``time_major``, renamed arguments), loaded with
    tf_keras, the Keras 2 package the convert extra installs. A model with a Lambda layer is not: Keras 2 stores
    its Python code in the file, and loading it would run that code (Keras 3's safe_mode refuses it too)."""
    if path.suffix.lower() != ".h5":
        return None
    classes = _h5_layer_classes(path)
    if classes is None:
        return None
    if "Lambda" in classes:
        raise ModelFormatError(
            f"Cannot load {path} as a Keras model: {reason}; and it is a Keras 2 .h5 with a Lambda layer, whose "
            "Python code edgekit does not run (it would execute when loaded).",
            hint="Re-save the model without the Lambda layer (a named custom layer), or export a SavedModel with "
            "model.export(DIR) where it was trained.")
    tf_keras = require("tf_keras", "Loading a Keras 2 .h5 model")
    try:
        return tf_keras.models.load_model(str(path), compile=False), tf_keras
    except Exception:  # noqa: BLE001 - the Keras 3 error, the first one met, is the one reported
        return None


def _load(path: Path) -> tuple[Any, Any, str]:
    """The model, the Keras module that loaded it (Keras 3, or tf_keras for a Keras 2 .h5) and a note."""
    _check_container(path)
    keras = require("keras", "Loading a Keras model")
    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=True), keras, ""
    except Exception as exc:  # keras raises many types for bad files
        reason = condense(f"{type(exc).__name__}: {exc}", 300)
    legacy = _load_legacy_h5(path, reason)
    if legacy is not None:
        return (*legacy, f"loaded with tf_keras (Keras 2): Keras 3 refused this .h5 ({reason})")
    raise ModelFormatError(
        f"Cannot load {path} as a Keras model: {reason}",
        hint="Pass a model saved with model.save('model.keras') (or a legacy .h5); custom layers must be "
        "registered with keras.saving.register_keras_serializable.",
    )


def _embedding_limits(model: Any) -> dict[str, int]:
    """Model inputs read directly by an Embedding layer: input name -> its table size (token ids, even when the
    input is declared float, as ethnicolr's are), so synthetic inputs stay inside the table."""
    names = {id(t): str(t.name) for t in model.inputs}
    limits: dict[str, int] = {}
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ != "Embedding":
            continue
        try:
            source = layer.input
        except (AttributeError, ValueError):  # a layer used more than once has no single input
            continue
        name = names.get(id(source))
        size = getattr(layer, "input_dim", None)
        if name is not None and isinstance(size, int) and size > 0:
            limits[name] = min(limits.get(name, size), size)
    return limits


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
    model, keras, loaded_note = _load(Path(path))
    if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
        raise ModelFormatError(
            f"{path} holds a subclassed Keras model without known inputs/outputs.",
            hint="Save a Functional or Sequential model, or export a SavedModel with model.export(DIR).",
        )
    declared = [InputDims(str(t.name), tuple(None if d is None else int(d) for d in t.shape), dtype_name(t.dtype))
                for t in model.inputs]
    resolved, notes = resolve_shapes(declared, options.shapes)
    if loaded_note:
        notes.insert(0, loaded_note)
    limits = _embedding_limits(model)
    inputs = [TensorSpec(name=r.name, shape=r.shape, dtype=d.dtype, dynamic_dims=r.dynamic_dims,
                         value_limit=limits.get(r.name))
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
        quiet = {"verbose": False} if "verbose" in inspect.signature(archive.write_out).parameters else {}
        with contextlib.redirect_stdout(io.StringIO()):  # tf_keras's has no verbose and prints to stdout
            archive.write_out(str(saved_dir), **quiet)
    except Exception as exc:
        cleanup()
        raise ModelFormatError(f"Cannot export the Keras model {path} for conversion: {condense(str(exc), 300)}",
                               hint="Check that the model runs with model(x, training=False).") from None
    outputs = _output_specs(tf, model, out_names, inputs, saved_dir)

    in_specs = list(inputs)

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = [np.asarray(inputs[s.name], dtype=s.dtype) for s in in_specs]
        result = serve(feed if len(feed) > 1 else feed[0])
        return {k: np.asarray(v) for k, v in result.items()}

    return SourceModel(
        path=Path(path), format=SourceFormat.KERAS, inputs=inputs, outputs=outputs, run=run,
        saved_model_dir=saved_dir, notes=notes, cleanup=cleanup,
    )
