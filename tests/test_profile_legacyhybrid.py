"""Dynamic-range convolutions with uint8 weights (edgekit.profile.legacyhybrid): the estimate says it has no figure
for LiteRT's builtin kernel for them (facex's 33: 12.2 ms measured against 7.3 estimated on the x86 host)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import Quant, TFLiteBuilder
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def _conv(weights: str) -> bytes:
    b = TFLiteBuilder(f"hybrid {weights}")
    rng = np.random.default_rng(0)
    x = b.tensor("x", (1, 50, 50, 144), "float32")
    if weights == "uint8":
        w = b.constant("w", rng.integers(0, 255, (24, 1, 1, 144)).astype(np.uint8), quant=Quant.per_tensor(0.01, 128))
    else:
        w = b.constant("w", rng.integers(-127, 127, (24, 1, 1, 144)).astype(np.int8),
                       quant=Quant.per_channel(np.full(24, 0.01, np.float32), axis=0))
    bias = b.constant("b", np.zeros(24, np.float32))
    y = b.tensor("y", (1, 50, 50, 24), "float32")
    b.operator("CONV_2D", [x, w, bias], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1},
               version=2 if weights == "uint8" else 5)
    return b.build([x], [y])


def test_uint8_dynamic_range_convolutions_get_a_note_int8_ones_do_not() -> None:
    profile = get_profile("rpi4b")
    notes = estimate(parse_model(_conv("uint8"), "<u8>"), profile).notes
    [note] = [n for n in notes if "uint8 dynamic-range weights" in n]
    assert note.startswith("1 convolution(s)") and "expect them slower" in note
    assert not any("uint8 dynamic-range" in n for n in estimate(parse_model(_conv("int8"), "<i8>"), profile).notes)
