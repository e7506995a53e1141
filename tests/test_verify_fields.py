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
    assert not passed and sorted(failed) == ["field_sqnr_db", "map_iou"]
    assert metrics["map_iou"] == 0.0 and metrics["detections"]["converted"] == 0  # type: ignore[index]
    assert metrics["detections"]["original"] > 10  # type: ignore[index]
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
    assert metrics["field_worst"] in (0, 1, 2, 3)  # the boxes are judged by SQNR, the scores by their detections
    assert metrics["field_sqnr_db"] is not None and 35 < float(metrics["field_sqnr_db"]) < 60  # type: ignore[arg-type]
    spurious = got.copy()
    spurious[0, 10, :60] = 0.7  # an unread class now detected on 60 anchors: detections nobody had
    passed, metrics, failed = _judge(ref, spurious)
    assert not passed and failed == ["map_iou"]
    small = ref.copy()
    small[:, 4:] *= 0.2  # no score reaches the 0.25 threshold anywhere (pictures without the objects)
    noisy = small.copy()
    noisy[:, 4:] *= 1 + rng.normal(0, 0.5, noisy[:, 4:].shape) ** 2  # tiny scores far off: no detection either way
    assert _judge(small, noisy)[0]
    zeroed = small.copy()
    zeroed[:, 4:] = 0.0  # but scores rounded to 0 are judged whatever they reach: a collapsed field fails
    passed, _, failed = _judge(small, zeroed)
    assert not passed and failed == ["field_sqnr_db"]


def _faces(seed: int) -> np.ndarray:
    """[3, 22, 400]: three pictures, each with two objects seen by a cluster of 6 anchors (scores 0.3-0.8 on
    their class, boxes a few pixels apart), the other anchors scoring < 0.05 on random boxes."""
    rng = np.random.default_rng(seed)
    out = np.zeros((3, 22, 400), np.float32)
    out[:, 0:2] = rng.uniform(20, 300, (3, 2, 400))
    out[:, 2:4] = rng.uniform(8, 40, (3, 2, 400))
    out[:, 4:] = rng.uniform(0, 0.05, (3, 18, 400))
    for s in range(3):
        for obj, (cls, cx, cy) in enumerate(((1, 80.0, 90.0), (12, 220.0, 200.0))):
            rows = slice(10 * obj, 10 * obj + 6)
            out[s, 0, rows] = cx + rng.normal(0, 2, 6)
            out[s, 1, rows] = cy + rng.normal(0, 2, 6)
            out[s, 2:4, rows] = 60 + rng.normal(0, 2, (2, 6))
            out[s, 4 + cls, rows] = rng.uniform(0.3, 0.8, 6)
    return out


def test_a_dense_detector_is_judged_on_the_detections_users_read() -> None:
    """nudenet's YOLOv8n with a float head on real faces: class scores 20% off (12.7 dB on the worst score field,
    below the 15 dB a tensor must meet), the same detections found: it passes on them; a lost object, a box
    moved off its object or a wrong class fails."""
    ref = _faces(5)
    rng = np.random.default_rng(6)
    got = ref.copy()
    got[:, :4] += rng.normal(0, 0.8, got[:, :4].shape)
    got[:, 4:] *= 1 + rng.normal(0, 0.2, got[:, 4:].shape)  # scores 20% off
    got[:, 4:] = np.clip(got[:, 4:], 0, 1)
    from edgekit.verify.fields import field_error

    assert field_error(ref, got, 0.25).sqnr_db < 15  # type: ignore[union-attr]  # what the field rule alone failed
    passed, metrics, failed = _judge(ref, got)
    assert passed, (metrics, failed)
    assert metrics["detections"] == {"original": 6, "converted": 6, "found": 6}
    lost = got.copy()
    lost[:, 4 + 12, 10:16] *= 0.2  # the second object's scores below the threshold: 3 of 6 detections lost
    passed, metrics, failed = _judge(ref, lost)
    assert not passed and failed == ["map_iou"] and metrics["map_iou"] == pytest.approx(0.5)
    moved = got.copy()
    moved[:, 0, 0:6] += 60  # the first object's box one width to the right: not the same detection
    passed, metrics, failed = _judge(ref, moved)
    assert not passed and "map_iou" in failed and metrics["detections"]["found"] == 3  # type: ignore[index]
    swapped = got.copy()
    swapped[:, [4 + 1, 4 + 2], 0:6] = swapped[:, [4 + 2, 4 + 1], 0:6]  # the first object now of class 2
    passed, metrics, _ = _judge(ref, swapped)
    assert not passed and metrics["detections"]["found"] == 3  # type: ignore[index]


def test_nms_keeps_one_box_per_object_and_class() -> None:
    from edgekit.verify.detections import detect

    table = np.zeros((7, 4), np.float64)  # 4 box fields + 3 classes, 4 anchors
    table[:4, 0] = [100, 100, 50, 50]
    table[:4, 1] = [102, 101, 50, 50]  # the same object, seen again
    table[:4, 2] = [102, 101, 50, 50]  # the same place, another class
    table[:4, 3] = [200, 200, 50, 50]
    table[4, :2] = [0.9, 0.8]
    table[5, 2] = 0.6
    table[6, 3] = 0.2  # below the threshold
    boxes, classes = detect(table, 0.5)
    assert classes.tolist() == [0, 1] and boxes[0].tolist() == [100, 100, 50, 50]


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


def test_tables_without_pixel_boxes_are_not_read_as_detections() -> None:
    """ddddocr's YOLOX grid ([1, 3549, 6]: raw offsets within +-2.3, objectness and class score) and boxes
    normalized to 0..1 are no YOLOv8 table: no detections are read from them."""
    from edgekit.verify.detections import dense_detections

    rng = np.random.default_rng(7)
    grid = np.concatenate([rng.normal(0, 0.8, (2, 3549, 4)), rng.uniform(0, 1, (2, 3549, 2))], axis=2)
    assert dense_detections(grid, grid, 0.5) is None
    normalized = _faces(8)
    normalized[:, :4] /= 320
    assert dense_detections(normalized, normalized, 0.25) is None
    assert dense_detections(_faces(8), _faces(8), None) is None  # no threshold given
    found = dense_detections(_faces(8), _faces(8), 0.25)
    assert found is not None and found.iou == 1.0 and found.reference == 6


def test_a_segmentation_head_reads_its_classes_as_detections_and_judges_its_mask_coefficients() -> None:
    """YOLOv8-seg: [1, 4 + classes + 32, anchors], the mask coefficients (which go negative) after the class
    scores. The classes are read as detections; the coefficients keep their SQNR judge."""
    from edgekit.verify.detections import dense_detections

    rng = np.random.default_rng(9)
    faces = _faces(10)
    coefficients = rng.normal(0, 1.0, (3, 8, 400)).astype(np.float32)
    ref = np.concatenate([faces, coefficients], axis=1)  # 4 boxes, 18 classes, 8 coefficients
    found = dense_detections(ref, ref, 0.25)
    assert found is not None and found.classes == 18 and found.reference == 6
    got = ref.copy()
    got[:, 4:22] *= 1 + rng.normal(0, 0.2, got[:, 4:22].shape)
    got[:, 4:22] = np.clip(got[:, 4:22], 0, 1)
    passed, metrics, failed = _judge(ref, got)
    assert passed, (metrics, failed)
    noisy = got.copy()
    noisy[:, 22:] += rng.normal(0, 0.5, noisy[:, 22:].shape)  # the masks' coefficients 6 dB off
    passed, metrics, failed = _judge(ref, noisy)
    assert not passed and failed == ["field_sqnr_db"] and int(metrics["field_worst"]) >= 22  # type: ignore[call-overload]
    assert metrics["detections"] == {"original": 6, "converted": 6, "found": 6}


def test_the_report_counts_the_detections_and_says_when_there_were_none() -> None:
    from edgekit.verify.compare import InputSource, VerifyReport

    def render(ref: np.ndarray, got: np.ndarray) -> str:
        thresholds = default_thresholds("int8")
        outputs = compare_outputs({"det": ref}, {"det": got}, thresholds, 0.25)
        return VerifyReport(samples=3, runtime="test 0", input_source=InputSource.DATA, quantization="int8",
                            thresholds=thresholds, outputs=outputs).render()

    ref = _faces(11)
    assert "6 of the original's 6 found, 6 in the converted model" in render(ref, ref.copy())
    ref[:, 4:] *= 0.2  # nothing reaches 0.25: pictures without the objects
    text = render(ref, ref.copy())
    assert "0 of the original's 0 found" in text and "its class scores were not judged" in text
