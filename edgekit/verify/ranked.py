"""Outputs ranked by a TopK: an end-to-end detector's ``[1, 300, 6]`` list of its best candidates (device-safe).

YOLOv10, YOLO26 and RT-DETR exports end in a TopK that picks the K best-scoring candidates, sorted by score,
and gather each one's box, score and class into a row. Where two candidates score alike, which comes first
(and, at the cut-off, which one makes the list at all) depends on the last bit of the two scores: onnxruntime
and a .tflite, or the workstation and a board, order such ties differently while computing the same values.
Compared position by position, a swapped pair of rows looks like a wrong box.

So a ranked output is compared the way its consumer reads it: the score column (the sorted one) position by
position, and the rows of candidates whose scores tie within the scores' own measured error matched to each
other by value (nearest first). Rows at the cut-off (scoring within that error of the K-th score, where the two
sides may have picked different candidates of equal score) that find no counterpart on the other side are
compared by score only, unless a score is off by more than 2.5% of the range (then every row is compared in
full). Scores whose median error exceeds 1% of their range are no ties: the output is then compared position by
position. The alignment never changes a value: a wrong box, score or class still counts in full, and how many
rows moved is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from edgekit.tflite.model import Operator, TFLiteModel

_MAX_DEPTH = 64
_TIE_RTOL = 1e-6  # scores this close (relative to the largest) tie even where both sides agree exactly
_MAX_NOISE = 0.01  # a median score error above this share of the scores' range: no ties, a wrong model
_MAX_TIE = 0.05  # a tie band (twice the largest score error) wider than this share of the range: no cut-off rows
_SAME_ROW_RTOL = 1e-3  # at the cut-off, a matched row this close (of the values' largest) is the same candidate


def ranked_rows(model: TFLiteModel, tensors: list[int]) -> list[int | None]:
    """For each output tensor index, K when a TOPK_V2 upstream of it ranks K rows (the op's K, the last dim of
    its values), else None. Outputs of a graph without TOPK_V2 are never ranked."""
    graph = model.main
    topk = [op for op in graph.operators if op.name == "TOPK_V2"]
    if not topk:
        return [None] * len(tensors)
    producer: dict[int, Operator] = {t: op for op in graph.operators for t in op.outputs}

    def k_above(index: int) -> int | None:
        seen: set[int] = set()
        frontier = [index]
        for _ in range(_MAX_DEPTH):
            nxt: list[int] = []
            for t in frontier:
                op = producer.get(t)
                if op is None or op.index in seen:
                    continue
                seen.add(op.index)
                if op.name == "TOPK_V2" and op.outputs and op.outputs[0] >= 0:
                    shape = graph.tensor(op.outputs[0]).shape
                    if shape and shape[-1] > 1:
                        return int(shape[-1])
                nxt.extend(i for i in op.inputs if i >= 0)
            if not nxt:
                return None
            frontier = nxt
        return None

    out: list[int | None] = []
    for index in tensors:
        k = k_above(index)
        shape = graph.tensor(index).shape
        out.append(k if k is not None and k in shape[1:] else None)
    return out


@dataclass(frozen=True)
class RankedAlignment:
    """How a ranked output's rows were matched: rows compared at another position than their own (ties), and
    rows of the cut-off tie group compared by score only (summed over the samples)."""

    rows: int  # K rows per sample
    moved: int
    cutoff: int  # rows of the cut-off group with no counterpart on the other side
    below: int = 0  # rows scoring below the score threshold on both sides (no detection either side): not compared
    threshold: float | None = None  # that threshold (None: scores are not probabilities, or none was given)
    detections_iou: float | None = None  # rows at or above it on both sides / on either side (None: no threshold)
    key: int | None = None  # the score column among a row's values


def _rank_axis(shape: tuple[int, ...], k: int) -> int | None:
    axes = [a for a in range(1, len(shape)) if shape[a] == k]
    return axes[0] if len(axes) == 1 else None


def _key_column(ref: np.ndarray) -> int | None:
    """The column sorted non-increasing along the rows in every sample (the TopK's scores), else None."""
    import numpy as np

    sorted_cols = [c for c in range(ref.shape[2]) if np.all(np.diff(ref[:, :, c], axis=1) <= 0)
                   and np.ptp(ref[:, :, c]) > 0]
    if not sorted_cols:
        return None
    return max(sorted_cols, key=lambda c: float(np.ptp(ref[:, :, c])))


def _greedy_match(r: np.ndarray, o: np.ndarray) -> list[int]:
    """For each reference row, the candidate row matched to it: nearest pairs first, a row's own position
    preferred on equal distance."""
    import numpy as np

    m = r.shape[0]
    dist = np.max(np.abs(r[:, None, :] - o[None, :, :]), axis=2)
    offset = np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])
    order = np.lexsort((offset.ravel(), dist.ravel()))
    match = [-1] * m
    used = np.zeros(m, dtype=bool)
    left = m
    for flat_index in order:
        i, j = divmod(int(flat_index), m)
        if match[i] < 0 and not used[j]:
            match[i], used[j] = j, True
            left -= 1
            if not left:
                break
    return match


def align_ranked(reference: np.ndarray, candidate: np.ndarray, k: int | None, threshold: float | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, RankedAlignment | None]:
    """``reference`` and ``candidate`` (sample axis first, same shape) with the candidate's rows along the
    K-long axis put in the reference's order wherever their scores tie; the non-score columns of cut-off rows
    without a counterpart set to zero on both sides (compared by score only). Unchanged, with None, when ``k`` is
    None (no TopK ranks the output: :func:`ranked_rows`), the output has no single K-long axis, no per-row values
    besides the score, or no sorted score column.

    ``threshold``: the score a detection is read at. When the scores are probabilities (within [0, 1]), a row
    scoring below it on both sides is no detection on either: it is set to zero on both sides (nobody reads its
    box, and its score only says "no detection" on both; a page without detections is then two equal zero
    outputs, not a cosine of 300 near-zero scores). A row above it on either side is
    compared in full, and the rows read as detections on each side are compared as sets: ``detections_iou`` =
    rows detected on both sides / rows detected on either (after the alignment), judged as verify judges a
    thresholded map (``map_iou``): a score error is small next to a box's pixels in cosine and SQNR, a lost
    detection is not small here."""
    import numpy as np

    if k is None:
        return reference, candidate, None
    axis = _rank_axis(reference.shape, k)
    if axis is None or reference.shape != candidate.shape or not np.all(np.isfinite(candidate)):
        return reference, candidate, None
    n = reference.shape[0]
    ref = np.moveaxis(reference.astype(np.float64), axis, 1).reshape(n, k, -1)
    out = np.moveaxis(candidate.astype(np.float64), axis, 1).reshape(n, k, -1)
    if ref.shape[2] < 2:
        return reference, candidate, None
    key = _key_column(ref)
    if key is None:
        return reference, candidate, None
    aligned = out.copy()
    moved = cutoff = below = 0
    others = np.array([c for c in range(ref.shape[2]) if c != key])
    probabilities = threshold is not None and float(np.min(ref[:, :, key])) >= 0.0 and float(np.max(ref[:, :, key])) <= 1.0
    for s in range(n):
        keys_r, keys_o = ref[s, :, key], out[s, :, key]
        # neighbours tie when their reference scores are closer than twice the largest score error: a candidate
        # may sit that much higher or lower on the other side (near 0 a sigmoid's scores are multiples of
        # 2**-24, and one step moves a candidate into the next group). Scores whose typical (median) error
        # exceeds _MAX_NOISE of their range are no ties but a wrong model: compared position by position
        err = np.abs(keys_r - keys_o)
        if float(np.median(err)) > _MAX_NOISE * float(np.ptp(keys_r)):
            continue
        tie = 2.0 * float(np.max(err)) + _TIE_RTOL * float(np.max(np.abs(keys_r)))
        # most of a detector's K scores sit near 0, so a model whose top scores are wrong can have a small median
        # error and a tie band as wide as the list: its rows are still matched by value, but none is let off
        # its box as a cut-off candidate
        exempt = tie <= _MAX_TIE * float(np.ptp(keys_r))
        starts = [0, *[i + 1 for i in np.flatnonzero(keys_r[:-1] - keys_r[1:] > tie)]]
        for g, start in enumerate(starts):
            end = starts[g + 1] if g + 1 < len(starts) else k
            if end - start < 2:
                continue
            match = _greedy_match(ref[s, start:end], out[s, start:end])
            for i, j in enumerate(match):
                aligned[s, start + i] = out[s, start + j]
                moved += int(i != j)
            if end == k and exempt:  # the cut-off: the two sides may hold different candidates of the same score
                # only rows scoring within the tie band of the last one (the cut-off score) may differ
                rows = np.array([r for r in range(start, end) if keys_r[r] <= keys_r[k - 1] + tie], dtype=int)
                gap = np.max(np.abs(ref[s][np.ix_(rows, others)] - aligned[s][np.ix_(rows, others)]), axis=1)
                same = gap <= _SAME_ROW_RTOL * max(float(np.max(np.abs(ref[s][:, others]))), 1e-30)
                lone = rows[~same]  # no candidate of the other side matches it: compared by score only
                aligned[s][np.ix_(lone, others)] = 0.0
                ref[s][np.ix_(lone, others)] = 0.0
                cutoff += int(lone.size)
    both = either = 0
    for s in range(n if probabilities else 0):
        hit_r, hit_o = ref[s, :, key] >= float(threshold or 0.0), aligned[s, :, key] >= float(threshold or 0.0)
        both += int(np.sum(hit_r & hit_o))
        either += int(np.sum(hit_r | hit_o))
        unread = np.flatnonzero(~hit_r & ~hit_o)  # no detection on either side: nobody reads the row
        ref[s][unread] = 0.0
        aligned[s][unread] = 0.0
        below += int(unread.size)
    shape = np.moveaxis(reference, axis, 1).shape

    def back(a: np.ndarray, like: np.ndarray) -> np.ndarray:
        return np.moveaxis(a.reshape(shape), 1, axis).astype(like.dtype, copy=False)

    return back(ref, reference), back(aligned, candidate), RankedAlignment(
        rows=k, moved=moved, cutoff=cutoff, below=below, threshold=threshold if probabilities else None,
        detections_iou=(both / either if either else 1.0) if probabilities else None, key=key)
