"""Models with known zero patterns for the size/prune tests.

``fc_model`` builds a tiny .tflite with the core's builder (no TensorFlow) so device-side tests can
use it; the ``build_*`` functions use TensorFlow / onnx and are only called from session fixtures of
tests marked ``convert``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from foundation_helpers import int8_tflite

from edgekit.core.tflite_builder import Quant, TFLiteBuilder


def fc_model(weights: np.ndarray, bias: np.ndarray | None = None, quant: Quant | None = None,
             second: np.ndarray | None = None, input_k: int | None = None) -> bytes:
    """input [1, K] -> FULLY_CONNECTED(weights [N, K], bias [N]) [-> FULLY_CONNECTED(second [M, N])] -> output.

    Float weights give a runnable model. With ``quant`` the weights are stored as int8 with those
    parameters: readable (sparsity, pruning), not meant to run.
    ``input_k`` different from K makes a model that parses but fails to prepare in the runtime.
    """
    n, k = weights.shape
    bias = np.zeros(n, np.float32) if bias is None else bias
    b = TFLiteBuilder("edgekit size test model")
    x = b.tensor("input", (1, input_k or k))
    w = b.constant("dense/weights", weights, "int8" if quant is not None else "float32", quant=quant)
    bt = b.constant("dense/bias", bias, "float32")
    y = b.tensor("hidden" if second is not None else "output", (1, n))
    b.operator("FULLY_CONNECTED", [x, w, bt], [y])
    if second is not None:
        w2 = b.constant("head/weights", second, "float32")
        out = b.tensor("output", (1, second.shape[0]))
        b.operator("FULLY_CONNECTED", [y, w2, -1], [out])
        y = out
    return b.build([x], [y])


def known_weights(n: int = 64, k: int = 128, zero_fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """Random normal weights with exactly ``zero_fraction`` of them set to 0 (the first ones in C order)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, k)).astype(np.float32)
    w[w == 0] = 0.5
    flat = w.reshape(-1)
    flat[: int(round(zero_fraction * flat.size))] = 0.0
    return w


# ------------------------------------------------------------------------------------- TensorFlow builders

def build_keras(out_dir: Path) -> dict[str, Any]:
    """A small CNN saved as .keras with a known zero pattern (half of conv2d_1's kernel), plus facts."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(32, 1, name="pw")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    out = keras.layers.Dense(10, name="head")(x)
    model = keras.Model(inp, out)
    kernel, bias = model.get_layer("pw").get_weights()
    kernel.reshape(-1)[::2] = 0.0  # exactly half of pw's 256 weights
    model.get_layer("pw").set_weights([kernel, bias])
    path = out_dir / "tiny.keras"
    model.save(path)
    params = int(sum(np.prod(w.shape) for w in model.weights))
    return {"path": path, "model": model, "params": params, "pw_zeros": 128}


def build_int8(model: Any, out_dir: Path, name: str = "tiny_int8.tflite") -> Path:

    def rep() -> Any:
        rng = np.random.default_rng(0)
        for _ in range(16):
            yield [rng.random((1, 16, 16, 3), dtype=np.float32)]

    path = out_dir / name
    path.write_bytes(int8_tflite(model, rep))
    return path


def build_saved_model(out_dir: Path) -> dict[str, Any]:
    """A tf.Module SavedModel: dense 32->48 (a third of its weights zero) -> dense 48->4."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    w1 = rng.normal(size=(32, 48)).astype(np.float32)
    w1.reshape(-1)[::3] = 0.0
    w2 = rng.normal(size=(48, 4)).astype(np.float32)

    class Mlp(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1 = tf.Variable(w1, name="w1")
            self.b1 = tf.Variable(np.zeros(48, np.float32), name="b1")
            self.w2 = tf.Variable(w2, name="w2")

        @tf.function(input_signature=[tf.TensorSpec([1, 32], tf.float32, name="x")])
        def __call__(self, x: Any) -> Any:
            return {"y": tf.matmul(tf.nn.relu(tf.matmul(x, self.w1) + self.b1), self.w2)}

    mod = Mlp()
    path = out_dir / "mlp_saved_model"
    tf.saved_model.save(mod, str(path), signatures={"serving_default": mod.__call__})
    return {"path": path, "params": w1.size + 48 + w2.size, "zeros": int(np.count_nonzero(w1 == 0)) + 48}


def build_onnx(out_dir: Path) -> dict[str, Any]:
    """Conv(3->16, 3x3; every other weight zero) -> Relu -> MaxPool -> Flatten -> Gemm(1024->10)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    w = rng.normal(size=(16, 3, 3, 3)).astype(np.float32)
    w.reshape(-1)[::2] = 0.0
    g = rng.normal(size=(10, 16 * 8 * 8)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "G", "GB"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.zeros(16, np.float32), "B"),
         numpy_helper.from_array(g, "G"), numpy_helper.from_array(np.zeros(10, np.float32), "GB")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = out_dir / "tiny.onnx"
    onnx.save(model, str(path))
    return {"path": path, "params": w.size + 16 + g.size + 10, "conv_zeros": int(np.count_nonzero(w == 0))}
