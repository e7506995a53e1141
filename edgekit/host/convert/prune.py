"""`edgekit convert --prune`: one-shot magnitude pruning before quantization, and sparse encoding.

Where pruning happens (one place for every format): on the float SavedModel that the TFLite
converter reads (``SourceModel.saved_model_dir``), in a private copy. Keras models are exported to
that SavedModel by the loader, SavedModels are used as is, ONNX models reach it through onnx2tf;
see :mod:`edgekit.host.convert.saved_model_weights`. Consequences: the converter calibrates the PRUNED
model (pruning is applied before quantization), and the loaded original stays untouched, so the
golden check / verify compare the pruned .tflite with the UNPRUNED original: that difference is
what pruning (without fine-tuning) costs.

Pruning without fine-tuning loses accuracy; prune with your own training pipeline (e.g. TF-MOT)
for production and convert the already-pruned model: its zeros are kept (zeros quantize to the
zero point, checked after conversion).

Sparse encoding (TF's ``Optimize.EXPERIMENTAL_SPARSITY``, facts from TF 2.21 / LiteRT 2.x): it can
make a model LARGER (an int8 model at 50% sparsity went 331,600 -> 481,800 bytes), and sparse int8
or dynamic-range models fail to prepare under LiteRT's default XNNPACK delegate. ``auto`` therefore
uses it only when the encoded file is smaller AND runs in the default interpreter.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.quant import IOType, QuantizeMode
from edgekit.errors import BackendError, EdgekitError
from edgekit.host.convert.config import PruneConfig, SparseEncoding
from edgekit.host.source_model import SourceModel
from edgekit.sizing.compress import compressed_sizes
from edgekit.sizing.magnitude import PruneTarget, achieved_sparsity, plan_pruning

PRUNE_HELP_NOTE = ("Pruning without fine-tuning loses accuracy (the golden check / verify shows how much); "
                   "for production prune during training and convert the already-pruned model.")


@dataclass
class PruneReport:
    """What pruning did (filled in stages: prune_source, then after_conversion)."""

    config: PruneConfig
    tensors: list[dict[str, Any]]
    achieved_sparsity: float
    weights_sparsity: float
    zeros_in_weights: int = 0  # zeros in the pruned float weights (every weight tensor found)
    unmatched_skips: list[str] = field(default_factory=list)
    converted: dict[str, Any] | None = None  # sparsity/zeros check/sizes of the converted .tflite
    unpruned: dict[str, Any] | None = None  # sizes of the same conversion without pruning (measured)
    unpruned_saved_model: Path | None = field(default=None, repr=False)
    sparse_encoding: dict[str, Any] | None = None  # the encoding decision and its reason
    warnings: list[str] = field(default_factory=list)  # for the user (the command prints them)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "method": "one-shot magnitude pruning of the float SavedModel's conv/depthwise/dense weights, before "
                      "quantization; no fine-tuning",
            "achieved_sparsity": round(self.achieved_sparsity, 6),
            "weights_sparsity": round(self.weights_sparsity, 6),
            "tensors": self.tensors,
            "unmatched_skips": self.unmatched_skips,
            "converted": self.converted,
            "unpruned": self.unpruned,
            "sparse_encoding": self.sparse_encoding,
            "runtime_note": "file size, RAM and latency are those of the dense model: LiteRT's default kernels "
                            "do not skip zeros. Pruning shrinks the compressed download.",
            "accuracy_note": PRUNE_HELP_NOTE,
        }


def prune_source(source: SourceModel, config: PruneConfig) -> PruneReport:
    """Prune the SavedModel the converter will read (a private copy; ``source.saved_model_dir`` is repointed)."""
    from edgekit.host.convert.saved_model_weights import find_weights, read_weight, write_weights
    from edgekit.host.convert.tf_util import temp_dir

    if source.saved_model_dir is None:
        raise BackendError("The loader gave no SavedModel to prune.", hint="This is an edgekit bug.")
    work, cleanup_copy = temp_dir("prune")
    try:
        copy = work / "saved_model"
        shutil.copytree(source.saved_model_dir, copy)
        model, refs = find_weights(copy)
        if not refs:
            raise BackendError(
                f"found no conv, depthwise or dense weights to prune in {source.path}.",
                hint="Pruning applies to Conv2D/DepthwiseConv2D/Dense (MatMul) weights; drop --prune for this model.",
            )
        values = [read_weight(model, r) for r in refs]
        targets = [PruneTarget(r.label, np.abs(v.astype(np.float64))) for r, v in zip(refs, values, strict=True)]
        policy = config.policy
        plan_pruning(targets, policy)
        new_values = {
            r.key: np.where(t.zero_mask, np.zeros((), v.dtype), v).astype(v.dtype)
            for r, v, t in zip(refs, values, targets, strict=True) if t.zero_mask is not None
        }
        write_weights(model, new_values, refs)
    except EdgekitError:
        cleanup_copy()
        raise
    except Exception as exc:
        cleanup_copy()
        raise BackendError(f"pruning the model's weights failed: {type(exc).__name__}: {exc}",
                           hint="Run with --debug for details; or drop --prune.") from exc
    previous_cleanup = source.cleanup

    def cleanup() -> None:
        cleanup_copy()
        if previous_cleanup is not None:
            previous_cleanup()

    original_dir = source.saved_model_dir
    source.saved_model_dir = copy
    source.cleanup = cleanup
    unmatched = policy.unmatched_skips([t.name for t in targets])
    report = PruneReport(
        config=config,
        tensors=[{"name": t.name, "elements": t.num_elements,
                  "sparsity_before": round(t.zeros_before / max(t.num_elements, 1), 6),
                  "sparsity_after": round(t.zeros_after / max(t.num_elements, 1), 6),
                  "skipped": t.reason_skipped} for t in targets],
        achieved_sparsity=achieved_sparsity(targets),
        weights_sparsity=achieved_sparsity(targets, only_pruned=False),
        zeros_in_weights=sum(t.zeros_after for t in targets),
        unmatched_skips=unmatched,
        unpruned_saved_model=original_dir,
        warnings=[f"--prune-skip {pattern} matched no weight tensor (names are shown in the prune report)."
                  for pattern in unmatched],
    )
    source.notes.append(f"pruned to {report.achieved_sparsity:.1%} sparsity ({config.scope.value}) before "
                        "quantization; no fine-tuning")
    return report


def after_conversion(report: PruneReport, data: bytes) -> None:
    """Measure the converted file: weight sparsity, whether the zeros survived quantization, sizes."""
    from edgekit.sizing.tflite_weights import tensor_sparsity
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "converted model")
    rows = [r for r in tensor_sparsity(model) if r.role == "weights"]
    zeros = sum(r.zeros for r in rows)
    elements = sum(r.num_elements for r in rows)
    survived = zeros >= report.zeros_in_weights
    sizes = compressed_sizes(data)
    report.converted = {
        "quantization": model.quant_kind.value,
        "weights_sparsity": round(zeros / elements, 6) if elements else 0.0,
        "weight_zeros": zeros,
        "zeros_in_pruned_float_weights": report.zeros_in_weights,
        "zeros_survived": survived,
        "zero_check": "every zero of the pruned float weights is still zero (quantized: equal to the zero point)"
        if survived else "FEWER zeros in the converted weights than in the pruned float weights",
        "file_bytes": sizes.raw_bytes,
        "deflate9_bytes": sizes.deflate9_bytes,
        "zstd_bytes": sizes.zstd_bytes,
        "source": "measured",
    }
    if not survived:
        report.warnings.append(f"zeros did not survive conversion: {zeros:,} zero weights in the .tflite, "
                               f"{report.zeros_in_weights:,} in the pruned float weights.")


def _runs_in_default_interpreter(data: bytes) -> tuple[bool, str]:
    from edgekit.tflite.runtime import load_interpreter

    try:
        interp = load_interpreter(data)
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
        interp.invoke()
    except (EdgekitError, ValueError, RuntimeError) as exc:
        return False, " ".join(str(exc).split())[:200]
    return True, "runs in LiteRT's default interpreter"


def choose_encoding(report: PruneReport, dense: bytes, convert_sparse: Callable[[], bytes]) -> bytes:
    """Apply --sparse-encoding: return the bytes to write and record the choice and its reason."""
    mode = report.config.sparse_encoding
    decision: dict[str, Any] = {"mode": mode.value, "dense_bytes": len(dense)}
    report.sparse_encoding = decision
    if mode is SparseEncoding.OFF:
        decision.update(used=False, reason="--sparse-encoding off")
        return dense
    try:
        sparse = convert_sparse()
    except EdgekitError as exc:
        if mode is SparseEncoding.ON:
            raise
        decision.update(used=False, reason=f"the converter could not encode it: {exc.message}")
        return dense
    runs, why = _runs_in_default_interpreter(sparse)
    decision.update(sparse_bytes=len(sparse), runs_in_default_interpreter=runs)
    if mode is SparseEncoding.ON:
        if not runs:
            raise BackendError(
                f"the sparse-encoded model does not run in LiteRT's default interpreter (XNNPACK): {why}",
                hint="Use --sparse-encoding auto (encodes only where the result runs) or off. Sparse int8 and "
                     "dynamic-range models only run with experimental_op_resolver_type="
                     "BUILTIN_WITHOUT_DEFAULT_DELEGATES, i.e. without XNNPACK.",
            )
        decision.update(used=True, reason="--sparse-encoding on")
        if len(sparse) >= len(dense):
            report.warnings.append(f"sparse encoding made the file larger ({len(dense):,} -> {len(sparse):,} bytes).")
        return sparse
    if len(sparse) >= len(dense):
        decision.update(used=False, reason=f"encoding would make the file larger ({len(dense):,} -> "
                                           f"{len(sparse):,} bytes)")
        return dense
    if not runs:
        decision.update(used=False, reason=f"the smaller encoded file ({len(sparse):,} bytes) does not run in "
                                           f"LiteRT's default interpreter: {why}")
        return dense
    decision.update(used=True, reason=f"smaller ({len(dense):,} -> {len(sparse):,} bytes) and runs in the "
                                      "default interpreter")
    return sparse


def convert_sparse_fn(saved_model_dir: Path, mode: QuantizeMode, io_type: IOType, per_tensor: bool,
                      samples: dict[str, np.ndarray] | None, debug: bool = False,
                      sparse: bool = True) -> Callable[[], bytes]:
    """Another conversion with the same settings (plus Optimize.EXPERIMENTAL_SPARSITY when ``sparse``)."""
    from edgekit.host.convert.quantize import converter_error, make_converter, representative_dataset
    from edgekit.host.convert.tf_util import tensorflow

    def run() -> bytes:
        tf = tensorflow("Sparse-encoding a model", debug)
        dataset = representative_dataset(samples, None) if samples and mode.needs_calibration else None
        conv = make_converter(tf, saved_model_dir, mode, io_type, per_tensor, dataset)
        if sparse:
            conv.optimizations = [*list(conv.optimizations or []), tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        try:
            return bytes(conv.convert())
        except Exception as exc:
            raise converter_error(exc, mode) from None

    return run


def finish_conversion(report: PruneReport, dense: bytes, saved_model_dir: Path, mode: QuantizeMode, io_type: IOType,
                      per_tensor: bool, samples: dict[str, np.ndarray] | None, keep_float: tuple[str, ...] = (),
                      debug: bool = False) -> bytes:
    """After the converter ran on the pruned SavedModel: measure, then apply --sparse-encoding. Returns the bytes to write."""
    after_conversion(report, dense)
    report.unpruned = _unpruned_sizes(report, saved_model_dir_unpruned=report.unpruned_saved_model,
                                      convert=lambda d: convert_sparse_fn(d, mode, io_type, per_tensor, samples, debug,
                                                                          sparse=False)(),
                                      skip_reason="not measured with --keep-float" if keep_float
                                      else "--prune 0 changes no weight" if report.config.sparsity == 0 else None)
    if keep_float and report.config.sparse_encoding is not SparseEncoding.OFF:
        report.sparse_encoding = {"mode": report.config.sparse_encoding.value, "used": False,
                                  "reason": "not tried together with --keep-float", "dense_bytes": len(dense)}
        return dense
    return choose_encoding(report, dense,
                           convert_sparse_fn(saved_model_dir, mode, io_type, per_tensor, samples, debug))


# Above this many bytes of SavedModel the extra unpruned conversion is skipped (it doubles convert time).
UNPRUNED_BASELINE_MAX_BYTES = 64 * 2**20


def _unpruned_sizes(report: PruneReport, saved_model_dir_unpruned: Path | None,
                    convert: Callable[[Path], bytes], skip_reason: str | None) -> dict[str, Any]:
    """The same conversion of the UNPRUNED model, measured, so the summary can show the size effect."""
    if skip_reason is not None or saved_model_dir_unpruned is None or not Path(saved_model_dir_unpruned).is_dir():
        return {"measured": False, "reason": skip_reason or "the unpruned SavedModel is gone"}
    total = sum(p.stat().st_size for p in Path(saved_model_dir_unpruned).rglob("*") if p.is_file())
    if total > UNPRUNED_BASELINE_MAX_BYTES:
        return {"measured": False, "reason": f"model larger than {UNPRUNED_BASELINE_MAX_BYTES // 2**20} MiB: convert "
                                             "it without --prune to compare"}
    try:
        data = convert(Path(saved_model_dir_unpruned))
    except EdgekitError as exc:
        return {"measured": False, "reason": f"the unpruned conversion failed: {exc.message}"}
    sizes = compressed_sizes(data)
    return {"measured": True, "file_bytes": sizes.raw_bytes, "deflate9_bytes": sizes.deflate9_bytes,
            "zstd_bytes": sizes.zstd_bytes, "note": "the same settings without --prune (one extra conversion)"}
