"""A YOLOv8-style detector's dense table read as its users read it: detections (device-safe).

A YOLOv8 / YOLO11 head returns ``[1, 4 + classes, anchors]`` (or its transpose): for every anchor a box
(centre x, centre y, width, height in input pixels) and one 0..1 score per class. Its users keep the anchors whose
best class scores at least a threshold, suppress overlapping boxes of one class (NMS) and read what is left. So
verify reads both sides that way and compares the detections as sets, as it does for a TopK-ranked head
(:mod:`edgekit.verify.ranked`): a detection of the original is found when the converted model has one of the same
class whose box overlaps it by IoU >= 0.5 (the match PASCAL VOC and COCO's mAP@0.5 count), and ``map_iou`` =
found / (original's + converted's - found) is judged against ``--min-iou`` as a thresholded map's is. The box fields
are still judged by their SQNR (:mod:`edgekit.verify.fields`); the score fields are not, unless a field collapsed
to one value: a class score 20 % off moves a detection near the threshold in or out, which the set counts, and
nothing else of it is read (nudenet's YOLOv8n with a float head: score fields at 9-14 dB, 38 of its 41
detections found at mean box IoU 0.95, 39 given).

Recognized only when the table's first four fields reach 32 or more (box coordinates in input pixels; not YOLOX's
raw grid offsets nor boxes normalized to 0..1, which are judged as before) and at least the next one is a
probability (within [0, 1] in the original): the run of such fields are the classes (a YOLOv5 head's objectness
field is then read as one more class). Fields after that run (a YOLOv8-seg head's 32 mask coefficients, which
go negative) are no scores: they keep their SQNR judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgekit.verify.fields import MIXED_RATIO, field_axis

if TYPE_CHECKING:
    import numpy as np

BOX_FIELDS = 4
NMS_IOU = 0.45  # overlapping boxes of one class kept once (YOLOv5's and nudenet's default)
MATCH_IOU = 0.5  # a converted detection of the same class overlapping this much is the same detection
MAX_CANDIDATES = 3000  # boxes above the threshold per sample considered for NMS (the highest scoring)
MAX_DETECTIONS = 300  # detections kept per sample (Ultralytics' max_det)


@dataclass(frozen=True)
class DenseDetections:
    """The two sides' detections, summed over the samples."""

    axis: int  # the fields' axis, counted with the sample axis
    classes: int
    reference: int  # detections of the original
    candidate: int  # detections of the converted model
    matched: int  # the original's detections found by the converted model
    threshold: float

    @property
    def score_fields(self) -> tuple[int, ...]:
        return tuple(range(BOX_FIELDS, BOX_FIELDS + self.classes))

    @property
    def iou(self) -> float:
        either = self.reference + self.candidate - self.matched
        return self.matched / either if either else 1.0


def _fields(values: np.ndarray, axis: int) -> np.ndarray:
    """(samples, fields, rows) in float64."""
    import numpy as np

    moved = np.moveaxis(values.astype(np.float64), axis, 1)
    return moved.reshape(moved.shape[0], moved.shape[1], -1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (cx, cy, w, h) box with each of (n, 4)."""
    import numpy as np

    x0 = np.maximum(box[0] - box[2] / 2, boxes[:, 0] - boxes[:, 2] / 2)
    x1 = np.minimum(box[0] + box[2] / 2, boxes[:, 0] + boxes[:, 2] / 2)
    y0 = np.maximum(box[1] - box[3] / 2, boxes[:, 1] - boxes[:, 3] / 2)
    y1 = np.minimum(box[1] + box[3] / 2, boxes[:, 1] + boxes[:, 3] / 2)
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = np.abs(box[2] * box[3]) + np.abs(boxes[:, 2] * boxes[:, 3]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def detect(table: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One sample's (fields, rows) table -> (boxes (n, 4), classes (n,)) after the threshold and class-wise NMS,
    highest score first, at most MAX_DETECTIONS of them."""
    import numpy as np

    scores = table[BOX_FIELDS:]
    best = scores.max(axis=0)
    cls = scores.argmax(axis=0)
    rows = np.flatnonzero(np.isfinite(best) & (best >= threshold))
    rows = rows[np.argsort(-best[rows], kind="stable")][:MAX_CANDIDATES]
    boxes = table[:BOX_FIELDS, rows].T
    classes = cls[rows]
    keep: list[int] = []
    alive = np.ones(rows.size, dtype=bool)
    for i in range(rows.size):
        if not alive[i]:
            continue
        keep.append(i)
        if len(keep) >= MAX_DETECTIONS:
            break
        later = i + 1 + np.flatnonzero(alive[i + 1:] & (classes[i + 1:] == classes[i]))
        if later.size:
            alive[later[_iou(boxes[i], boxes[later]) > NMS_IOU]] = False
    return boxes[keep], classes[keep]


def _found(ref: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray]) -> int:
    """How many of the reference's detections the candidate has (same class, IoU >= MATCH_IOU; each candidate
    detection matched once, the reference's highest scoring first)."""
    import numpy as np

    boxes_r, cls_r = ref
    boxes_o, cls_o = got
    free = np.ones(cls_o.size, dtype=bool)
    found = 0
    for box, c in zip(boxes_r, cls_r, strict=True):
        pool = np.flatnonzero(free & (cls_o == c))
        if not pool.size:
            continue
        overlap = _iou(box, boxes_o[pool])
        j = int(np.argmax(overlap))
        if overlap[j] >= MATCH_IOU:
            free[pool[j]] = False
            found += 1
    return found


def dense_detections(reference: np.ndarray, candidate: np.ndarray, threshold: float | None
                     ) -> DenseDetections | None:
    """Both sides' detections when ``reference`` (sample axis first) is a YOLOv8-style table (module docstring)
    and a threshold is given, else None."""
    import numpy as np

    if threshold is None or reference.shape != candidate.shape or reference.ndim < 3:
        return None
    axis = field_axis(tuple(int(d) for d in reference.shape[1:]))
    if axis is None:
        return None
    ref = _fields(reference, axis + 1)
    count = ref.shape[1]
    if count <= BOX_FIELDS or not np.all(np.isfinite(ref)):
        return None
    classes = 0  # the run of probability fields after the boxes (a YOLOv8-seg head's mask coefficients follow)
    while BOX_FIELDS + classes < count and float(ref[:, BOX_FIELDS + classes].min()) >= 0.0 \
            and float(ref[:, BOX_FIELDS + classes].max()) <= 1.0:
        classes += 1
    if not classes:
        return None
    box_peak = np.max(np.abs(ref[:, :BOX_FIELDS]), axis=(0, 2))
    if not np.all(box_peak >= MIXED_RATIO):
        return None  # no boxes in input pixels (YOLOX's raw grid offsets, boxes normalized to 0..1)
    ref = ref[:, :BOX_FIELDS + classes]
    out = _fields(np.where(np.isfinite(candidate), candidate, 0.0), axis + 1)[:, :BOX_FIELDS + classes]
    n_ref = n_out = matched = 0
    for s in range(ref.shape[0]):
        found_r, found_o = detect(ref[s], threshold), detect(out[s], threshold)
        n_ref += int(found_r[1].size)
        n_out += int(found_o[1].size)
        matched += _found(found_r, found_o)
    return DenseDetections(axis=axis + 1, classes=classes, reference=n_ref, candidate=n_out, matched=matched,
                           threshold=threshold)
