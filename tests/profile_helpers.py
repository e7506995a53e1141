"""Tiny .tflite models for the profile tests, built with the core's builder (no TensorFlow).

The models are valid flatbuffers that edgekit's reader parses; they are not necessarily runnable
(weights are zeros or ones).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from foundation_helpers import int8_tflite

from edgekit.core.tflite_builder import Quant, TFLiteBuilder

# what the profile tests' integer tensors get when they need no particular quantization
TEST_QUANT = Quant.per_tensor(0.1, 0)


def profile_builder() -> TFLiteBuilder:
    """A builder whose int8/uint8/int16 tensors default to scale 0.1, zero point 0."""
    return TFLiteBuilder("edgekit profile test model", default_quant=TEST_QUANT)


def conv_chain_model(dtype: str = "int8", middle_op: str | None = None) -> bytes:
    """input 1x8x8x3 -> CONV 3x3 (8) -> [middle op] -> DEPTHWISE 3x3 -> FC(4) ; int8 or float32."""
    b = profile_builder()
    wdt = dtype
    bdt = "int32" if dtype in ("int8", "uint8") else "float32"
    x = b.tensor("input", (1, 8, 8, 3), dtype)
    w1 = b.constant("conv_w", np.ones((8, 3, 3, 3), wdt))
    b1 = b.constant("conv_b", np.zeros((8,), bdt))
    y1 = b.tensor("conv_out", (1, 8, 8, 8), dtype)
    b.operator("CONV_2D", [x, w1, b1], [y1],
               {"padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "RELU6"})
    cur = y1
    if middle_op is not None:
        y_mid = b.tensor("mid_out", (1, 8, 8, 8), dtype)
        b.operator(middle_op, [cur], [y_mid])
        cur = y_mid
    w2 = b.constant("dw_w", np.ones((1, 3, 3, 8), wdt))
    b2 = b.constant("dw_b", np.zeros((8,), bdt))
    y2 = b.tensor("dw_out", (1, 8, 8, 8), dtype)
    b.operator("DEPTHWISE_CONV_2D", [cur, w2, b2], [y2],
               {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": 1})
    shape = b.constant("shape", np.array([1, 512]), "int32")
    y3 = b.tensor("flat", (1, 512), dtype)
    b.operator("RESHAPE", [y2, shape], [y3])
    w4 = b.constant("fc_w", np.ones((4, 512), wdt))
    b4 = b.constant("fc_b", np.zeros((4,), bdt))
    y4 = b.tensor("logits", (1, 4), dtype)
    b.operator("FULLY_CONNECTED", [y3, w4, b4], [y4])
    return b.build([x], [y4])


def build_tf_int8_models(out_dir: Any) -> dict[str, Any]:
    """Small full-int8 models built with TensorFlow (convert tests only): a chain and a branching graph."""
    from pathlib import Path

    import tensorflow as tf

    out = Path(out_dir)
    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers

    def chain() -> Any:
        inp = tf.keras.Input((16, 16, 3), batch_size=1)
        x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
        x = layers.DepthwiseConv2D(3, padding="same")(x)
        x = layers.Conv2D(16, 1, activation="relu6")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
        return tf.keras.Model(inp, layers.Dense(4)(x))

    def branches() -> Any:
        inp = tf.keras.Input((12, 12, 4), batch_size=1)
        a = layers.Conv2D(8, 1, activation="relu")(inp)
        b = layers.Conv2D(8, 3, padding="same", activation="relu")(a)
        c = layers.Add()([a, b])
        d = layers.Conv2D(16, 3, strides=2, padding="same")(c)
        e = layers.Conv2D(16, 1)(d)
        f = layers.Concatenate()([d, e])
        g = layers.AveragePooling2D(2)(f)
        return tf.keras.Model(inp, g)

    paths: dict[str, Any] = {}
    for name, make in (("chain", chain), ("branches", branches)):
        model = make()
        shape = tuple(model.inputs[0].shape)

        def rep(shape: tuple[int, ...] = shape) -> Any:
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield [rng.uniform(-1, 1, shape).astype(np.float32)]

        path = out / f"{name}_int8.tflite"
        path.write_bytes(int8_tflite(model, rep))
        paths[name] = path
    return paths


def tflm_arena_head_bytes(model_bytes: bytes) -> int:
    """The non-persistent ("head") arena that TFLite Micro's RecordingMicroAllocator reports after invoke().

    print_allocations() writes to the C++ stderr, so capture file descriptor 2 around it.
    """
    import os
    import re
    import tempfile

    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=8 << 20)
    interp.invoke()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", "replace")
    match = re.search(r"Arena allocation head (\d+) bytes", text)
    if match is None:
        raise AssertionError(f"no arena head in TFLM output: {text!r}")
    return int(match.group(1))


# a 2x2 stride-2 transposed convolution 16x16x8 -> 32x32x1 (a segmenter's mask layer): (H, Cin, Cout, K, S)
TCONV_SHAPE = (16, 8, 1, 2, 2)


def tconv_model(custom: bool) -> bytes:
    """The layer as TRANSPOSE_CONV, or (``custom``) as MediaPipe writes it: the ``Convolution2DTransposeBias``
    custom op, inputs (input, weights, bias), options a raw TfLiteTransposeConvParams (padding SAME = 1, stride_w,
    stride_h as little-endian int32). Both compute the same."""
    from edgekit.core.tflite_builder import pack
    from edgekit.tflite import _schema as schema

    h, cin, cout, k, s = TCONV_SHAPE
    rng = np.random.default_rng(0)
    w, bias = rng.normal(0, 0.3, (cout, k, k, cin)).astype(np.float32), np.full(cout, 0.25, np.float32)
    b = TFLiteBuilder("tconv")
    x = b.tensor("x", (1, h, h, cin))
    wt, bt = b.constant("w", w), b.constant("b", bias)
    y = b.tensor("y", (1, h * s, h * s, cout))
    if not custom:
        shape = b.constant("output_shape", np.array([1, h * s, h * s, cout], np.int32))
        b.operator("TRANSPOSE_CONV", [shape, wt, x, bt], [y], {"padding": "SAME", "stride_w": s, "stride_h": s},
                   version=3)
        return b.build([x], [y])
    model = b.model([x], [y])
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = b"Convolution2DTransposeBias"
    code.version = 1
    model.operatorCodes.append(code)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [x, wt, bt], [y]
    op.customOptions = np.array([1, 0, 0, 0, s, 0, 0, 0, s, 0, 0, 0], np.uint8)
    model.subgraphs[0].operators = [op]
    return pack(model)


def one_thread_cpu_s(data: bytes, runs: int = 30) -> float:
    """Median process-CPU seconds of one XNNPACK invoke of ``data`` at 1 thread (immune to other processes),
    random inputs: integers over int8's range for integer tensors, N(0, 1) for float ones."""
    import time

    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(data, num_threads=1, use_xnnpack=True)
    rng = np.random.default_rng(0)
    for d in interp.get_input_details():
        dtype = np.dtype(d["dtype"])
        arr = rng.integers(-128, 127, d["shape"]) if dtype.kind in "iu" else rng.normal(0, 1, d["shape"])
        interp.set_tensor(d["index"], arr.astype(dtype))
    for _ in range(3):
        interp.invoke()
    samples = []
    for _ in range(runs):
        t0 = time.process_time()
        interp.invoke()
        samples.append(time.process_time() - t0)
    return float(np.median(samples))


def rpi4b_variant(folder: Any, pid: str, extra: str = "") -> str:
    """Write the shipped rpi4b profile as ``pid`` into ``folder`` with ``extra`` TOML appended; returns ``pid``."""
    from importlib import resources
    from pathlib import Path

    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    (Path(folder) / f"{pid}.toml").write_text(text.replace('id = "rpi4b"', f'id = "{pid}"', 1) + extra,
                                              encoding="utf-8")
    return pid
