"""Tiny models and data for the convert/data/bundle tests (built in session fixtures, never downloaded)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def make_images(folder: Path, count: int = 24, size: tuple[int, int] = (20, 28), seed: int = 0) -> Path:
    """class folders a/ b/ with RGB pngs/jpgs, plus one grayscale, one RGBA, one corrupt file and a text file."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("a", "b/nested"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        h, w = size
        base = np.full((h, w, 3), 40 if i % 2 else 200, np.uint8)
        noise = rng.integers(0, 50, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(base + noise)
        target = folder / ("a" if i % 2 else "b/nested") / f"img{i}.{'png' if i % 3 else 'jpg'}"
        img.save(target)
    Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8), mode="L").save(folder / "a" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (*size, 4), dtype=np.uint8), mode="RGBA").save(folder / "a" / "rgba.png")
    (folder / "b" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "b" / "notes.txt").write_text("not an image")
    return folder


def build_cnn(keras: Any) -> Any:
    """conv / BN / relu / depthwise / residual add / pooling / dense / softmax on 16x16x3 (0..1 input)."""
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = keras.layers.Add(name="residual")([x, y])
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(4, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="cnn")
    _randomize_bn(model, keras)
    return model


def _randomize_bn(model: Any, keras: Any) -> None:
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma * rng.uniform(0.5, 1.5, gamma.shape), beta + rng.normal(0, 0.1, beta.shape),
                               mean + rng.normal(0, 0.1, mean.shape), var * rng.uniform(0.5, 2, var.shape)])


def build_mlp(keras: Any) -> Any:
    inp = keras.Input((10,), name="features")
    x = keras.layers.Dense(16, activation="relu")(inp)
    x = keras.layers.Dense(16, activation="tanh")(x)
    out = keras.layers.Dense(3)(x)
    return keras.Model(inp, out, name="mlp")


def build_two_io(keras: Any) -> Any:
    a = keras.Input((8, 8, 3), name="img")
    b = keras.Input((5,), name="vec")
    x = keras.layers.Conv2D(4, 3, activation="relu")(a)
    x = keras.layers.GlobalAveragePooling2D()(x)
    y = keras.layers.Dense(4, activation="relu")(b)
    z = keras.layers.Concatenate()([x, y])
    o1 = keras.layers.Dense(3, activation="softmax", name="cls")(z)
    o2 = keras.layers.Dense(2, name="reg")(z)
    return keras.Model([a, b], [o1, o2], name="two_io")


def save_module(tf: Any, path: Path, fn: Any, shape: tuple[int | None, ...]) -> Path:
    """A SavedModel with a variable: y = fn(x @ w) @ w, input 'x' of ``shape`` (None = dynamic)."""
    width = shape[-1]

    class Module(tf.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.random.default_rng(0).normal(0, 0.5, (width, width)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="x")])
        def serve(self, x: Any) -> Any:
            return {"y": tf.matmul(fn(tf.matmul(x, self.w)), self.w)}

    module = Module()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def build_all(folder: Path) -> dict[str, Path]:
    """Every model the convert tests use, saved under ``folder``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    paths: dict[str, Path] = {}
    paths["cnn"] = folder / "cnn.keras"
    build_cnn(keras).save(paths["cnn"])
    paths["mlp"] = folder / "mlp.h5"
    mlp = build_mlp(keras)
    mlp.save(paths["mlp"])
    paths["mlp_export"] = folder / "mlp_export"
    mlp.export(str(paths["mlp_export"]), verbose=False)  # Keras 3 model.export() SavedModel, dynamic batch
    paths["two_io"] = folder / "two_io.keras"
    build_two_io(keras).save(paths["two_io"])
    paths["dyn_batch"] = save_module(tf, folder / "dyn_batch", tf.nn.relu, (None, 6))
    paths["dyn_spatial"] = save_module(tf, folder / "dyn_spatial", tf.nn.relu, (1, None, 6))
    paths["erf"] = save_module(tf, folder / "erf", tf.math.erf, (1, 6))
    paths["sin"] = save_module(tf, folder / "sin", tf.sin, (1, 6))
    # openWakeWord's embedding model: max(leaky_relu(x), -0.4); TensorFlow's converter keeps an int8 MAXIMUM
    paths["leaky_clamp"] = save_module(tf, folder / "leaky_clamp",
                                       lambda t: tf.maximum(tf.nn.leaky_relu(t, 0.2), -0.4), (1, 6))
    rng = np.random.default_rng(1)
    np.save(folder / "mlp.npy", rng.normal(0, 1, (64, 10)).astype(np.float32))
    np.savez(folder / "two_io.npz", img=rng.uniform(0, 1, (60, 8, 8, 3)).astype(np.float32),
             vec=rng.normal(0, 1, (60, 5)).astype(np.float32))
    make_images(folder / "images", count=60, size=(20, 28))
    return paths


def load_json(text: str) -> dict[str, Any]:
    result = json.loads(text)
    assert isinstance(result, dict)
    return result
