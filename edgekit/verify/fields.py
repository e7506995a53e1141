"""Outputs that are tables of fields of very different ranges (device-safe).

A YOLOv8-style detector returns one ``[1, 4 + classes, anchors]`` tensor: 320- or 640-pixel box coordinates
next to 0..1 class scores; a TopK-ranked head returns ``[1, 300, 6]`` rows of box, score and class. Cosine and
SQNR over such a tensor weigh each value by its size, so the scores do not count: nudenet's YOLOv8n in plain
int8 (one output scale of 1.27 for boxes and scores, every score below 0.63 rounded to 0, no detection
left) measured cosine 0.9994 and SQNR 29.4 dB over the tensor and passed. Such an output is also judged
field by field: the SQNR of each field over every sample and row, the worst against the SQNR limit.

A table: one axis of 2..128 fields with at least 8 rows per field (the other axes), fields whose largest
reference values differ 32x or more, the widest beyond 1 (coordinates, ids: units other than a score's). A field of probabilities (a class's scores) that reaches the threshold
scores are read at (`--map-threshold`) on neither side gives no detection on either and is not judged by its
SQNR (small scores carry large relative errors nobody reads), unless the candidate's collapsed to one value
(int8's rounding took them all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    import numpy as np

MIXED_RATIO = 32.0  # fields this far apart in range: one int8 scale leaves the narrow ones < 8 levels
MAX_FIELDS = 128
MIN_ROWS_PER_FIELD = 8


@dataclass(frozen=True)
class FieldError:
    """The worst field of a table output."""

    fields: int
    axis: int  # the fields' axis, counted with the sample axis (as in the output's shape)
    worst: int  # its index along that axis
    sqnr_db: float


def field_axis(shape: tuple[int, ...]) -> int | None:
    """The fields' axis of a per-sample shape (no sample axis), or None when it is no table."""
    total = math.prod(shape)
    axes = [a for a, d in enumerate(shape) if 2 <= d <= MAX_FIELDS and total // d >= MIN_ROWS_PER_FIELD * d]
    return min(axes, key=lambda a: shape[a]) if axes else None


def field_error(reference: np.ndarray, candidate: np.ndarray, read_at: float, skip: Collection[int] = (),
                ceiling_db: float = 200.0) -> FieldError | None:
    """The worst field's SQNR when ``reference`` (sample axis first) is a table of fields of very different
    ranges (module docstring), else None. ``read_at``: the threshold scores are read at (verify's
    ``--map-threshold``); ``skip``: fields judged otherwise unless they collapsed to one value (a TopK-ranked
    output's score column, a YOLOv8 table's class scores, whose detections are compared as sets:
    :mod:`edgekit.verify.ranked`, :mod:`edgekit.verify.detections`); ``ceiling_db``: the SQNR of an exact field
    (verify's cap)."""
    import numpy as np

    if reference.shape != candidate.shape or reference.ndim < 3:
        return None
    axis = field_axis(tuple(int(d) for d in reference.shape[1:]))
    if axis is None:
        return None
    count = reference.shape[axis + 1]
    ref = np.moveaxis(reference.astype(np.float64), axis + 1, 0).reshape(count, -1)
    out = np.moveaxis(np.where(np.isfinite(candidate), candidate, np.inf).astype(np.float64), axis + 1, 0).reshape(count, -1)
    peak = np.max(np.abs(ref), axis=1)
    live = peak[peak > 0]
    if live.size < 2 or float(live.max()) < MIXED_RATIO * float(live.min()) or float(live.max()) <= 1.0:
        return None  # no table of mixed units: scores of several classes alone are judged as a whole
    signal = np.sum(ref**2, axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        noise = np.sum((ref - out) ** 2, axis=1)
    worst: tuple[float, int] | None = None
    for f in range(count):
        probability = float(ref[f].min()) >= 0.0 and float(ref[f].max()) <= 1.0
        collapsed = float(np.ptp(out[f])) == 0.0 and float(np.ptp(ref[f])) > 0.0  # rounded to one value
        if f in skip and not collapsed:
            continue
        if probability and not collapsed and peak[f] < read_at and float(np.max(np.abs(out[f]))) < read_at:
            continue  # scores that reach the read threshold on neither side: no detection to judge
        if not math.isfinite(float(noise[f])):
            db = -ceiling_db
        elif noise[f] == 0.0:
            db = ceiling_db
        elif signal[f] == 0.0:
            db = -ceiling_db
        else:
            db = float(np.clip(10.0 * math.log10(float(signal[f] / noise[f])), -ceiling_db, ceiling_db))
        if worst is None or db < worst[0]:
            worst = (db, f)
    if worst is None:
        return None
    return FieldError(fields=count, axis=axis + 1, worst=worst[1], sqnr_db=worst[0])
