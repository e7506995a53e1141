"""Pass/fail thresholds per quantization mode (device-safe).

The defaults are deliberately loose enough that a good conversion of a small
CNN passes on real data and tight enough that a broken one (wrong weights,
calibration on constant inputs, float16 overflow) fails. Users override any of
them on the command line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from edgekit.errors import UsageError
from edgekit.tflite.model import QuantKind


@dataclass(frozen=True)
class Thresholds:
    """The limits one output must meet. ``None`` means "not checked"."""

    min_cosine: float | None = None
    min_sqnr_db: float | None = None
    min_top1: float | None = None  # only checked for class-score outputs
    max_abs: float | None = None

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
    ) -> Thresholds:
        """A copy with the given (non-None) limits replaced."""
        changes = {
            k: v
            for k, v in (
                ("min_cosine", min_cosine),
                ("min_sqnr_db", min_sqnr_db),
                ("min_top1", min_top1),
                ("max_abs", max_abs),
            )
            if v is not None
        }
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


# Per quantization mode detected from the .tflite file. max_abs is unset by
# default: it depends on the output's scale, which only the user knows.
DEFAULT_THRESHOLDS: dict[QuantKind, Thresholds] = {
    QuantKind.FLOAT32: Thresholds(min_cosine=0.9999, min_sqnr_db=50.0, min_top1=0.99),
    QuantKind.FLOAT16: Thresholds(min_cosine=0.999, min_sqnr_db=35.0, min_top1=0.97),
    QuantKind.DYNAMIC_RANGE: Thresholds(min_cosine=0.99, min_sqnr_db=20.0, min_top1=0.90),
    QuantKind.INT16X8: Thresholds(min_cosine=0.995, min_sqnr_db=25.0, min_top1=0.93),
    QuantKind.INT8: Thresholds(min_cosine=0.98, min_sqnr_db=15.0, min_top1=0.85),
    QuantKind.MIXED: Thresholds(min_cosine=0.98, min_sqnr_db=15.0, min_top1=0.85),
}


def default_thresholds(kind: QuantKind | str) -> Thresholds:
    """The default thresholds of a quantization mode; unknown modes list the valid ones."""
    try:
        key = QuantKind(kind)
    except ValueError:
        key = None
    if key is None or key not in DEFAULT_THRESHOLDS:
        valid = ", ".join(k.value for k in DEFAULT_THRESHOLDS)
        raise UsageError(
            f"No verify thresholds for quantization mode '{kind}'. Valid modes: {valid}.",
            hint="Set every limit explicitly with --min-cosine/--min-sqnr/--min-top1/--max-abs.",
        )
    return DEFAULT_THRESHOLDS[key]
