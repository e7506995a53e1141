"""requant.scalefold: Conv -> ReLU -> BatchNorm (fastmrz's MRZ U-Net, a Keras model through tf2onnx) reaches a
.tflite as CONV_2D(RELU) -> MUL(per-channel) -> ADD; the MUL is folded into the conv's weights, exactly, so an
int8 scale no longer spans channels the batch norm sets 1000x apart (the MRZ model's int8 output collapsed to a
constant: cosine 0.41 -> 0.978 with the fold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.convert

tf = pytest.importorskip("tensorflow")

from edgekit.requant.objectapi import opcode_names, read_model, write_model  # noqa: E402
from edgekit.requant.scalefold import fold_channel_scales  # noqa: E402
from edgekit.tflite.runtime import load_interpreter  # noqa: E402


def _tflite(path: Path, skip: bool, gammas: np.ndarray) -> bytes:
    keras = tf.keras
    x = keras.Input((12, 12, 3), batch_size=1)
    c = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    bn = keras.layers.BatchNormalization()
    y = bn(c)
    if skip:  # a U-Net skip reads the conv's output before the batch norm: nothing to fold
        y = keras.layers.Concatenate()([y, c])
    model = keras.Model(x, keras.layers.Conv2D(4, 1)(y))
    bn.set_weights([gammas, np.linspace(-0.5, 0.5, 8), np.linspace(0, 1, 8), np.linspace(0.5, 2, 8)])
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    interp = load_interpreter(data)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return np.asarray(interp.get_tensor(interp.get_output_details()[0]["index"]))


@pytest.mark.parametrize(("skip", "gammas", "folds"), [
    (False, np.geomspace(1e-3, 30, 8), 1),   # the MRZ model's spread, all positive: folded
    (False, np.array([1.0, -2.0, 3, 4, 5, 6, 7, 8]), 0),  # a negative scale under the ReLU: left alone
    (True, np.geomspace(1e-3, 30, 8), 0),    # the conv's output read by a concat too: left alone
])
def test_a_channel_scale_after_a_relu_conv_folds_exactly(tmp_path: Path, skip: bool, gammas: np.ndarray,
                                                         folds: int) -> None:
    data = _tflite(tmp_path, skip, gammas.astype(np.float32))
    model_t = read_model(data)
    before = opcode_names(model_t)
    count_before = sum(before[op.opcodeIndex] == "MUL" for op in model_t.subgraphs[0].operators)
    assert count_before >= 1  # the converter kept the batch norm's MUL after the ReLU
    assert fold_channel_scales(model_t) == folds
    folded = write_model(model_t)
    names = opcode_names(model_t)
    assert sum(names[op.opcodeIndex] == "MUL" for op in model_t.subgraphs[0].operators) == count_before - folds
    x = np.random.default_rng(0).uniform(-1, 1, (1, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(_run(folded, x), _run(data, x), rtol=1e-5, atol=1e-5)
