"""Keras 2 .h5 files that Keras 3 refuses (ethnicolr 0.9.6's name classifiers: an LSTM saved with ``time_major``)
are loaded with tf_keras and converted; one with a Lambda layer is refused, since loading it runs its code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.deps import available

pytestmark = pytest.mark.convert

if not (available("tensorflow") and available("tf_keras")):
    pytest.skip("TensorFlow and tf_keras are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tf_keras

    folder = tmp_path_factory.mktemp("legacy_h5")
    tf_keras.utils.set_random_seed(0)
    names = tf_keras.Sequential([tf_keras.Input(shape=(12,)), tf_keras.layers.Embedding(50, 8),
                                 tf_keras.layers.LSTM(6), tf_keras.layers.Dense(3, activation="softmax")])
    names.save(folder / "names.h5")
    lam = tf_keras.Sequential([tf_keras.Input(shape=(4,)), tf_keras.layers.Lambda(lambda x: x * 2.0),
                               tf_keras.layers.Dense(2)])
    lam.save(folder / "lambda.h5")
    return {"names": folder / "names.h5", "lambda": folder / "lambda.h5"}


def test_a_keras2_h5_keras3_refuses_converts_through_tf_keras(legacy: dict[str, Path], tmp_path: Path) -> None:
    import keras

    with pytest.raises(Exception, match="time_major"):  # what a user hit: Keras 3 cannot read it
        keras.models.load_model(str(legacy["names"]), compile=False)
    out = tmp_path / "names.tflite"
    result = CliRunner().invoke(main, ["convert", str(legacy["names"]), "-o", str(out), "--quantize", "none",
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds the JSON only (tf_keras prints when it exports)
    assert any("loaded with tf_keras (Keras 2)" in n for n in report["notes"])
    # the synthetic check inputs were ids inside the 50-row embedding (random floats crashed the Gather)
    assert report["check"]["passed"] is True
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.arange(12, dtype=np.float32)[None])
    interpreter.invoke()
    probs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert probs.shape == (1, 3) and abs(float(probs.sum()) - 1.0) < 1e-5


def test_a_keras2_h5_with_a_lambda_layer_is_refused_without_running_it(legacy: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(legacy["lambda"]), "-o", str(tmp_path / "l.tflite"),
                                       "--quantize", "none"])
    assert result.exit_code == 2, result.output
    assert "Lambda layer" in result.output and "Hint:" in result.output
    assert "Traceback" not in result.output
