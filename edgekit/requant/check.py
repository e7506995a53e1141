"""Judge a conversion the way verify would: run it on samples, compare with the reference, apply the thresholds.

Device-safe. Used by convert's own check (on its golden samples, or on held-out ``--data``) and by
tune for every candidate: the same metrics (:func:`edgekit.verify.metrics.compute_metrics`), the
same default thresholds per detected quantization kind (:func:`edgekit.verify.thresholds.default_thresholds`),
so "convert's check failed" and "verify failed" mean the same thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.core.quant import QuantKind
from edgekit.tflite.model import Tensor, TFLiteModel
from edgekit.verify.bounds import range_widths
from edgekit.verify.compare import OutputResult, Verdict, compare_outputs, range_notes
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD
from edgekit.verify.ranked import ranked_rows
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical, zero_input_warning
from edgekit.verify.thresholds import Thresholds, default_thresholds


@dataclass
class CheckResult(Verdict):
    """Verify's judgement of one converted model on some samples."""

    outputs: list[OutputResult]
    thresholds: Thresholds
    samples: int
    kind: QuantKind
    inputs_described: str = ""

    def summary(self) -> str:
        return self.failure_summary()

    @property
    def mean_sqnr_db(self) -> float:
        return float(np.mean([o.metrics.sqnr_db for o in self.outputs])) if self.outputs else 0.0

    @property
    def min_cosine(self) -> float:
        return float(min(o.metrics.cosine for o in self.outputs)) if self.outputs else 0.0

    def margin(self) -> float:
        """How far the worst metric is from its limit, in "fractions of the limit" (< 0: fails); for ranking."""
        t = self.thresholds
        worst = np.inf
        for o in self.outputs:
            m = o.metrics
            if t.min_sqnr_db is not None:
                worst = min(worst, (m.sqnr_db - t.min_sqnr_db) / max(abs(t.min_sqnr_db), 1.0))
                if m.field_sqnr_db is not None:  # a table's worst field (edgekit.verify.fields), judged as well
                    worst = min(worst, (m.field_sqnr_db - t.min_sqnr_db) / max(abs(t.min_sqnr_db), 1.0))
            if t.min_cosine is not None:
                worst = min(worst, (m.cosine - t.min_cosine) / max(1.0 - t.min_cosine, 1e-3))
            if t.min_top1 is not None and m.top1_agreement is not None:
                worst = min(worst, (m.top1_agreement - t.min_top1) / max(1.0 - t.min_top1, 1e-3))
            if t.min_iou is not None and m.map_iou is not None:
                worst = min(worst, (m.map_iou - t.min_iou) / max(1.0 - t.min_iou, 1e-3))
        return float(worst) if np.isfinite(worst) else 0.0

    def rows(self) -> list[dict[str, Any]]:
        """convert's ``golden_check`` rows (plus SQNR, the per-position/map metrics and the verdict)."""
        rows = []
        for o in self.outputs:
            m = o.metrics
            rows.append({"name": o.name, "samples": self.samples, "max_abs_error": m.max_abs_error,
                         "cosine": m.cosine, "sqnr_db": m.sqnr_db, "top1_agreement": m.top1_agreement,
                         "class_positions": m.positions, "map_iou": m.map_iou, "passed": o.passed,
                         "failures": [f.describe() for f in o.failures]})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "samples": self.samples, "inputs": self.inputs_described,
                "quant_kind": self.kind.value, "thresholds": self.thresholds.as_dict(),
                "decided_by": self.decided_by, "failures": self.summary(), "outputs": self.rows(),
                "notes": range_notes(self.outputs, self.thresholds)}


def thresholds_for(kind: QuantKind, overrides: Mapping[str, float | None] | None = None,
                   synthetic: bool = False) -> Thresholds:
    """Verify's default limits for ``kind`` with the user's overrides; on synthetic inputs top-1 and map IoU
    are not enforced (verify does the same: random inputs give near ties and meaningless maps)."""
    thresholds = default_thresholds(kind).with_overrides(**dict(overrides or {}))
    if synthetic:
        over = overrides or {}
        thresholds = dataclasses.replace(
            thresholds, min_top1=over.get("min_top1"), min_iou=over.get("min_iou"))
    return thresholds


def _output_tensors(model: TFLiteModel, out_names: Sequence[str], out_shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    return bind_tensors("output", [Wanted(n, s, "float32") for n, s in zip(out_names, out_shapes, strict=True)], model)


def run_model(data: bytes, names: Sequence[str], feeds: Sequence[np.ndarray],
              out_names: Sequence[str], out_shapes: Sequence[tuple[int, ...]]) -> tuple[TFLiteModel, list[np.ndarray]]:
    """Run ``data`` on float-domain feeds (TFLite layout, (N, *shape) per input, by input order)."""
    runner = TFLiteRunner(data)
    ins = bind_tensors("input", [Wanted(n, tuple(f.shape[1:]), str(f.dtype)) for n, f in zip(names, feeds, strict=True)],
                       runner.model)
    outs = _output_tensors(runner.model, out_names, out_shapes)
    fitted = [canonical(f, t, f"input '{n}'") for n, f, t in zip(names, feeds, ins, strict=True)]
    return runner.model, runner.run(ins, fitted, outs)


def judge(data: bytes, input_names: Sequence[str], feeds: Sequence[np.ndarray], reference: Mapping[str, np.ndarray],
          overrides: Mapping[str, float | None] | None = None, synthetic: bool = False,
          map_threshold: float = DEFAULT_MAP_THRESHOLD, described: str = "") -> CheckResult:
    """Run the converted model on ``feeds`` and judge it against ``reference`` (output name -> (N, *shape)),
    everything in the TFLite layout, names in the order of the model's inputs/outputs."""
    out_names = list(reference)
    out_shapes = [tuple(np.asarray(reference[n]).shape[1:]) for n in out_names]
    model, results = run_model(data, input_names, feeds, out_names, out_shapes)
    converted = {n: r for n, r in zip(out_names, results, strict=True)}
    kind = model.quant_kind
    thresholds = thresholds_for(kind, overrides, synthetic)
    ref = {n: np.asarray(reference[n], np.float32).reshape(converted[n].shape) for n in out_names}
    tensors = [t.index for t in _output_tensors(model, out_names, out_shapes)]
    widths = dict(zip(out_names, range_widths(model, tensors), strict=True))
    ranked = dict(zip(out_names, ranked_rows(model, tensors), strict=True))
    outputs = compare_outputs(ref, converted, thresholds, map_threshold, widths, ranked)
    return CheckResult(outputs=outputs, thresholds=thresholds, samples=int(feeds[0].shape[0]), kind=kind,
                       inputs_described=described)


def converted_zero_input_warning(data: bytes, float_data: bytes, ran: str) -> str | None:
    """The Warning when the converted model refuses an all-zero input that the float model runs (else None)."""
    from edgekit.tflite.runtime import runs_zero_input, zero_input_refusal

    refused = zero_input_refusal(data)
    if refused is None or not runs_zero_input(float_data):
        return None
    return zero_input_warning(refused, ran)


RUNTIME_QUANTIZED_FLOAT = (
    "The original quantizes its activations at run time (onnxruntime's quantize_dynamic): a float .tflite rounds "
    "a few of them to the other side of a step, so it cannot reach float32's bar; onnxruntime's check before it "
    "held it to cosine >= 0.9999 instead, and it passed. The file was written anyway; pass --allow-mismatch to "
    "accept it, or convert the float model from before quantize_dynamic (then int8 with `edgekit convert` or "
    "`edgekit tune`)."
)


def check_warning(check: CheckResult, command: str = "edgekit tune MODEL --device ID --calibration DATA --data DATA "
                  "-o OUT.tflite", runtime_quantized_float: bool = False) -> str:
    """The Warning convert prints when its own check fails verify's default thresholds (``runtime_quantized_float``:
    a float conversion of a graph that quantizes activations at run time, where tuning is not the answer)."""
    where = check.inputs_described or f"{check.samples} samples"
    head = (f"the conversion check FAILED verify's thresholds for {check.kind.value} on {where}, decided by "
            f"{', '.join(check.decided_by)}: {check.summary()}. ")
    if runtime_quantized_float:
        return head + RUNTIME_QUANTIZED_FLOAT
    return head + (f"The file was written anyway; `{command}` searches for a quantization that passes (calibration "
                   "statistics, int16 or float for the sensitive ops), or pass --allow-mismatch to accept it.")
