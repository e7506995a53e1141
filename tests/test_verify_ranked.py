"""Outputs ranked by a TopK (edgekit.verify.ranked): an end-to-end detector's rows of tied scores may come in either
order, and are then matched by value; anything else still counts in full. Device-safe: numpy and the TF-free
.tflite builder only."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.tflite.model import parse_model
from edgekit.verify.compare import compare_outputs
from edgekit.verify.ranked import align_ranked, ranked_rows
from edgekit.verify.thresholds import default_thresholds

pytestmark = pytest.mark.device

K = 12


def _detections(seed: int = 0) -> np.ndarray:
    """[2, K, 6] rows (x1, y1, x2, y2, score, class), scores sorted descending, a tie pair at ranks 3-4 and a
    four-way tie at the cut-off (ranks 8-11)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((2, K, 6), np.float32)
    rows[..., :4] = rng.uniform(0, 640, (2, K, 4))
    scores = np.array([0.9, 0.8, 0.7, 0.5, 0.5, 0.4, 0.3, 0.2, 1e-6, 1e-6, 1e-6, 1e-6], np.float32)
    rows[..., 4] = scores
    rows[..., 5] = rng.integers(0, 3, (2, K))
    return rows


def _judge(ref: np.ndarray, got: np.ndarray, k: int | None = K, threshold: float = 0.0,
           kind: str = "float32") -> tuple[bool, dict[str, object]]:
    """compare_outputs with the score threshold at 0 unless given (every row is then a detection: compared
    in full after the tie-aware alignment)."""
    [out] = compare_outputs({"det": ref}, {"det": got}, default_thresholds(kind), threshold, ranked={"det": k})
    return out.passed, out.metrics.to_dict()


def test_swapped_tied_rows_and_a_different_cutoff_pass_and_are_counted() -> None:
    ref = _detections()
    got = ref.copy()
    got[:, [3, 4]] = got[:, [4, 3]]  # a tie at 0.5: the other runtime ordered it the other way
    got[:, 4, 4] += 2e-8
    got[0, 9, :4] = [1, 2, 3, 4]  # the cut-off tie (1e-6): a different candidate made the list
    passed, metrics = _judge(ref, got)
    assert passed, metrics
    assert metrics["ranked_rows"] == K and metrics["ranked_moved"] == 4  # 2 rows x 2 samples
    assert metrics["ranked_cutoff"] == 1  # the one row without a counterpart, compared by score only
    # the same arrays compared position by position (no TopK upstream) fail
    assert not _judge(ref, got, None)[0]


def test_a_wrong_box_or_score_still_fails() -> None:
    ref = _detections()
    wrong_box = ref.copy()
    wrong_box[1, 2, 0] += 50.0  # rank 2 has no tie partner: nothing to swap with
    passed, metrics = _judge(ref, wrong_box)
    assert not passed and metrics["ranked_moved"] == 0
    wrong_scores = ref.copy()
    wrong_scores[..., 4] *= 0.5  # every score off: no ties are widened, every position compared as it is
    _, metrics = _judge(ref, wrong_scores)
    assert metrics["ranked_moved"] == 0 and metrics["ranked_cutoff"] == 0
    assert metrics["max_abs_error"] == pytest.approx(0.45)  # the whole error of the top score is still there
    one_wrong = ref.copy()  # the best candidate scored 0.75 instead of 0.9: it ranks second on the other side
    one_wrong[:, [0, 1]] = one_wrong[:, [1, 0]]
    one_wrong[:, 1, 4] = 0.75
    _, metrics = _judge(ref, one_wrong)
    assert metrics["max_abs_error"] == pytest.approx(0.15)  # matched by value, its score error counts
    assert metrics["ranked_cutoff"] == 0  # every row found its counterpart: every box was compared


def test_outputs_without_a_score_column_or_rank_axis_are_left_alone() -> None:
    ref = np.random.default_rng(1).standard_normal((2, K, 4)).astype(np.float32)  # no sorted column
    assert align_ranked(ref, ref[:, ::-1], K)[2] is None
    assert align_ranked(ref, ref, K + 1)[2] is None  # no axis of length K


def _topk_model(k: int) -> bytes:
    """scores [1, 20] -> TOPK_V2 (k) -> GATHER of boxes [1, 20, 4] by the indices -> CONCATENATION with the
    values: a [1, k, 5] ranked output; a second output [1, 20] that no TopK feeds."""
    b = TFLiteBuilder("ranked test")
    scores = b.tensor("scores", (1, 20))
    boxes = b.tensor("boxes", (1, 20, 4))
    kt = b.constant("k", [k], "int32")
    values, idx = b.tensor("values", (1, k)), b.tensor("idx", (1, k), "int32")
    b.operator("TOPK_V2", [scores, kt], [values, idx])
    picked = b.tensor("picked", (1, 1, k, 4))
    b.operator("GATHER", [boxes, idx], [picked])  # the structure is what is read, not the options
    shape = b.constant("shape", [1, k, 4], "int32")
    flat = b.tensor("flat", (1, k, 4))
    b.operator("RESHAPE", [picked, shape], [flat], {"new_shape": [1, k, 4]})
    vshape = b.constant("vshape", [1, k, 1], "int32")
    v3 = b.tensor("v3", (1, k, 1))
    b.operator("RESHAPE", [values, vshape], [v3], {"new_shape": [1, k, 1]})
    det = b.tensor("det", (1, k, 5))
    b.operator("CONCATENATION", [flat, v3], [det], {"axis": 2})
    plain = b.tensor("plain", (1, 20))
    b.operator("RELU", [scores], [plain])
    return b.build([scores, boxes], [det, plain])


def test_ranked_rows_finds_the_topk_upstream_of_an_output() -> None:
    model = parse_model(_topk_model(8), "ranked")
    det, plain = model.main.outputs
    assert ranked_rows(model, [det, plain]) == [8, None]


def test_a_broken_model_gets_no_rows_off_as_cut_off_candidates() -> None:
    """An int8 end2end head whose single output scale rounds every score to 0 (scale ~4 for boxes, scores and
    classes in one tensor): the median score error is small (most reference scores are ~0), but no row may be
    compared by score only, so its wrong boxes show."""
    ref = _detections()
    ref[:, 2:, 4] = 1e-6  # two detections, the rest of the list scoring ~0 (as in a real end2end output)
    broken = ref.copy()
    broken[..., 4] = 0.0
    broken[..., :4] = np.random.default_rng(5).uniform(-50, 80, (2, K, 4))
    passed, metrics = _judge(ref, broken)
    assert not passed
    assert metrics["ranked_cutoff"] == 0
    assert metrics["max_abs_error"] > 400  # the boxes count, not just the scores (0.9)


def test_only_rows_scoring_at_the_cut_off_may_be_compared_by_score_only() -> None:
    ref = _detections()
    ref[:, 7:, 4] = [5e-6, 3.5e-6, 2e-6, 1e-6, 1e-6]  # a chain of near-ties reaching up from the cut-off
    got = ref.copy()
    got[:, 11, 4] += 4e-7  # tie band 1.7e-6 (2 x 4e-7 + 1e-6 x 0.9): one group 7-11, but only 9-11 score at the cut-off
    got[0, 7, :4] = [1, 2, 3, 4]  # a wrong box at rank 7 (score 5e-6, chained to the cut-off group)
    passed, metrics = _judge(ref, got)
    assert not passed and metrics["ranked_cutoff"] == 0
    got = ref.copy()
    got[:, 11, 4] += 4e-7
    got[0, 10, :4] = [1, 2, 3, 4]  # a different candidate at the cut-off score: compared by score only
    passed, metrics = _judge(ref, got)
    assert passed and metrics["ranked_cutoff"] == 1


def test_rows_below_the_score_threshold_on_both_sides_are_not_compared() -> None:
    """int8 of an end2end detector: the detections agree, the ~0-scoring rows under them come in another order
    with other boxes (their scores tie at 0 after rounding). Nobody reads those rows: at the threshold the
    model is read at, they are not compared; a detection lost or added still fails."""
    ref = _detections()
    ref[:, 3:, 4] = np.linspace(0.2, 1e-6, K - 3)  # three detections, the rest below 0.3
    got = ref.copy()
    got[:, :3, :4] += 4.0  # int8: boxes a few pixels off
    got[:, 3:, 4] = 0.0  # the rest rounded to 0 ...
    got[:, 3:, :4] = np.random.default_rng(2).uniform(0, 640, (2, K - 3, 4))  # ... in another order
    assert not _judge(ref, got, kind="int8")[0]  # every row read as a detection: the junk rows' boxes fail
    passed, metrics = _judge(ref, got, threshold=0.3, kind="int8")
    assert passed, metrics
    assert metrics["ranked_below"] == 2 * (K - 3) and metrics["map_threshold"] == 0.3
    assert metrics["map_iou"] == 1.0  # the same 3 detections per sample on both sides
    lost = got.copy()
    lost[:, 2, 4] = 0.1  # the third detection lost (score 0.7 -> 0.1): invisible next to the boxes in cosine/SQNR
    passed, metrics = _judge(ref, lost, threshold=0.3, kind="int8")
    assert not passed and metrics["map_iou"] == pytest.approx(4 / 6) and metrics["cosine"] > 0.999
    spurious = got.copy()
    spurious[:, 3, 4] = 0.6  # a detection the reference does not have
    passed, metrics = _judge(ref, spurious, threshold=0.3, kind="int8")
    assert not passed and metrics["map_iou"] == pytest.approx(6 / 8)
    empty = ref.copy()  # a page without detections: 12 near-zero scores, rounded differently by int8
    empty[..., 4] = np.linspace(1e-4, 1e-6, K)
    noisy = empty.copy()
    noisy[..., 4] = np.random.default_rng(3).permutation(empty[0, :, 4])
    passed, metrics = _judge(empty, noisy, threshold=0.3, kind="int8")
    assert passed and metrics["min_cosine"] == 1.0 and metrics["map_iou"] == 1.0  # not a cosine of noise
    logits = ref.copy()
    logits[..., 4] *= 10.0  # scores outside [0, 1]: no threshold applies, every row compared
    assert align_ranked(logits, logits, K, 0.3)[2].threshold is None  # type: ignore[union-attr]
