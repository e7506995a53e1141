"""Tiny models for the verify tests, converted with tf.lite.TFLiteConverter directly (not `edgekit convert`).

Everything is built once per session by :func:`build_verify_models` into a tmp folder:
  classifier.keras          conv + dense, input "image" (1, 8, 8, 3), output "logits" (1, 10)
  multi.keras               same trunk, two outputs: "logits" (1, 10) and "box" (1, 4)
  good_int8.tflite          classifier, full int8 with int8 I/O, calibrated on real-looking data
  good_float_io.tflite      classifier, full int8 inside, float32 I/O
  float32.tflite            classifier, plain float
  wrong_weights.tflite      same architecture, different weights (broken)
  const_calib.tflite        classifier calibrated on constant inputs (broken)
  multi_int8.tflite         multi, full int8 with int8 I/O
  data.npz / labels.npy     40 samples for "image" (N, 1, 8, 8, 3) and labels = the float model's argmax
  bundle/                   a bundle of good_int8 with 8 golden samples (written with edgekit.bundle)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Prepended to `python -c` code: makes TensorFlow, keras and onnx unimportable in that subprocess.
BLOCK_HEAVY_IMPORTS = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "onnx", "onnxruntime", "onnx2tf"):
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, _Block())
"""

SHAPE = (1, 8, 8, 3)
N_SAMPLES = 40


def make_data(seed: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(count, *SHAPE)).astype(np.float32)


def _build(seed: int, multi: bool = False) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(SHAPE[1:], name="image", batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(10, name="logits")(x)
    if not multi:
        return keras.Model(inp, logits)
    box = keras.layers.Dense(4, name="box")(x)
    return keras.Model(inp, [logits, box])


def convert(model: Any, mode: str, calib: np.ndarray | None = None, io: str = "int8") -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        assert calib is not None
        data = calib

        def rep() -> Any:
            for i in range(data.shape[0]):
                yield [data[i]]

        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    elif mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return bytes(conv.convert())


def build_verify_models(out: Path) -> dict[str, Path]:
    from edgekit.bundle import write_bundle

    out.mkdir(parents=True, exist_ok=True)
    calib = make_data(1, 32)
    data = make_data(2, N_SAMPLES)
    good = _build(1)
    other = _build(7)
    multi = _build(1, multi=True)
    paths = {
        "keras": out / "classifier.keras",
        "multi_keras": out / "multi.keras",
        "data": out / "data.npz",
        "labels": out / "labels.npy",
    }
    good.save(paths["keras"])
    multi.save(paths["multi_keras"])
    np.savez(paths["data"], image=data)
    float_out = np.stack([np.asarray(good(d)) for d in data])
    np.save(paths["labels"], np.argmax(float_out.reshape(N_SAMPLES, -1), axis=1).astype(np.int64))

    builds: dict[str, Callable[[], bytes]] = {
        "good_int8": lambda: convert(good, "int8", calib),
        "good_float_io": lambda: convert(good, "int8", calib, io="float32"),
        "float32": lambda: convert(good, "float32"),
        "wrong_weights": lambda: convert(other, "int8", calib),
        "const_calib": lambda: convert(good, "int8", np.full_like(calib, 0.5)),
        "multi_int8": lambda: convert(multi, "int8", calib),
    }
    for name, build in builds.items():
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(build())

    # A bundle: golden inputs/outputs in the float domain, TFLite layout, keyed by the TFLite names.
    from edgekit.tflite.model import load_model

    tfl = load_model(paths["good_int8"])
    golden_in = data[:8]
    golden_out = float_out[:8]
    in_t, out_t = tfl.inputs[0], tfl.outputs[0]
    manifest = {
        "source": {"file": "classifier.keras", "sha256": "0" * 64, "format": "keras", "size_bytes": 1},
        "quantization": "int8",
        "io_type": "int8",
        "inputs": [{"name": in_t.name, "source_name": "image", "shape": list(in_t.shape), "dtype": in_t.dtype,
                    "scale": in_t.quant.scale if in_t.quant else None,
                    "zero_point": in_t.quant.zero_point if in_t.quant else None, "to_tflite_perm": None}],
        "outputs": [{"name": out_t.name, "source_name": "logits", "shape": list(out_t.shape), "dtype": out_t.dtype,
                     "scale": out_t.quant.scale if out_t.quant else None,
                     "zero_point": out_t.quant.zero_point if out_t.quant else None, "to_tflite_perm": None}],
        "preprocessing": None,
        "calibration": {"source": "synthetic", "count": 32, "skipped": 0, "per_input": {}},
        "tools": {},
    }
    paths["bundle"] = write_bundle(out / "bundle", paths["good_int8"].read_bytes(), manifest,
                                   {in_t.name: golden_in}, {out_t.name: golden_out}, force=False)
    return paths


_CACHE: dict[str, dict[str, Path]] = {}


def cached_verify_models(tmp_path_factory: Any) -> dict[str, Path]:
    """build_verify_models once per test session, whichever test module asks first."""
    if "models" not in _CACHE:
        _CACHE["models"] = build_verify_models(tmp_path_factory.mktemp("verify_models"))
    return _CACHE["models"]
