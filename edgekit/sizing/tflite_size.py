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

from edgekit.core.progress import progress
from edgekit.sizing.compress import compressed_sizes, zstd_available
from edgekit.sizing.fit import device_fits
from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PrunePolicy, PruneScope
from edgekit.sizing.report import RAM_NOTE, SPARSE_NOTE, ZSTD_MISSING, TFLiteSizeReport, WhatIfRow, ZeroCount
from edgekit.sizing.tflite_weights import prune_tflite_bytes, tensor_sparsity
from edgekit.tflite.model import TFLiteModel, load_model


def size_tflite(path: str | Path, sparsities: Sequence[float] = WHAT_IF_SPARSITIES,
                scope: PruneScope = PruneScope.PER_LAYER, profiles_dirs: Sequence[str | Path] = ()) -> TFLiteSizeReport:
    """Measure the file, its zeros, and its pruned variants (in memory); fit it to every known device profile."""
    model: TFLiteModel = load_model(path)
    data = Path(path).read_bytes()
    rows = tensor_sparsity(model)
    base = compressed_sizes(data)
    fits_base = device_fits(model, len(data), profiles_dirs)
    fitting = fits_base.fitting_ids()
    whatif: list[WhatIfRow] = []
    for s in progress(list(sparsities), "Pruning in memory and compressing") if len(data) > 2**20 else sparsities:
        res = prune_tflite_bytes(data, PrunePolicy(s, scope=scope), str(path), model=model)
        cs = compressed_sizes(res.data)
        whatif.append(WhatIfRow(
            target_sparsity=s,
            achieved_sparsity_pruned_tensors=round(res.achieved_sparsity, 6),
            weights_sparsity=round(res.weights_sparsity, 6),
            tensors_pruned=sum(1 for t in res.tensors if t.skipped is None),
            tensors_skipped=sum(1 for t in res.tensors if t.skipped is not None),
            file_bytes=len(res.data),
            deflate9_bytes=cs.deflate9_bytes,
            zstd_bytes=cs.zstd_bytes,
            fits_devices=None if fitting is None else tuple(fitting),
        ))
    return TFLiteSizeReport(
        model=str(path),
        quantization=model.quant_kind.value,
        parameters=model.parameter_count(),
        file_bytes=len(data),
        compressed=base,
        zstd_note=None if zstd_available() else ZSTD_MISSING,
        weights=ZeroCount.total((r.num_elements, r.zeros) for r in rows if r.role == "weights"),
        all_constants=ZeroCount.total((r.num_elements, r.zeros) for r in rows),
        tensors=tuple(rows),
        what_if_scope=scope.value,
        what_if=tuple(whatif),
        fits=fits_base,
        ram_note=RAM_NOTE + (SPARSE_NOTE if any(r.sparse for r in rows) else ""),
    )
