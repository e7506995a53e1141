"""The loader registry: SourceFormat -> function that makes a SourceModel.

Every loader has the signature ``load(path, options: LoadOptions) -> SourceModel``
(Keras/SavedModel also take ``debug``). The ONNX loader lives in
``edgekit.convert.onnx_loader`` (``load_onnx(path, options)``) and is imported
only when an .onnx file is converted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from edgekit.convert.config import LoadOptions
from edgekit.convert.source import SourceFormat, SourceModel, detect_format
from edgekit.errors import InputError, MissingDependency, UsageError

Loader = Callable[[Path, LoadOptions, bool], SourceModel]


def _keras(path: Path, options: LoadOptions, debug: bool) -> SourceModel:
    from edgekit.convert.keras_loader import load_keras

    return load_keras(path, options, debug)


def _saved_model(path: Path, options: LoadOptions, debug: bool) -> SourceModel:
    from edgekit.convert.saved_model_loader import load_saved_model

    return load_saved_model(path, options, debug)


def _onnx(path: Path, options: LoadOptions, debug: bool) -> SourceModel:
    try:
        module = importlib.import_module("edgekit.convert.onnx_loader")
    except ModuleNotFoundError as exc:
        if exc.name != "edgekit.convert.onnx_loader":
            raise
        raise MissingDependency(
            "ONNX conversion is not available in this edgekit build (edgekit.convert.onnx_loader is missing).",
            hint="Convert the model to a SavedModel first, or install an edgekit version with ONNX support.",
        ) from None
    load_onnx: Callable[[Path, LoadOptions], SourceModel] = module.load_onnx
    return load_onnx(path, options)


def _tflite(path: Path, options: LoadOptions, debug: bool) -> SourceModel:
    raise InputError(f"{path} is already a .tflite model.",
                     hint="Convert the original .keras/.h5/SavedModel/.onnx instead, or use `edgekit inspect` on it.")


LOADERS: dict[SourceFormat, Loader] = {
    SourceFormat.KERAS: _keras,
    SourceFormat.SAVED_MODEL: _saved_model,
    SourceFormat.ONNX: _onnx,
    SourceFormat.TFLITE: _tflite,
}


def load_source(path: Path, options: LoadOptions | None = None, debug: bool = False) -> SourceModel:
    """Detect the format of ``path`` and load it with the registered loader."""
    fmt = detect_format(Path(path))
    loader = LOADERS.get(fmt)
    if loader is None:
        valid = ", ".join(f.value for f in LOADERS)
        raise InputError(f"No loader for format '{fmt.value}'.", hint=f"Known formats: {valid}.")
    opts = options or LoadOptions()
    if fmt is not SourceFormat.ONNX and opts.keep_nchw:
        raise UsageError(
            f"--keep-nchw applies to ONNX models only; {path} is a {fmt.value} model.",
            hint="Drop --keep-nchw: Keras and SavedModel inputs keep their own layout.",
        )
    return loader(Path(path), opts, debug)
