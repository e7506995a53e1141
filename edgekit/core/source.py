"""Source models in edgekit's vocabulary: formats, tensor specs, the reference runner protocol.

Device-safe. A host loader (:mod:`edgekit.host.convert.loaders`) turns a model
path into a :class:`~edgekit.host.source_model.SourceModel` whose inputs and
outputs are :class:`TensorSpec` and whose ``run`` is a :class:`ReferenceRunner`;
the data readers, verify and size use these types without importing the host.
:func:`detect_format` says which format a path is, and what edgekit accepts
when it is none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np

from edgekit.errors import InputError, ModelFormatError


class SourceFormat(str, Enum):
    KERAS = "keras"  # .keras (Keras 3) or .h5 (legacy)
    SAVED_MODEL = "saved_model"  # a directory with saved_model.pb
    ONNX = "onnx"  # .onnx
    TFLITE = "tflite"  # already converted


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the ORIGINAL model, as the user feeds/reads it.

    ``shape`` is concrete (dynamic dims already fixed); ``dynamic_dims`` lists
    the axes that were dynamic in the source. ``to_tflite_perm`` is the axis
    permutation from the source layout to the TFLite tensor's layout (e.g.
    ``(0, 2, 3, 1)`` for ONNX NCHW -> TFLite NHWC); ``None`` means identical.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "float32", "int64", ...
    dynamic_dims: tuple[int, ...] = ()
    to_tflite_perm: tuple[int, ...] | None = None
    value_limit: int | None = None  # ids (integer, or float ids into a Keras Embedding): valid values stay below this, if known

    def __post_init__(self) -> None:
        if any(d <= 0 for d in self.shape):
            raise InputError(
                f"Tensor '{self.name}' has a non-positive dimension in shape {self.shape}.",
                hint="Fix the shape with --input-shape NAME=1,224,224,3.",
            )
        if self.to_tflite_perm is not None and sorted(self.to_tflite_perm) != list(range(len(self.shape))):
            raise ValueError(f"bad permutation {self.to_tflite_perm} for shape {self.shape}")


class ReferenceRunner(Protocol):
    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def detect_format(path: Path) -> SourceFormat:
    """Which format a model path is; a clear error when it is none of them."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Model {path} does not exist.", hint="Check the path.")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return SourceFormat.SAVED_MODEL
        raise ModelFormatError(
            f"{path} is a directory but not a TF SavedModel (no saved_model.pb inside).",
            hint="Pass a .keras/.h5 file, a SavedModel directory or an .onnx file.",
        )
    suffix = path.suffix.lower()
    by_suffix = {".keras": SourceFormat.KERAS, ".h5": SourceFormat.KERAS, ".hdf5": SourceFormat.KERAS,
                 ".onnx": SourceFormat.ONNX, ".tflite": SourceFormat.TFLITE}
    if suffix in by_suffix:
        return by_suffix[suffix]
    raise ModelFormatError(
        f"{path} has suffix '{suffix or '(none)'}', which edgekit does not read as a model.",
        hint="Pass a .keras, .h5 or .onnx file, or a SavedModel directory.",
    )
