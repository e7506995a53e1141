"""Error metrics between a reference output and a converted model's output (device-safe: numpy only).

Both arrays carry a leading sample axis and are in the float domain (integer
outputs are dequantized before they get here). Every figure is measured on the
samples given, never estimated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgekit.core.result import float_or_nan, optional_float, optional_int
from edgekit.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from edgekit.verify.ranked import RankedAlignment

# SQNR of two identical float32 outputs is +inf; JSON has no inf, so report a
# ceiling far above any threshold (float32 rounding noise is ~140 dB).
SQNR_CEILING_DB = 200.0


@dataclass(frozen=True)
class OutputMetrics:
    """Measured error of one output over all samples."""

    max_abs_error: float
    mean_abs_error: float
    rmse: float
    cosine: float  # mean over samples of the per-sample cosine similarity (one value per sample: over the samples)
    min_cosine: float  # the worst sample (one value per sample: the same as cosine)
    sqnr_db: float  # 10*log10(signal power / noise power) over all samples, capped at +-SQNR_CEILING_DB
    top1_agreement: float | None  # fraction of samples with the same arg-max (None: not class scores)
    top5_agreement: float | None  # fraction whose reference top-1 is in the converted top-5 (None: < 6 classes)
    num_classes: int | None
    positions: int | None = None  # class positions per sample (e.g. 40 timesteps of [1,40,6625]); None: one
    map_iou: float | None = None  # IoU of the thresholded dense maps (None: not a [0,1] map)
    map_threshold: float | None = None
    value_range: float | None = None  # width of the range the output's last op bounds it to (None: unbounded)
    ranked_rows: int | None = None  # K rows ranked by a TopK (edgekit.verify.ranked), compared tie-aware
    ranked_moved: int | None = None  # rows compared at another position (their scores tie), over the samples
    ranked_cutoff: int | None = None  # rows of the cut-off tie group, compared by score only
    ranked_below: int | None = None  # rows scoring below the threshold on both sides: no detection, not compared
    field_sqnr_db: float | None = None  # a table of fields of very different ranges: its worst field's SQNR
    field_worst: int | None = None  # that field's index (along field_axis)
    fields: int | None = None
    field_axis: int | None = None
    detections: tuple[int, int, int] | None = None  # a YOLOv8 table's detections: original, converted, found

    @property
    def is_classifier(self) -> bool:
        return self.num_classes is not None

    def to_dict(self) -> dict[str, Any]:
        """The figures under the names of an output's entry in verify's ``--json``."""
        return {
            "max_abs_error": self.max_abs_error,
            "mean_abs_error": self.mean_abs_error,
            "rmse": self.rmse,
            "cosine": self.cosine,
            "min_cosine": self.min_cosine,
            "sqnr_db": self.sqnr_db,
            "top1_agreement": self.top1_agreement,
            "top5_agreement": self.top5_agreement,
            "num_classes": self.num_classes,
            "class_positions": self.positions,
            "map_iou": self.map_iou,
            "map_threshold": self.map_threshold,
            "value_range": self.value_range,
            "ranked_rows": self.ranked_rows,
            "ranked_moved": self.ranked_moved,
            "ranked_cutoff": self.ranked_cutoff,
            "ranked_below": self.ranked_below,
            "field_sqnr_db": self.field_sqnr_db,
            "field_worst": self.field_worst,
            "fields": self.fields,
            "field_axis": self.field_axis,
            "detections": None if self.detections is None else dict(zip(("original", "converted", "found"),
                                                                          self.detections, strict=True)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputMetrics:
        """Back from :meth:`to_dict` once through JSON (which says NaN as null)."""
        return cls(
            max_abs_error=float_or_nan(d["max_abs_error"]), mean_abs_error=float_or_nan(d["mean_abs_error"]),
            rmse=float_or_nan(d["rmse"]), cosine=float_or_nan(d["cosine"]), min_cosine=float_or_nan(d["min_cosine"]),
            sqnr_db=float_or_nan(d["sqnr_db"]), top1_agreement=optional_float(d.get("top1_agreement")),
            top5_agreement=optional_float(d.get("top5_agreement")), num_classes=optional_int(d.get("num_classes")),
            positions=optional_int(d.get("class_positions")), map_iou=optional_float(d.get("map_iou")),
            map_threshold=optional_float(d.get("map_threshold")), value_range=optional_float(d.get("value_range")),
            ranked_rows=optional_int(d.get("ranked_rows")), ranked_moved=optional_int(d.get("ranked_moved")),
            ranked_cutoff=optional_int(d.get("ranked_cutoff")), ranked_below=optional_int(d.get("ranked_below")),
            field_sqnr_db=optional_float(d.get("field_sqnr_db")), field_worst=optional_int(d.get("field_worst")),
            fields=optional_int(d.get("fields")), field_axis=optional_int(d.get("field_axis")),
            detections=_detections(d.get("detections")),
        )


def _detections(value: Any) -> tuple[int, int, int] | None:
    if not value:
        return None
    return int(value["original"]), int(value["converted"]), int(value["found"])


def class_scores(values: np.ndarray) -> np.ndarray | None:
    """The (samples, classes) view of an output if it is shaped like a vector of class scores, else None.

    Such an output has, per sample, exactly one axis longer than 1 after
    dropping singleton axes (e.g. (1, 1000), (1, 1, 1, 10) or NCHW (1, 1000, 1, 1)) and at least 2
    classes. Integer outputs with ids rather than scores are not class scores, nor is one score per
    position, (1, 896, 1): a detector's anchor scores, whose arg-max anchor flips between neighbours
    that score alike without changing a detection.
    """
    import numpy as np
    if values.ndim < 2 or not np.issubdtype(values.dtype, np.floating):
        return None
    if values.ndim >= 3 and values.shape[-1] == 1 and values.shape[-2] > 1:
        return None  # one score per position ([1, 896, 1] detector anchors): the arg-max position is no class
    per_sample = [d for d in values.shape[1:] if d != 1]
    if len(per_sample) != 1 or per_sample[0] < 2:
        return None
    return values.reshape(values.shape[0], per_sample[0])


# Fewer classes than this count as class scores only when they are probabilities
# (a 4-value box or a 2-value regression head is not a classifier).
MIN_LOGIT_CLASSES = 10


def positional_class_scores(values: np.ndarray) -> np.ndarray | None:
    """The (samples * positions, classes) view of a softmax-like output with a class axis at the end, else None.

    For outputs with several positions per sample (a sequence [1, 40, 6625] of per-timestep
    probabilities, a per-pixel class map): the last axis has >= 2 classes, the other per-sample axes
    hold >= 2 positions, and the reference is probabilities along the last axis (non-negative,
    summing to 1). Regression heads and logits are not taken (their last axis means something else).
    """
    import numpy as np
    if values.ndim < 3 or not np.issubdtype(values.dtype, np.floating):
        return None
    classes = values.shape[-1]
    positions = int(np.prod(values.shape[1:-1]))
    if classes < 2 or positions < 2:
        return None
    view = values.reshape(-1, classes)
    return view if looks_like_probabilities(view) else None


def looks_like_probabilities(view: np.ndarray) -> bool:
    import numpy as np
    ref = view.astype(np.float64)
    return bool(np.all(ref >= 0) and np.allclose(ref.sum(axis=1), 1.0, atol=1e-3))


# A dense map: >= 2 per-sample axes this long (a heatmap, a segmentation or text-probability map).
MIN_MAP_SIDE = 8
DEFAULT_MAP_THRESHOLD = 0.5


def is_dense_map(values: np.ndarray) -> bool:
    """A [0, 1] map with >= 2 spatial axes of >= MIN_MAP_SIDE (sigmoid heatmaps, masks, DBNet text maps)."""
    import numpy as np
    if values.ndim < 3 or not np.issubdtype(values.dtype, np.floating):
        return False
    spatial = [d for d in values.shape[1:] if d >= MIN_MAP_SIDE]
    small = [d for d in values.shape[1:] if d < MIN_MAP_SIDE]
    if len(spatial) < 2 or any(d > 4 for d in small):
        return False
    return bool(np.min(values) >= 0.0 and np.max(values) <= 1.0 + 1e-6)


def map_iou(reference: np.ndarray, candidate: np.ndarray, threshold: float = DEFAULT_MAP_THRESHOLD) -> float:
    """Intersection over union of the two maps thresholded at ``threshold`` (1.0 when both are empty)."""
    import numpy as np
    a = reference >= threshold
    b = candidate >= threshold
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def looks_like_class_scores(view: np.ndarray) -> bool:
    """Probabilities (non-negative, rows sum to 1) of >= 2 classes, or a vector of >= 10 scores (logits)."""
    import numpy as np
    if view.shape[1] >= MIN_LOGIT_CLASSES:
        return True
    ref = view.astype(np.float64)
    return bool(np.all(ref >= 0) and np.allclose(ref.sum(axis=1), 1.0, atol=1e-3))


def _cosines(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    import numpy as np
    dot = np.sum(ref * out, axis=1)
    norm_ref = np.linalg.norm(ref, axis=1)
    norm_out = np.linalg.norm(out, axis=1)
    denom = norm_ref * norm_out
    both_zero = (norm_ref == 0) & (norm_out == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(denom > 0, dot / np.where(denom > 0, denom, 1.0), 0.0)
    cos = np.where(both_zero, 1.0, cos)  # two all-zero outputs agree exactly
    return np.clip(cos, -1.0, 1.0)


def sqnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB, capped at +-SQNR_CEILING_DB."""
    import numpy as np
    ref = reference.astype(np.float64).ravel()
    noise = float(np.sum((ref - candidate.astype(np.float64).ravel()) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0.0:
        return SQNR_CEILING_DB
    if signal == 0.0:
        return -SQNR_CEILING_DB
    return float(np.clip(10.0 * math.log10(signal / noise), -SQNR_CEILING_DB, SQNR_CEILING_DB))


def compute_metrics(name: str, reference: np.ndarray, candidate: np.ndarray,
                    map_threshold: float = DEFAULT_MAP_THRESHOLD, value_range: float | None = None,
                    ranked: RankedAlignment | None = None) -> OutputMetrics:
    """All metrics of one output. Shapes must match exactly (sample axis first). ``value_range``: the width of
    the range the model's last op bounds this output to (:mod:`edgekit.verify.bounds`), kept for the judge;
    ``ranked``: how a TopK-ranked output's rows were aligned before (:func:`edgekit.verify.ranked.align_ranked`).

    Class outputs get top-1/top-5 agreement (per position for a softmax over the last axis of a
    sequence or map); [0, 1] dense maps get the IoU of the maps thresholded at ``map_threshold``.
    """
    import numpy as np
    if reference.shape != candidate.shape:
        raise DataError(
            f"Output '{name}': reference shape {reference.shape} != converted shape {candidate.shape}.",
            hint="The converted model does not produce the same output shape as the original; "
            "check the conversion (and the layout of ONNX outputs).",
        )
    if reference.size == 0 or reference.shape[0] == 0:
        raise DataError(f"Output '{name}' has no values to compare.", hint="Use at least one sample.")
    ref = reference.astype(np.float64)
    out = candidate.astype(np.float64)
    if not np.all(np.isfinite(ref)):
        raise DataError(
            f"Output '{name}' of the ORIGINAL model contains NaN or Inf.",
            hint="Check the input data and preprocessing: the original model itself fails on it.",
        )
    nonfinite = ~np.isfinite(out)
    diff = np.abs(ref - np.where(nonfinite, 0.0, out))
    max_abs = math.inf if nonfinite.any() else float(diff.max())
    n = ref.shape[0]
    flat_ref = ref.reshape(n, -1)
    flat_out = np.where(nonfinite, 0.0, out).reshape(n, -1)
    if flat_ref.shape[1] == 1 and n > 1:
        # one value per sample (a score, a probability: silero VAD's [1, 1]): per sample a cosine only says whether
        # the signs agree (a probability rounded to 0 counts as 0), so it is taken over the samples instead
        cos = _cosines(flat_ref.T, flat_out.T)
        if nonfinite.any():
            cos = np.full(1, -1.0)
    else:
        cos = _cosines(flat_ref, flat_out)
        if nonfinite.any():
            cos = np.where(nonfinite.reshape(n, -1).any(axis=1), -1.0, cos)

    top1: float | None = None
    top5: float | None = None
    num_classes: int | None = None
    scores_ref = class_scores(reference)
    scores_out = class_scores(np.where(nonfinite, -np.inf, candidate).astype(candidate.dtype, copy=False))
    if scores_ref is not None and scores_out is not None and looks_like_class_scores(scores_ref):
        num_classes = int(scores_ref.shape[1])
        ref_top1 = np.argmax(scores_ref, axis=1)
        top1 = float(np.mean(ref_top1 == np.argmax(scores_out, axis=1)))
        if num_classes > 5:
            top5_idx = np.argsort(-scores_out, axis=1, kind="stable")[:, :5]
            top5 = float(np.mean(np.any(top5_idx == ref_top1[:, None], axis=1)))
    positions: int | None = None
    if top1 is None:
        per_position = positional_class_scores(reference)
        if per_position is not None:
            out_view = np.where(nonfinite, -np.inf, candidate).reshape(per_position.shape)
            num_classes = int(per_position.shape[1])
            positions = int(per_position.shape[0] // n)
            ref_top1 = np.argmax(per_position, axis=1)
            top1 = float(np.mean(ref_top1 == np.argmax(out_view, axis=1)))
            if num_classes > 5:
                top5_idx = np.argpartition(-out_view, 5, axis=1)[:, :5]
                top5 = float(np.mean(np.any(top5_idx == ref_top1[:, None], axis=1)))
    from edgekit.verify.detections import dense_detections
    from edgekit.verify.fields import field_error

    iou: float | None = None
    skip: tuple[int, ...] = ()
    dense = None
    if ranked is not None and ranked.detections_iou is not None:
        iou = ranked.detections_iou  # the detections read at the threshold, as sets (edgekit.verify.ranked)
        skip = (ranked.key,) if ranked.key is not None else ()
    elif top1 is None and is_dense_map(reference):
        iou = map_iou(reference, np.where(nonfinite, 0.0, candidate), map_threshold)
    elif top1 is None and ranked is None:
        dense = dense_detections(reference, candidate, map_threshold)  # a YOLOv8 table (edgekit.verify.detections)
        if dense is not None:
            iou, skip = dense.iou, dense.score_fields
    table = field_error(reference, candidate, map_threshold, skip, SQNR_CEILING_DB) \
        if (top1 is None and (iou is None or dense is not None)) or ranked else None
    return OutputMetrics(
        max_abs_error=max_abs,
        mean_abs_error=float(diff.mean()) if not nonfinite.any() else math.inf,
        rmse=float(np.sqrt(np.mean(diff**2))) if not nonfinite.any() else math.inf,
        cosine=float(cos.mean()),
        min_cosine=float(cos.min()),
        sqnr_db=sqnr_db(ref, np.where(nonfinite, 0.0, out)) if not nonfinite.any() else -SQNR_CEILING_DB,
        top1_agreement=top1,
        top5_agreement=top5,
        num_classes=num_classes,
        positions=positions,
        map_iou=iou,
        map_threshold=map_threshold if iou is not None else None,
        value_range=value_range,
        ranked_rows=ranked.rows if ranked else None,
        ranked_moved=ranked.moved if ranked else None,
        ranked_cutoff=ranked.cutoff if ranked else None,
        ranked_below=ranked.below if ranked and ranked.threshold is not None else None,
        field_sqnr_db=table.sqnr_db if table else None,
        field_worst=table.worst if table else None,
        fields=table.fields if table else None,
        field_axis=table.axis if table else None,
        detections=(dense.reference, dense.candidate, dense.matched) if dense else None,
    )


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 task accuracy of class scores (samples, ...) against integer labels."""
    import numpy as np
    view = class_scores(scores)
    if view is None:
        raise DataError(
            f"Labels were given but the output of shape {scores.shape[1:]} per sample is not a vector of class scores.",
            hint="Use --labels only with classifier models.",
        )
    if labels.shape[0] != view.shape[0]:
        raise DataError(
            f"{labels.shape[0]} labels for {view.shape[0]} samples.",
            hint="Give exactly one integer label per sample, in the order of the data.",
        )
    if labels.size and (labels.min() < 0 or labels.max() >= view.shape[1]):
        raise DataError(
            f"Labels range {int(labels.min())}..{int(labels.max())} is outside the model's {view.shape[1]} classes.",
            hint="Labels are class indices 0..N-1 in the order of the model's output.",
        )
    return float(np.mean(np.argmax(view, axis=1) == labels))
