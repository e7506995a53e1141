"""Tiny .tflite models in every quantization mode, built once per session with TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def build_variants(out_dir: Path) -> dict[str, Path]:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((16, 16, 3), name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu6")(inp)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(64, activation="relu")(x)
    out = tf.keras.layers.Dense(5, activation="softmax", name="probs")(x)
    model = tf.keras.Model(inp, out)

    def rep() -> object:
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.random((1, 16, 16, 3), dtype=np.float32)]

    def conv(**kw: object) -> bytes:
        c = tf.lite.TFLiteConverter.from_keras_model(model)
        for k, v in kw.items():
            setattr(c, k, v)
        return c.convert()

    default = [tf.lite.Optimize.DEFAULT]
    variants = {
        "float32": conv(),
        "dynamic_range": conv(optimizations=default),
        "float16": conv(optimizations=default, target_spec=_spec(tf, types=[tf.float16])),
        "int8": conv(optimizations=default, representative_dataset=rep,
                     target_spec=_spec(tf, ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]),
                     inference_input_type=tf.int8, inference_output_type=tf.int8),
        "int8_float_io": conv(optimizations=default, representative_dataset=rep,
                              target_spec=_spec(tf, ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8])),
        "int16x8": conv(optimizations=default, representative_dataset=rep, target_spec=_spec(
            tf, ops=[tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8])),
    }
    paths = {}
    for name, data in variants.items():
        p = out_dir / f"{name}.tflite"
        p.write_bytes(data)
        paths[name] = p
    return paths


def int8_tflite(model: object, representative: object) -> bytes:
    """A Keras model converted to full int8 with int8 I/O, calibrated on ``representative``."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def _spec(tf: object, ops: list | None = None, types: list | None = None) -> object:
    spec = tf.lite.TargetSpec()  # type: ignore[attr-defined]
    if ops:
        spec.supported_ops = set(ops)
    if types:
        spec.supported_types = types
    return spec
