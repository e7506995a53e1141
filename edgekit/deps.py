"""Lazy import of heavy, workstation-only packages with install hints.

The device side never imports TensorFlow, onnx or onnx2tf. Modules that need
them call :func:`require` inside functions; a missing package becomes a
:class:`~edgekit.errors.MissingDependency` naming the exact install command,
never an ``ImportError`` and never ``None``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edgekit.errors import MissingDependency

CONVERT_HINT = "pip install 'edgekit[convert]'"
QUANTIZE_HINT = "pip install 'edgekit[quantize]'"
REPORT_HINT = "pip install 'edgekit[report]'"

# module name -> (what it is for, install command)
_KNOWN: dict[str, str] = {
    "tensorflow": CONVERT_HINT,
    "keras": CONVERT_HINT,
    "tf_keras": CONVERT_HINT,
    "onnx": CONVERT_HINT,
    "onnxruntime": CONVERT_HINT,
    "onnx2tf": CONVERT_HINT,
    "ai_edge_quantizer": QUANTIZE_HINT,
    "tflite_micro": "pip install 'edgekit[dev]'",
    "zstandard": "pip install zstandard",
    "jinja2": REPORT_HINT,
    "markupsafe": REPORT_HINT,
    "matplotlib": REPORT_HINT,
    "cycler": REPORT_HINT,
    "paramiko": "pip install 'edgekit[remote]'",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise MissingDependency saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = _KNOWN.get(top, f"pip install {top}")
        raise MissingDependency(
            f"{purpose} needs the Python package '{top}', which is not installed ({exc}).",
            hint=hint,
        ) from exc


def available(module: str) -> bool:
    """True if ``module`` can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
