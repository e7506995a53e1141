"""Compare reference outputs with a converted model's outputs and judge them (device-safe).

:func:`compare_outputs` measures every output, checks it against the
thresholds and collects EVERY failing output and metric in one
:class:`VerifyReport`; the command prints it whole before exiting 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.core.result import Basis, check_kind, float_or_nan, strings
from edgekit.errors import DataError
from edgekit.provenance import Producer, producer_entry
from edgekit.report import format_table
from edgekit.verify.distribution import OutputDistribution, output_distribution
from edgekit.verify.metrics import (
    DEFAULT_MAP_THRESHOLD,
    OutputMetrics,
    accuracy,
    class_scores,
    compute_metrics,
    looks_like_class_scores,
)
from edgekit.verify.ranked import align_ranked
from edgekit.verify.thresholds import Thresholds

if TYPE_CHECKING:
    import numpy as np

    from edgekit.verify.explain_report import ExplainResult  # --explain only (workstation)


class InputSource(str, Enum):
    DATA = "data"  # the user's --data (or the calibration data named in a manifest)
    BUNDLE = "bundle"  # golden inputs stored in a deployment bundle
    SYNTHETIC = "synthetic"  # random inputs: agreement only, says nothing about accuracy


@dataclass(frozen=True)
class Failure:
    """One threshold an output failed: the metric, its value and the limit."""

    output: str
    metric: str
    value: float | None
    limit: float
    rule: str  # ">=" or "<="

    def describe(self) -> str:
        shown = "n/a" if self.value is None else _fmt(self.value)
        return f"{self.metric} {shown} (must be {self.rule} {_fmt(self.limit)})"

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "metric": self.metric, "value": self.value, "limit": self.limit,
                "rule": self.rule}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Failure:
        return cls(str(d["output"]), str(d["metric"]), float_or_nan(d["value"]), float(d["limit"]), str(d["rule"]))


@dataclass(frozen=True)
class OutputResult:
    """One output's metrics against the reference, and the thresholds it failed."""

    name: str
    metrics: OutputMetrics
    failures: tuple[Failure, ...]
    distribution: OutputDistribution | None = None  # the values, bounded, for the report's charts

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.metrics.to_dict(),
            "passed": self.passed,
            "failures": [f.describe() for f in self.failures],
            **({} if self.distribution is None else {"distribution": self.distribution.to_dict()}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], failures: tuple[Failure, ...] = ()) -> OutputResult:
        """Back from :meth:`to_dict`; its failures come from the report's list (they carry the figures)."""
        dist = d.get("distribution")
        return cls(str(d["name"]), OutputMetrics.from_dict(d), failures,
                   OutputDistribution.from_dict(dist) if dist is not None else None)

    @classmethod
    def judged(cls, d: Mapping[str, Any], thresholds: Thresholds) -> OutputResult:
        """An output measured elsewhere (:meth:`OutputMetrics.to_dict` + name + distribution) judged here.

        `verify BUNDLE`'s child measures and this process judges (:mod:`edgekit.verify.device`)."""
        measured = cls.from_dict(d)
        return replace(measured, failures=check_thresholds(measured.name, measured.metrics, thresholds))


@dataclass(frozen=True)
class AccuracyResult:
    """Accuracy against labels, of the original and of the converted model."""

    original: float
    converted: float
    samples: int

    @property
    def drop(self) -> float:
        return self.original - self.converted

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "converted": self.converted, "drop": self.drop, "samples": self.samples}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccuracyResult:
        return cls(float(d["original"]), float(d["converted"]), int(d["samples"]))


class Verdict:
    """The verdict over ``self.outputs`` (each an :class:`OutputResult`): shared by verify's report and the
    quantization check of convert and tune."""

    outputs: list[OutputResult]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def failures(self) -> list[Failure]:
        return [f for o in self.outputs for f in o.failures]

    @property
    def decided_by(self) -> list[str]:
        """The metrics that failed (what decided a FAIL), in order; empty when it passed."""
        return list(dict.fromkeys(f.metric for f in self.failures))

    def failure_summary(self) -> str:
        """'output: metric value (must be >= limit); ...' for one-line messages."""
        return "; ".join(f"{f.output}: {f.describe()}" for f in self.failures)


@dataclass
class VerifyReport(Verdict):
    """`edgekit verify`: every output of the converted model against the reference, MEASURED on the samples."""

    kind: ClassVar[str] = "verify"
    basis: ClassVar[Basis] = Basis.MEASURED

    samples: int
    runtime: str  # "ai-edge-litert 2.3.0"
    input_source: InputSource
    quantization: str
    thresholds: Thresholds
    outputs: list[OutputResult]
    accuracy: AccuracyResult | None = None
    model: str = ""
    reference: str = ""  # what produced the reference outputs
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the command prints them on stderr
    explain: ExplainResult | None = None  # --explain (workstation)
    produced_by: Producer | None = field(default_factory=Producer.here)  # where the converted model ran


    def to_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "passed": self.passed,
            "samples": self.samples,
            "runtime": self.runtime,
            "input_source": self.input_source.value,
            "model": self.model,
            "reference": self.reference,
            "quantization": self.quantization,
            "thresholds": self.thresholds.as_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
            "accuracy": self.accuracy.to_dict() if self.accuracy else None,
            "failures": [f.to_dict() for f in self.failures],
            "decided_by": self.decided_by,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "measured": True,
        }
        if self.explain is not None:
            out["explain"] = self.explain.to_dict()
        out.update(producer_entry(self.produced_by))
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VerifyReport:
        check_kind(d, cls.kind)
        failures = [Failure.from_dict(f) for f in d["failures"]]
        accuracy, explain = d.get("accuracy"), d.get("explain")
        return cls(
            samples=int(d["samples"]), runtime=str(d["runtime"]), input_source=InputSource(d["input_source"]),
            quantization=str(d["quantization"]), thresholds=Thresholds(**d["thresholds"]),
            outputs=[OutputResult.from_dict(o, tuple(f for f in failures if f.output == o["name"]))
                     for o in d["outputs"]],
            accuracy=AccuracyResult.from_dict(accuracy) if accuracy is not None else None,
            model=str(d.get("model", "")), reference=str(d.get("reference", "")), notes=list(strings(d.get("notes"))),
            warnings=list(strings(d.get("warnings"))),
            explain=_explain_from_dict(explain) if explain is not None else None,
            produced_by=Producer.from_dict(d.get("produced_by")),
        )

    def render(self) -> str:
        """The human report: header, per-output table, accuracy, and every failure."""
        lines = [
            f"Model:        {self.model}",
            f"Reference:    {self.reference}",
            f"Runtime:      {self.runtime}",
            f"Quantization: {self.quantization}",
            f"Inputs:       {self.samples} samples ({self.input_source.value})",
            "",
            "Per-output agreement (measured on these samples):",
        ]
        rows = []
        show_iou = any(o.metrics.map_iou is not None for o in self.outputs)
        for o in self.outputs:
            m = o.metrics
            row = [
                o.name, _fmt(m.max_abs_error), _fmt(m.mean_abs_error), _fmt(m.rmse), f"{m.cosine:.5f}",
                f"{m.sqnr_db:.1f}", _pct(m.top1_agreement), _pct(m.top5_agreement),
            ]
            if show_iou:
                row.append("-" if m.map_iou is None else f"{m.map_iou:.3f}")
            rows.append([*row, "PASS" if o.passed else "FAIL"])
        headers = ["output", "max_abs", "mean_abs", "rmse", "cosine", "sqnr_dB", "top1", "top5"]
        headers += ["map_iou"] if show_iou else []
        lines.append(format_table([*headers, "result"], rows, align="l" + "r" * (len(headers) - 1) + "l"))
        for o in self.outputs:
            m = o.metrics
            if m.positions is not None:
                lines.append(f"  {o.name}: top1/top5 per position ({m.positions} positions x {m.num_classes} classes "
                             "per sample)")
            if m.map_iou is not None and m.ranked_rows is not None:
                lines.append(f"  {o.name}: map_iou = IoU of the detections (rows scoring >= {m.map_threshold:g}) of the "
                             "two sides")
            elif m.map_iou is not None and m.detections is not None:
                orig, conv, found = m.detections
                lines.append(f"  {o.name}: map_iou = IoU of the detections (best class score >= {m.map_threshold:g}, "
                             f"NMS) of the two sides: {found} of the original's {orig} found, {conv} in the converted "
                             "model (over the samples)")
                if not orig and not conv:
                    lines.append(f"  {o.name}: no detection on either side: its class scores were not judged (give "
                                 "data with the objects it detects, or a lower --map-threshold)")
            elif m.map_iou is not None:
                lines.append(f"  {o.name}: map_iou = IoU of the maps thresholded at {m.map_threshold:g}")
            if m.field_sqnr_db is not None:
                lines.append(f"  {o.name}: {m.fields} fields of very different ranges along axis {m.field_axis}, each "
                             f"judged: worst field {m.field_worst} at SQNR {m.field_sqnr_db:.1f} dB")
            if m.ranked_rows is not None and (m.ranked_moved or m.ranked_cutoff or m.ranked_below):
                below = (f", {m.ranked_below} scoring below {m.map_threshold:g} on both sides "
                         "(no detection either side) not compared" if m.ranked_below else "")
                lines.append(f"  {o.name}: {m.ranked_rows} rows ranked by a TopK: {m.ranked_moved} row(s) whose scores "
                             f"tie compared out of rank order, {m.ranked_cutoff} tied at the cut-off compared by "
                             f"score only{below} (over the samples)")
        t = self.thresholds
        lines.append(
            "Thresholds: "
            + ", ".join(
                part for part in (
                    f"cosine >= {t.min_cosine}" if t.min_cosine is not None else "",
                    f"sqnr >= {t.min_sqnr_db} dB" if t.min_sqnr_db is not None else "",
                    f"top1 >= {t.min_top1:.0%}" if t.min_top1 is not None else "",
                    f"max_abs <= {t.max_abs}" if t.max_abs is not None else "",
                    f"map_iou >= {t.min_iou}" if t.min_iou is not None and show_iou else "",
                ) if part
            )
        )
        if self.accuracy is not None:
            a = self.accuracy
            lines += [
                "",
                f"Accuracy on {a.samples} labelled samples (measured): original {a.original:.2%}, "
                f"converted {a.converted:.2%}, drop {a.drop * 100:.2f} points",
            ]
        for note in self.notes:
            lines.append(f"Note: {note}")
        lines.append("")
        if self.passed:
            lines.append(f"PASSED: all {len(self.outputs)} output(s) within thresholds.")
        else:
            failed = [o for o in self.outputs if not o.passed]
            lines.append(f"FAILED: {len(failed)} of {len(self.outputs)} output(s) out of thresholds "
                         f"(decided by {', '.join(self.decided_by)}):")
            for o in failed:
                lines.append(f"  {o.name}: " + "; ".join(f.describe() for f in o.failures))
        if self.explain is not None:
            lines += ["", self.explain.render()]
        return "\n".join(lines)


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 1e-3:
        return f"{value:.3e}"
    return f"{value:.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def within_bounded_range(metrics: OutputMetrics, thresholds: Thresholds) -> bool:
    """True when the output's last op bounds it and its max abs error is within ``max_abs_of_range`` of that
    range: cosine and SQNR are then not enforced (they measure the error against a signal the inputs may not
    give it, e.g. a sigmoid map near 0 everywhere on random inputs)."""
    t = thresholds
    return (t.max_abs_of_range is not None and metrics.value_range is not None and metrics.value_range > 0
            and metrics.max_abs_error <= t.max_abs_of_range * metrics.value_range)


def range_notes(outputs: Sequence[OutputResult], thresholds: Thresholds) -> list[str]:
    """One note per output that passed cosine/SQNR by :func:`within_bounded_range` while failing them."""
    notes = []
    t = thresholds
    for o in outputs:
        m = o.metrics
        relative_fail = ((t.min_cosine is not None and not m.cosine >= t.min_cosine)
                         or (t.min_sqnr_db is not None and not m.sqnr_db >= t.min_sqnr_db))
        if relative_fail and within_bounded_range(m, t):
            notes.append(f"'{o.name}': cosine {m.cosine:.4f} / SQNR {m.sqnr_db:.1f} dB not enforced: its last op "
                         f"bounds it to a range of width {m.value_range:g} and its max abs error {m.max_abs_error:.3g} "
                         f"is within {t.max_abs_of_range:g} of that (its values here carry little signal; "
                         "--min-cosine/--min-sqnr enforce them)")
    return notes


def check_thresholds(name: str, metrics: OutputMetrics, thresholds: Thresholds) -> tuple[Failure, ...]:
    """Every limit this output breaks (empty: it passed)."""
    failures: list[Failure] = []
    t = thresholds
    relative = not within_bounded_range(metrics, t)
    if relative and t.min_cosine is not None and not metrics.cosine >= t.min_cosine:
        failures.append(Failure(name, "cosine", metrics.cosine, t.min_cosine, ">="))
    if relative and t.min_sqnr_db is not None and not metrics.sqnr_db >= t.min_sqnr_db:
        failures.append(Failure(name, "sqnr_db", metrics.sqnr_db, t.min_sqnr_db, ">="))
    if relative and t.min_sqnr_db is not None and metrics.field_sqnr_db is not None \
            and not metrics.field_sqnr_db >= t.min_sqnr_db:  # a table's narrow fields (edgekit.verify.fields)
        failures.append(Failure(name, "field_sqnr_db", metrics.field_sqnr_db, t.min_sqnr_db, ">="))
    if t.min_top1 is not None and metrics.top1_agreement is not None and not metrics.top1_agreement >= t.min_top1:
        failures.append(Failure(name, "top1_agreement", metrics.top1_agreement, t.min_top1, ">="))
    if t.max_abs is not None and not metrics.max_abs_error <= t.max_abs:
        failures.append(Failure(name, "max_abs_error", metrics.max_abs_error, t.max_abs, "<="))
    if t.min_iou is not None and metrics.map_iou is not None and not metrics.map_iou >= t.min_iou:
        failures.append(Failure(name, "map_iou", metrics.map_iou, t.min_iou, ">="))
    return tuple(failures)


def compare_outputs(
    reference: dict[str, np.ndarray],
    converted: dict[str, np.ndarray],
    thresholds: Thresholds,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
    value_ranges: Mapping[str, float | None] | None = None,
    ranked: Mapping[str, int | None] | None = None,
) -> list[OutputResult]:
    """Measure and judge every output (same names on both sides, sample axis first); ``value_ranges``: output
    name -> the width of the range its last op bounds it to (:func:`edgekit.verify.bounds.range_widths`);
    ``ranked``: output name -> K when a TopK ranks its rows (:func:`edgekit.verify.ranked.ranked_rows`), whose
    tied rows are then matched by value (:func:`edgekit.verify.ranked.align_ranked`)."""
    missing = sorted(set(reference) ^ set(converted))
    if missing:
        raise DataError(
            f"Outputs differ: reference has {sorted(reference)}, converted has {sorted(converted)}.",
            hint="The converted model must have the same outputs as the original.",
        )
    results = []
    for name in reference:
        ref, out, alignment = align_ranked(reference[name], converted[name], (ranked or {}).get(name), map_threshold)
        metrics = compute_metrics(name, ref, out, map_threshold, (value_ranges or {}).get(name), alignment)
        results.append(OutputResult(name, metrics, check_thresholds(name, metrics, thresholds),
                                    output_distribution(ref, out)))
    return results


def compare_accuracy(
    reference: dict[str, np.ndarray], converted: dict[str, np.ndarray], labels: np.ndarray
) -> AccuracyResult:
    """Task accuracy of both models on the first class-score output (probabilities/logits preferred)."""
    views = {n: class_scores(v) for n, v in reference.items()}
    candidates = [n for n, view in views.items() if view is not None]
    preferred = [n for n in candidates if looks_like_class_scores(views[n])]  # type: ignore[arg-type]
    for name in preferred + candidates:
        return AccuracyResult(
            original=accuracy(reference[name], labels),
            converted=accuracy(converted[name], labels),
            samples=int(labels.shape[0]),
        )
    raise DataError(
        "Labels were given but no output is a vector of class scores.",
        hint="Use --labels only with classifier models.",
    )


def _explain_from_dict(d: Mapping[str, Any]) -> ExplainResult:
    from edgekit.verify.explain_report import ExplainResult

    return ExplainResult.from_dict(d)
