"""The conversion matrix's judge (scripts/onnx_matrix/judge.py): which .tflite tensor is which ONNX tensor."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from onnx_matrix.judge import _match_by_name, close_ranked  # noqa: E402 - after the path line


def test_match_by_name_uses_the_onnx_names() -> None:
    items = [("b", np.zeros(1)), ("a", np.ones(2))]
    assert [n for n, _ in _match_by_name(["serving_default_a:0", "serving_default_b:0"], items)] == ["a", "b"]


def test_match_by_name_orders_onnx2tf_identity_outputs_by_their_number() -> None:
    # layout-cdla through bare onnx2tf: the interpreter lists Identity, Identity_4, Identity_1, ...; Identity_k is
    # the k-th ONNX output
    items = [(f"out{k}", np.full(k + 1, k)) for k in range(8)]
    names = ["Identity", "Identity_4", "Identity_1", "Identity_5", "Identity_2", "Identity_6", "Identity_3",
             "Identity_7"]
    assert [n for n, _ in _match_by_name(names, items)] == ["out0", "out4", "out1", "out5", "out2", "out6", "out3",
                                                            "out7"]


def test_match_by_name_keeps_the_onnx_order_otherwise() -> None:
    items = [("x", np.zeros(1)), ("y", np.zeros(1))]
    assert [n for n, _ in _match_by_name(["StatefulPartitionedCall:0", "StatefulPartitionedCall:1"], items)] == [
        "x", "y"]
    assert [n for n, _ in _match_by_name(["Identity", "Identity_5"], items)] == ["x", "y"]  # not 0..n-1


def test_ranked_rows_are_judged_tie_aware_for_both_tools() -> None:
    """isbnx's YOLO26n: edgekit's check passed its [1, 300, 6] detections, the matrix called the same file a silent
    mismatch (rows of tied scores in another order). Both tools' files are judged with the same alignment."""
    rng = np.random.default_rng(0)
    want = np.zeros((1, 8, 6))
    want[..., :4] = rng.uniform(0, 640, (1, 8, 4))
    want[0, :, 4] = [0.9, 0.5, 0.5, 0.3, 0.1, 0.05, 0.02, 0.01]
    got = want.copy()
    got[0, [1, 2]] = got[0, [2, 1]]
    assert close_ranked(want, got, True, 8)[0] and not close_ranked(want, got, True, None)[0]
    got[0, 3, 1] += 300.0  # a box elsewhere (small errors pass the zoo cosine bar, as for any output)
    assert not close_ranked(want, got, True, 8)[0]
