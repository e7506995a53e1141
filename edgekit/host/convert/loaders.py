"""The loader registry: SourceFormat -> the function that makes a SourceModel.

Every loader has the signature ``load(path, options: LoadOptions) -> SourceModel``
and is imported only when a model of its format is loaded (a Keras model does
not import onnx, and the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgekit.core.source import SourceFormat, detect_format
from edgekit.errors import InputError, UsageError
from edgekit.host.source_model import LoadOptions, SourceModel

Loader = Callable[[Path, LoadOptions], SourceModel]


def _keras(path: Path, options: LoadOptions) -> SourceModel:
    from edgekit.host.convert.keras_loader import load_keras

    return load_keras(path, options)


def _saved_model(path: Path, options: LoadOptions) -> SourceModel:
    from edgekit.host.convert.saved_model_loader import load_saved_model

    return load_saved_model(path, options)


def _onnx(path: Path, options: LoadOptions) -> SourceModel:
    from edgekit.host.onnx.load import load_onnx

    return load_onnx(path, options)


def _tflite(path: Path, options: LoadOptions) -> SourceModel:
    raise InputError(f"{path} is already a .tflite model.",
                     hint="Convert the original .keras/.h5/SavedModel/.onnx instead, or use `edgekit inspect` on it.")


LOADERS: dict[SourceFormat, Loader] = {
    SourceFormat.KERAS: _keras,
    SourceFormat.SAVED_MODEL: _saved_model,
    SourceFormat.ONNX: _onnx,
    SourceFormat.TFLITE: _tflite,
}


def load_source(path: Path, options: LoadOptions | None = None) -> SourceModel:
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
    return loader(Path(path), opts)
