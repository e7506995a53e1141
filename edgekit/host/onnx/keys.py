"""SavedModel signature keys made from ONNX tensor names (shared by both backends, the check and verify)."""

from __future__ import annotations

import re


def signature_key(name: str) -> str:
    """A SavedModel signature key made from an ONNX tensor name (kept as-is when already valid)."""
    key = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip("_-")  # TF: names start with [A-Za-z0-9.]
    return key or "tensor"
