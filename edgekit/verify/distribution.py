"""What verify keeps of the values themselves, for the charts of its report (device-safe: numpy only).

The metrics summarise an output in a few numbers; a person wants to see the values. Each output
of a verify result carries, bounded whatever the model and the number of samples:

- ``pairs``: at most :data:`SCATTER_PAIRS` (reference, converted) value pairs for the scatter plot:
  every value when there are no more than that, otherwise the :data:`WORST_PAIRS` largest errors and
  evenly spaced values of the rest, in the order of the flattened (samples, ...) output. Values are
  written with 7 significant digits (float32 precision);
- ``error_histogram``: the histogram (:data:`HISTOGRAM_BINS` equal bins) of ``converted - reference``
  over EVERY finite value of every sample, not only the pairs;
- ``argmax_per_position``: for a sequence output (per sample ``(positions, classes)`` with
  probabilities along the classes, as a softmax makes them) the fraction of samples whose converted
  arg-max equals the reference's at each position; above :data:`MAX_POSITIONS` positions, consecutive
  positions are averaged so that at most that many values remain.

Every figure is MEASURED on the verify samples, like the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SCATTER_PAIRS = 2000
WORST_PAIRS = 200
HISTOGRAM_BINS = 41
MAX_POSITIONS = 1024
DIGITS = 7

PAIRS_SELECTION_ALL = "every value"
PAIRS_SELECTION_SUBSET = (f"the {WORST_PAIRS} largest errors and evenly spaced values of the rest "
                          f"({SCATTER_PAIRS} of {{values}})")
HISTOGRAM_OF = "converted - reference, every finite value of every sample"


def _short(values: np.ndarray) -> tuple[float, ...]:
    import numpy as np
    return tuple(float(f"{v:.{DIGITS}g}") for v in np.asarray(values, dtype=np.float64).ravel())


@dataclass(frozen=True)
class PositionAgreement:
    """Arg-max agreement per position of a sequence output (MEASURED)."""

    positions: int
    classes: int
    positions_per_value: int  # > 1 when the positions were averaged in groups (more than MAX_POSITIONS)
    agreement: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"positions": self.positions, "classes": self.classes, "positions_per_value": self.positions_per_value,
                "agreement": list(self.agreement)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PositionAgreement:
        return cls(int(d["positions"]), int(d["classes"]), int(d["positions_per_value"]),
                   tuple(float(v) for v in d["agreement"]))


@dataclass(frozen=True)
class OutputDistribution:
    """How one output's converted values spread against the reference (for the report's charts)."""

    values: int  # values of this output over all samples
    non_finite: int  # converted values that are NaN or infinite (left out of the pairs and the histogram)
    selection: str
    reference: tuple[float, ...]
    converted: tuple[float, ...]
    error_edges: tuple[float, ...]
    error_counts: tuple[int, ...]
    positions: PositionAgreement | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "non_finite": self.non_finite,
            "pairs": {"selection": self.selection, "reference": list(self.reference), "converted": list(self.converted)},
            "error_histogram": {"of": HISTOGRAM_OF, "edges": list(self.error_edges), "counts": list(self.error_counts)},
            "argmax_per_position": None if self.positions is None else self.positions.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputDistribution:
        pairs, hist, pos = d["pairs"], d["error_histogram"], d.get("argmax_per_position")
        return cls(
            values=int(d["values"]), non_finite=int(d["non_finite"]), selection=str(pairs["selection"]),
            reference=tuple(float(v) for v in pairs["reference"]), converted=tuple(float(v) for v in pairs["converted"]),
            error_edges=tuple(float(v) for v in hist["edges"]), error_counts=tuple(int(v) for v in hist["counts"]),
            positions=PositionAgreement.from_dict(pos) if pos is not None else None,
        )


def _pick(error: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Flat indices of the pairs to keep (see the module docstring), ascending."""
    import numpy as np
    candidates = np.flatnonzero(finite)
    if candidates.size <= SCATTER_PAIRS:
        return candidates
    err = np.abs(error[candidates])
    # the largest errors (ties: the earlier value), then evenly spaced among the others
    order = np.lexsort((candidates, -err))
    worst = candidates[order[:WORST_PAIRS]]
    rest = np.setdiff1d(candidates, worst, assume_unique=True)
    spaced = rest[np.linspace(0, rest.size - 1, SCATTER_PAIRS - WORST_PAIRS).round().astype(np.int64)]
    return np.union1d(worst, spaced)


def _sequence_view(reference: np.ndarray) -> tuple[int, int] | None:
    """(positions, classes) of a sequence of probability vectors per sample, else None."""
    import numpy as np
    per_sample = [d for d in reference.shape[1:] if d != 1]
    if len(per_sample) != 2 or per_sample[0] < 2 or per_sample[1] < 2 or reference.shape[-1] != per_sample[1]:
        return None
    if not np.issubdtype(reference.dtype, np.floating):
        return None
    view = reference.reshape(-1, per_sample[1]).astype(np.float64)
    if not (np.all(view >= 0) and np.allclose(view.sum(axis=1), 1.0, atol=1e-3)):
        return None
    return per_sample[0], per_sample[1]


def _positions(reference: np.ndarray, converted: np.ndarray) -> PositionAgreement | None:
    import numpy as np
    shape = _sequence_view(reference)
    if shape is None:
        return None
    positions, classes = shape
    n = reference.shape[0]
    ref = reference.reshape(n, positions, classes)
    out = np.where(np.isfinite(converted), converted, -np.inf).reshape(n, positions, classes)
    agree = (np.argmax(ref, axis=2) == np.argmax(out, axis=2)).mean(axis=0)
    group = -(-positions // MAX_POSITIONS)
    if group > 1:
        pad = (-positions) % group
        padded = np.concatenate([agree, np.full(pad, np.nan)])
        agree = np.nanmean(padded.reshape(-1, group), axis=1)
    return PositionAgreement(positions, classes, group, _short(agree))


def output_distribution(reference: np.ndarray, converted: np.ndarray) -> OutputDistribution:
    """The bounded values, error histogram and per-position agreement of one output (same shapes)."""
    import numpy as np
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(converted, dtype=np.float64).ravel()
    finite = np.isfinite(out)
    error = np.where(finite, out - ref, 0.0)
    keep = _pick(error, finite)
    selection = PAIRS_SELECTION_ALL if keep.size == int(finite.sum()) else PAIRS_SELECTION_SUBSET.format(values=ref.size)
    counts, edges = np.histogram(error[finite], bins=HISTOGRAM_BINS) if finite.any() else (np.zeros(0), np.zeros(0))
    return OutputDistribution(
        values=int(ref.size), non_finite=int((~finite).sum()), selection=selection,
        reference=_short(ref[keep]), converted=_short(out[keep]),
        error_edges=_short(edges), error_counts=tuple(int(c) for c in counts),
        positions=_positions(np.asarray(reference), np.asarray(converted)),
    )


__all__ = ["HISTOGRAM_BINS", "MAX_POSITIONS", "OutputDistribution", "PositionAgreement", "SCATTER_PAIRS", "WORST_PAIRS",
           "output_distribution"]
