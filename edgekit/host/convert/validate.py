"""The validate stage: read the converted bytes back, match its I/O to the source model, run it once.

Uses the device-safe reader and runtime loader (edgekit.tflite); the check on
the golden samples is a MEASURED comparison of the .tflite against the
original model, done before anything is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.core.source import TensorSpec
from edgekit.host.convert.quantize import map_to_signature
from edgekit.host.source_model import SourceModel
from edgekit.tflite.model import Tensor, TFLiteModel, parse_model

_BOUNDARY = {"QUANTIZE", "DEQUANTIZE"}
_FLOAT = {"float32", "float16"}


@dataclass
class IOEntry:
    spec: TensorSpec
    tensor: Tensor
    signature_name: str | None

    def to_dict(self) -> dict[str, Any]:
        q = self.tensor.quant
        quantized = q is not None and self.tensor.dtype not in _FLOAT and q.scales.size > 0
        return {
            "name": self.tensor.name,
            "source_name": self.spec.name,
            "signature_name": self.signature_name,
            "shape": list(self.tensor.shape),
            "dtype": self.tensor.dtype,
            "scale": float(q.scale) if quantized and q is not None else None,
            "zero_point": int(q.zero_point) if quantized and q is not None else None,
            "to_tflite_perm": list(self.spec.to_tflite_perm) if self.spec.to_tflite_perm else None,
        }


@dataclass
class Validation:
    model: TFLiteModel
    inputs: list[IOEntry]
    outputs: list[IOEntry]
    float_ops: dict[str, int] = field(default_factory=dict)
    golden_check: list[dict[str, Any]] = field(default_factory=list)


def _match(specs: list[TensorSpec], tensors: list[Tensor], sig: dict[str, int] | None, side: str) -> list[IOEntry]:
    by_index = {t.index: t for t in tensors}
    if sig:
        mapping = map_to_signature([s.name for s in specs], list(sig))
        return [IOEntry(s, by_index[sig[mapping[s.name]]], mapping[s.name]) for s in specs]
    if len(specs) != len(tensors):
        raise ValueError(f"converted model has {len(tensors)} {side}, source has {len(specs)}")
    return [IOEntry(s, t, None) for s, t in zip(specs, tensors, strict=True)]


def float_ops(model: TFLiteModel) -> dict[str, int]:
    """Operators (other than the I/O QUANTIZE/DEQUANTIZE) that compute in float."""
    sg = model.main
    counts: Counter[str] = Counter()
    for op in sg.operators:
        if op.name in _BOUNDARY:
            continue
        if any(o >= 0 and sg.tensor(o).dtype in _FLOAT for o in op.outputs):
            counts[op.name] += 1
    return dict(counts.most_common())


def validate(
    data: bytes,
    source: SourceModel,
    golden_inputs: dict[str, np.ndarray] | None = None,
    golden_outputs: dict[str, np.ndarray] | None = None,
) -> Validation:
    """Parse ``data``, match I/O, list float ops and compare with the source on the golden samples.

    golden arrays are keyed by SOURCE names, already in the TFLite layout.
    """
    model = parse_model(data, "converted model")
    sig = model.signatures[0] if model.signatures else None
    inputs = _match(source.inputs, model.inputs, sig.inputs if sig else None, "inputs")
    outputs = _match(source.outputs, model.outputs, sig.outputs if sig else None, "outputs")
    result = Validation(model, inputs, outputs, float_ops(model))
    if golden_inputs and golden_outputs:
        result.golden_check = _golden_check(data, inputs, outputs, golden_inputs, golden_outputs)
    return result


def _golden_check(
    data: bytes,
    inputs: list[IOEntry],
    outputs: list[IOEntry],
    golden_inputs: dict[str, np.ndarray],
    golden_outputs: dict[str, np.ndarray],
) -> list[dict[str, Any]]:
    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(data)
    count = int(next(iter(golden_inputs.values())).shape[0])
    got: dict[str, list[np.ndarray]] = {e.spec.name: [] for e in outputs}
    for i in range(count):
        for e in inputs:
            interp.set_tensor(e.tensor.index, e.tensor.quantize(golden_inputs[e.spec.name][i]))
        interp.invoke()
        for e in outputs:
            got[e.spec.name].append(e.tensor.dequantize(interp.get_tensor(e.tensor.index)).astype(np.float32))
    rows = []
    for e in outputs:
        ref = golden_outputs[e.spec.name].astype(np.float64).reshape(count, -1)
        out = np.stack(got[e.spec.name]).astype(np.float64).reshape(count, -1)
        denom = np.linalg.norm(ref) * np.linalg.norm(out)
        cosine = float(np.sum(ref * out) / denom) if denom > 0 else (1.0 if np.allclose(ref, out) else 0.0)
        row: dict[str, Any] = {
            "name": e.spec.name,
            "samples": count,
            "max_abs_error": float(np.max(np.abs(ref - out))),
            "cosine": cosine,
            "top1_agreement": None,
        }
        if ref.shape[1] > 1 and len(e.tensor.shape) <= 2:
            row["top1_agreement"] = float(np.mean(np.argmax(ref, 1) == np.argmax(out, 1)))
        rows.append(row)
    return rows
