"""Tables of fields of very different ranges (edgekit.verify.fields): a YOLOv8 detector's [1, 4 + classes, anchors]
output judged field by field. nudenet's YOLOv8n in plain int8 rounded every class score to 0 and passed verify at
cosine 0.9994, SQNR 29.4 dB over the tensor. Device-safe: numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.verify.compare import compare_outputs
from edgekit.verify.fields import field_axis, field_error
from edgekit.verify.thresholds import default_thresholds

pytestmark = pytest.mark.device


def _yolo(seed: int = 0, anchors: int = 300) -> np.ndarray:
    """[2, 22, anchors]: 4 box rows (pixels of a 320 input), 18 class-score rows; classes 0-2 score up to ~0.6,
    the others stay below 0.005 (not in the pictures)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((2, 22, anchors), np.float32)
    out[:, :4] = rng.uniform(0, 320, (2, 4, anchors))
    out[:, 4:7] = 1 / (1 + np.exp(-rng.normal(-4, 1.5, (2, 3, anchors))))
    out[:, 7:] = rng.uniform(0, 0.005, (2, 15, anchors))
    return out


def _judge(ref: np.ndarray, got: np.ndarray) -> tuple[bool, dict[str, object], list[str]]:
    [out] = compare_outputs({"det": ref}, {"det": got}, default_thresholds("int8"), 0.25)
    return out.passed, out.metrics.to_dict(), [f.metric for f in out.failures]


def test_scores_rounded_away_fail_though_the_tensor_looks_fine() -> None:
    ref = _yolo()
    got = ref.copy()
    got[:, :4] += np.random.default_rng(1).normal(0, 0.6, got[:, :4].shape)  # int8 boxes at a 1.27 step
    got[:, 4:] = 0.0  # every score below 0.63 rounded to 0: no detection left
    passed, metrics, failed = _judge(ref, got)
    assert metrics["cosine"] > 0.999 and metrics["sqnr_db"] > 40  # what verify judged before
    assert not passed and failed == ["field_sqnr_db"]
    assert metrics["fields"] == 22 and metrics["field_axis"] == 1 and metrics["field_sqnr_db"] == pytest.approx(0.0)
    assert 4 <= int(metrics["field_worst"]) <= 6  # type: ignore[call-overload]


def test_a_head_kept_float_passes_and_unread_classes_are_not_judged() -> None:
    ref = _yolo()
    rng = np.random.default_rng(2)
    got = ref.copy()
    got[:, :4] += rng.normal(0, 0.6, got[:, :4].shape)
    got[:, 4:7] *= 1 + rng.normal(0, 0.03, got[:, 4:7].shape)  # scores 3% off (int8 convolutions, float sigmoid)
    got[:, 7:] = rng.uniform(0, 0.005, got[:, 7:].shape)  # classes nobody reads: noise as large as the values
    passed, metrics, failed = _judge(ref, got)
    assert passed, (metrics, failed)
    assert metrics["field_sqnr_db"] is not None and 20 < float(metrics["field_sqnr_db"]) < 40  # type: ignore[arg-type]
    spurious = got.copy()
    spurious[0, 10, 5] = 0.7  # an unread class now detected on one anchor: judged, and it fails
    assert not _judge(ref, spurious)[0]
    small = ref.copy()
    small[:, 4:] *= 0.2  # no score reaches the 0.25 threshold anywhere (pictures without the objects)
    noisy = small.copy()
    noisy[:, 4:] *= 1 + rng.normal(0, 0.5, noisy[:, 4:].shape) ** 2  # tiny scores far off: no detection either way
    assert _judge(small, noisy)[0]
    zeroed = small.copy()
    zeroed[:, 4:] = 0.0  # but scores rounded to 0 are judged whatever they reach: a collapsed field fails
    assert not _judge(small, zeroed)[0]


def test_outputs_that_are_no_tables_of_mixed_fields_are_left_alone() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (4, 1000)).astype(np.float32)  # a classifier
    assert field_error(logits, logits, 0.5) is None
    dbnet = rng.uniform(0, 1, (2, 1, 160, 160)).astype(np.float32)  # a dense map: no axis of <= 128 fields
    assert field_error(dbnet, dbnet, 0.5) is None
    boxes = rng.uniform(0, 640, (2, 300, 4)).astype(np.float32)  # fields of similar ranges
    assert field_error(boxes, boxes * 0.5, 0.5) is None
    scores = rng.uniform(0, 1, (2, 10, 500)).astype(np.float32)  # a score head: 10 classes, one rarely seen
    scores[:, 3] *= 0.01
    assert field_error(scores, scores * 0.5, 0.5) is None  # all in score units: judged as a whole
    assert field_axis((22, 2100)) == 0 and field_axis((300, 6)) == 1 and field_axis((10,)) is None
    assert field_axis((100, 64)) is None  # 100 rows of 64 features: too few rows per field to be a table


def test_a_ranked_head_is_judged_on_its_boxes_and_classes_its_scores_as_detection_sets() -> None:
    """YOLO26's [1, 300, 6] after the TopK: boxes and class ids field by field; the score column by the
    detections it gives at the threshold (edgekit.verify.ranked), not by its SQNR."""
    rng = np.random.default_rng(4)
    ref = np.zeros((2, 300, 6), np.float32)
    ref[:, :, 4] = np.sort(rng.uniform(0, 0.05, (2, 300)), axis=1)[:, ::-1]
    ref[:, :5, 4] = [0.93, 0.9, 0.8, 0.7, 0.6]
    ref[:, :, :4] = rng.uniform(0, 640, (2, 300, 4))
    ref[:, :, 5] = rng.integers(0, 3, (2, 300))
    got = ref.copy()
    got[:, :5, 4] *= [1.05, 0.95, 1.04, 0.93, 1.06]  # scores of the detections a few % off: the same detections
    got[:, :, :4] += rng.normal(0, 1.0, (2, 300, 4))
    [out] = compare_outputs({"det": ref}, {"det": got}, default_thresholds("int8"), 0.3, ranked={"det": 300})
    assert out.passed, out.metrics.to_dict()
    assert out.metrics.fields == 6 and out.metrics.field_worst != 4
    wrong_class = got.copy()
    wrong_class[:, 1, 5] = (ref[:, 1, 5] + 1) % 3  # a detection of the wrong class
    [out] = compare_outputs({"det": ref}, {"det": wrong_class}, default_thresholds("int8"), 0.3, ranked={"det": 300})
    assert not out.passed and out.metrics.field_worst == 5
