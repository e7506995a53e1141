"""`edgekit size MODEL.tflite`: the device-side sizing report (no TensorFlow).

Everything here is measured on the file's bytes: file size, deflate-9/zstd sizes, exact zeros per
tensor, and for the what-if rows the same bytes with weights pruned in memory (never written).
RAM is the same for a pruned model: LiteRT stores and computes dense tensors (a zero costs as much
as any other value) unless the model was converted with sparse encoding and runs on kernels that
use it, which LiteRT's default XNNPACK delegate does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgekit.core.progress import progress
from edgekit.sizing.compress import compressed_sizes, zstd_available
from edgekit.sizing.fit import device_fits
from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PrunePolicy, PruneScope
from edgekit.sizing.tflite_weights import prune_tflite_bytes, tensor_sparsity
from edgekit.tflite.model import TFLiteModel, load_model

RAM_NOTE = ("RAM is unchanged by pruning: LiteRT keeps and multiplies dense tensors, zeros included "
            "(no sparse kernels in the default XNNPACK path). Latency is unchanged for the same reason.")


def _sparsity_summary(rows: Sequence[Any], role: str | None) -> dict[str, Any]:
    chosen = [r for r in rows if role is None or r.role == role]
    n = sum(r.num_elements for r in chosen)
    z = sum(r.zeros for r in chosen)
    return {"elements": n, "zeros": z, "sparsity": round(z / n, 6) if n else 0.0}


def _fitting(fits: dict[str, Any]) -> list[str] | None:
    """Device ids whose RAM fits and whose storage fits or is unknown (None without profiles)."""
    if not fits.get("available"):
        return None
    return [d["device"] for d in fits["devices"] if d["ram_fits"] and d["storage_fits"] is not False]


def size_tflite(path: str | Path, sparsities: Sequence[float] = WHAT_IF_SPARSITIES,
                scope: PruneScope = PruneScope.PER_LAYER, profiles_dirs: Sequence[str | Path] = ()) -> dict[str, Any]:
    """The full report as a JSON-able dict (the command renders it)."""
    model: TFLiteModel = load_model(path)
    data = Path(path).read_bytes()
    rows = tensor_sparsity(model)
    base = compressed_sizes(data)
    fits_base = device_fits(model, len(data), profiles_dirs)
    whatif: list[dict[str, Any]] = []
    for s in progress(list(sparsities), "Pruning in memory and compressing") if len(data) > 2**20 else sparsities:
        res = prune_tflite_bytes(data, PrunePolicy(s, scope=scope), str(path), model=model)
        cs = compressed_sizes(res.data)
        whatif.append({
            "target_sparsity": s,
            "achieved_sparsity_pruned_tensors": round(res.achieved_sparsity, 6),
            "weights_sparsity": round(res.weights_sparsity, 6),
            "tensors_pruned": sum(1 for t in res.tensors if t.skipped is None),
            "tensors_skipped": sum(1 for t in res.tensors if t.skipped is not None),
            "file_bytes": len(res.data),
            "deflate9_bytes": cs.deflate9_bytes,
            "zstd_bytes": cs.zstd_bytes,
            "ram": "unchanged",
            "fits_devices": _fitting(fits_base),
            "source": "measured in memory (weights pruned by magnitude, file not written)",
        })
    return {
        "model": str(path),
        "format": "tflite",
        "quantization": model.quant_kind.value,
        "parameters": model.parameter_count(),
        "file_bytes": len(data),
        "compressed": base.to_dict(),
        "zstd_note": None if zstd_available() else "zstd not measured: the optional 'zstandard' package is not installed",
        "sparsity": {
            "weights": _sparsity_summary(rows, "weights"),
            "all_constants": _sparsity_summary(rows, None),
            "zero_definition": "exact 0.0 for float tensors; the zero point for quantized tensors",
        },
        "tensors": [r.to_dict() for r in rows],
        "sparse_encoded_tensors": sum(1 for r in rows if r.sparse),
        "what_if": {
            "scope": scope.value,
            "policy": "magnitude pruning of conv/depthwise/fully-connected weights; biases and tensors under "
                      "256 elements kept",
            "rows": whatif,
            "ram_note": RAM_NOTE + (" Sparse-encoded tensors are left as they are." if any(r.sparse for r in rows)
                                    else ""),
        },
        "fits": fits_base,
    }
