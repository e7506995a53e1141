"""Activation statistics of a float .tflite on some samples, and the ranges a quantizer should use.

Device-safe. The float model runs in LiteRT's builtin kernels with every intermediate tensor
preserved (XNNPACK would hide the tensors inside its partitions); per activation tensor we keep
the min, the max and a histogram over [min, max]. From those, :func:`choose_range` gives the
quantization range of a :class:`~edgekit.core.quant.CalibrationMethod`: min-max, a percentile
clip, or the clip that minimises the expected squared quantization error (rounding noise inside
the range plus clipping error outside, computed from the histogram). :func:`compare_ranges`
says when the calibration data does not look like the inputs the model is checked on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.core.progress import progress
from edgekit.core.quant import CalibrationMethod
from edgekit.tflite.model import parse_model

HIST_BINS = 2048
HIST_VALUES_TOTAL = 1048576  # per tensor, a random subset of each sample: the 99.99th percentile needs ~1M values


@dataclass
class TensorStats:
    name: str
    min: float
    max: float
    count: int = 0
    hist: np.ndarray | None = None  # HIST_BINS counts over [min, max] (second pass)
    outside: int = 0  # values beyond a reference range (compare_ranges' data pass)

    @property
    def absmax(self) -> float:
        return max(abs(self.min), abs(self.max))

    @property
    def span(self) -> float:
        return self.max - self.min


@dataclass
class ActivationStats:
    """Statistics of every float activation tensor, by name, measured on ``samples`` samples."""

    tensors: dict[str, TensorStats]
    samples: int
    outputs: tuple[str, ...] = ()  # names of the model's output tensors
    inputs: tuple[str, ...] = ()
    histograms: bool = False

    def ranges(self, method: CalibrationMethod, percentile: float = 99.99) -> dict[str, tuple[float, float]]:
        return {name: choose_range(t, method, percentile) for name, t in self.tensors.items()}


def _interpreter(data: bytes) -> Any:
    import warnings

    from edgekit.tflite.runtime import load_interpreter

    with warnings.catch_warnings():  # LiteRT warns that preserving all tensors is for debugging: it is what we want
        warnings.simplefilter("ignore")
        return load_interpreter(data, use_xnnpack=False, preserve_all_tensors=True, num_threads=os.cpu_count() or 1)


def _activation_indices(data: bytes) -> tuple[dict[int, str], tuple[str, ...], tuple[str, ...], list[Any]]:
    model = parse_model(data, "float model")
    sg = model.main
    produced = {o for op in sg.operators for o in op.outputs if o >= 0}
    wanted = {t.index: t.name for t in sg.tensors
              if (t.index in produced or t.index in sg.inputs) and not t.is_constant and t.dtype == "float32"}
    return (wanted, tuple(t.name for t in model.outputs), tuple(t.name for t in model.inputs), model.inputs)


def _run(interp: Any, inputs: list[Any], feeds: Sequence[np.ndarray], i: int) -> None:
    for tensor, arr in zip(inputs, feeds, strict=True):
        interp.set_tensor(tensor.index, np.asarray(arr[i], dtype=np.dtype(tensor.dtype)).reshape(tensor.shape))
    interp.invoke()


def collect_stats(data: bytes, feeds: Sequence[np.ndarray], histograms: bool = True,
                  label: str | None = "Measuring activation ranges",
                  reference: ActivationStats | None = None) -> ActivationStats:
    """Run the float model on every sample (``feeds``: one (N, *shape) array per model input, in order).

    One pass: exact min/max per tensor; with ``histograms``, also up to :data:`HIST_VALUES_TOTAL`
    values per tensor (a seeded random subset of each sample's values), binned into :data:`HIST_BINS` bins over [min, max]
    at the end (percentile and MSE need them); with ``reference``, each tensor also counts the values
    outside the reference's range.
    """
    wanted, outputs, input_names, inputs = _activation_indices(data)
    count = int(feeds[0].shape[0]) if feeds else 0
    interp = _interpreter(data)
    stats: dict[str, TensorStats] = {}
    kept: dict[str, list[np.ndarray]] = {}
    per_sample = max(512, HIST_VALUES_TOTAL // max(count, 1))
    rng = np.random.default_rng(0)  # deterministic: a replayed recipe gets the same ranges
    for i in progress(range(count), label) if label else range(count):
        _run(interp, inputs, feeds, i)
        for index, name in wanted.items():
            try:
                values = interp.get_tensor(index)
            except ValueError:  # a tensor the runtime did not keep
                continue
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                continue
            lo, hi = float(finite.min()), float(finite.max())
            entry = stats.setdefault(name, TensorStats(name, lo, hi))
            entry.min, entry.max = min(entry.min, lo), max(entry.max, hi)
            entry.count += int(finite.size)
            if reference is not None and name in reference.tensors:
                ref = reference.tensors[name]
                entry.outside += int(np.count_nonzero((finite < ref.min) | (finite > ref.max)))
            if histograms:
                flat = finite.ravel()
                if flat.size > per_sample:  # a random subset: a fixed stride would see only some channels of
                    flat = flat[rng.integers(0, flat.size, per_sample)]  # an NHWC tensor (gcd with C)
                kept.setdefault(name, []).append(flat.astype(np.float32, copy=True))
    if histograms:
        for name, parts in kept.items():
            t = stats[name]
            values = np.concatenate(parts).astype(np.float64)
            if t.max > t.min:
                bins = np.clip(((values - t.min) * (HIST_BINS / (t.max - t.min))).astype(np.int64), 0, HIST_BINS - 1)
                t.hist = np.bincount(bins, minlength=HIST_BINS).astype(np.int64)
            else:
                t.hist = np.zeros(HIST_BINS, np.int64)
                t.hist[0] = values.size
    return ActivationStats(tensors=stats, samples=count, outputs=outputs, inputs=input_names,
                           histograms=histograms and bool(count))


def _with_zero(lo: float, hi: float) -> tuple[float, float]:
    """Quantized ranges must hold 0 (zero padding, ReLU); a degenerate range gets a tiny width."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1e-6
    return lo, hi


def choose_range(t: TensorStats, method: CalibrationMethod, percentile: float = 99.99,
                 levels: int = 256) -> tuple[float, float]:
    """The quantization range of one tensor under ``method`` (min-max without a histogram)."""
    if method is CalibrationMethod.MINMAX or t.hist is None or t.hist.sum() == 0 or t.max <= t.min:
        return _with_zero(t.min, t.max)
    edges = np.linspace(t.min, t.max, HIST_BINS + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    weights = t.hist.astype(np.float64)
    total = weights.sum()
    if method is CalibrationMethod.PERCENTILE:
        cdf = np.cumsum(weights) / total
        tail = (100.0 - percentile) / 100.0
        lo_i = int(np.searchsorted(cdf, tail / 2, side="left"))
        hi_i = int(np.searchsorted(cdf, 1.0 - tail / 2, side="left"))
        lo = t.min if lo_i <= 0 else float(edges[lo_i])
        hi = t.max if hi_i >= HIST_BINS - 1 else float(edges[hi_i + 1])
        return _with_zero(lo, hi)
    # MSE: a grid of clipped ranges [a, b] inside [min, max]; rounding noise step^2/12 inside, clip error outside
    lo0, hi0 = _with_zero(t.min, t.max)
    fractions = np.concatenate([np.geomspace(0.05, 1.0, 40)])
    best = (math.inf, lo0, hi0)
    for fa in (fractions if lo0 < 0 else np.array([1.0])):
        a = lo0 * fa
        for fb in (fractions if hi0 > 0 else np.array([1.0])):
            b = hi0 * fb
            step = (b - a) / (levels - 1)
            below = np.minimum(centres - a, 0.0)
            above = np.maximum(centres - b, 0.0)
            inside = (centres >= a) & (centres <= b)
            err = float(np.sum(weights * (below**2 + above**2)) + np.sum(weights[inside]) * step**2 / 12.0)
            if err < best[0]:
                best = (err, a, b)
    return _with_zero(best[1], best[2])


def quantile_range(t: TensorStats, tail: float) -> tuple[float, float]:
    """The range holding all but ``tail`` of the values on each side (from the histogram; min-max without one)."""
    if t.hist is None or t.hist.sum() == 0 or t.max <= t.min:
        return t.min, t.max
    edges = np.linspace(t.min, t.max, HIST_BINS + 1)
    cdf = np.cumsum(t.hist) / t.hist.sum()
    lo = float(edges[int(np.searchsorted(cdf, tail))])
    hi = float(edges[min(HIST_BINS, int(np.searchsorted(cdf, 1.0 - tail)) + 1)])
    return lo, hi


ROBUST_TAIL = 0.005  # compare the ranges holding 99% of the values: a few extreme values do not decide
BAND = 2.0  # a tensor whose range on the data is > 2x or < 1/2 of its calibrated range is out of band
OUTPUT_BAND = 4.0  # an output beyond 4x either way decides alone
SHARE = 0.15  # ... or this share of all activation tensors out of band


@dataclass
class RangeComparison:
    """How the activation ranges on check/verify data compare with those on the calibration data."""

    tensors: int
    wider: list[tuple[str, float]] = field(default_factory=list)  # (name, span ratio data/calibration) > BAND
    narrower: list[tuple[str, float]] = field(default_factory=list)  # < 1/BAND
    outputs: list[tuple[str, float]] = field(default_factory=list)  # model outputs beyond OUTPUT_BAND either way
    saturated: int = 0  # tensors with > 1% of the data's values beyond the calibrated min-max

    @property
    def mismatched(self) -> bool:
        """Wildly different: an output's range differs > 4x, or 15% of the tensors' ranges differ > 2x."""
        if not self.tensors:
            return False
        return bool(self.outputs) or (len(self.wider) + len(self.narrower)) >= max(2, SHARE * self.tensors)

    def message(self, calibration: str, data: str) -> str:
        parts = []
        if self.outputs:
            outs = ", ".join(f"{_short(n)} x{r:.3g}" for n, r in self.outputs[:2])
            parts.append(f"the output range differs ({outs})")
        if self.wider:
            worst = sorted(self.wider, key=lambda c: -c[1])[:3]
            parts.append(f"{len(self.wider)} of {self.tensors} activation tensors range over more than {BAND:g}x their "
                         "calibrated range (worst: " + ", ".join(f"{_short(n)} x{r:.1f}" for n, r in worst) + ")")
        if self.narrower:
            parts.append(f"{len(self.narrower)} over less than 1/{BAND:g} of it")
        return (f"the calibration data ({calibration}) does not look like the inputs ({data}): activation ranges "
                f"differ wildly: {'; '.join(parts)}. Calibrate on data like the real inputs "
                "(--calibration), or let `edgekit tune` measure it.")

    def to_dict(self) -> dict[str, Any]:
        return {"mismatched": self.mismatched, "tensors": self.tensors, "wider": len(self.wider),
                "narrower": len(self.narrower), "outputs": [{"name": n, "span_ratio": r} for n, r in self.outputs],
                "saturated": self.saturated}


def _short(name: str) -> str:
    first = name.split(";")[0]
    return first if len(first) <= 48 else "..." + first[-45:]


def compare_ranges(calibration: ActivationStats, data: ActivationStats) -> RangeComparison:
    """Compare per-tensor ranges holding 99% of the values (both collected with histograms; ``data`` with
    ``reference=calibration`` also counts the values beyond the calibrated min-max)."""
    common = [n for n in data.tensors if n in calibration.tensors and n not in calibration.inputs]
    result = RangeComparison(tensors=len(common))
    for name in common:
        c, d = calibration.tensors[name], data.tensors[name]
        c_lo, c_hi = quantile_range(c, ROBUST_TAIL)
        d_lo, d_hi = quantile_range(d, ROBUST_TAIL)
        c_span, d_span = c_hi - c_lo, d_hi - d_lo
        if c_span <= 1e-12 and d_span <= 1e-12:
            continue
        ratio = d_span / max(c_span, 1e-12 * max(1.0, abs(d_span)))
        ratio = min(ratio, 1e9)
        if ratio > BAND:
            result.wider.append((name, ratio))
        elif ratio < 1.0 / BAND:
            result.narrower.append((name, ratio))
        if name in calibration.outputs and (ratio > OUTPUT_BAND or ratio < 1.0 / OUTPUT_BAND):
            result.outputs.append((name, ratio))
        if d.count and d.outside / d.count > 0.01:
            result.saturated += 1
    return result
