"""`edgekit size MODEL.tflite`: the device-side sizing report (no TensorFlow).

Everything here is measured on the file's bytes: file size, deflate-9/zstd sizes, exact zeros per
tensor, and for the what-if rows the same bytes with weights pruned in memory (never written).
RAM is the same for a pruned model: LiteRT stores and computes dense tensors (a zero costs as much
as any other value) unless the model was converted with sparse encoding and runs on kernels that
use it, which LiteRT's default XNNPACK delegate does not.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgekit.core.progress import progress, status
from edgekit.sizing.compress import compressed_sizes, zstd_available
from edgekit.sizing.fit import device_fits
from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PrunePolicy, PruneScope
from edgekit.sizing.report import (
    RAM_NOTE,
    SPARSE_NOTE,
    ZSTD_MISSING,
    OutputCheck,
    TFLiteSizeReport,
    VariantCheck,
    WhatIfRow,
    ZeroCount,
)
from edgekit.sizing.tflite_weights import prune_tflite_bytes, tensor_sparsity
from edgekit.tflite.model import TFLiteModel, load_model


def check_variant(data: bytes, bundle: Path, work: Path, name: str) -> tuple[VariantCheck, str]:
    """`edgekit verify BUNDLE` of the model bytes ``data`` (written to ``work``/``name``) on the bundle's golden data;
    and the runtime it ran on."""
    from edgekit.verify.device import verify_bundle

    path = work / name
    path.write_bytes(data)
    try:
        report = verify_bundle(bundle, model_path=path)
    finally:
        path.unlink(missing_ok=True)
    return VariantCheck(
        passed=report.passed, samples=report.samples,
        outputs=tuple(OutputCheck(o.name, o.metrics.cosine, o.metrics.sqnr_db, o.metrics.top1_agreement)
                      for o in report.outputs),
        failures=tuple(f"{f.output}: {f.describe()}" for f in report.failures),
    ), report.runtime


def size_tflite(path: str | Path, sparsities: Sequence[float] = WHAT_IF_SPARSITIES,
                scope: PruneScope = PruneScope.PER_LAYER, profiles_dirs: Sequence[str | Path] = (),
                verify_on: Path | None = None) -> TFLiteSizeReport:
    """Measure the file, its zeros, and its pruned variants (in memory); fit it to every known device profile.

    ``verify_on``: a bundle of this model (`edgekit convert --bundle`): the model as it is and every pruned
    variant are verified on its golden data, so each row says what that sparsity does to the outputs."""
    model: TFLiteModel = load_model(path)
    data = Path(path).read_bytes()
    thresholds = None
    work = None
    if verify_on is not None:
        from edgekit.bundle import read_bundle
        from edgekit.verify.thresholds import default_thresholds

        read_bundle(Path(verify_on))  # a broken bundle fails before any work
        thresholds = default_thresholds(model.quant_kind).as_dict()
        work = Path(tempfile.mkdtemp(prefix="edgekit-size-"))
    try:
        return _size(path, model, data, sparsities, scope, profiles_dirs, verify_on, work, thresholds)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _size(path: str | Path, model: TFLiteModel, data: bytes, sparsities: Sequence[float], scope: PruneScope,
          profiles_dirs: Sequence[str | Path], verify_on: Path | None, work: Path | None,
          thresholds: dict[str, float | None] | None) -> TFLiteSizeReport:
    rows = tensor_sparsity(model)
    base = compressed_sizes(data)
    fits_base = device_fits(model, len(data), profiles_dirs)
    fitting = fits_base.fitting_ids()
    whatif: list[WhatIfRow] = []
    as_is = None
    runtime = None
    if verify_on is not None and work is not None:
        status(f"Verifying {Path(path).name} and its pruned variants on the golden data of {verify_on} ...")
        as_is, runtime = check_variant(data, Path(verify_on), work, "as_is.tflite")
    slow = len(data) > 2**20 or verify_on is not None
    for s in progress(list(sparsities), "Pruning in memory and compressing") if slow else sparsities:
        res = prune_tflite_bytes(data, PrunePolicy(s, scope=scope), str(path), model=model)
        cs = compressed_sizes(res.data)
        check = None
        if verify_on is not None and work is not None:
            check, _ = check_variant(res.data, Path(verify_on), work, f"pruned_{s:g}.tflite")
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
            check=check,
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
        verify_on=None if verify_on is None else str(verify_on), check=as_is, thresholds=thresholds,
        verify_runtime=runtime,
    )
