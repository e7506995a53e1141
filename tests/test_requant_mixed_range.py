"""A join of very different ranges (edgekit.requant.sensitivity.mixed_range_joins): a detector head that puts
640-pixel boxes and 0..1 scores in one tensor shares one int8 scale between them, so int8 rounds every score to
0 (isbnx's YOLO26n: every full-int8 candidate of `edgekit tune` lost all its detections). Device-safe: the
TF-free .tflite builder and the runtime only."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.requant.sensitivity import MIXED_RANGE_RATIO, mixed_range_joins
from edgekit.requant.stats import collect_stats

pytestmark = pytest.mark.device


def _head(box_scale: float) -> bytes:
    """x [1,16] -> FC -> boxes [1,4] (x box_scale); FC -> LOGISTIC -> scores [1,3]; CONCATENATION -> [1,7] -> MUL
    by a constant -> output; a second branch (FC -> RELU) that joins nothing."""
    rng = np.random.default_rng(0)
    b = TFLiteBuilder("head")
    x = b.tensor("x", (1, 16))
    boxes = b.tensor("boxes", (1, 4))
    b.operator("FULLY_CONNECTED", [x, b.constant("wb", rng.standard_normal((4, 16)).astype(np.float32) * box_scale),
                                   -1], [boxes])
    logits = b.tensor("logits", (1, 3))
    b.operator("FULLY_CONNECTED", [x, b.constant("ws", rng.standard_normal((3, 16)).astype(np.float32)), -1], [logits])
    scores = b.tensor("scores", (1, 3))
    b.operator("LOGISTIC", [logits], [scores])
    joined = b.tensor("joined", (1, 7))
    b.operator("CONCATENATION", [boxes, scores], [joined], {"axis": 1})
    out = b.tensor("out", (1, 7))
    b.operator("MUL", [joined, b.constant("one", np.ones((1, 7), np.float32))], [out])
    side = b.tensor("side", (1, 3))
    b.operator("FULLY_CONNECTED", [x, b.constant("wr", rng.standard_normal((3, 16)).astype(np.float32)), -1], [side],
               {"fused_activation_function": "RELU"})
    return b.build([x], [out, side])


def _absmax(data: bytes) -> dict[str, float]:
    feeds = [np.random.default_rng(1).standard_normal((16, 1, 16)).astype(np.float32)]
    stats = collect_stats(data, feeds, histograms=False, label=None)
    return {n: t.absmax for n, t in stats.tensors.items()}


def test_the_join_of_boxes_and_scores_and_everything_after_it_is_found() -> None:
    data = _head(box_scale=100.0)  # boxes in the hundreds, scores within 0..1
    ranges = _absmax(data)
    assert ranges["boxes"] >= MIXED_RANGE_RATIO * ranges["scores"]
    names, joins = mixed_range_joins(data, ranges)
    # the join, what it feeds and what computes its inputs after the last MAC op (the sigmoid); not the FCs nor
    # the side branch
    assert joins == 1 and names == ("scores", "joined", "out")


def test_a_join_of_similar_ranges_is_left_int8() -> None:
    data = _head(box_scale=0.1)
    ranges = _absmax(data)
    assert ranges["boxes"] < MIXED_RANGE_RATIO * ranges["scores"]
    assert mixed_range_joins(data, ranges) == ((), 0)
