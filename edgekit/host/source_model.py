"""The contract between the host loaders, the converter and verify: :class:`LoadOptions` in, :class:`SourceModel` out.

Value types only. A loader (:mod:`edgekit.host.convert.loaders`) turns a model
path into a :class:`SourceModel`: what the inputs and outputs are (in the
SOURCE layout), a SavedModel directory the TFLite converter can take, and a
reference runner that computes the ORIGINAL model's outputs (Keras/TF for Keras
and SavedModel, onnxruntime for ONNX).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import ShapeRequest
from edgekit.core.source import ReferenceRunner, SourceFormat, TensorSpec
from edgekit.data import Preprocessing
from edgekit.errors import UsageError


@dataclass(frozen=True)
class LoadOptions:
    """What a loader needs besides the path; one set of options for every format.

    ``shapes`` makes dynamic dimensions concrete (``--input-shape``, ``--batch``).
    The ``check_*`` fields and ``keep_nchw``/``onnxsim``/``timeout_s`` are read by
    the ONNX loader only (Keras and SavedModel refuse ``keep_nchw``).
    """

    shapes: ShapeRequest = field(default_factory=ShapeRequest)
    keep_nchw: tuple[str, ...] = ()  # ONNX: inputs to keep channel-first in the .tflite (--keep-nchw)
    check: bool = True  # ONNX: compare onnxruntime with the float .tflite before quantizing (--no-check)
    check_samples: int = 3
    check_inputs: Mapping[str, np.ndarray] | None = None  # (N, *shape) samples in ONNX layout
    check_data: Path | None = None  # or: an image folder / .npy / .npz to read check_inputs from (--calibration)
    check_recipe: Preprocessing | None = None  # the preprocessing for check_data images (None = unit preset)
    check_rtol: float = 1e-3  # tolerance relative to the output's peak |value|
    check_atol: float = 1e-4
    # ONNX: an output also matches when its cosine to onnxruntime's reaches this, on every check sample (None:
    # max error only). The loader sets it for graphs that quantize activations at run time (repairs qlstm and
    # integer): a float .tflite rounds a few of them to the other side of a step, so the max error is one step
    # somewhere by nature, while the output as a whole agrees (the issue-13 criterion: cosine >= 0.9999)
    check_min_cosine: float | None = None
    onnxsim: bool = True
    timeout_s: float = 3600.0  # ONNX: the onnx2tf worker's time limit
    preload_tensorflow: bool = True  # ONNX: import TF in a thread while onnx2tf runs in its subprocess
    debug: bool = False  # backend logs on stderr (`edgekit --debug`)
    backend: str = "auto"  # ONNX: an OnnxBackend value (--backend); auto = onnx2tf, then edgekit's lowering
    state_pairs: tuple[tuple[str, str], ...] = ()  # ONNX: (state input, state output) pairs (--state IN=OUT)
    in_process: bool = False  # ONNX: run the backend in this process (benchmarks converting many small models)

    def __post_init__(self) -> None:
        if self.check_samples < 1:
            raise UsageError("the conversion check needs at least 1 sample.", hint="Use --no-check to skip it.")
        if self.check_min_cosine is not None and not 0.0 < self.check_min_cosine <= 1.0:
            raise UsageError(f"check_min_cosine must be in (0, 1], got {self.check_min_cosine}.",
                             hint="Use a cosine such as 0.9999, or None for the max-error check alone.")
        object.__setattr__(self, "keep_nchw", tuple(self.keep_nchw))
        object.__setattr__(self, "state_pairs", tuple((str(a), str(b)) for a, b in self.state_pairs))


@dataclass
class SourceModel:
    """A loaded original model. Inputs/outputs are in the SOURCE layout."""

    path: Path
    format: SourceFormat
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    run: ReferenceRunner
    saved_model_dir: Path | None = None  # what the TFLite converter reads (may be a temp dir)
    float_tflite: Path | None = None  # a float .tflite of saved_model_dir the loader already made (ONNX: the checked one)
    notes: list[str] = field(default_factory=list)  # things the user should be told (e.g. batch fixed to 1)
    warnings: list[str] = field(default_factory=list)  # things that may make the result wrong (e.g. --no-check)
    cleanup: Callable[[], None] | None = None  # removes temp dirs made by the loader
    conversion: dict[str, Any] | None = None  # ONNX: the backend that made it, the graph repairs, failed attempts

    def close(self) -> None:
        """Remove what the loader made on disk (idempotent)."""
        if self.cleanup is not None:
            self.cleanup()
            self.cleanup = None
