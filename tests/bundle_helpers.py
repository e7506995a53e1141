"""A bundle made without TensorFlow: a .tflite, random golden inputs and the model's own outputs as golden outputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.bundle import write_bundle
from edgekit.tflite.model import load_model


def self_bundle(tflite: Path, out: Path, count: int = 6, *, seed: int = 0, offset: float = 0.0,
                golden_fn: Callable[[np.ndarray], np.ndarray] | None = None, source_file: str = "self",
                source_format: str = "keras") -> Path:
    """``count`` inputs uniform in [0, 1) (``seed``); golden outputs = the model's outputs + ``offset``, then
    ``golden_fn`` when given (to make a bundle that must fail)."""
    from edgekit.verify.tflite_runner import TFLiteRunner

    model = load_model(tflite)
    rng = np.random.default_rng(seed)
    inputs = {t.name: rng.uniform(0.0, 1.0, size=(count, *t.shape)).astype(np.float32) for t in model.inputs}
    outs = TFLiteRunner(tflite).run(model.inputs, [inputs[t.name] for t in model.inputs], model.outputs)

    def io(t: Any) -> dict[str, Any]:
        q = t.quant
        return {"name": t.name, "source_name": None, "shape": list(t.shape), "dtype": t.dtype,
                "scale": q.scale if q else None, "zero_point": q.zero_point if q else None, "to_tflite_perm": None}

    manifest = {"quantization": "int8", "io_type": model.inputs[0].dtype, "inputs": [io(t) for t in model.inputs],
                "outputs": [io(t) for t in model.outputs], "preprocessing": None, "tools": {},
                "source": {"file": source_file, "sha256": "0" * 64, "format": source_format, "size_bytes": 0},
                "calibration": {"source": "synthetic", "count": 0, "skipped": 0, "per_input": {}}}
    golden = {t.name: (o + offset).astype(np.float32) for t, o in zip(model.outputs, outs, strict=True)}
    if golden_fn is not None:
        golden = {k: golden_fn(v) for k, v in golden.items()}
    return write_bundle(out, tflite.read_bytes(), manifest, inputs, golden, force=False)
