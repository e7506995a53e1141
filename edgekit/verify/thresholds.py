"""Pass/fail thresholds per quantization mode (device-safe).

The default limits of each mode live in its row of :data:`edgekit.core.quant.MODE_SPECS`
(loose enough that a good conversion of a small CNN passes on real data, tight
enough that a broken one fails). Users override any of them on the command line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from edgekit.core.quant import KIND_LIMITS, QuantKind
from edgekit.errors import UsageError


@dataclass(frozen=True)
class Thresholds:
    """The limits one output must meet. ``None`` means "not checked"."""

    min_cosine: float | None = None
    min_sqnr_db: float | None = None
    min_top1: float | None = None  # only checked for class-score outputs
    max_abs: float | None = None
    min_iou: float | None = None  # only checked for dense [0, 1] maps (IoU of the thresholded maps)
    # an output whose last op bounds it (a sigmoid's [0, 1]: edgekit.verify.bounds) passes cosine and SQNR
    # when its max abs error is at most this fraction of that range (float32: rounding on a signal-less output)
    max_abs_of_range: float | None = None

    def __post_init__(self) -> None:
        if self.min_cosine is not None and not -1.0 <= self.min_cosine <= 1.0:
            raise UsageError(
                f"--min-cosine {self.min_cosine} is outside [-1, 1].",
                hint="Cosine similarity is between -1 and 1; e.g. --min-cosine 0.99.",
            )
        if self.min_sqnr_db is not None and not math.isfinite(self.min_sqnr_db):
            raise UsageError(f"--min-sqnr {self.min_sqnr_db} is not a finite number of dB.", hint="e.g. --min-sqnr 20.")
        if self.min_top1 is not None and not 0.0 <= self.min_top1 <= 1.0:
            raise UsageError(
                f"--min-top1 {self.min_top1} is outside [0, 1].",
                hint="Top-1 agreement is a fraction of samples; e.g. --min-top1 0.95 for 95%.",
            )
        if self.min_iou is not None and not 0.0 <= self.min_iou <= 1.0:
            raise UsageError(f"--min-iou {self.min_iou} is outside [0, 1].",
                             hint="IoU of the thresholded maps is a fraction; e.g. --min-iou 0.9.")
        if self.max_abs_of_range is not None and not 0.0 <= self.max_abs_of_range < 1.0:
            raise UsageError(f"max_abs_of_range {self.max_abs_of_range} is outside [0, 1).",
                             hint="It is a fraction of a bounded output's range, e.g. 1e-4.")
        if self.max_abs is not None and not (self.max_abs >= 0.0 and math.isfinite(self.max_abs)):
            raise UsageError(
                f"--max-abs {self.max_abs} must be a finite number >= 0.",
                hint="It is the largest allowed absolute difference of any output value, e.g. --max-abs 0.1.",
            )

    def with_overrides(
        self,
        min_cosine: float | None = None,
        min_sqnr_db: float | None = None,
        min_top1: float | None = None,
        max_abs: float | None = None,
        min_iou: float | None = None,
    ) -> Thresholds:
        """A copy with the given (non-None) limits replaced; a cosine or SQNR limit the user sets is enforced
        as given (the bounded-range rule no longer waives it)."""
        changes: dict[str, float | None] = {
            k: v
            for k, v in (
                ("min_cosine", min_cosine),
                ("min_sqnr_db", min_sqnr_db),
                ("min_top1", min_top1),
                ("max_abs", max_abs),
                ("min_iou", min_iou),
            )
            if v is not None
        }
        if min_cosine is not None or min_sqnr_db is not None:
            changes["max_abs_of_range"] = None
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


# Per quantization kind detected from the .tflite file: the limits of edgekit.core.quant's mode table.
DEFAULT_THRESHOLDS: dict[QuantKind, Thresholds] = {kind: Thresholds(**limits.to_dict())
                                                  for kind, limits in KIND_LIMITS.items()}


def default_thresholds(kind: QuantKind | str) -> Thresholds:
    """The default thresholds of a quantization mode; unknown modes list the valid ones."""
    try:
        key = QuantKind(kind)
    except ValueError:
        key = None
    if key is None or key not in DEFAULT_THRESHOLDS:
        valid = ", ".join(k.value for k in QuantKind if k in DEFAULT_THRESHOLDS)
        raise UsageError(
            f"No verify thresholds for quantization mode '{kind}'. Valid modes: {valid}.",
            hint="Set every limit explicitly with --min-cosine/--min-sqnr/--min-top1/--max-abs.",
        )
    return DEFAULT_THRESHOLDS[key]
