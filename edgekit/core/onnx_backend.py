"""The ONNX conversion backends by name: what ``convert --backend`` accepts (vocabulary only, no code).

The implementations live host-side (:mod:`edgekit.host.onnx.backends`, a
registry keyed by this enum); the CLI builds its ``--backend`` choice and help
from here without importing them.
"""

from __future__ import annotations

from enum import Enum


class OnnxBackend(str, Enum):
    AUTO = "auto"
    ONNX2TF = "onnx2tf"
    LOWER = "lower"


BACKEND_HELP: dict[OnnxBackend, str] = {
    OnnxBackend.AUTO: "onnx2tf first; edgekit's own lowering when onnx2tf fails or its float result differs from "
                      "onnxruntime",
    OnnxBackend.ONNX2TF: "onnx2tf (channels-last graph: the fastest .tflite for conv nets)",
    OnnxBackend.LOWER: "edgekit's own op-by-op lowering in the ONNX layout (LSTM/GRU with explicit state, every "
                       "Resize mode, function ops)",
}

AUTO_ORDER: tuple[OnnxBackend, ...] = (OnnxBackend.ONNX2TF, OnnxBackend.LOWER)
