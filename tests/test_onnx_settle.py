"""How `verify ORIGINAL.onnx CONVERTED.tflite` settles a layout the shapes cannot tell (a square image: NHWC or
its H/W transpose), for quantized files too. isbnx's YOLO26n tuned to int8 (float head) had been fed its pages
transposed: i.i.d. noise in -1..1 is clipped by an int8 input made for 0..1 and gives a detector nothing to
see, so both layouts gave noise alike (and its TopK rows came in another order), and verify failed a file tune
had passed (detections IoU 0.000 instead of 0.923)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.convert

from edgekit.host.onnx.reference import _ranked_error, _smooth_field  # noqa: E402


def test_the_settling_input_is_in_0_1_and_unlike_its_transpose() -> None:
    x = _smooth_field(np.random.default_rng(0), (1, 3, 32, 32))
    assert x.shape == (1, 3, 32, 32) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert float(np.mean(np.abs(x - x.transpose(0, 1, 3, 2)))) > 0.05  # the two layouts see different pictures
    assert float(np.mean(np.abs(np.diff(x, axis=3)))) < 0.1  # smooth: structure, not noise


def test_rows_a_topk_ranks_are_compared_tie_aware_when_settling() -> None:
    rng = np.random.default_rng(1)
    ref = np.zeros((1, 30, 6))
    ref[0, :, :4] = rng.uniform(0, 640, (30, 4))
    ref[0, :, 4] = np.repeat([3e-6, 2e-6, 1e-6], 10)  # a page without detections: scores tie in groups
    order = np.concatenate([g * 10 + rng.permutation(10) for g in range(3)])
    got = ref[:, order]  # the same candidates, tied ones in another order
    assert _ranked_error(ref, got, 30) == pytest.approx(0.0)
    assert _ranked_error(ref, got, None) > 100.0  # compared in order they look like another layout
